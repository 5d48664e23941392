//! The embedding gate of ingestion: embedding is the work that fills the machine's cores, so
//! ingestion jobs take turns at it batch by batch, and the turn goes to the job whose user has
//! the least work waiting. One user's hundred uploads then cost another user's single upload at
//! most the batch that is being embedded when it arrives — not half the machine for its whole
//! ingestion, as two jobs embedding at once would.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// A priority semaphore: a freed permit goes to the waiter with the lowest priority value
/// (ties: the longest waiting).
pub struct FairGate {
    state: Mutex<State>,
}

struct State {
    free: usize,
    next_ticket: u64,
    waiting: BinaryHeap<Waiter>,
}

struct Waiter {
    priority: u64,
    ticket: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        (self.priority, self.ticket) == (other.priority, other.ticket)
    }
}
impl Eq for Waiter {}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiter {
    /// The heap pops the greatest: the lowest priority value, then the lowest ticket.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.priority, other.ticket).cmp(&(self.priority, self.ticket))
    }
}

/// A turn at the gate; the next waiter's when dropped.
pub struct Turn<'a> {
    gate: &'a FairGate,
}

impl FairGate {
    /// A gate with `permits` turns at once (at least one).
    pub fn new(permits: usize) -> Self {
        Self {
            state: Mutex::new(State {
                free: permits.max(1),
                next_ticket: 0,
                waiting: BinaryHeap::new(),
            }),
        }
    }

    /// Waits for a turn; among waiters, the lowest `priority` goes first.
    pub async fn turn(&self, priority: u64) -> Turn<'_> {
        let waiting = {
            let mut state = self.state.lock();
            if state.free > 0 && state.waiting.is_empty() {
                state.free -= 1;
                return Turn { gate: self };
            }
            let (wake, waiting) = oneshot::channel();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            state.waiting.push(Waiter {
                priority,
                ticket,
                wake,
            });
            waiting
        };
        let mut pending = Pending {
            gate: self,
            waiting: Some(waiting),
        };
        if let Some(waiting) = pending.waiting.as_mut() {
            // Handed over by a leaving turn (the sender lives in the gate's heap until then).
            let _ = waiting.await;
        }
        pending.waiting = None;
        Turn { gate: self }
    }

    /// Gives a turn back: to the best waiter still waiting, or to the free count.
    fn leave(&self) {
        let mut state = self.state.lock();
        while let Some(waiter) = state.waiting.pop() {
            if waiter.wake.send(()).is_ok() {
                return;
            }
            // That waiter gave up (its job was cancelled): try the next.
        }
        state.free += 1;
    }
}

/// A wait for a turn. Dropped before it got one (the job was cancelled), it makes sure a turn
/// handed over at that very moment is passed on rather than lost.
struct Pending<'a> {
    gate: &'a FairGate,
    waiting: Option<oneshot::Receiver<()>>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(mut waiting) = self.waiting.take() {
            waiting.close();
            if waiting.try_recv().is_ok() {
                self.gate.leave();
            }
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.gate.leave();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_freed_turn_goes_to_the_lowest_priority_then_the_longest_waiting() {
        let gate = Arc::new(FairGate::new(1));
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = gate.turn(5).await;
        let mut waiters = Vec::new();
        for (name, priority) in [("a50", 50), ("b1", 1), ("c50", 50), ("d1", 1)] {
            let gate = gate.clone();
            let order = order.clone();
            waiters.push(tokio::spawn(async move {
                let _turn = gate.turn(priority).await;
                order.lock().push(name);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }));
            // Queued in this order.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(first);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(*order.lock(), ["b1", "d1", "a50", "c50"]);
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_passes_its_turn_on() {
        let gate = Arc::new(FairGate::new(1));
        let held = gate.turn(0).await;
        let quitter = {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _turn = gate.turn(0).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        quitter.abort();
        let _ = quitter.await;
        drop(held);
        // The turn is free again, not stuck with the quitter.
        let again = tokio::time::timeout(Duration::from_secs(1), gate.turn(9)).await;
        assert!(again.is_ok());
    }

    #[tokio::test]
    async fn with_more_permits_that_many_run_at_once() {
        let gate = FairGate::new(2);
        let a = gate.turn(1).await;
        let b = tokio::time::timeout(Duration::from_millis(100), gate.turn(1)).await;
        assert!(b.is_ok());
        drop(a);
    }
}
