//! Per-user quotas: how much one account may keep (stored bytes, documents, passages, cards)
//! and how much work it may have waiting (queued jobs). A write that would pass a quota is
//! refused whole with [`QuotaExceeded`], naming the quota, its limit and the current use;
//! nothing of it is stored.
//!
//! Documents, bytes, passages and queued jobs are counted when an upload or a job is about to
//! be stored (uploads are rare and the counts are indexed); concurrent uploads of one user can
//! pass together by at most the uploads in flight. Cards are counted by a counter kept in the
//! same transaction as every card written or deleted, so the card quota is exact and costs one
//! row update, however large the deck.

use std::sync::Arc;

use async_trait::async_trait;

use crate::accounts::UserId;
use crate::error::InfraError;
pub use crate::error::{QuotaExceeded, QuotaName};
use crate::flashcards::FlashcardRepository;
use crate::jobs::JobQueue;
use crate::knowledge::DocumentRepository;

/// The limits, from configuration; 0 means none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaPolicy {
    pub storage_bytes: u64,
    pub documents: u64,
    pub chunks: u64,
    pub cards: u64,
    pub queued_jobs: u64,
}

impl QuotaPolicy {
    /// The limit of `name`, 0 for none.
    pub fn limit(&self, name: QuotaName) -> u64 {
        match name {
            QuotaName::StorageBytes => self.storage_bytes,
            QuotaName::Documents => self.documents,
            QuotaName::Chunks => self.chunks,
            QuotaName::Cards => self.cards,
            QuotaName::QueuedJobs => self.queued_jobs,
        }
    }

    /// `Err` when adding `adding` to `used` passes the limit of `name`.
    pub fn check(&self, name: QuotaName, used: u64, adding: u64) -> Result<(), QuotaExceeded> {
        let limit = self.limit(name);
        if limit > 0 && used.saturating_add(adding) > limit {
            return Err(QuotaExceeded {
                quota: name,
                limit,
                used,
                adding,
            });
        }
        Ok(())
    }
}

/// What a user's documents hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentUsage {
    pub documents: u64,
    pub storage_bytes: u64,
    pub chunks: u64,
}

/// Where the counts come from: the stores of documents, cards and jobs.
#[async_trait]
pub trait UsageSource: Send + Sync {
    async fn documents(&self, owner: UserId) -> Result<DocumentUsage, InfraError>;
    async fn cards(&self, owner: UserId) -> Result<u64, InfraError>;
    async fn queued_jobs(&self, owner: UserId) -> Result<u64, InfraError>;
}

/// One quota and its use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUse {
    pub name: QuotaName,
    pub used: u64,
    /// `None`: no limit.
    pub limit: Option<u64>,
}

/// Checks and reports quotas.
pub struct Quotas {
    source: Arc<dyn UsageSource>,
    policy: QuotaPolicy,
}

impl Quotas {
    pub fn new(source: Arc<dyn UsageSource>, policy: QuotaPolicy) -> Self {
        Self { source, policy }
    }

    pub fn policy(&self) -> &QuotaPolicy {
        &self.policy
    }

    /// Every quota of `owner` with its use.
    pub async fn usage(&self, owner: UserId) -> Result<Vec<QuotaUse>, InfraError> {
        let documents = self.source.documents(owner).await?;
        let cards = self.source.cards(owner).await?;
        let jobs = self.source.queued_jobs(owner).await?;
        Ok(QuotaName::ALL
            .into_iter()
            .map(|name| QuotaUse {
                name,
                used: match name {
                    QuotaName::StorageBytes => documents.storage_bytes,
                    QuotaName::Documents => documents.documents,
                    QuotaName::Chunks => documents.chunks,
                    QuotaName::Cards => cards,
                    QuotaName::QueuedJobs => jobs,
                },
                limit: Some(self.policy.limit(name)).filter(|l| *l > 0),
            })
            .collect())
    }

    /// Before an upload of `bytes` is stored: one more document, its bytes, one more job.
    pub async fn check_upload(&self, owner: UserId, bytes: u64) -> Result<(), QuotaCheckError> {
        let p = &self.policy;
        if p.documents > 0 || p.storage_bytes > 0 {
            let usage = self.source.documents(owner).await?;
            p.check(QuotaName::Documents, usage.documents, 1)?;
            p.check(QuotaName::StorageBytes, usage.storage_bytes, bytes)?;
        }
        self.check_job(owner).await
    }

    /// Before a job is queued for `owner`.
    pub async fn check_job(&self, owner: UserId) -> Result<(), QuotaCheckError> {
        if self.policy.queued_jobs > 0 {
            let jobs = self.source.queued_jobs(owner).await?;
            self.policy.check(QuotaName::QueuedJobs, jobs, 1)?;
        }
        Ok(())
    }

    /// Before `adding` passages are stored for `owner`, whose current passages are counted
    /// without the document being (re)ingested (its old ones are already cleared).
    pub async fn check_chunks(&self, owner: UserId, adding: u64) -> Result<(), QuotaCheckError> {
        if self.policy.chunks > 0 {
            let usage = self.source.documents(owner).await?;
            self.policy.check(QuotaName::Chunks, usage.chunks, adding)?;
        }
        Ok(())
    }
}

/// The counts from the stores themselves.
pub struct StoreUsage {
    pub documents: Arc<dyn DocumentRepository>,
    pub cards: Arc<dyn FlashcardRepository>,
    pub jobs: Arc<dyn JobQueue>,
}

#[async_trait]
impl UsageSource for StoreUsage {
    async fn documents(&self, owner: UserId) -> Result<DocumentUsage, InfraError> {
        self.documents.usage(owner).await
    }
    async fn cards(&self, owner: UserId) -> Result<u64, InfraError> {
        self.cards.card_count(owner).await
    }
    async fn queued_jobs(&self, owner: UserId) -> Result<u64, InfraError> {
        self.jobs.pending(owner).await
    }
}

/// A quota check that could not count, or found the quota passed.
#[derive(Debug, thiserror::Error)]
pub enum QuotaCheckError {
    #[error(transparent)]
    Exceeded(#[from] QuotaExceeded),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{DomainError, ErrorKind};

    #[test]
    fn a_quota_of_zero_is_no_quota_and_the_limit_itself_is_allowed() {
        let policy = QuotaPolicy {
            cards: 10,
            ..QuotaPolicy::default()
        };
        assert!(policy.check(QuotaName::Documents, u64::MAX - 1, 5).is_ok());
        assert!(policy.check(QuotaName::Cards, 7, 3).is_ok());
        let over = policy.check(QuotaName::Cards, 7, 4).unwrap_err();
        assert_eq!(
            over,
            QuotaExceeded {
                quota: QuotaName::Cards,
                limit: 10,
                used: 7,
                adding: 4
            }
        );
        assert_eq!(
            over.to_string(),
            "this would pass your quota of 10 flashcards: you have 7 and this adds 4"
        );
        assert_eq!(over.kind(), ErrorKind::QuotaExceeded);
    }
}
