//! Backups of a deployment and restoring them: `flashforge backup`, `flashforge restore`, and the
//! worker's scheduled backups (`backup.interval_hours`).
//!
//! A backup is one file, `<name>.tar.zst`: a tar archive, zstd-compressed, holding
//!
//! ```text
//! database.dump     Postgres: `pg_dump --format=custom`, taken in the snapshot the counts were read in
//! database.sqlite   SQLite: an online, consistent copy (`VACUUM INTO`)
//! index/            vector.provider = "embedded": the live generation of the index, holes kept
//! blobs/            storage.blobs = "local": the uploaded originals, file by file
//! manifest.json     last: format version, versions, the schema, rows per table, sha256 and size
//!                   of every other file
//! ```
//!
//! It is written as `NAME.partial` (its parts staged in the private folder `NAME.partial.d`) and
//! renamed to `NAME` once complete, so a crash never leaves a half backup that looks whole. What
//! is not copied is said in the manifest: a Qdrant server's collection is derived from the chunks
//! in the database, and an S3 bucket is protected by the bucket's own versioning or replication.
//!
//! A restore expands the archive into a private staging folder beside the deployment's data,
//! checks every file against the manifest before it touches anything, refuses a deployment that
//! already holds data unless `--force`, compares the rows per table after, and reconciles the
//! vector index with the restored chunks. Backups of format 1 (a folder) still restore.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use flashforge_domain::knowledge::VectorIndex;
use flashforge_sql::sea_orm::{
    self, AccessMode, ConnectionTrait, DatabaseBackend, DatabaseConnection, IsolationLevel,
    Statement, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::settings::{BlobBackend, DatabaseKind, EmbeddingProvider, Settings, VectorProvider};
use crate::worker::Task;

/// The layout this code writes: 2 is the compressed archive. It reads 1 (a folder) too.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest layout this code restores.
pub const OLDEST_FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
const POSTGRES_FILE: &str = "database.dump";
const SQLITE_FILE: &str = "database.sqlite";
const INDEX_DIR: &str = "index";
const BLOBS_DIR: &str = "blobs";
/// The embedded index's lock file (see `knowledge::lock_index_dir`): never copied.
const INDEX_LOCK_FILE: &str = ".lock";
/// The embedded index's file naming its live generation.
const INDEX_FILE: &str = "index.json";
/// Names of scheduled backups: their UTC time, e.g. `20261126T031500Z.tar.zst`.
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

mod archive;
mod commands;
mod database;
mod error;
mod files;
mod restore;
mod schedule;
mod write;

pub use archive::ARCHIVE_SUFFIX;
use archive::*;
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
    fn retention_keeps_the_newest_and_leaves_other_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        // Archives, a folder of format 1, and what is not a scheduled backup.
        for name in [
            "20260101T000000Z.tar.zst",
            "20260103T000000Z.tar.zst",
            "20260104T000000Z.tar.zst",
            "manual.tar.zst",
            "20260101T000000Z.tar.zst.partial",
            "20260104T000000Z.tar.zst.partial",
        ] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        for name in [
            "20260102T000000Z",
            "manual",
            "20260101T000000Z.tar.zst.partial.d",
        ] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        // A file with a folder's name, a folder with an archive's: neither is a backup.
        std::fs::write(dir.path().join("20250101T000000Z"), "x").unwrap();
        std::fs::create_dir(dir.path().join("20250102T000000Z.tar.zst")).unwrap();
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
                "20250101T000000Z",
                "20250102T000000Z.tar.zst",
                "20260103T000000Z.tar.zst",
                "20260104T000000Z.tar.zst",
                "20260104T000000Z.tar.zst.partial",
                "manual",
                "manual.tar.zst",
            ]
        );
    }

    #[test]
    fn sparse_copies_keep_holes_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        let file = File::create(&from).unwrap();
        // 32 MiB with a little data at 1 MiB and at the end.
        file.set_len(32 << 20).unwrap();
        drop(file);
        {
            use std::io::{Seek, SeekFrom};
            let mut file = std::fs::OpenOptions::new().write(true).open(&from).unwrap();
            file.seek(SeekFrom::Start(1 << 20)).unwrap();
            file.write_all(b"payload").unwrap();
            file.seek(SeekFrom::Start((32 << 20) - 3)).unwrap();
            file.write_all(b"end").unwrap();
        }
        let to = dir.path().join("to");
        assert_eq!(copy_sparse(&from, &to).unwrap(), 32 << 20);
        assert_eq!(std::fs::read(&from).unwrap(), std::fs::read(&to).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let allocated = std::fs::metadata(&to).unwrap().blocks() * 512;
            assert!(allocated < 1 << 20, "{allocated} bytes allocated");
        }
    }

    #[test]
    fn archives_keep_files_and_refuse_paths_outside() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        std::fs::create_dir_all(source.join("gen-1/segments")).unwrap();
        std::fs::write(source.join("index.json"), b"{}").unwrap();
        let sparse = File::create(source.join("gen-1/segments/vectors")).unwrap();
        sparse.set_len(64 << 20).unwrap();
        drop(sparse);
        let archive = dir.path().join("a.tar.zst");
        let mut writer = ArchiveWriter::create(&archive).unwrap();
        let mut files = BTreeMap::new();
        assert_eq!(
            writer
                .add_tree(&source, "index", &|_| false, &mut files)
                .unwrap(),
            (2, (64 << 20) + 2)
        );
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "format_version": FORMAT_VERSION,
            "flashforge_version": "test",
            "created_at": "2026-12-04T00:00:00Z",
            "database": {"kind": "sqlite", "file": "database.sqlite", "latest_migration": null,
                         "counts": {}},
            "embedding": {"provider": "hash", "model": "hash-384", "dimension": 384},
            "index": {"kind": "embedded", "copied": true},
            "blobs": {"kind": "memory", "copied": false},
            "files": files,
        }))
        .unwrap();
        writer.finish(&manifest).unwrap();
        // 64 MiB of holes take next to nothing.
        assert!(std::fs::metadata(&archive).unwrap().len() < 4096);
        let into = dir.path().join("into");
        std::fs::create_dir(&into).unwrap();
        unpack(&archive, &into).unwrap();
        assert_eq!(checksums(&into).unwrap(), manifest.files);
        assert_eq!(read_manifest(&into).unwrap().files, manifest.files);

        // An entry that climbs out of the folder is refused before anything is written there.
        let evil = dir.path().join("evil.tar.zst");
        {
            let file = File::create(&evil).unwrap();
            let mut builder = tar::Builder::new(zstd::Encoder::new(file, 3).unwrap());
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            header.set_entry_type(tar::EntryType::Regular);
            let name = b"../escaped";
            header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
            header.set_cksum();
            builder.append(&header, &b"x"[..]).unwrap();
            builder.into_inner().unwrap().finish().unwrap();
        }
        let into = dir.path().join("evil-into");
        std::fs::create_dir(&into).unwrap();
        let error = unpack(&evil, &into).unwrap_err().to_string();
        assert!(error.contains("outside the backup"), "{error}");
        assert!(!dir.path().join("escaped").exists());

        // A truncated archive is refused as damaged.
        let bytes = std::fs::read(&archive).unwrap();
        let cut = dir.path().join("cut.tar.zst");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let into = dir.path().join("cut-into");
        std::fs::create_dir(&into).unwrap();
        let error = unpack(&cut, &into).unwrap_err().to_string();
        assert!(error.contains("cannot be expanded"), "{error}");
    }
}
