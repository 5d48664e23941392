//! The background worker: periodic tasks that run beside the API (`flashforge serve`) or alone
//! (`flashforge worker`), and stop cleanly on shutdown: a task that is running finishes its
//! round, then no new round starts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flashforge_domain::jobs::JobRunner;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A unit of background work, run every `interval`.
#[async_trait]
pub trait Task: Send + Sync {
    fn name(&self) -> &str;
    fn interval(&self) -> Duration;
    /// One round of work. Errors are logged and the task runs again next round.
    async fn run_once(&self) -> Result<(), String>;
    /// Wakes the task before its interval is up (new work arrived in this process).
    fn wake(&self) -> Option<Arc<Notify>> {
        None
    }
}

/// Runs jobs (ingestion, flashcard generation) from the durable queue until none is due, then
/// waits for the next (woken at once by jobs queued in this process, or after `poll` for other
/// processes' jobs).
pub struct Jobs {
    runner: Arc<JobRunner>,
    worker_id: String,
    poll: Duration,
}

impl Jobs {
    pub fn new(runner: Arc<JobRunner>, worker_id: String, poll: Duration) -> Self {
        Self {
            runner,
            worker_id,
            poll,
        }
    }
}

#[async_trait]
impl Task for Jobs {
    fn name(&self) -> &str {
        "jobs"
    }
    fn interval(&self) -> Duration {
        self.poll
    }
    async fn run_once(&self) -> Result<(), String> {
        loop {
            match self.runner.work_once(&self.worker_id).await {
                Ok(true) => {}
                Ok(false) => return Ok(()),
                Err(e) => return Err(flashforge_domain::error::chain(&e)),
            }
        }
    }
    fn wake(&self) -> Option<Arc<Notify>> {
        Some(self.runner.job_queued())
    }
}

/// Deletes sessions (and their refresh tokens) that ended more than a day ago, hourly.
pub struct SessionSweep {
    services: Arc<flashforge_domain::Services>,
}

impl SessionSweep {
    pub fn new(services: Arc<flashforge_domain::Services>) -> Self {
        Self { services }
    }
}

#[async_trait]
impl Task for SessionSweep {
    fn name(&self) -> &str {
        "session_sweep"
    }
    fn interval(&self) -> Duration {
        Duration::from_secs(3600)
    }
    async fn run_once(&self) -> Result<(), String> {
        let purged = self
            .services
            .accounts
            .purge_ended_sessions()
            .await
            .map_err(|e| flashforge_domain::error::chain(&e))?;
        if purged > 0 {
            tracing::info!(purged, "ended sessions removed");
        }
        Ok(())
    }
}

/// A set of tasks about to run.
#[derive(Default)]
pub struct Worker {
    tasks: Vec<Arc<dyn Task>>,
}

/// A running worker.
pub struct RunningWorker {
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Worker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_task(mut self, task: Arc<dyn Task>) -> Self {
        self.tasks.push(task);
        self
    }

    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Starts every task on the current runtime.
    pub fn start(self) -> RunningWorker {
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for task in self.tasks {
            let stop = stop.clone();
            tasks.spawn(async move {
                tracing::info!(task = task.name(), "background task started");
                // A task without its own wake-up gets one that nobody signals.
                let wake = task.wake().unwrap_or_else(|| Arc::new(Notify::new()));
                loop {
                    // Registered before the round, so a wake-up during it is not lost.
                    let woken = wake.notified();
                    tokio::pin!(woken);
                    woken.as_mut().enable();
                    if let Err(error) = task.run_once().await {
                        tracing::warn!(task = task.name(), %error, "background task round failed");
                    }
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(task.interval()) => {}
                        _ = &mut woken => {}
                    }
                }
                tracing::info!(task = task.name(), "background task stopped");
            });
        }
        RunningWorker { stop, tasks }
    }
}

impl RunningWorker {
    /// Asks every task to stop after its current round and waits up to `grace` for them;
    /// whatever is still running then is aborted. Returns how many were aborted.
    pub async fn shutdown(mut self, grace: Duration) -> usize {
        self.stop.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_ok() {
            return 0;
        }
        let left = self.tasks.len();
        self.tasks.abort_all();
        tracing::warn!(aborted = left, "background tasks did not stop in time");
        left
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counter {
        rounds: AtomicUsize,
        round_time: Duration,
    }

    #[async_trait]
    impl Task for Counter {
        fn name(&self) -> &str {
            "counter"
        }
        fn interval(&self) -> Duration {
            Duration::from_millis(5)
        }
        async fn run_once(&self) -> Result<(), String> {
            tokio::time::sleep(self.round_time).await;
            self.rounds.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    #[tokio::test]
    async fn tasks_run_repeatedly_and_stop_cleanly() {
        let counter = Arc::new(Counter {
            rounds: AtomicUsize::new(0),
            round_time: Duration::ZERO,
        });
        let running = Worker::new().with_task(counter.clone()).start();
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(running.shutdown(Duration::from_secs(1)).await, 0);
        let rounds = counter.rounds.load(Ordering::SeqCst);
        assert!(rounds >= 2, "ran {rounds} rounds");
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            counter.rounds.load(Ordering::SeqCst),
            rounds,
            "ran after shutdown"
        );
    }

    #[tokio::test]
    async fn a_round_in_progress_finishes_before_shutdown_returns() {
        let counter = Arc::new(Counter {
            rounds: AtomicUsize::new(0),
            round_time: Duration::from_millis(100),
        });
        let running = Worker::new().with_task(counter.clone()).start();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(running.shutdown(Duration::from_secs(2)).await, 0);
        assert_eq!(counter.rounds.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_round_that_overruns_the_grace_period_is_aborted() {
        let counter = Arc::new(Counter {
            rounds: AtomicUsize::new(0),
            round_time: Duration::from_secs(30),
        });
        let running = Worker::new().with_task(counter.clone()).start();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(running.shutdown(Duration::from_millis(50)).await, 1);
    }
}
