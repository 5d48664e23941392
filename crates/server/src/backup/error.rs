//! What can go wrong in a backup or a restore, in the words the operator reads.

use std::path::PathBuf;
use std::process::ExitStatus;

use flashforge_sql::sea_orm::{DbErr, sqlx};

use crate::database::OpenError;

/// Why a backup or a restore stopped. The text says what failed and, where it can, what to do;
/// the underlying error, when there is one, is also the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A file or folder could not be read, written, created, moved or removed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The configured database could not be opened.
    #[error("{0}")]
    Connect(#[from] OpenError),
    /// A statement against the database failed.
    #[error("{context}: {source}")]
    Query {
        context: String,
        #[source]
        source: DbErr,
    },
    /// A value in a row the database returned could not be read.
    #[error("{0}")]
    Row(#[source] DbErr),
    /// The SQLite copy just written could not be opened to count its rows.
    #[error("cannot open the copy {}: {source}", path.display())]
    OpenCopy {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    /// The manifest could not be written out.
    #[error("{0}")]
    EncodeManifest(#[source] serde_json::Error),
    /// The manifest is not JSON, or not a manifest.
    #[error("{context}: {source}")]
    ReadManifest {
        context: String,
        #[source]
        source: serde_json::Error,
    },
    /// The thread doing the file work ended without an answer.
    #[error("the backup's file work stopped: {0}")]
    Stopped(#[source] tokio::task::JoinError),
    /// `pg_dump` or `pg_restore` is not installed.
    #[error(
        "{program} was not found: install the PostgreSQL client tools (the server's major \
         version or newer) on this machine"
    )]
    ToolMissing {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// `pg_dump` or `pg_restore` could not be started.
    #[error("cannot run {program}: {source}")]
    ToolStart {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// `pg_dump` or `pg_restore` failed; `stderr` is what it said, any password redacted.
    #[error("{program} failed ({status}): {stderr}")]
    ToolFailed {
        program: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error(
        "database.url is an in-memory database: there is nothing on disk to back up or restore"
    )]
    InMemoryDatabase,
    #[error("database.url names no supported database")]
    UnsupportedDatabase,
    #[error("database.url names no SQLite file")]
    NoSqliteFile,
    /// The target folder or the deployment is not fit for the backup or the restore.
    #[error("{0}")]
    Refused(String),
    /// The backup is incomplete, corrupt or of another format.
    #[error("{0}")]
    Invalid(String),
    /// The database answered other than it should have, or the restored one does not match
    /// the backup.
    #[error("{0}")]
    Unexpected(String),
}

impl BackupError {
    /// A failed file operation, `context` saying which (`cannot create /backups/x`).
    pub(super) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    /// A failed statement, `context` saying which (`cannot list the tables`).
    pub(super) fn query(context: impl Into<String>, source: DbErr) -> Self {
        Self::Query {
            context: context.into(),
            source,
        }
    }
}
