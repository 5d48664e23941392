//! What can go wrong with the knowledge base, in the terms of the table of error codes.

use super::inspect::InspectError;
use super::models::DocumentStatus;
use crate::error::{Code, DomainError, InfraError, ValidationErrors};
use crate::quotas::{QuotaCheckError, QuotaExceeded};

#[derive(Debug, thiserror::Error)]
pub enum KnowledgeError {
    #[error("chat not found")]
    ChatNotFound,
    #[error("document not found")]
    DocumentNotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("{0}")]
    Upload(InspectError),
    #[error("only a failed document can be retried; this one is {}", .0.as_str())]
    NotRetryable(DocumentStatus),
    #[error("this Idempotency-Key was already used for a different file")]
    IdempotencyKeyReused,
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<QuotaCheckError> for KnowledgeError {
    fn from(error: QuotaCheckError) -> Self {
        match error {
            QuotaCheckError::Exceeded(e) => Self::Quota(e),
            QuotaCheckError::Infra(e) => Self::Infra(e),
        }
    }
}

impl From<InspectError> for KnowledgeError {
    /// An empty file is an invalid field; too large and unsupported have their own statuses.
    fn from(error: InspectError) -> Self {
        match error {
            InspectError::Empty => Self::Invalid(ValidationErrors::single(
                "file",
                "is empty: it has no bytes",
            )),
            other => Self::Upload(other),
        }
    }
}

impl DomainError for KnowledgeError {
    fn code(&self) -> Code {
        match self {
            Self::ChatNotFound => Code::ChatNotFound,
            Self::DocumentNotFound => Code::DocumentNotFound,
            Self::Invalid(e) => e.code(),
            Self::Upload(InspectError::TooLarge { .. }) => Code::FileTooLarge,
            Self::Upload(InspectError::Unsupported | InspectError::UnsupportedKind(_)) => {
                Code::UnsupportedFileType
            }
            Self::Upload(InspectError::Empty) => Code::EmptyFile,
            Self::NotRetryable(_) => Code::DocumentNotRetryable,
            Self::IdempotencyKeyReused => Code::IdempotencyKeyReused,
            Self::Quota(e) => e.code(),
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Quota(e) => Some(e),
            Self::Infra(e) => Some(e),
            _ => None,
        }
    }
}
