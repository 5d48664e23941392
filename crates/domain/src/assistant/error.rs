//! What can go wrong with the assistant, in the terms of the table of error codes.

use super::ports::LlmError;
use crate::error::{Code, DomainError, InfraError, ValidationErrors};
use crate::limits::Limited;
use crate::spend::SpendError;

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("chat not found")]
    ChatNotFound,
    #[error("message not found")]
    MessageNotFound,
    #[error("only the last answer of a chat can be regenerated")]
    NotLastAnswer,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("today's model token budget is spent")]
    BudgetSpent(Limited),
    #[error("too many model calls of yours are under way; try again when one ends")]
    Busy(Limited),
    #[error("the answer was stopped: nobody was reading it")]
    Abandoned,
    #[error("{0}")]
    Model(LlmError),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl DomainError for AssistantError {
    fn code(&self) -> Code {
        match self {
            Self::ChatNotFound => Code::ChatNotFound,
            Self::MessageNotFound => Code::MessageNotFound,
            Self::NotLastAnswer => Code::NotLastAnswer,
            Self::Invalid(e) => e.code(),
            Self::BudgetSpent(_) => Code::TokenBudgetSpent,
            Self::Busy(_) => Code::ModelCallsBusy,
            Self::Abandoned => Code::AnswerAbandoned,
            Self::Model(LlmError::Timeout) => Code::ModelTimeout,
            Self::Model(LlmError::Unavailable(_)) => Code::ModelUnavailable,
            Self::Model(LlmError::Rejected(_)) => Code::ModelRejected,
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::BudgetSpent(l) | Self::Busy(l) => Some(l),
            Self::Infra(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SpendError> for AssistantError {
    fn from(error: SpendError) -> Self {
        match error {
            SpendError::BudgetSpent(l) => Self::BudgetSpent(l),
            SpendError::Busy(l) => Self::Busy(l),
            SpendError::Infra(e) => Self::Infra(e),
        }
    }
}
