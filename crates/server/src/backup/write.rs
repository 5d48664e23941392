//! Writing a backup: the database dump, the index and blob folders, the manifest.

use super::*;

// ---------------------------------------------------------------------------------------------
// Backup

/// Writes a backup of the configured deployment into `out`, which must not exist or be empty.
/// Shared by `flashforge backup` and the scheduled task.
pub async fn backup(settings: &Settings, out: &Path) -> Result<Manifest, BackupError> {
    let kind = dump_kind(settings)?;
    let name = out.file_name().ok_or_else(|| {
        BackupError::Refused(format!(
            "{}: name a new folder for the backup",
            out.display()
        ))
    })?;
    if out.exists() {
        if !out.is_dir() {
            return Err(BackupError::Refused(format!(
                "{} exists and is not a folder",
                out.display()
            )));
        }
        if has_entries(out, |_| true)? {
            return Err(BackupError::Refused(format!(
                "{} is not empty: a backup goes into a new or empty folder",
                out.display()
            )));
        }
    }
    let mut partial_name = name.to_os_string();
    partial_name.push(".partial");
    let partial = out.with_file_name(partial_name);
    if let Some(parent) = partial.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    refuse_overlaps(settings, out, "the backup folder")?;
    // What an interrupted backup of the same name left.
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| {
            BackupError::io(format!("cannot remove the stale {}", partial.display()), e)
        })?;
    }
    // Only the owner may enter it (the backup holds every user's data, hashes included).
    private_dir_builder()
        .create(&partial)
        .map_err(|e| BackupError::io(format!("cannot create {}", partial.display()), e))?;
    let partial = partial
        .canonicalize()
        .map_err(|e| BackupError::io(format!("cannot resolve {}", partial.display()), e))?;
    match write_backup(settings, kind, &partial)
        .await
        .and_then(|manifest| restrict(&partial).map(|()| manifest))
    {
        Ok(manifest) => {
            std::fs::rename(&partial, out).map_err(|e| {
                BackupError::io(
                    format!(
                        "the backup is complete in {} but cannot be renamed to {}",
                        partial.display(),
                        out.display()
                    ),
                    e,
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

pub(super) async fn write_backup(
    settings: &Settings,
    kind: DumpKind,
    dir: &Path,
) -> Result<Manifest, BackupError> {
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
                EmbeddingProvider::Hash => format!("hash-{}", e.dimension()),
            },
            dimension: e.dimension(),
        },
        index,
        blobs,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(BackupError::EncodeManifest)?;
    let path = dir.join(MANIFEST_FILE);
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&path)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()
    };
    write().map_err(|e| BackupError::io(format!("cannot write {}", path.display()), e))?;
    Ok(manifest)
}

/// `pg_dump` in the snapshot of a read-only transaction, in which the counts are read too, so
/// that they describe exactly the dump.
pub(super) async fn dump_postgres(
    settings: &Settings,
    target: &Path,
) -> Result<DatabaseFacts, BackupError> {
    let db = connect(settings).await?;
    let result = async {
        let txn = db
            .begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await
            .map_err(|e| BackupError::query("cannot start a read-only transaction", e))?;
        let snapshot = scalar_text(&txn, "SELECT pg_export_snapshot()")
            .await?
            .ok_or_else(|| {
                BackupError::Unexpected("pg_export_snapshot() returned nothing".into())
            })?;
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
pub(super) async fn dump_sqlite(
    settings: &Settings,
    target: &Path,
) -> Result<DatabaseFacts, BackupError> {
    let source = sqlite_file(settings.database.url.expose()).ok_or(BackupError::NoSqliteFile)?;
    if !source.is_file() {
        return Err(BackupError::Refused(format!(
            "the SQLite database {} does not exist",
            source.display()
        )));
    }
    let into = target
        .to_str()
        .ok_or_else(|| BackupError::Refused(format!("{} is not valid UTF-8", target.display())))?
        .replace('\'', "''");
    let db = connect(settings).await?;
    let copied = db
        .execute_unprepared(&format!("VACUUM INTO '{into}'"))
        .await
        .map_err(|e| BackupError::query("cannot copy the SQLite database", e));
    let _ = db.close().await;
    copied?;
    let copy = open_sqlite_read_only(target).await?;
    let facts = database_facts(&copy).await;
    let _ = copy.close().await;
    facts
}

pub(super) fn backup_index(
    settings: &Settings,
    dir: &Path,
) -> Result<CopiedPart<VectorProvider>, BackupError> {
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

pub(super) fn backup_blobs(
    settings: &Settings,
    dir: &Path,
) -> Result<CopiedPart<BlobBackend>, BackupError> {
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
pub(super) fn is_staging_file(relative: &Path) -> bool {
    relative
        .file_name()
        .is_some_and(|name| name.to_string_lossy().contains('#'))
}

/// Whether another process holds the embedded index's lock (a server or worker is running).
pub(super) fn index_in_use(dir: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join(INDEX_LOCK_FILE))
    else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}
