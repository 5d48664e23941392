//! The job queue in memory.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::knowledge::{Fairness, Job, JobId, JobQueue, NewJob, QueueStats};
use parking_lot::RwLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

struct StoredJob {
    job: Job,
    state: JobState,
    run_at: DateTime<Utc>,
    worker: Option<String>,
    lease_until: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// The job queue in memory: one lock makes every claim atomic.
#[derive(Default)]
pub struct InMemoryJobQueue {
    jobs: RwLock<BTreeMap<JobId, StoredJob>>,
}

impl InMemoryJobQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&self, new: NewJob, now: DateTime<Utc>) {
        self.jobs.write().insert(
            new.id,
            StoredJob {
                job: Job {
                    id: new.id,
                    payload: new.payload,
                    request_id: new.request_id,
                    attempts: 0,
                    max_attempts: new.max_attempts,
                    created_at: now,
                },
                state: JobState::Queued,
                run_at: new.run_at,
                worker: None,
                lease_until: None,
                last_error: None,
            },
        );
    }

    fn with_held(&self, id: JobId, worker: &str, change: impl FnOnce(&mut StoredJob)) -> bool {
        let mut jobs = self.jobs.write();
        match jobs
            .get_mut(&id)
            .filter(|j| j.state == JobState::Running && j.worker.as_deref() == Some(worker))
        {
            Some(job) => {
                change(job);
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl JobQueue for InMemoryJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<(), InfraError> {
        let now = job.run_at;
        self.push(job, now);
        Ok(())
    }

    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        fairness: Fairness,
    ) -> Result<Option<Job>, InfraError> {
        let mut jobs = self.jobs.write();
        let mut running: HashMap<UserId, u32> = HashMap::new();
        for j in jobs.values() {
            if j.state == JobState::Running && j.lease_until.is_some_and(|l| l >= now) {
                *running.entry(j.job.payload.owner()).or_default() += 1;
            }
        }
        let runnable = |j: &StoredJob| {
            j.job.attempts < j.job.max_attempts
                && match j.state {
                    JobState::Queued => j.run_at <= now,
                    JobState::Running => j.lease_until.is_some_and(|l| l < now),
                    JobState::Done | JobState::Dead => false,
                }
        };
        // The fewest running first, then the oldest runnable job; within a user the oldest.
        let next = jobs
            .values()
            .filter(|j| runnable(j))
            .map(|j| {
                let owner = j.job.payload.owner();
                let busy = running.get(&owner).copied().unwrap_or(0);
                (busy, j.run_at, j.job.id)
            })
            .filter(|(busy, _, _)| {
                fairness.max_running_per_user == 0 || *busy < fairness.max_running_per_user
            })
            .min()
            .map(|(_, _, id)| id);
        Ok(next.and_then(|id| jobs.get_mut(&id)).map(|j| {
            j.state = JobState::Running;
            j.worker = Some(worker.to_string());
            j.lease_until = Some(lease_until);
            j.job.attempts += 1;
            j.job.clone()
        }))
    }

    async fn claim_exhausted(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, InfraError> {
        let mut jobs = self.jobs.write();
        let next = jobs.values_mut().find(|j| {
            j.state == JobState::Running
                && j.lease_until.is_some_and(|l| l < now)
                && j.job.attempts >= j.job.max_attempts
        });
        Ok(next.map(|j| {
            j.worker = Some(worker.to_string());
            j.lease_until = Some(lease_until);
            j.job.clone()
        }))
    }

    async fn heartbeat(
        &self,
        job: JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        Ok(self.with_held(job, worker, |j| j.lease_until = Some(lease_until)))
    }

    async fn complete(&self, job: JobId, worker: &str) -> Result<bool, InfraError> {
        Ok(self.with_held(job, worker, |j| {
            j.state = JobState::Done;
            j.lease_until = None;
        }))
    }

    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, InfraError> {
        Ok(self.with_held(job, worker, |j| {
            j.last_error = Some(error.to_string());
            j.lease_until = None;
            j.worker = None;
            match retry_at {
                Some(at) => {
                    j.state = JobState::Queued;
                    j.run_at = at;
                }
                None => j.state = JobState::Dead,
            }
        }))
    }

    async fn pending(&self, owner: UserId) -> Result<u64, InfraError> {
        Ok(self
            .jobs
            .read()
            .values()
            .filter(|j| {
                j.job.payload.owner() == owner
                    && matches!(j.state, JobState::Queued | JobState::Running)
            })
            .count() as u64)
    }

    async fn stats(&self, _now: DateTime<Utc>) -> Result<QueueStats, InfraError> {
        let jobs = self.jobs.read();
        let mut stats = QueueStats::default();
        for job in jobs.values() {
            match job.state {
                JobState::Queued => {
                    stats.queued += 1;
                    stats.oldest_queued_at = Some(
                        stats
                            .oldest_queued_at
                            .map_or(job.job.created_at, |o| o.min(job.job.created_at)),
                    );
                }
                JobState::Running => stats.running += 1,
                JobState::Dead => stats.dead += 1,
                JobState::Done => {}
            }
        }
        Ok(stats)
    }
}
