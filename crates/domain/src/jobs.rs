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
use crate::flashcards::GenerationId;
use crate::knowledge::DocumentId;
pub use crate::knowledge::JobId;

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
}

impl JobPayload {
    pub fn kind(&self) -> &'static str {
        match self {
            JobPayload::IngestDocument { .. } => "ingest_document",
            JobPayload::GenerateFlashcards { .. } => "generate_flashcards",
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

/// A durable job queue. Any number of workers may claim at once; a job is held by one worker at
/// a time through a lease that the worker renews, and a job whose lease ran out (its worker
/// died) is claimed again.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: NewJob) -> Result<(), InfraError>;

    /// Takes the oldest runnable job (queued and due, or running with an expired lease) for
    /// `worker` until `lease_until`, counting an attempt.
    async fn claim(
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

impl From<InfraError> for Failure {
    fn from(error: InfraError) -> Self {
        Failure::Transient(crate::error::chain(&error))
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

/// How long a lease lasts and how long to wait before a retry.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// How long a claimed job is held without a heartbeat.
    pub lease: Duration,
    /// The wait before the first retry; each later one doubles it.
    pub retry_backoff: Duration,
}

/// The handlers of every kind of job.
#[derive(Clone)]
pub struct JobHandlers {
    pub ingest_document: Arc<dyn JobHandler>,
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
            JobPayload::GenerateFlashcards { .. } => self.handlers.generate_flashcards.as_ref(),
        }
    }

    /// Claims one job and runs it; `Ok(false)` when no job was due.
    pub async fn work_once(&self, worker: &str) -> Result<bool, InfraError> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.lease)
            .unwrap_or(chrono::Duration::seconds(60));
        let Some(job) = self.queue.claim(worker, now, now + lease).await? else {
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

    /// Runs a claimed job and records its outcome.
    async fn run(&self, job: Job, worker: &str, lease: chrono::Duration) -> Result<(), InfraError> {
        tracing::info!(job = %job.id, kind = job.payload.kind(), attempt = job.attempts, "job claimed");
        let handler = self.handler(&job.payload);
        let kind = job.payload.kind();
        let started = std::time::Instant::now();
        let outcome = tokio::select! {
            outcome = handler.run(&job) => outcome,
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
