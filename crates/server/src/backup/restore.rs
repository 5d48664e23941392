//! Restoring a backup: verify, check the target, restore each part, compare the counts.

use flashforge_domain::knowledge::ReconcileReport;

use super::*;

// ---------------------------------------------------------------------------------------------
// Restore

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Rows per table after the restore.
    pub counts: BTreeMap<String, u64>,
    /// The vector index checked against the restored chunks (`None` for an in-memory index).
    pub reconciled: Option<ReconcileReport>,
    /// What the operator should know or do next.
    pub notes: Vec<String>,
}

/// Restores the backup at `path` (an archive, or a folder of format 1) into the configured
/// deployment, then reconciles the vector index with the restored chunks. Refuses a corrupt
/// backup and, without `force`, a deployment that already holds data. The server must not be
/// running.
pub async fn restore(
    settings: &Settings,
    path: &Path,
    force: bool,
) -> Result<RestoreReport, BackupError> {
    let kind = dump_kind(settings)?;
    if !path.exists() {
        return Err(BackupError::Refused(format!(
            "{} does not exist: name a backup archive (or a backup folder)",
            path.display()
        )));
    }
    refuse_overlaps(settings, path, "the backup")?;
    // Held until the data is in place: no server or worker may open the index meanwhile, and a
    // running one is found here.
    let lock = if settings.vector.provider == VectorProvider::Embedded {
        Some(
            crate::knowledge::lock_index_dir(&settings.vector.dir).map_err(|e| {
                BackupError::Refused(format!(
                    "{e}. Stop the server and workers of this deployment before a restore"
                ))
            })?,
        )
    } else {
        None
    };
    let target = occupancy(settings, kind).await?;
    if !target.holds_data.is_empty() && !force {
        return Err(BackupError::Refused(format!(
            "the deployment is not empty ({}); nothing was changed. To replace it with the \
             backup, stop the server and run `flashforge restore {} --force`",
            target.holds_data.join("; "),
            path.display()
        )));
    }
    let (mut report, staging) = if path.is_dir() {
        (
            restore_folder(settings, path, kind, &target, force, false).await?,
            None,
        )
    } else {
        let staging = staging_dir(settings, path)?;
        {
            let (archive, into) = (path.to_path_buf(), staging.path().to_path_buf());
            blocking(move || unpack(&archive, &into)).await?;
        }
        let report = restore_folder(settings, staging.path(), kind, &target, force, true).await?;
        (report, Some(staging))
    };
    drop(staging);
    drop(lock);
    if settings.vector.provider != VectorProvider::Memory {
        let reconciled = crate::startup::reconcile(settings.clone())
            .await
            .map_err(|e| {
                BackupError::Unexpected(format!(
                    "the backup was restored, but the vector index could not be checked against \
                     the restored chunks: {e}. Run `flashforge kb reconcile` before starting the \
                     server"
                ))
            })?;
        report.reconciled = Some(reconciled);
    }
    Ok(report)
}

/// A private folder to expand the archive `archive` into: beside the deployment's data (so that
/// its files can be moved into place), else beside the archive, else in the temp folder; the
/// first of them that takes one.
fn staging_dir(settings: &Settings, archive: &Path) -> Result<tempfile::TempDir, BackupError> {
    let beside_data = if settings.vector.provider == VectorProvider::Embedded {
        Some(settings.vector.dir.clone())
    } else if let Some(file) = sqlite_file(settings.database.url.expose()) {
        Some(file)
    } else if settings.storage.blobs == BlobBackend::Local {
        Some(settings.storage.blob_dir.clone())
    } else {
        None
    };
    let parent = |path: PathBuf| absolute(&path).parent().map(Path::to_path_buf);
    let candidates = [
        beside_data.and_then(parent),
        parent(archive.to_path_buf()),
        Some(std::env::temp_dir()),
    ];
    let mut last = None;
    for root in candidates.into_iter().flatten() {
        let made = std::fs::create_dir_all(&root).and_then(|()| {
            tempfile::Builder::new()
                .prefix(".flashforge-restore-")
                .tempdir_in(&root)
        });
        match made {
            Ok(dir) => return Ok(dir),
            Err(e) => last = Some((root, e)),
        }
    }
    let (root, e) = last.unwrap_or_else(|| {
        (
            std::env::temp_dir(),
            std::io::Error::other("no folder to stage in"),
        )
    });
    Err(BackupError::io(
        format!("cannot stage the restore in {}", root.display()),
        e,
    ))
}

/// Restores the backup's files in `dir` (checked against its manifest first). `staged`: `dir`
/// is this restore's own copy, whose files may be moved instead of copied.
async fn restore_folder(
    settings: &Settings,
    dir: &Path,
    kind: DumpKind,
    target: &Occupancy,
    force: bool,
    staged: bool,
) -> Result<RestoreReport, BackupError> {
    let manifest = read_manifest(dir)?;
    {
        let dir = dir.to_path_buf();
        let manifest = manifest.clone();
        blocking(move || verify(&dir, &manifest)).await?;
    }
    if kind != manifest.database.kind {
        return Err(BackupError::Refused(format!(
            "this backup holds a {} database, but database.url names a {} one",
            manifest.database.kind.as_str(),
            kind.as_str()
        )));
    }
    let s = &settings.storage;
    if manifest.blobs.copied && s.blobs != BlobBackend::Local {
        return Err(BackupError::Refused(format!(
            "this backup holds {} uploaded files, but storage.blobs is {:?}: restore into a \
             deployment with storage.blobs = \"local\" (and copy the folder to the bucket \
             afterwards if you move to S3)",
            manifest.blobs.files, s.blobs
        )));
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
            let to =
                sqlite_file(settings.database.url.expose()).ok_or(BackupError::NoSqliteFile)?;
            let from = dir.join(&manifest.database.file);
            blocking(move || restore_sqlite_file(&from, &to)).await?;
        }
    }
    {
        let settings = settings.clone();
        let dir = dir.to_path_buf();
        let manifest = manifest.clone();
        notes.extend(
            blocking(move || restore_files(&settings, &dir, &manifest, force, staged)).await?,
        );
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
        return Err(BackupError::Unexpected(format!(
            "the restored database does not match the backup: {}",
            mismatches.join("; ")
        )));
    }
    Ok(RestoreReport {
        manifest,
        counts,
        reconciled: None,
        notes,
    })
}

pub(super) fn read_manifest(dir: &Path) -> Result<Manifest, BackupError> {
    let path = dir.join(MANIFEST_FILE);
    let text = std::fs::read(&path).map_err(|e| {
        BackupError::io(
            format!(
                "{} is not a backup: cannot read {}",
                dir.display(),
                path.display()
            ),
            e,
        )
    })?;
    let version: serde_json::Value =
        serde_json::from_slice(&text).map_err(|source| BackupError::ReadManifest {
            context: format!("{} is not valid JSON", path.display()),
            source,
        })?;
    let readable = version["format_version"].as_u64().is_some_and(|v| {
        (u64::from(OLDEST_FORMAT_VERSION)..=u64::from(FORMAT_VERSION)).contains(&v)
    });
    if !readable {
        return Err(BackupError::Invalid(format!(
            "{} has format_version {}; this flashforge reads versions {OLDEST_FORMAT_VERSION} to \
             {FORMAT_VERSION}",
            path.display(),
            version["format_version"]
        )));
    }
    serde_json::from_value(version).map_err(|source| BackupError::ReadManifest {
        context: format!("{} is malformed", path.display()),
        source,
    })
}

/// Every file the manifest lists is there with its size and checksum, and nothing else is.
pub(super) fn verify(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    for name in manifest.files.keys() {
        let safe = Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(BackupError::Invalid(format!(
                "the manifest names `{name}`, which is outside the backup"
            )));
        }
    }
    if !manifest.files.contains_key(&manifest.database.file) {
        return Err(BackupError::Invalid(format!(
            "the manifest does not list the database file {}",
            manifest.database.file
        )));
    }
    let found = checksums(dir)?;
    for (name, expected) in &manifest.files {
        match found.get(name) {
            None => {
                return Err(BackupError::Invalid(format!(
                    "the backup is incomplete: {name} is missing"
                )));
            }
            Some(actual) if actual != expected => {
                return Err(BackupError::Invalid(format!(
                    "the backup is corrupt: {name} does not match its checksum in the manifest \
                     ({} bytes, sha256 {}; expected {} bytes, sha256 {})",
                    actual.size, actual.sha256, expected.size, expected.sha256
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found
        .keys()
        .find(|name| !manifest.files.contains_key(*name))
    {
        return Err(BackupError::Invalid(format!(
            "the backup holds {extra}, which its manifest does not list"
        )));
    }
    Ok(())
}

/// What the target deployment already holds.
pub(super) struct Occupancy {
    /// Why it is not empty, one reason each.
    pub(super) holds_data: Vec<String>,
    /// The database has tables (a restore must replace them).
    pub(super) has_schema: bool,
}

pub(super) async fn occupancy(
    settings: &Settings,
    kind: DumpKind,
) -> Result<Occupancy, BackupError> {
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
            Ok::<_, BackupError>((!tables.is_empty(), users))
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
pub(super) fn restore_sqlite_file(from: &Path, to: &Path) -> Result<(), BackupError> {
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
        BackupError::io(
            format!("cannot copy {} to {}", from.display(), temporary.display()),
            e,
        )
    })?;
    File::open(&temporary)
        .and_then(|f| f.sync_all())
        .map_err(|e| BackupError::io(format!("cannot write {}", temporary.display()), e))?;
    // A write-ahead log of the replaced database would be replayed into the restored one.
    for suffix in ["-wal", "-shm", "-journal"] {
        let stale = with_suffix(suffix);
        if stale.exists() {
            std::fs::remove_file(&stale)
                .map_err(|e| BackupError::io(format!("cannot remove {}", stale.display()), e))?;
        }
    }
    std::fs::rename(&temporary, to).map_err(|e| {
        BackupError::io(
            format!("cannot move {} to {}", temporary.display(), to.display()),
            e,
        )
    })
}

/// The index and the blobs, into the configured folders; with `force`, emptied first.
pub(super) fn restore_files(
    settings: &Settings,
    dir: &Path,
    manifest: &Manifest,
    force: bool,
    staged: bool,
) -> Result<Vec<String>, BackupError> {
    let place = |from: &Path, to: &Path| {
        if staged {
            move_tree(from, to)
        } else {
            copy_tree(from, to, &|_| false).map(|_| ())
        }
    };
    let mut notes = Vec::new();
    let v = &settings.vector;
    match v.provider {
        VectorProvider::Embedded => {
            if force {
                clear_dir(&v.dir, &|name| name == INDEX_LOCK_FILE)?;
            }
            if manifest.index.copied {
                place(&dir.join(INDEX_DIR), &v.dir)?;
            } else {
                notes.push(format!(
                    "the backup has no copy of the vector index (it was {:?}): the documents \
                     whose points are missing are queued to be embedded again",
                    manifest.index.kind
                ));
            }
        }
        VectorProvider::Qdrant => notes.push(
            "vector.provider is qdrant: the collection is not part of the backup; the documents \
             whose points are missing from it are queued to be embedded again"
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
            if copied && dir.join(BLOBS_DIR).is_dir() {
                place(&dir.join(BLOBS_DIR), &s.blob_dir)?;
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
