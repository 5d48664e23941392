//! `[quotas]`: what one user may keep and queue.

use serde::{Deserialize, Serialize};

/// Per-user quotas; 0 = none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSettings {
    /// Original files kept, MiB.
    pub storage_mb: u64,
    pub documents: u64,
    pub chunks: u64,
    pub cards: u64,
    /// Ingestions and generations waiting or running.
    pub queued_jobs: u64,
}

impl QuotaSettings {
    pub fn policy(&self) -> flashforge_domain::quotas::QuotaPolicy {
        flashforge_domain::quotas::QuotaPolicy {
            storage_bytes: self.storage_mb.saturating_mul(1024 * 1024),
            documents: self.documents,
            chunks: self.chunks,
            cards: self.cards,
            queued_jobs: self.queued_jobs,
        }
    }
}
