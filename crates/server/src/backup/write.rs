//! Writing a backup: the database dump, the index and blob folders, the manifest.

use super::*;

// ---------------------------------------------------------------------------------------------
// Backup

/// Writes a backup of the configured deployment as the archive `out` (into a new
/// `<UTC time>.tar.zst` when `out` is a folder). `index` is this process's open vector index, if
/// it holds one: its files are then copied at rest, no write landing during the copy. Shared by
/// `flashforge backup` and the scheduled task. Returns the archive's path and its manifest.
pub async fn backup(
    settings: &Settings,
    out: &Path,
    index: Option<Arc<dyn VectorIndex>>,
) -> Result<(PathBuf, Manifest), BackupError> {
    let kind = dump_kind(settings)?;
    let out = if out.is_dir() {
        out.join(format!(
            "{}{ARCHIVE_SUFFIX}",
            Utc::now().format(STAMP_FORMAT)
        ))
    } else {
        out.to_path_buf()
    };
    let name = out.file_name().ok_or_else(|| {
        BackupError::Refused(format!(
            "{}: name a new file (or a folder) for the backup",
            out.display()
        ))
    })?;
    if out.exists() {
        return Err(BackupError::Refused(format!(
            "{} exists: a backup goes into a new file",
            out.display()
        )));
    }
    let with_suffix = |suffix: &str| {
        let mut name = name.to_os_string();
        name.push(suffix);
        out.with_file_name(name)
    };
    let (partial, staging) = (with_suffix(".partial"), with_suffix(".partial.d"));
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    refuse_overlaps(settings, &out, "the backup")?;
    // What an interrupted backup of the same name left.
    for stale in [&partial, &staging] {
        remove_any(stale)?;
    }
    // Only the owner may enter it (the dump holds every user's data, hashes included).
    private_dir_builder()
        .create(&staging)
        .map_err(|e| BackupError::io(format!("cannot create {}", staging.display()), e))?;
    let written = async {
        let staging = staging
            .canonicalize()
            .map_err(|e| BackupError::io(format!("cannot resolve {}", staging.display()), e))?;
        write_backup(settings, kind, &staging, &partial, index).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&staging);
    match written {
        Ok(manifest) => {
            std::fs::rename(&partial, &out).map_err(|e| {
                BackupError::io(
                    format!(
                        "the backup is complete in {} but cannot be renamed to {}",
                        partial.display(),
                        out.display()
                    ),
                    e,
                )
            })?;
            Ok((out, manifest))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Removes the file or folder at `path`, if there is one.
pub(super) fn remove_any(path: &Path) -> Result<(), BackupError> {
    let removed = match std::fs::symlink_metadata(path) {
        Err(_) => return Ok(()),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
    };
    removed.map_err(|e| BackupError::io(format!("cannot remove {}", path.display()), e))
}

/// The dump and the index's copy into `staging`, then the archive `archive` from them and the
/// blobs.
pub(super) async fn write_backup(
    settings: &Settings,
    kind: DumpKind,
    staging: &Path,
    archive: &Path,
    index: Option<Arc<dyn VectorIndex>>,
) -> Result<Manifest, BackupError> {
    let created_at = Utc::now();
    let dump = staging.join(kind.file());
    let facts = match kind {
        DumpKind::Postgres => dump_postgres(settings, &dump).await?,
        DumpKind::Sqlite => dump_sqlite(settings, &dump).await?,
    };
    let index_part = backup_index(settings, staging, index).await?;
    let e = &settings.embedding;
    let mut manifest = Manifest {
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
        index: index_part,
        blobs: blobs_part(settings),
        files: BTreeMap::new(),
    };
    let settings = settings.clone();
    let (staging, archive) = (staging.to_path_buf(), archive.to_path_buf());
    blocking(move || {
        let mut writer = ArchiveWriter::create(&archive)?;
        let files = &mut manifest.files;
        let entry = writer
            .add_file(&staging.join(kind.file()), kind.file())?
            .ok_or_else(|| BackupError::Unexpected("the database dump went away".into()))?;
        files.insert(kind.file().to_string(), entry);
        if manifest.index.copied {
            writer.add_tree(&staging.join(INDEX_DIR), INDEX_DIR, &|_| false, files)?;
        }
        if manifest.blobs.copied {
            let (count, bytes) = writer.add_tree(
                &settings.storage.blob_dir,
                BLOBS_DIR,
                &is_staging_file,
                files,
            )?;
            manifest.blobs.files = count;
            manifest.blobs.bytes = bytes;
        }
        writer.finish(&manifest)?;
        Ok(manifest)
    })
    .await
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

/// How many more copies of an index another process holds are taken to find two identical ones.
const STILL_ATTEMPTS: usize = 3;

/// Copies the embedded index's live files (`index.json` and the generation it names; a
/// generation a reindex is still building is left out) into `staging/index`, holes kept. With
/// `index` (this process holds it) the copy is taken at rest; when another process holds it, it
/// is copied until two successive copies agree, and the manifest says so.
pub(super) async fn backup_index(
    settings: &Settings,
    staging: &Path,
    index: Option<Arc<dyn VectorIndex>>,
) -> Result<CopiedPart<VectorProvider>, BackupError> {
    let v = &settings.vector;
    Ok(match v.provider {
        VectorProvider::Embedded => {
            let (from, to) = (v.dir.clone(), staging.join(INDEX_DIR));
            create_dir(&to)?;
            let (copied, note) = match index {
                Some(index) => {
                    let (sender, receiver) = std::sync::mpsc::channel();
                    index
                        .at_rest(Box::new(move || {
                            let _ = sender.send(copy_index(&from, &to));
                        }))
                        .await
                        .map_err(|e| {
                            BackupError::Unexpected(format!(
                                "cannot copy the vector index at rest: {}",
                                flashforge_domain::error::chain(&e)
                            ))
                        })?;
                    let copied = receiver.recv().map_err(|_| {
                        BackupError::Unexpected("the copy of the vector index did not end".into())
                    })?;
                    (copied, None)
                }
                None if index_in_use(&v.dir) => {
                    let check = staging.join(format!("{INDEX_DIR}.check"));
                    match blocking(move || copy_until_still(&from, &to, &check)).await {
                        Ok((totals, note)) => (Ok(totals), Some(note)),
                        Err(e) => (Err(e), None),
                    }
                }
                None => (blocking(move || copy_index(&from, &to)).await, None),
            };
            let (files, bytes) = copied?;
            CopiedPart {
                kind: VectorProvider::Embedded,
                copied: true,
                files,
                bytes,
                note,
            }
        }
        VectorProvider::Qdrant => CopiedPart {
            kind: VectorProvider::Qdrant,
            copied: false,
            files: 0,
            bytes: 0,
            note: Some(
                "the Qdrant server's collection is not copied: it is derived from the chunks in \
                 the database; a restore reconciles it with them (documents whose points are \
                 missing are embedded again)"
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

/// Copies the index's live files from `from` into `to`; the files and bytes copied.
fn copy_index(from: &Path, to: &Path) -> Result<(u64, u64), BackupError> {
    let mut totals = (0, 0);
    for entry in live_index_entries(from)? {
        let (source, target) = (from.join(&entry), to.join(&entry));
        if source.is_dir() {
            let (files, bytes) = copy_tree(&source, &target, &|_| false)?;
            totals = (totals.0 + files, totals.1 + bytes);
        } else if source.is_file() {
            totals = (totals.0 + 1, totals.1 + copy_sparse(&source, &target)?);
        }
    }
    Ok(totals)
}

/// Copies the index another process holds into `to` until two successive copies are identical
/// (a write that lands during a copy makes them differ), at most [`STILL_ATTEMPTS`] times;
/// `check` is where the second copy goes. Returns what the last copy holds and the manifest's
/// note.
fn copy_until_still(
    from: &Path,
    to: &Path,
    check: &Path,
) -> Result<((u64, u64), String), BackupError> {
    let mut totals = copy_index(from, to)?;
    for _ in 0..STILL_ATTEMPTS {
        remove_any(check)?;
        create_dir(check)?;
        let again = copy_index(from, check)?;
        if checksums(to)? == checksums(check)? {
            remove_any(check)?;
            return Ok((
                totals,
                "copied while another process held the index; two successive copies were \
                 identical, so no write landed during it (a restore reconciles it with the \
                 chunks all the same)"
                    .to_string(),
            ));
        }
        remove_any(to)?;
        std::fs::rename(check, to)
            .map_err(|e| BackupError::io(format!("cannot move {}", check.display()), e))?;
        totals = again;
    }
    Ok((
        totals,
        "copied while another process kept writing to the index (successive copies differed): a \
         write may have landed during the copy; a restore reconciles the index with the chunks, \
         and `flashforge kb reindex` rebuilds it should it not load"
            .to_string(),
    ))
}

/// The entries of the index folder a copy needs: `index.json` and the generation it names; all
/// but the lock file when `index.json` cannot be read.
fn live_index_entries(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let generation = std::fs::read(dir.join(INDEX_FILE))
        .ok()
        .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
        .and_then(|json| json["generation"].as_str().map(str::to_string))
        .filter(|name| {
            Path::new(name)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        });
    Ok(match generation {
        Some(generation) => vec![PathBuf::from(INDEX_FILE), PathBuf::from(generation)],
        None => read_dir(dir)?
            .into_iter()
            .map(|entry| PathBuf::from(entry.file_name()))
            .filter(|name| name != Path::new(INDEX_LOCK_FILE))
            .collect(),
    })
}

/// What the backup holds of the blobs: the local folder's files (added by the archive writer).
pub(super) fn blobs_part(settings: &Settings) -> CopiedPart<BlobBackend> {
    let s = &settings.storage;
    match s.blobs {
        BlobBackend::Local => CopiedPart {
            kind: BlobBackend::Local,
            copied: true,
            files: 0,
            bytes: 0,
            note: None,
        },
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
    }
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
