//! `[worker]`: the background job loops and the queue's limits.

use serde::{Deserialize, Serialize};

use super::problems::Problems;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    pub enabled: bool,
    /// Ingestion jobs one process runs at once.
    pub concurrency: usize,
    /// How often an idle worker looks for jobs queued by other processes.
    pub poll_interval_ms: u64,
    /// The most jobs of one user running at once across all workers; 0 = no limit.
    pub max_running_per_user: u32,
    /// An ingestion (a flashcard generation) running longer fails and its lease is released.
    pub ingest_timeout_secs: u64,
    pub generation_timeout_secs: u64,
    /// A `flashforge worker` touches this file every 10 s; `flashforge healthcheck --worker`
    /// checks it is fresh. Empty: none.
    #[serde(default)]
    pub heartbeat_file: std::path::PathBuf,
}

impl WorkerSettings {
    /// The queue's limits, for the services.
    pub fn policy(&self) -> flashforge_domain::jobs::JobPolicy {
        flashforge_domain::jobs::JobPolicy {
            ingest_timeout: std::time::Duration::from_secs(self.ingest_timeout_secs),
            generation_timeout: std::time::Duration::from_secs(self.generation_timeout_secs),
            fairness: flashforge_domain::jobs::Fairness {
                max_running_per_user: self.max_running_per_user,
            },
        }
    }

    /// The rules of `worker.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.concurrency == 0 || self.concurrency > 64 {
            problems.bad("worker.concurrency", "must be between 1 and 64");
        }
        if self.poll_interval_ms < 10 {
            problems.bad("worker.poll_interval_ms", "must be at least 10");
        }
        for (key, value) in [
            ("worker.ingest_timeout_secs", self.ingest_timeout_secs),
            (
                "worker.generation_timeout_secs",
                self.generation_timeout_secs,
            ),
        ] {
            if value == 0 || value > 7 * 24 * 3600 {
                problems.bad(key, "must be between 1 and 604800 (a week)");
            }
        }
    }
}
