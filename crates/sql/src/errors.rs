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
    match error {
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        // The server ended or refused the session rather than failing the statement, or (SQLite)
        // another connection held the write lock past the busy timeout: the statement itself
        // was fine, and running it again later will work.
        Error::Database(e) => e
            .code()
            .is_some_and(|code| is_connection_sqlstate(&code) || is_sqlite_busy(&code)),
        _ => false,
    }
}

/// Postgres SQLSTATEs that mean "the connection, not the statement": class 08 (connection
/// exception), 57P01 `admin_shutdown` (the backend was terminated, e.g. by
/// `pg_terminate_backend` or a restart), 57P02 `crash_shutdown`, 57P03 `cannot_connect_now`
/// (starting up or shutting down) and 53300 `too_many_connections`. SQLite's codes are plain
/// numbers without a leading zero, so none of them matches.
fn is_connection_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes (`5 | n << 8`:
/// 261 BUSY_RECOVERY, 517 BUSY_SNAPSHOT, 773 BUSY_TIMEOUT, 262 LOCKED_SHAREDCACHE, …). Postgres
/// SQLSTATEs have five characters and never parse as these.
fn is_sqlite_busy(code: &str) -> bool {
    code.len() < 5 && code.parse::<u32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6))
}

/// Whether the statement broke a unique index (a duplicate row).
pub(crate) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A stored row that no longer parses into a domain value: corrupt data, never the caller's fault.
pub(crate) fn corrupt(table: &str, what: impl std::fmt::Display) -> InfraError {
    InfraError::internal(format!("corrupt row in {table}: {what}"))
}

#[cfg(test)]
mod tests {
    use super::{is_connection_sqlstate, is_sqlite_busy};

    #[test]
    fn sqlite_busy_and_locked_are_recognised_and_nothing_else() {
        for code in ["5", "6", "261", "517", "773", "262"] {
            assert!(is_sqlite_busy(code), "{code}");
        }
        for code in ["1", "19", "2067", "8", "08006", "23505", "00005"] {
            assert!(!is_sqlite_busy(code), "{code}");
        }
    }

    #[test]
    fn a_dropped_or_refused_session_is_a_connection_failure_and_a_bad_statement_is_not() {
        for code in [
            "08000", "08003", "08006", "57P01", "57P02", "57P03", "53300",
        ] {
            assert!(is_connection_sqlstate(code), "{code}");
        }
        // Unique violation, syntax error, undefined table, SQLite's "constraint failed" and
        // "readonly".
        for code in ["23505", "42601", "42P01", "2067", "8"] {
            assert!(!is_connection_sqlstate(code), "{code}");
        }
    }
}
