//! What can go wrong with flashcards, in the terms of the table of error codes.

use crate::error::{Code, DomainError, InfraError, ValidationErrors};
use crate::quotas::{QuotaCheckError, QuotaExceeded};
use crate::spend::SpendError;

#[derive(Debug, thiserror::Error)]
pub enum FlashcardError {
    #[error("chat not found")]
    ChatNotFound,
    #[error("flashcard not found")]
    NotFound,
    #[error("generation not found")]
    GenerationNotFound,
    #[error("import not found")]
    ImportNotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(
        "the card was reviewed at the same moment by another request; reload it and review again"
    )]
    Conflict,
    #[error("no review of today is left to undo")]
    NothingToUndo,
    #[error("this Idempotency-Key was already used for a review of another card")]
    IdempotencyKeyReused,
    #[error("scheduling failed: {0}")]
    Scheduling(String),
    #[error("{0}")]
    NotEnoughReviews(ValidationErrors),
    /// The language model failed (`true`: it timed out).
    #[error("the language model could not make flashcards")]
    Upstream(bool),
    #[error("an optimization of your parameters is already running; try again when it ends")]
    OptimizationRunning,
    /// The model's token budget or its concurrent calls.
    #[error(transparent)]
    Spend(crate::spend::SpendError),
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<QuotaCheckError> for FlashcardError {
    fn from(error: QuotaCheckError) -> Self {
        match error {
            QuotaCheckError::Exceeded(e) => Self::Quota(e),
            QuotaCheckError::Infra(e) => Self::Infra(e),
        }
    }
}

impl DomainError for FlashcardError {
    fn code(&self) -> Code {
        match self {
            Self::ChatNotFound => Code::ChatNotFound,
            Self::NotFound => Code::FlashcardNotFound,
            Self::GenerationNotFound => Code::GenerationNotFound,
            Self::ImportNotFound => Code::ImportNotFound,
            Self::Invalid(e) => e.code(),
            Self::Conflict => Code::ReviewConflict,
            Self::NothingToUndo => Code::NothingToUndo,
            Self::OptimizationRunning => Code::OptimizationRunning,
            Self::IdempotencyKeyReused => Code::IdempotencyKeyReused,
            Self::Scheduling(_) => Code::InternalError,
            Self::NotEnoughReviews(_) => Code::NotEnoughReviews,
            Self::Upstream(true) => Code::UpstreamTimeout,
            Self::Upstream(false) => Code::UpstreamFailed,
            Self::Quota(e) => e.code(),
            Self::Spend(SpendError::BudgetSpent(_)) => Code::TokenBudgetSpent,
            Self::Spend(SpendError::Busy(_)) => Code::ModelCallsBusy,
            Self::Spend(SpendError::Infra(e)) => e.code(),
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::Invalid(e) | Self::NotEnoughReviews(e) => Some(e),
            Self::Quota(e) => Some(e),
            Self::Spend(SpendError::BudgetSpent(l) | SpendError::Busy(l)) => Some(l),
            Self::Spend(SpendError::Infra(e)) | Self::Infra(e) => Some(e),
            _ => None,
        }
    }
}
