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

// ---------------------------------------------------------------------------------------------
// Backup

/// Writes a backup of the configured deployment into `out`, which must not exist or be empty.
/// Shared by `flashforge backup` and the scheduled task.
pub async fn backup(settings: &Settings, out: &Path) -> Result<Manifest, String> {
    let kind = dump_kind(settings)?;
    let name = out
        .file_name()
        .ok_or_else(|| format!("{}: name a new folder for the backup", out.display()))?;
    if out.exists() {
        if !out.is_dir() {
            return Err(format!("{} exists and is not a folder", out.display()));
        }
        if has_entries(out, |_| true)? {
            return Err(format!(
                "{} is not empty: a backup goes into a new or empty folder",
                out.display()
            ));
        }
    }
    let mut partial_name = name.to_os_string();
    partial_name.push(".partial");
    let partial = out.with_file_name(partial_name);
    if let Some(parent) = partial.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    refuse_overlaps(settings, out, "the backup folder")?;
    // What an interrupted backup of the same name left.
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .map_err(|e| format!("cannot remove the stale {}: {e}", partial.display()))?;
    }
    // Only the owner may enter it (the backup holds every user's data, hashes included).
    private_dir_builder()
        .create(&partial)
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let partial = partial
        .canonicalize()
        .map_err(|e| format!("cannot resolve {}: {e}", partial.display()))?;
    match write_backup(settings, kind, &partial)
        .await
        .and_then(|manifest| restrict(&partial).map(|()| manifest))
    {
        Ok(manifest) => {
            std::fs::rename(&partial, out).map_err(|e| {
                format!(
                    "the backup is complete in {} but cannot be renamed to {}: {e}",
                    partial.display(),
                    out.display()
                )
            })?;
            Ok(manifest)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

async fn write_backup(settings: &Settings, kind: DumpKind, dir: &Path) -> Result<Manifest, String> {
    let created_at = Utc::now();
    let target = dir.join(kind.file());
    let facts = match kind {
        DumpKind::Postgres => dump_postgres(settings, &target).await?,
        DumpKind::Sqlite => dump_sqlite(settings, &target).await?,
    };
    let index = {
        let settings = settings.clone();
        let dir = dir.to_path_buf();
        blocking(move || backup_index(&settings, &dir)).await?
    };
    let blobs = {
        let settings = settings.clone();
        let dir = dir.to_path_buf();
        blocking(move || backup_blobs(&settings, &dir)).await?
    };
    let files = {
        let dir = dir.to_path_buf();
        blocking(move || checksums(&dir, true)).await?
    };
    let e = &settings.embedding;
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        flashforge_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at,
        database: DatabasePart {
            kind,
            file: kind.file().to_string(),
            latest_migration: facts.latest_migration,
            counts: facts.counts,
        },
        embedding: EmbeddingPart {
            provider: e.provider,
            model: match e.provider {
                EmbeddingProvider::Local => "sentence-transformers/all-MiniLM-L6-v2".to_string(),
                EmbeddingProvider::Openai => e.model.clone(),
                EmbeddingProvider::Hash => format!("hash-{}", e.dimension),
            },
            dimension: e.dimension,
        },
        index,
        blobs,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    let path = dir.join(MANIFEST_FILE);
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&path)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(manifest)
}

/// What was read from the database beside the dump.
struct DatabaseFacts {
    latest_migration: Option<String>,
    counts: BTreeMap<String, u64>,
}

/// `pg_dump` in the snapshot of a read-only transaction, in which the counts are read too, so
/// that they describe exactly the dump.
async fn dump_postgres(settings: &Settings, target: &Path) -> Result<DatabaseFacts, String> {
    let db = connect(settings).await?;
    let result = async {
        let txn = db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
            .map_err(|e| format!("cannot start a read-only transaction: {e}"))?;
        let snapshot = scalar_text(&txn, "SELECT pg_export_snapshot()")
            .await?
            .ok_or("pg_export_snapshot() returned nothing")?;
        let facts = database_facts(&txn).await?;
        let url = settings.database.url.expose().to_string();
        let args: Vec<OsString> = vec![
            "--format=custom".into(),
            "--no-owner".into(),
            "--no-privileges".into(),
            format!("--snapshot={snapshot}").into(),
            "--file".into(),
            target.as_os_str().to_owned(),
        ];
        blocking(move || run_pg("pg_dump", args, &url, None)).await?;
        let _ = txn.rollback().await;
        Ok(facts)
    }
    .await;
    let _ = db.close().await;
    result
}

/// `VACUUM INTO`: a consistent copy while the server may be writing; the counts are read from
/// the copy.
async fn dump_sqlite(settings: &Settings, target: &Path) -> Result<DatabaseFacts, String> {
    let source =
        sqlite_file(settings.database.url.expose()).ok_or("database.url names no SQLite file")?;
    if !source.is_file() {
        return Err(format!(
            "the SQLite database {} does not exist",
            source.display()
        ));
    }
    let into = target
        .to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", target.display()))?
        .replace('\'', "''");
    let db = connect(settings).await?;
    let copied = db
        .execute_unprepared(&format!("VACUUM INTO '{into}'"))
        .await
        .map_err(|e| format!("cannot copy the SQLite database: {e}"));
    let _ = db.close().await;
    copied?;
    let copy = open_sqlite_read_only(target).await?;
    let facts = database_facts(&copy).await;
    let _ = copy.close().await;
    facts
}

fn backup_index(settings: &Settings, dir: &Path) -> Result<CopiedPart<VectorProvider>, String> {
    let v = &settings.vector;
    Ok(match v.provider {
        VectorProvider::Embedded => {
            let to = dir.join(INDEX_DIR);
            create_dir(&to)?;
            let in_use = index_in_use(&v.dir);
            let (files, bytes) = if v.dir.is_dir() {
                copy_tree(&v.dir, &to, &|relative: &Path| {
                    relative == Path::new(INDEX_LOCK_FILE)
                })?
            } else {
                (0, 0)
            };
            CopiedPart {
                kind: VectorProvider::Embedded,
                copied: true,
                files,
                bytes,
                note: in_use.then(|| {
                    "copied while a server held the index: each of its writes is flushed, so the \
                     copy is whole unless a write landed during it; after a restore, \
                     `flashforge kb reconcile` finds and repairs any difference with the chunks"
                        .to_string()
                }),
            }
        }
        VectorProvider::Qdrant => CopiedPart {
            kind: VectorProvider::Qdrant,
            copied: false,
            files: 0,
            bytes: 0,
            note: Some(
                "the Qdrant server's collection is not copied: it is derived from the chunks in \
                 the database; after a restore, rebuild it with `flashforge kb reindex`"
                    .to_string(),
            ),
        },
        VectorProvider::Memory => CopiedPart {
            kind: VectorProvider::Memory,
            copied: false,
            files: 0,
            bytes: 0,
            note: Some("an in-memory index: nothing to copy".to_string()),
        },
    })
}

fn backup_blobs(settings: &Settings, dir: &Path) -> Result<CopiedPart<BlobBackend>, String> {
    let s = &settings.storage;
    Ok(match s.blobs {
        BlobBackend::Local => {
            let to = dir.join(BLOBS_DIR);
            create_dir(&to)?;
            let (files, bytes) = if s.blob_dir.is_dir() {
                copy_tree(&s.blob_dir, &to, &is_staging_file)?
            } else {
                (0, 0)
            };
            CopiedPart {
                kind: BlobBackend::Local,
                copied: true,
                files,
                bytes,
                note: None,
            }
        }
        BlobBackend::S3 => CopiedPart {
            kind: BlobBackend::S3,
            copied: false,
            files: 0,
            bytes: 0,
            note: Some(format!(
                "the objects in the S3 bucket `{}` are not copied: protect them with the bucket's \
                 own versioning or replication (the database names them by key)",
                s.s3_bucket
            )),
        },
        BlobBackend::Memory => CopiedPart {
            kind: BlobBackend::Memory,
            copied: false,
            files: 0,
            bytes: 0,
            note: Some("in-memory blobs: nothing to copy".to_string()),
        },
    })
}

/// An upload `object_store` is still writing (`<key>#<n>`): not a blob yet.
fn is_staging_file(relative: &Path) -> bool {
    relative
        .file_name()
        .is_some_and(|name| name.to_string_lossy().contains('#'))
}

/// Whether another process holds the embedded index's lock (a server or worker is running).
fn index_in_use(dir: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(INDEX_LOCK_FILE))
    else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

// ---------------------------------------------------------------------------------------------
// Restore

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Rows per table after the restore.
    pub counts: BTreeMap<String, u64>,
    /// What the operator should know or do next.
    pub notes: Vec<String>,
}

/// Restores the backup in `dir` into the configured deployment. Refuses a corrupt backup and,
/// without `force`, a deployment that already holds data. The server must not be running.
pub async fn restore(
    settings: &Settings,
    dir: &Path,
    force: bool,
) -> Result<RestoreReport, String> {
    let manifest = read_manifest(dir)?;
    {
        let dir = dir.to_path_buf();
        let manifest = manifest.clone();
        blocking(move || verify(&dir, &manifest)).await?;
    }
    let kind = dump_kind(settings)?;
    if kind != manifest.database.kind {
        return Err(format!(
            "this backup holds a {} database, but database.url names a {} one",
            manifest.database.kind.as_str(),
            kind.as_str()
        ));
    }
    let s = &settings.storage;
    if manifest.blobs.copied && s.blobs != BlobBackend::Local {
        return Err(format!(
            "this backup holds {} uploaded files, but storage.blobs is {:?}: restore into a \
             deployment with storage.blobs = \"local\" (and copy the folder to the bucket \
             afterwards if you move to S3)",
            manifest.blobs.files, s.blobs
        ));
    }
    refuse_overlaps(settings, dir, "the backup")?;

    // Held until the end: no server or worker may open the index meanwhile, and a running one
    // is found here.
    let _lock = if settings.vector.provider == VectorProvider::Embedded {
        Some(
            crate::knowledge::lock_index_dir(&settings.vector.dir).map_err(|e| {
                format!("{e}. Stop the server and workers of this deployment before a restore")
            })?,
        )
    } else {
        None
    };

    let target = occupancy(settings, kind).await?;
    if !target.holds_data.is_empty() && !force {
        return Err(format!(
            "the deployment is not empty ({}); nothing was changed. To replace it with the \
             backup, stop the server and run `flashforge restore {} --force`",
            target.holds_data.join("; "),
            dir.display()
        ));
    }

    let mut notes = Vec::new();
    match kind {
        DumpKind::Postgres => {
            let mut args: Vec<OsString> = vec![
                "--exit-on-error".into(),
                "--single-transaction".into(),
                "--no-owner".into(),
                "--no-privileges".into(),
            ];
            if target.has_schema {
                args.push("--clean".into());
                args.push("--if-exists".into());
            }
            let url = settings.database.url.expose().to_string();
            let file = dir.join(&manifest.database.file);
            blocking(move || run_pg("pg_restore", args, &url, Some(&file))).await?;
        }
        DumpKind::Sqlite => {
            let to = sqlite_file(settings.database.url.expose())
                .ok_or("database.url names no SQLite file")?;
            let from = dir.join(&manifest.database.file);
            blocking(move || restore_sqlite_file(&from, &to)).await?;
        }
    }
    {
        let settings = settings.clone();
        let dir = dir.to_path_buf();
        let manifest = manifest.clone();
        notes.extend(blocking(move || restore_files(&settings, &dir, &manifest, force)).await?);
    }

    let db = connect(settings).await?;
    let counts = table_counts(&db).await;
    let _ = db.close().await;
    let counts = counts?;
    let mismatches: Vec<String> = manifest
        .database
        .counts
        .iter()
        .filter(|(table, n)| counts.get(*table) != Some(n))
        .map(|(table, n)| {
            format!(
                "{table}: {n} in the backup, {} restored",
                counts.get(table).map_or("none".to_string(), u64::to_string)
            )
        })
        .collect();
    if !mismatches.is_empty() {
        return Err(format!(
            "the restored database does not match the backup: {}",
            mismatches.join("; ")
        ));
    }
    Ok(RestoreReport {
        manifest,
        counts,
        notes,
    })
}

fn read_manifest(dir: &Path) -> Result<Manifest, String> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read(&path).map_err(|e| {
        format!(
            "{} is not a backup: cannot read {}: {e}",
            dir.display(),
            path.display()
        )
    })?;
    let version: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    if version["format_version"] != FORMAT_VERSION {
        return Err(format!(
            "{} has format_version {}; this flashforge reads version {FORMAT_VERSION}",
            path.display(),
            version["format_version"]
        ));
    }
    serde_json::from_value(version).map_err(|e| format!("{} is malformed: {e}", path.display()))
}

/// Every file the manifest lists is there with its size and checksum, and nothing else is.
fn verify(dir: &Path, manifest: &Manifest) -> Result<(), String> {
    for name in manifest.files.keys() {
        let safe = Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(format!(
                "the manifest names `{name}`, which is outside the backup"
            ));
        }
    }
    if !manifest.files.contains_key(&manifest.database.file) {
        return Err(format!(
            "the manifest does not list the database file {}",
            manifest.database.file
        ));
    }
    let found = checksums(dir, false)?;
    for (name, expected) in &manifest.files {
        match found.get(name) {
            None => return Err(format!("the backup is incomplete: {name} is missing")),
            Some(actual) if actual != expected => {
                return Err(format!(
                    "the backup is corrupt: {name} does not match its checksum in the manifest \
                     ({} bytes, sha256 {}; expected {} bytes, sha256 {})",
                    actual.size, actual.sha256, expected.size, expected.sha256
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found
        .keys()
        .find(|name| !manifest.files.contains_key(*name))
    {
        return Err(format!(
            "the backup holds {extra}, which its manifest does not list"
        ));
    }
    Ok(())
}

/// What the target deployment already holds.
struct Occupancy {
    /// Why it is not empty, one reason each.
    holds_data: Vec<String>,
    /// The database has tables (a restore must replace them).
    has_schema: bool,
}

async fn occupancy(settings: &Settings, kind: DumpKind) -> Result<Occupancy, String> {
    let mut holds_data = Vec::new();
    let database_exists = match kind {
        DumpKind::Postgres => true,
        DumpKind::Sqlite => sqlite_file(settings.database.url.expose()).is_some_and(|p| p.exists()),
    };
    let mut has_schema = false;
    if database_exists {
        let db = connect(settings).await?;
        let found = async {
            let tables = table_names(&db).await?;
            let users = if tables.iter().any(|t| t == "users") {
                count_rows(&db, "users").await?
            } else {
                0
            };
            Ok::<_, String>((!tables.is_empty(), users))
        }
        .await;
        let _ = db.close().await;
        let (schema, users) = found?;
        has_schema = schema;
        if users > 0 {
            holds_data.push(format!("the database has {users} user(s)"));
        }
    }
    if settings.vector.provider == VectorProvider::Embedded
        && has_entries(&settings.vector.dir, |name| name != INDEX_LOCK_FILE)?
    {
        holds_data.push(format!(
            "{} holds a vector index",
            settings.vector.dir.display()
        ));
    }
    if settings.storage.blobs == BlobBackend::Local
        && has_entries(&settings.storage.blob_dir, |_| true)?
    {
        holds_data.push(format!(
            "{} holds files",
            settings.storage.blob_dir.display()
        ));
    }
    Ok(Occupancy {
        holds_data,
        has_schema,
    })
}

/// Puts the copy in place of the configured SQLite file, with no stale journal beside it.
fn restore_sqlite_file(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    let with_suffix = |suffix: &str| {
        let mut name = to.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let temporary = with_suffix(".restoring");
    std::fs::copy(from, &temporary).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            from.display(),
            temporary.display()
        )
    })?;
    File::open(&temporary)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", temporary.display()))?;
    // A write-ahead log of the replaced database would be replayed into the restored one.
    for suffix in ["-wal", "-shm", "-journal"] {
        let stale = with_suffix(suffix);
        if stale.exists() {
            std::fs::remove_file(&stale)
                .map_err(|e| format!("cannot remove {}: {e}", stale.display()))?;
        }
    }
    std::fs::rename(&temporary, to).map_err(|e| {
        format!(
            "cannot move {} to {}: {e}",
            temporary.display(),
            to.display()
        )
    })
}

/// The index and the blobs, into the configured folders; with `force`, emptied first.
fn restore_files(
    settings: &Settings,
    dir: &Path,
    manifest: &Manifest,
    force: bool,
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    let v = &settings.vector;
    match v.provider {
        VectorProvider::Embedded => {
            if force {
                clear_dir(&v.dir, &|name| name == INDEX_LOCK_FILE)?;
            }
            if manifest.index.copied {
                create_dir(&v.dir)?;
                copy_tree(&dir.join(INDEX_DIR), &v.dir, &|_| false)?;
                if manifest.index.note.is_some() {
                    notes.push(
                        "the index was copied while a server was running: run `flashforge kb \
                         reconcile` to check it against the chunks"
                            .to_string(),
                    );
                }
            } else {
                notes.push(format!(
                    "the backup has no copy of the vector index (it was {:?}): rebuild it from the \
                     restored chunks with `flashforge kb reindex` before starting the server",
                    manifest.index.kind
                ));
            }
        }
        VectorProvider::Qdrant => notes.push(
            "vector.provider is qdrant: the index is not part of the backup; rebuild it from \
             the restored chunks with `flashforge kb reindex`"
                .to_string(),
        ),
        VectorProvider::Memory => {
            notes.push("vector.provider is memory: no index to restore".to_string());
        }
    }
    let s = &settings.storage;
    match (s.blobs, manifest.blobs.copied) {
        (BlobBackend::Local, copied) => {
            if force {
                clear_dir(&s.blob_dir, &|_| false)?;
            }
            if copied {
                create_dir(&s.blob_dir)?;
                copy_tree(&dir.join(BLOBS_DIR), &s.blob_dir, &|_| false)?;
            } else if manifest.blobs.kind == BlobBackend::S3 {
                notes.push(
                    "the backup's uploaded files were in an S3 bucket and are not in it: copy \
                     them into storage.blob_dir from the bucket"
                        .to_string(),
                );
            }
        }
        (BlobBackend::S3, _) => notes.push(format!(
            "storage.blobs is s3: the uploaded files stay in the bucket `{}`; if it must go back \
             to the backup's time, restore it from the bucket's versioning or replication",
            s.s3_bucket
        )),
        (BlobBackend::Memory, _) => {}
    }
    Ok(notes)
}

// ---------------------------------------------------------------------------------------------
// The command line

/// `flashforge backup [--out DIR]`: DIR defaults to `backup.dir/<UTC time>`.
pub async fn backup_command(settings: &Settings, out: Option<PathBuf>) -> Result<(), String> {
    let out = out.unwrap_or_else(|| {
        settings
            .backup
            .dir
            .join(Utc::now().format(STAMP_FORMAT).to_string())
    });
    let manifest = backup(settings, &out).await?;
    let rows: u64 = manifest.database.counts.values().sum();
    let bytes: u64 = manifest.files.values().map(|f| f.size).sum();
    println!("backup written to {}", out.display());
    println!(
        "  database: {} ({}), schema {}, {} tables, {rows} rows",
        manifest.database.kind.as_str(),
        manifest.database.file,
        manifest
            .database
            .latest_migration
            .as_deref()
            .unwrap_or("(none)"),
        manifest.database.counts.len()
    );
    print_part("index", &manifest.index);
    print_part("blobs", &manifest.blobs);
    println!(
        "  {} files, {bytes} bytes, each with its sha256 in {MANIFEST_FILE}",
        manifest.files.len()
    );
    Ok(())
}

fn print_part<K: std::fmt::Debug>(name: &str, part: &CopiedPart<K>) {
    let kind = format!("{:?}", part.kind).to_ascii_lowercase();
    if part.copied {
        println!(
            "  {name}: {kind}, copied ({} files, {} bytes)",
            part.files, part.bytes
        );
    } else {
        println!("  {name}: {kind}, not copied");
    }
    if let Some(note) = &part.note {
        println!("    note: {note}");
    }
}

/// `flashforge restore DIR [--force]`.
pub async fn restore_command(settings: &Settings, dir: &Path, force: bool) -> Result<(), String> {
    let report = restore(settings, dir, force).await?;
    let m = &report.manifest;
    println!(
        "restored {} (flashforge {}, made {}, schema {})",
        dir.display(),
        m.flashforge_version,
        m.created_at.to_rfc3339(),
        m.database.latest_migration.as_deref().unwrap_or("(none)")
    );
    println!("  {:<28} {:>10} {:>10}", "table", "backup", "restored");
    for (table, n) in &m.database.counts {
        let after = report.counts.get(table).copied().unwrap_or_default();
        println!("  {table:<28} {n:>10} {after:>10}");
    }
    if m.index.copied {
        println!(
            "  index: {} files into {}",
            m.index.files,
            settings.vector.dir.display()
        );
    }
    if m.blobs.copied {
        println!(
            "  blobs: {} files into {}",
            m.blobs.files,
            settings.storage.blob_dir.display()
        );
    }
    for note in &report.notes {
        println!("note: {note}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scheduled backups

/// Every `backup.interval_hours`: a backup into `backup.dir/<UTC time>`, then the oldest beyond
/// `backup.keep` are deleted. Due-ness is read from the newest folder, so a restart does not
/// take an extra backup, and a lock file in `backup.dir` keeps two workers from taking the same
/// one.
pub struct ScheduledBackup {
    settings: Settings,
    every: Duration,
}

impl ScheduledBackup {
    pub fn new(settings: Settings) -> Self {
        let every = Duration::from_secs(settings.backup.interval_hours.saturating_mul(3600));
        Self { settings, every }
    }
}

#[async_trait]
impl Task for ScheduledBackup {
    fn name(&self) -> &str {
        "backup"
    }

    fn interval(&self) -> Duration {
        self.every.min(SCHEDULE_CHECK)
    }

    async fn run_once(&self) -> Result<(), String> {
        let dir = self.settings.backup.dir.clone();
        create_dir(&dir)?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            // Another process is taking one.
            Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", lock_path.display()));
            }
        }
        let now = Utc::now();
        let every = chrono::Duration::from_std(self.every).unwrap_or(chrono::Duration::MAX);
        let stamped = stamped_backups(&dir)?;
        if let Some((newest, _)) = stamped.last()
            && now.signed_duration_since(*newest) < every
        {
            return Ok(());
        }
        let out = dir.join(now.format(STAMP_FORMAT).to_string());
        let manifest = backup(&self.settings, &out).await?;
        tracing::info!(
            dir = %out.display(),
            files = manifest.files.len(),
            "scheduled backup written"
        );
        let removed = prune(&dir, self.settings.backup.keep, now)?;
        if removed > 0 {
            tracing::info!(
                removed,
                keep = self.settings.backup.keep,
                "old backups deleted"
            );
        }
        drop(lock);
        Ok(())
    }
}

/// The folders of scheduled backups in `dir`, oldest first.
fn stamped_backups(dir: &Path) -> Result<Vec<(DateTime<Utc>, PathBuf)>, String> {
    let mut out = Vec::new();
    for entry in read_dir(dir)? {
        let path = entry.path();
        let stamp = entry
            .file_name()
            .to_str()
            .and_then(|name| NaiveDateTime::parse_from_str(name, STAMP_FORMAT).ok());
        if let Some(stamp) = stamp
            && path.is_dir()
        {
            out.push((stamp.and_utc(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the scheduled backups beyond the newest `keep`, and what interrupted ones left more
/// than a day ago. Other folders in `dir` are left alone. Returns how many backups went.
fn prune(dir: &Path, keep: usize, now: DateTime<Utc>) -> Result<usize, String> {
    let stamped = stamped_backups(dir)?;
    let excess = stamped.len().saturating_sub(keep);
    for (_, path) in &stamped[..excess] {
        std::fs::remove_dir_all(path)
            .map_err(|e| format!("cannot delete the old backup {}: {e}", path.display()))?;
    }
    for entry in read_dir(dir)? {
        let name = entry.file_name();
        let stale = name
            .to_str()
            .and_then(|n| n.strip_suffix(".partial"))
            .and_then(|n| NaiveDateTime::parse_from_str(n, STAMP_FORMAT).ok())
            .is_some_and(|stamp| {
                now.signed_duration_since(stamp.and_utc()) > chrono::Duration::days(1)
            });
        if stale {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    Ok(excess)
}

// ---------------------------------------------------------------------------------------------
// The database

fn dump_kind(settings: &Settings) -> Result<DumpKind, String> {
    match settings.database.kind() {
        Some(DatabaseKind::Postgres) => Ok(DumpKind::Postgres),
        Some(DatabaseKind::Sqlite) if sqlite_file(settings.database.url.expose()).is_some() => {
            Ok(DumpKind::Sqlite)
        }
        Some(DatabaseKind::Sqlite | DatabaseKind::Memory) => Err(
            "database.url is an in-memory database: there is nothing on disk to back up or restore"
                .into(),
        ),
        None => Err("database.url names no supported database".into()),
    }
}

/// The file of a `sqlite://path?…` or `sqlite:path` URL (`None` for an in-memory one).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

async fn connect(settings: &Settings) -> Result<DatabaseConnection, String> {
    crate::database::open_database(settings)
        .await
        .map_err(|e| e.to_string())
}

/// A SQLite file opened read-only and immutable: no journal or lock files appear beside it.
async fn open_sqlite_read_only(path: &Path) -> Result<DatabaseConnection, String> {
    let options = sea_orm::sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true);
    let pool = sea_orm::sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open the copy {}: {e}", path.display()))?;
    Ok(sea_orm::SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

async fn database_facts<C: ConnectionTrait>(db: &C) -> Result<DatabaseFacts, String> {
    let counts = table_counts(db).await?;
    let latest_migration = if counts.contains_key("seaql_migrations") {
        scalar_text(
            db,
            "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1",
        )
        .await?
    } else {
        None
    };
    Ok(DatabaseFacts {
        latest_migration,
        counts,
    })
}

/// The tables of the database (the current schema on Postgres), by name.
async fn table_names<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, String> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        _ => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .map_err(|e| format!("cannot list the tables: {e}"))?;
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).map_err(|e| e.to_string()))
        .collect()
}

/// Rows per table, for every table of the database.
async fn table_counts<C: ConnectionTrait>(db: &C) -> Result<BTreeMap<String, u64>, String> {
    let mut counts = BTreeMap::new();
    for table in table_names(db).await? {
        let n = count_rows(db, &table).await?;
        counts.insert(table, n);
    }
    Ok(counts)
}

async fn count_rows<C: ConnectionTrait>(db: &C, table: &str) -> Result<u64, String> {
    let quoted = table.replace('"', "\"\"");
    let sql = format!("SELECT COUNT(*) FROM \"{quoted}\"");
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(|e| format!("cannot count the rows of {table}: {e}"))?
        .ok_or_else(|| format!("cannot count the rows of {table}"))?;
    let n = row
        .try_get_by_index::<i64>(0)
        .map_err(|e| format!("cannot count the rows of {table}: {e}"))?;
    Ok(u64::try_from(n).unwrap_or_default())
}

async fn scalar_text<C: ConnectionTrait>(db: &C, sql: &str) -> Result<Option<String>, String> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .map_err(|e| format!("`{sql}` failed: {e}"))?;
    row.map(|row| row.try_get_by_index::<String>(0))
        .transpose()
        .map_err(|e| format!("`{sql}` failed: {e}"))
}

/// Runs `pg_dump` or `pg_restore` on the database at `url`. A password in the URL goes to the
/// child in `PGPASSWORD`, not on its command line, and never into an error message.
fn run_pg(
    program: &str,
    args: Vec<OsString>,
    url: &str,
    file: Option<&Path>,
) -> Result<(), String> {
    let (url, password) = split_password(url);
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .arg("--dbname")
        .arg(&url)
        .stdin(std::process::Stdio::null());
    if let Some(file) = file {
        command.arg(file);
    }
    if let Some(password) = &password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "{program} was not found: install the PostgreSQL client tools (the server's major \
                 version or newer) on this machine"
            )
        } else {
            format!("cannot run {program}: {e}")
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        stderr = stderr.replace(&password, "[REDACTED]");
    }
    Err(format!("{program} failed ({}): {stderr}", output.status))
}

/// The URL without its password, and the password (percent-decoded).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_string(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_string(), None);
    };
    (
        format!("{scheme}://{user}@{host}{tail}"),
        Some(percent_decode(password)),
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Files

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("the backup's file work stopped: {e}"))?
}

/// A folder builder that makes folders only their owner can enter (0700).
fn private_dir_builder() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
}

/// Makes every folder under `dir` (and `dir`) 0700 and every file 0600: a backup is readable by
/// the account that wrote it only, whatever the umask or the tools that wrote its parts.
fn restrict(dir: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| format!("cannot restrict {}: {e}", path.display()))
        };
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            set(&folder, 0o700)?;
            for entry in read_dir(&folder)? {
                let path = entry.path();
                let file_type = entry
                    .file_type()
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if file_type.is_dir() {
                    pending.push(path);
                } else if file_type.is_file() {
                    set(&path, 0o600)?;
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, String> {
    std::fs::read_dir(dir)
        .and_then(|entries| entries.collect())
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))
}

/// Whether `dir` has an entry whose name passes `counts` (a missing folder has none).
fn has_entries(dir: &Path, counts: impl Fn(&str) -> bool) -> Result<bool, String> {
    if !dir.exists() {
        return Ok(false);
    }
    Ok(read_dir(dir)?
        .iter()
        .any(|entry| counts(&entry.file_name().to_string_lossy())))
}

/// Removes everything in `dir` but the entries `keep` names.
fn clear_dir(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in read_dir(dir)? {
        if keep(&entry.file_name().to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Copies the files and folders under `from` into `to` (created as needed), leaving out those
/// whose path relative to `from` `skip` names; symbolic links are not followed. Returns the
/// files and bytes copied.
fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<(u64, u64), String> {
    let mut files = 0;
    let mut bytes = 0;
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        create_dir(&to.join(&relative))?;
        for entry in read_dir(&from.join(&relative))? {
            let path = relative.join(entry.file_name());
            if skip(&path) {
                continue;
            }
            let file_type = entry
                .file_type()
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() {
                let target = to.join(&path);
                bytes += std::fs::copy(entry.path(), &target).map_err(|e| {
                    format!(
                        "cannot copy {} to {}: {e}",
                        entry.path().display(),
                        target.display()
                    )
                })?;
                files += 1;
            } else {
                tracing::warn!(path = %entry.path().display(), "not a file or folder: not copied");
            }
        }
    }
    Ok((files, bytes))
}

/// The size and sha256 of every file under `dir` but the manifest, by `/`-separated relative
/// path. With `sync`, each file is also flushed to disk (the backup is about to be declared
/// complete).
fn checksums(dir: &Path, sync: bool) -> Result<BTreeMap<String, FileEntry>, String> {
    let mut out = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in read_dir(&dir.join(&relative))? {
            let path = relative.join(entry.file_name());
            let file_type = entry
                .file_type()
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            if file_type.is_dir() {
                pending.push(path);
                continue;
            }
            if path == Path::new(MANIFEST_FILE) {
                continue;
            }
            let name = path
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.insert(name, hash_file(&entry.path(), sync)?);
        }
    }
    Ok(out)
}

fn hash_file(path: &Path, sync: bool) -> Result<FileEntry, String> {
    let fail = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut file = File::open(path).map_err(fail)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(fail)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    if sync {
        file.sync_all().map_err(fail)?;
    }
    let sha256 = flashforge_domain::knowledge::hex(&hasher.finalize());
    Ok(FileEntry { size, sha256 })
}

/// Refuses when `path` (the backup) and the deployment's folders lie inside one another: a
/// backup would copy itself, a `--force` restore would delete what it restores.
fn refuse_overlaps(settings: &Settings, path: &Path, what: &str) -> Result<(), String> {
    let mut folders: Vec<(&str, PathBuf)> = Vec::new();
    if settings.vector.provider == VectorProvider::Embedded {
        folders.push(("vector.dir", settings.vector.dir.clone()));
    }
    if settings.storage.blobs == BlobBackend::Local {
        folders.push(("storage.blob_dir", settings.storage.blob_dir.clone()));
    }
    let path = absolute(path);
    for (key, folder) in &folders {
        let folder = absolute(folder);
        if path.starts_with(&folder) || folder.starts_with(&path) {
            return Err(format!(
                "{what} ({}) and {key} ({}) lie inside one another: keep backups apart from the \
                 deployment's folders",
                path.display(),
                folder.display()
            ));
        }
    }
    Ok(())
}

/// `path` made absolute, with its existing part resolved through symbolic links.
fn absolute(path: &Path) -> PathBuf {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(resolved) = existing.canonicalize() {
            return rest.iter().rev().fold(resolved, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return path,
        }
    }
}

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
