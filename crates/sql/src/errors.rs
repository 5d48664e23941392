//! Driver errors become domain errors here, and only here.

use flashforge_domain::InfraError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Classifies a driver error: the database being unreachable is `Unavailable` (clients get 503
/// and may retry); anything else is `Internal`.
pub(crate) fn infra(error: DbErr) -> InfraError {
    match &error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => InfraError::unavailable(error),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))
            if is_connection_error(e) =>
        {
            InfraError::unavailable(error)
        }
        _ => InfraError::internal(error),
    }
}

fn is_connection_error(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    matches!(
        error,
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed
    )
}

/// Whether the statement broke a unique index (a duplicate row).
pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A stored row that no longer parses into a domain value: corrupt data, never the caller's fault.
pub(crate) fn corrupt(table: &str, what: impl std::fmt::Display) -> InfraError {
    InfraError::internal(format!("corrupt row in {table}: {what}"))
}
