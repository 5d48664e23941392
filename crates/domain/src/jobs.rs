//! Background jobs: the durable queue (a port) and the runner that claims a job, holds its lease
//! while it runs, retries it with doubling back-off and gives up after its last attempt. The
//! service that owns a kind of job handles it ([`JobHandler`]); the runner only routes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::accounts::UserId;
use crate::clock::Clock;
use crate::error::InfraError;
pub use crate::ids::JobId;
use crate::ids::{DocumentId, GenerationId, ImportId};

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobPayload {
    /// Extract, chunk, embed and index a document.
    IngestDocument {
        user_id: UserId,
        document_id: DocumentId,
    },
    /// Make flashcards from a large piece of material, batch by batch.
    GenerateFlashcards {
        user_id: UserId,
        generation_id: GenerationId,
    },
    /// Import a large deck package, batch by batch.
    ImportDeck {
        user_id: UserId,
        import_id: ImportId,
    },
}

impl JobPayload {
    pub fn kind(&self) -> &'static str {
        match self {
            JobPayload::IngestDocument { .. } => "ingest_document",
            JobPayload::GenerateFlashcards { .. } => "generate_flashcards",
            JobPayload::ImportDeck { .. } => "import_deck",
        }
    }

    /// The user the work is for: the queue shares workers fairly among owners.
    pub fn owner(&self) -> UserId {
        match self {
            JobPayload::IngestDocument { user_id, .. }
            | JobPayload::GenerateFlashcards { user_id, .. }
            | JobPayload::ImportDeck { user_id, .. } => *user_id,
        }
    }
}

/// A job about to be queued.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub payload: JobPayload,
    /// The request that queued it, for the worker's log lines.
    pub request_id: Option<String>,
    pub max_attempts: u32,
    pub run_at: DateTime<Utc>,
}

/// A job a worker has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub payload: JobPayload,
    /// The request that queued it.
    pub request_id: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    pub max_attempts: u32,
    pub created_at: DateTime<Utc>,
}

/// The queue's state, for operators and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStats {
    pub queued: u64,
    pub running: u64,
    pub dead: u64,
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

/// How claims share the workers among users.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fairness {
    /// The most jobs of one user running at once (live leases); 0 = no limit.
    pub max_running_per_user: u32,
}

/// A durable job queue. Any number of workers may claim at once; a job is held by one worker at
/// a time through a lease that the worker renews, and a job whose lease ran out (its worker
/// died) is claimed again — until its attempts are used up.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: NewJob) -> Result<(), InfraError>;

    /// Takes a runnable job for `worker` until `lease_until`, counting an attempt (so that a
    /// worker that dies mid-job has used one). Runnable: queued and due, or running with an
    /// expired lease — and in both cases `attempts < max_attempts`; a job whose attempts are
    /// used up is never returned here (see [`JobQueue::claim_exhausted`]).
    ///
    /// Fair: the job comes from the user with the fewest running jobs (live leases), ties
    /// broken by whose runnable job is oldest, and within a user the oldest first — so one
    /// user's hundred uploads do not delay another's one. A user who already has
    /// `fairness.max_running_per_user` jobs running (when non-zero) gets none.
    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        fairness: Fairness,
    ) -> Result<Option<Job>, InfraError>;

    /// Takes, for `worker` until `lease_until` and without counting an attempt, a running job
    /// whose lease expired after its last attempt (its worker died every time), so that the
    /// runner can mark it dead and its subject failed. Until that is recorded the job stays
    /// `running` under the new lease: a runner that dies meanwhile leaves it to the next.
    async fn claim_exhausted(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, InfraError>;

    /// Extends `worker`'s lease; `Ok(false)` when the job is no longer `worker`'s.
    async fn heartbeat(
        &self,
        job: JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Marks the job done; `Ok(false)` when it is no longer `worker`'s.
    async fn complete(&self, job: JobId, worker: &str) -> Result<bool, InfraError>;

    /// Records a failed attempt: queued again at `retry_at`, or dead with `error` when `None`.
    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, InfraError>;

    async fn stats(&self, now: DateTime<Utc>) -> Result<QueueStats, InfraError>;

    /// How many of `owner`'s jobs are queued or running (what the queued-jobs quota counts).
    async fn pending(&self, owner: UserId) -> Result<u64, InfraError>;
}

/// Why a job attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Retrying cannot help (a malformed file, say).
    Permanent(String),
    /// A dependency failed; retry later.
    Transient(String),
    /// Another worker holds the job now.
    LeaseLost,
}

/// What a user reads when a dependency failed: the cause (a connection string, a path, a
/// driver's message) is for the log, never for the document or generation the user sees.
pub const UNAVAILABLE_REASON: &str = "a service FlashForge depends on was unavailable";
/// What a user reads when something unexpected failed.
pub const INTERNAL_REASON: &str = "an internal error occurred";

impl From<InfraError> for Failure {
    /// A stable reason for the user; the whole chain goes to the log, inside the job's span
    /// (its id and the id of the request that queued it).
    fn from(error: InfraError) -> Self {
        tracing::warn!(error = %crate::error::chain(&error), "a job step failed");
        Failure::Transient(
            match error {
                InfraError::Unavailable(_) => UNAVAILABLE_REASON,
                InfraError::Internal(_) => INTERNAL_REASON,
            }
            .to_string(),
        )
    }
}

/// Runs one kind of job, and records on the job's subject what became of it.
#[async_trait]
pub trait JobHandler: Send + Sync {
    async fn run(&self, job: &Job) -> Result<(), Failure>;

    /// The attempt failed and the job will run again (`note` says why).
    async fn retrying(&self, job: &Job, note: &str) -> Result<(), InfraError>;

    /// The job failed for good.
    async fn gave_up(&self, job: &Job, reason: &str) -> Result<(), InfraError>;
}

/// How long a lease lasts, how long to wait before a retry, how long a job may run and how the
/// workers are shared.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// How long a claimed job is held without a heartbeat.
    pub lease: Duration,
    /// The wait before the first retry; each later one doubles it.
    pub retry_backoff: Duration,
    pub policy: JobPolicy,
}

/// Limits on the work of the queue, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPolicy {
    /// An ingestion running longer than this fails (its lease is released).
    pub ingest_timeout: Duration,
    /// A flashcard generation running longer than this fails.
    pub generation_timeout: Duration,
    pub fairness: Fairness,
}

impl Default for JobPolicy {
    fn default() -> Self {
        Self {
            ingest_timeout: Duration::from_secs(3600),
            generation_timeout: Duration::from_secs(1800),
            fairness: Fairness {
                max_running_per_user: 1,
            },
        }
    }
}

impl JobPolicy {
    /// How long a job of this kind may run.
    pub fn timeout(&self, payload: &JobPayload) -> Duration {
        match payload {
            JobPayload::IngestDocument { .. } => self.ingest_timeout,
            // An import does less work per note than a generation per batch; the same bound.
            JobPayload::GenerateFlashcards { .. } | JobPayload::ImportDeck { .. } => {
                self.generation_timeout
            }
        }
    }
}

/// "90 minutes", "2 hours", "45 seconds": a duration as a person reads it.
pub fn spoken(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (n, unit) = if secs >= 7200 && secs.is_multiple_of(3600) {
        (secs / 3600, "hours")
    } else if secs >= 120 && secs.is_multiple_of(60) {
        (secs / 60, "minutes")
    } else if secs == 1 {
        (1, "second")
    } else {
        (secs, "seconds")
    };
    format!("{n} {unit}")
}

/// The handlers of every kind of job.
#[derive(Clone)]
pub struct JobHandlers {
    pub ingest_document: Arc<dyn JobHandler>,
    /// Flashcard generations and deck imports.
    pub generate_flashcards: Arc<dyn JobHandler>,
}

/// Claims jobs from the queue and runs them with their handlers.
pub struct JobRunner {
    queue: Arc<dyn JobQueue>,
    handlers: JobHandlers,
    clock: Arc<dyn Clock>,
    settings: JobSettings,
    queued: Arc<Notify>,
}

impl JobRunner {
    pub fn new(
        queue: Arc<dyn JobQueue>,
        handlers: JobHandlers,
        clock: Arc<dyn Clock>,
        settings: JobSettings,
        queued: Arc<Notify>,
    ) -> Self {
        Self {
            queue,
            handlers,
            clock,
            settings,
            queued,
        }
    }

    /// The queue's state now (for metrics).
    pub async fn stats(&self) -> Result<QueueStats, InfraError> {
        self.queue.stats(self.clock.now()).await
    }

    /// Notified whenever this process queues a job.
    pub fn job_queued(&self) -> Arc<Notify> {
        self.queued.clone()
    }

    fn handler(&self, payload: &JobPayload) -> &dyn JobHandler {
        match payload {
            JobPayload::IngestDocument { .. } => self.handlers.ingest_document.as_ref(),
            JobPayload::GenerateFlashcards { .. } | JobPayload::ImportDeck { .. } => {
                self.handlers.generate_flashcards.as_ref()
            }
        }
    }

    /// Buries one job whose attempts are used up, or claims one job and runs it; `Ok(false)`
    /// when there was nothing to do.
    pub async fn work_once(&self, worker: &str) -> Result<bool, InfraError> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or(chrono::Duration::seconds(60));
        if let Some(job) = self.queue.claim_exhausted(worker, now, now + lease).await? {
            self.bury(job, worker).await?;
            return Ok(true);
        }
        let Some(job) = self
            .queue
            .claim(worker, now, now + lease, self.settings.policy.fairness)
            .await?
        else {
            return Ok(false);
        };
        // The job's log lines name the request that queued it (or the job itself).
        let request_id = job
            .request_id
            .clone()
            .unwrap_or_else(|| format!("job:{}", job.id));
        let span = tracing::info_span!("job", job = %job.id, kind = job.payload.kind(), request_id = %request_id);
        crate::context::with_request_id(
            request_id,
            tracing::Instrument::instrument(self.run(job, worker, lease), span),
        )
        .await?;
        Ok(true)
    }

    /// A job whose worker died on every attempt: dead, and its subject failed with a reason
    /// the user can read.
    async fn bury(&self, job: Job, worker: &str) -> Result<(), InfraError> {
        let reason = format!(
            "processing stopped without finishing on each of {} attempts (the worker ran out of memory or was stopped); this file cannot be processed as it is",
            job.max_attempts
        );
        tracing::warn!(job = %job.id, kind = job.payload.kind(), attempts = job.attempts, "job's worker died on its last attempt; marking it dead");
        metrics::counter!("jobs_finished_total", "kind" => job.payload.kind(), "outcome" => "dead")
            .increment(1);
        self.handler(&job.payload).gave_up(&job, &reason).await?;
        self.queue.fail(job.id, worker, &reason, None).await?;
        Ok(())
    }

    /// Runs a claimed job and records its outcome.
    async fn run(&self, job: Job, worker: &str, lease: chrono::Duration) -> Result<(), InfraError> {
        tracing::info!(job = %job.id, kind = job.payload.kind(), attempt = job.attempts, "job claimed");
        let handler = self.handler(&job.payload);
        let kind = job.payload.kind();
        let started = std::time::Instant::now();
        let limit = self.settings.policy.timeout(&job.payload);
        let outcome = tokio::select! {
            outcome = tokio::time::timeout(limit, handler.run(&job)) => outcome.unwrap_or_else(|_| {
                Err(Failure::Permanent(format!(
                    "processing took longer than the limit of {}",
                    spoken(limit)
                )))
            }),
            lost = self.keep_lease(&job, worker, lease) => lost,
        };
        metrics::histogram!("job_duration_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        let result = match &outcome {
            Ok(()) => "completed",
            Err(Failure::LeaseLost) => "lease_lost",
            Err(Failure::Permanent(_)) => "dead",
            Err(Failure::Transient(_)) if job.attempts >= job.max_attempts => "dead",
            Err(Failure::Transient(_)) => "retry",
        };
        metrics::counter!("jobs_finished_total", "kind" => kind, "outcome" => result).increment(1);
        match outcome {
            Ok(()) => {
                self.queue.complete(job.id, worker).await?;
                tracing::info!(job = %job.id, "job completed");
            }
            Err(Failure::LeaseLost) => {
                tracing::warn!(job = %job.id, "job lease lost to another worker; leaving it");
            }
            Err(Failure::Permanent(reason)) => {
                tracing::warn!(job = %job.id, reason, "job failed for good");
                handler.gave_up(&job, &reason).await?;
                self.queue.fail(job.id, worker, &reason, None).await?;
            }
            Err(Failure::Transient(reason)) if job.attempts >= job.max_attempts => {
                let reason = format!("gave up after {} attempts: {reason}", job.attempts);
                tracing::warn!(job = %job.id, reason, "job failed for good");
                handler.gave_up(&job, &reason).await?;
                self.queue.fail(job.id, worker, &reason, None).await?;
            }
            Err(Failure::Transient(reason)) => {
                let wait = self.settings.retry_backoff
                    * 2u32.saturating_pow(job.attempts.saturating_sub(1));
                let retry_at =
                    self.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
                tracing::warn!(job = %job.id, attempt = job.attempts, %reason, ?wait, "job failed; will retry");
                let note = format!("attempt {} failed ({reason}); retrying", job.attempts);
                handler.retrying(&job, &note).await?;
                self.queue
                    .fail(job.id, worker, &reason, Some(retry_at))
                    .await?;
            }
        }
        Ok(())
    }

    /// Renews the lease until it is lost (then returns) or the job ends (then it is dropped).
    async fn keep_lease(
        &self,
        job: &Job,
        worker: &str,
        lease: chrono::Duration,
    ) -> Result<(), Failure> {
        let every = (self.settings.lease / 3).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(every).await;
            match self
                .queue
                .heartbeat(job.id, worker, self.clock.now() + lease)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Err(Failure::LeaseLost),
                Err(error) => {
                    tracing::warn!(job = %job.id, error = %crate::error::chain(&error), "heartbeat failed");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_spoken_in_the_largest_whole_unit() {
        assert_eq!(spoken(Duration::from_secs(3600 * 3)), "3 hours");
        assert_eq!(spoken(Duration::from_secs(3600)), "60 minutes");
        assert_eq!(spoken(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(spoken(Duration::from_secs(90)), "90 seconds");
        assert_eq!(spoken(Duration::from_secs(1)), "1 second");
    }
}
