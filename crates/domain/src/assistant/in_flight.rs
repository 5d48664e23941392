//! An answer being written: its events so far, for the client that asked and for any client
//! that reconnects, and who is following it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::Notify;

use super::error::AssistantError;
use super::models::{Message, MessageId};
use crate::accounts::UserId;
use crate::chats::ChatId;

/// One event of an answer being written: pieces of text, then the stored answer, or the
/// failure (with whatever was written stored as `incomplete`).
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    Delta(String),
    Done(Box<Message>),
    Failed(Arc<AssistantError>),
}

/// An answer being written: every event so far, for the client that asked and for any client
/// that reconnects (`Last-Event-ID`).
#[derive(Debug)]
pub struct InFlight {
    pub(super) owner: UserId,
    pub(super) chat: ChatId,
    log: Mutex<Vec<AnswerEvent>>,
    changed: Notify,
    /// Clients following the answer now.
    watchers: AtomicUsize,
    /// Since when nobody has followed it (from the start, until the first client does).
    unwatched_since: Mutex<Option<Instant>>,
    /// When a client following it on another instance was last seen.
    followed_elsewhere_at: Mutex<Option<Instant>>,
}

impl InFlight {
    pub(super) fn new(owner: UserId, chat: ChatId) -> Self {
        Self {
            owner,
            chat,
            log: Mutex::new(Vec::new()),
            changed: Notify::new(),
            watchers: AtomicUsize::new(0),
            unwatched_since: Mutex::new(Some(Instant::now())),
            followed_elsewhere_at: Mutex::new(None),
        }
    }

    pub(super) fn push(&self, event: AnswerEvent) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
        self.changed.notify_waiters();
    }

    /// The events from index `from` on, as they are now.
    pub(super) fn events_from(&self, from: usize) -> Vec<AnswerEvent> {
        let events = self.log.lock().unwrap_or_else(|e| e.into_inner());
        events.get(from..).map(<[_]>::to_vec).unwrap_or_default()
    }

    /// Returns when an event is added, or after `wait`.
    pub(super) async fn changed_within(&self, wait: Duration) {
        let _ = tokio::time::timeout(wait, self.changed.notified()).await;
    }

    /// Whether a client of this instance follows the answer now.
    pub(super) fn watched_here(&self) -> bool {
        self.watchers.load(Ordering::SeqCst) > 0
    }

    /// A client on another instance follows the answer (it is not abandoned).
    pub(super) fn followed_elsewhere(&self) {
        *self
            .followed_elsewhere_at
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether nobody, here or on another instance, has followed the answer for `grace`.
    pub(super) fn abandoned(&self, grace: Duration) -> bool {
        let elsewhere = self
            .followed_elsewhere_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < grace);
        !elsewhere
            && self.watchers.load(Ordering::SeqCst) == 0
            && self
                .unwatched_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|since| since.elapsed() >= grace)
    }

    fn watch(self: &Arc<Self>) -> Watch {
        self.watchers.fetch_add(1, Ordering::SeqCst);
        *self
            .unwatched_since
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        Watch(self.clone())
    }

    /// The events from index `from` on, as they come, ending after `Done` or `Failed`. Past
    /// the end of a finished answer, only its last event.
    pub fn follow(self: Arc<Self>, from: usize) -> BoxStream<'static, (usize, AnswerEvent)> {
        let watch = self.watch();
        futures_util::stream::unfold((watch, from, false), |(watch, next, over)| async move {
            if over {
                return None;
            }
            let log = &watch.0;
            loop {
                let found = {
                    let notified = log.changed.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    let (event, last) = {
                        let events = log.log.lock().unwrap_or_else(|e| e.into_inner());
                        let last = events
                            .last()
                            .filter(|e| is_terminal(e))
                            .map(|e| (events.len() - 1, e.clone()));
                        (events.get(next).cloned().map(|e| (next, e)), last)
                    };
                    match (event, last) {
                        (Some(found), _) => Some(found),
                        // Asked for more than a finished answer has: it ends at once.
                        (None, Some(last)) => Some(last),
                        (None, None) => {
                            notified.await;
                            None
                        }
                    }
                };
                if let Some((index, event)) = found {
                    let over = is_terminal(&event);
                    return Some(((index, event), (watch, index + 1, over)));
                }
            }
        })
        .boxed()
    }
}

fn is_terminal(event: &AnswerEvent) -> bool {
    matches!(event, AnswerEvent::Done(_) | AnswerEvent::Failed(_))
}

/// A client following an answer; counted until dropped.
#[derive(Debug)]
struct Watch(Arc<InFlight>);

impl Drop for Watch {
    fn drop(&mut self) {
        if self.0.watchers.fetch_sub(1, Ordering::SeqCst) == 1 {
            *self
                .0
                .unwatched_since
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
    }
}

/// A streamed answer: the stored question, the id the answer will have, and its events.
pub struct AnswerStream {
    pub question: Message,
    pub answer_id: MessageId,
    pub events: Arc<InFlight>,
}
