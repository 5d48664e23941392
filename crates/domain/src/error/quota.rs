//! The error a write over one of the caller's quotas answers with, and the quotas' names.

use serde::Serialize;

/// Each quota a user has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaName {
    /// Bytes of original files kept.
    StorageBytes,
    /// Documents, in every chat.
    Documents,
    /// Passages (chunks) of the documents, searchable.
    Chunks,
    /// Flashcards, in every chat.
    Cards,
    /// Ingestions and generations waiting or running.
    QueuedJobs,
}

impl QuotaName {
    pub const ALL: [QuotaName; 5] = [
        QuotaName::StorageBytes,
        QuotaName::Documents,
        QuotaName::Chunks,
        QuotaName::Cards,
        QuotaName::QueuedJobs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuotaName::StorageBytes => "storage_bytes",
            QuotaName::Documents => "documents",
            QuotaName::Chunks => "chunks",
            QuotaName::Cards => "cards",
            QuotaName::QueuedJobs => "queued_jobs",
        }
    }

    /// What is counted, for sentences.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            QuotaName::StorageBytes => "bytes of files",
            QuotaName::Documents => "documents",
            QuotaName::Chunks => "passages",
            QuotaName::Cards => "flashcards",
            QuotaName::QueuedJobs => "jobs waiting or running",
        }
    }
}

/// A write that would pass a quota. Nothing of it was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this would pass your quota of {} {}: you have {} and this adds {}",
    crate::text::grouped(*limit),
    quota.noun(),
    crate::text::grouped(*used),
    crate::text::grouped(*adding)
)]
pub struct QuotaExceeded {
    pub quota: QuotaName,
    pub limit: u64,
    pub used: u64,
    pub adding: u64,
}
