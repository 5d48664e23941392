//! The vocabulary every service error speaks, so that one table in the HTTP crate can map any
//! domain failure to a status code without this crate knowing what a status code is.

use serde::{Deserialize, Serialize};

mod codes;
mod quota;

pub use codes::{Code, ErrorKind};
pub use quota::{QuotaExceeded, QuotaName};

/// A boxed error from an adapter, kept as the cause of an [`InfraError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Implemented by every service error enum, so the HTTP crate can render any of them.
///
/// Every implementation has one shape: `code` names, for each variant, its entry of the table
/// ([`Code`]), passing on the code of a domain error it wraps; `wrapped` returns that wrapped
/// error, whose field errors, retry hint and quota then pass through. The kind follows from the
/// code. An error that carries such details itself overrides the method that returns them.
pub trait DomainError: std::error::Error + Send + Sync + 'static {
    /// Which entry of the table this failure is.
    fn code(&self) -> Code;
    /// The domain error this one wraps, if any.
    fn wrapped(&self) -> Option<&dyn DomainError> {
        None
    }
    /// Which kind of failure this is: the kind of its code.
    fn kind(&self) -> ErrorKind {
        self.code().kind()
    }
    /// The per-field problems, for [`ErrorKind::InvalidInput`].
    fn field_errors(&self) -> &[FieldError] {
        self.wrapped().map_or(&[], |e| e.field_errors())
    }
    /// For [`ErrorKind::RateLimited`] (and a busy dependency): when the caller may try again.
    fn retry_after(&self) -> Option<std::time::Duration> {
        self.wrapped().and_then(|e| e.retry_after())
    }
    /// For [`ErrorKind::QuotaExceeded`]: which quota, its limit and the use.
    fn quota(&self) -> Option<&QuotaExceeded> {
        self.wrapped().and_then(|e| e.quota())
    }
}

/// An error and its causes on one line, for the log.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The field's name as the client sent it (`username`, `cursor`, `body`).
    pub field: String,
    /// What is wrong and how to fix it, in plain words.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every problem with an input, collected so that one answer names them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", describe(.0))]
pub struct ValidationErrors(Vec<FieldError>);

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ValidationErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Records the error of a parse, or keeps its value.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }
}

impl DomainError for ValidationErrors {
    fn code(&self) -> Code {
        Code::ValidationFailed
    }
    fn field_errors(&self) -> &[FieldError] {
        self.fields()
    }
}

/// A failure of something outside the domain that an adapter could not hide: the database is
/// down, a statement failed, a file could not be written. The cause is kept for the log.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// The dependency could not be reached or timed out; retrying later may work.
    #[error("dependency unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug, corrupt data, an unexpected answer.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl InfraError {
    pub fn internal(error: impl Into<BoxError>) -> Self {
        Self::Internal(error.into())
    }

    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        Self::Unavailable(error.into())
    }
}

impl DomainError for InfraError {
    fn code(&self) -> Code {
        match self {
            InfraError::Unavailable(_) => Code::DependencyUnavailable,
            InfraError::Internal(_) => Code::InternalError,
        }
    }
}

impl DomainError for QuotaExceeded {
    fn code(&self) -> Code {
        Code::QuotaExceeded
    }
    fn quota(&self) -> Option<&QuotaExceeded> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_collect_every_field_and_describe_them() {
        let mut errors = ValidationErrors::new();
        assert_eq!(errors.check::<u8>(Ok(3)), Some(3));
        assert_eq!(
            errors.check::<u8>(Err(FieldError::new("a", "too short"))),
            None
        );
        errors.push(FieldError::new("b", "missing"));
        assert_eq!(errors.fields().len(), 2);
        assert_eq!(
            errors.to_string(),
            "invalid input: a: too short; b: missing"
        );
        assert_eq!(errors.kind(), ErrorKind::InvalidInput);
    }
}
