//! Backups of a deployment and restoring them: `flashforge backup`, `flashforge restore`, and the
//! worker's scheduled backups (`backup.interval_hours`).
//!
//! A backup is a folder:
//!
//! ```text
//! manifest.json     format version, versions, the schema, rows per table, sha256 and size of every file
//! database.dump     Postgres: `pg_dump --format=custom`, taken in the snapshot the counts were read in
//! database.sqlite   SQLite: an online, consistent copy (`VACUUM INTO`)
//! index/            vector.provider = "embedded": the index's folder, file by file
//! blobs/            storage.blobs = "local": the uploaded originals, file by file
//! ```
//!
//! It is written into `DIR.partial` and renamed to `DIR` once complete, so a crash never leaves a
//! half backup that looks whole. What is not copied is said in the manifest: a Qdrant server's
//! collection is derived from the chunks in the database (`flashforge kb reindex` rebuilds it), and
//! an S3 bucket is protected by the bucket's own versioning or replication.
//!
//! A restore checks every file against the manifest before it touches anything, refuses a
//! deployment that already holds data unless `--force`, and compares the rows per table after.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use flashforge_sql::sea_orm::{
    self, AccessMode, ConnectionTrait, DatabaseBackend, DatabaseConnection, IsolationLevel,
    Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::settings::{BlobBackend, DatabaseKind, EmbeddingProvider, Settings, VectorProvider};
use crate::worker::Task;

/// The layout this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
const POSTGRES_FILE: &str = "database.dump";
const SQLITE_FILE: &str = "database.sqlite";
const INDEX_DIR: &str = "index";
const BLOBS_DIR: &str = "blobs";
/// The embedded index's lock file (see `knowledge::lock_index_dir`): never copied.
const INDEX_LOCK_FILE: &str = ".lock";
/// Names of scheduled backups: their UTC time, e.g. `20261126T031500Z`.
pub const STAMP_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// How often the scheduled task looks whether a backup is due.
const SCHEDULE_CHECK: Duration = Duration::from_secs(600);

/// Which database a backup holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DumpKind {
    Postgres,
    Sqlite,
}

impl DumpKind {
    fn as_str(self) -> &'static str {
        match self {
            DumpKind::Postgres => "postgres",
            DumpKind::Sqlite => "sqlite",
        }
    }

    fn file(self) -> &'static str {
        match self {
            DumpKind::Postgres => POSTGRES_FILE,
            DumpKind::Sqlite => SQLITE_FILE,
        }
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub flashforge_version: String,
    pub created_at: DateTime<Utc>,
    pub database: DatabasePart,
    pub embedding: EmbeddingPart,
    pub index: CopiedPart<VectorProvider>,
    pub blobs: CopiedPart<BlobBackend>,
    /// Every file of the backup but the manifest, by its path relative to the backup's folder.
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabasePart {
    pub kind: DumpKind,
    /// The file, relative to the backup's folder.
    pub file: String,
    /// The last migration applied to the database that was backed up.
    pub latest_migration: Option<String>,
    /// Rows per table, read in the same snapshot as the dump.
    pub counts: BTreeMap<String, u64>,
}

/// The embedding model the index was built with (from the configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmbeddingPart {
    pub provider: EmbeddingProvider,
    pub model: String,
    pub dimension: usize,
}

/// The vector index or the blobs: which kind, and whether the backup holds a copy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopiedPart<K> {
    pub kind: K,
    pub copied: bool,
    #[serde(default)]
    pub files: u64,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: String,
}

mod commands;
mod database;
mod error;
mod files;
mod restore;
mod schedule;
mod write;

pub use commands::*;
use database::*;
pub use error::BackupError;
use files::*;
pub use restore::*;
pub use schedule::*;
pub use write::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url_and_are_decoded() {
        assert_eq!(
            split_password("postgres://app:p%40ss%3Aw@db.internal:5432/ff?sslmode=require"),
            (
                "postgres://app@db.internal:5432/ff?sslmode=require".to_string(),
                Some("p@ss:w".to_string())
            )
        );
        assert_eq!(
            split_password("postgres://postgres@127.0.0.1/ff"),
            ("postgres://postgres@127.0.0.1/ff".to_string(), None)
        );
        assert_eq!(
            split_password("postgresql://localhost/ff"),
            ("postgresql://localhost/ff".to_string(), None)
        );
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite:///tmp/x/ff.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/ff.db"))
        );
        assert_eq!(
            sqlite_file("sqlite://data/ff.db"),
            Some(PathBuf::from("data/ff.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/ff"), None);
    }

    #[test]
    fn retention_keeps_the_newest_and_leaves_other_folders_alone() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "20260101T000000Z",
            "20260102T000000Z",
            "20260103T000000Z",
            "20260104T000000Z",
            "manual",
            "20260101T000000Z.partial",
            "20260104T000000Z.partial",
        ] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        let now = "20260104T120000Z";
        let now = NaiveDateTime::parse_from_str(now, STAMP_FORMAT)
            .unwrap()
            .and_utc();
        assert_eq!(prune(dir.path(), 2, now).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "20260103T000000Z",
                "20260104T000000Z",
                "20260104T000000Z.partial",
                "manual"
            ]
        );
    }
}
