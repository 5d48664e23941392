//! Files: copying, checksums, permissions, paths.

use super::*;

// ---------------------------------------------------------------------------------------------
// Files

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(BackupError::Stopped)?
}

/// A folder builder that makes folders only their owner can enter (0700).
pub(super) fn private_dir_builder() -> std::fs::DirBuilder {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
}

pub(super) fn create_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| BackupError::io(format!("cannot create {}", dir.display()), e))
}

pub(super) fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, BackupError> {
    std::fs::read_dir(dir)
        .and_then(|entries| entries.collect())
        .map_err(|e| BackupError::io(format!("cannot read {}", dir.display()), e))
}

/// Whether `dir` has an entry whose name passes `counts` (a missing folder has none).
pub(super) fn has_entries(dir: &Path, counts: impl Fn(&str) -> bool) -> Result<bool, BackupError> {
    if !dir.exists() {
        return Ok(false);
    }
    Ok(read_dir(dir)?
        .iter()
        .any(|entry| counts(&entry.file_name().to_string_lossy())))
}

/// Removes everything in `dir` but the entries `keep` names.
pub(super) fn clear_dir(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Result<(), BackupError> {
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
        removed.map_err(|e| BackupError::io(format!("cannot remove {}", path.display()), e))?;
    }
    Ok(())
}

/// Copies the files and folders under `from` into `to` (created as needed), holes kept, leaving
/// out those whose path relative to `from` `skip` names; symbolic links are not followed.
/// Returns the files and bytes copied.
pub(super) fn copy_tree(
    from: &Path,
    to: &Path,
    skip: &dyn Fn(&Path) -> bool,
) -> Result<(u64, u64), BackupError> {
    let (mut files, mut bytes) = (0, 0);
    create_dir(to)?;
    for (relative, is_dir) in walk(from, skip)? {
        if is_dir {
            create_dir(&to.join(&relative))?;
        } else {
            bytes += copy_sparse(&from.join(&relative), &to.join(&relative))?;
            files += 1;
        }
    }
    Ok((files, bytes))
}

/// The folders and regular files under `root` (paths relative to it, a folder before what it
/// holds), but those `skip` names; `true` marks a folder. Symbolic links and other special
/// files are left out with a warning.
pub(super) fn walk(
    root: &Path,
    skip: &dyn Fn(&Path) -> bool,
) -> Result<Vec<(PathBuf, bool)>, BackupError> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in read_dir(&root.join(&relative))? {
            let path = relative.join(entry.file_name());
            if skip(&path) {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| {
                BackupError::io(format!("cannot read {}", entry.path().display()), e)
            })?;
            if file_type.is_dir() {
                pending.push(path.clone());
                out.push((path, true));
            } else if file_type.is_file() {
                out.push((path, false));
            } else {
                tracing::warn!(path = %entry.path().display(), "not a file or folder: not copied");
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The size and sha256 of every file under `dir` but the manifest, by `/`-separated relative
/// path.
pub(super) fn checksums(dir: &Path) -> Result<BTreeMap<String, FileEntry>, BackupError> {
    let mut out = BTreeMap::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in read_dir(&dir.join(&relative))? {
            let path = relative.join(entry.file_name());
            let file_type = entry.file_type().map_err(|e| {
                BackupError::io(format!("cannot read {}", entry.path().display()), e)
            })?;
            if file_type.is_dir() {
                pending.push(path);
                continue;
            }
            if path == Path::new(MANIFEST_FILE) {
                continue;
            }
            out.insert(slash_path(&path), hash_file(&entry.path())?);
        }
    }
    Ok(out)
}

pub(super) fn hash_file(path: &Path) -> Result<FileEntry, BackupError> {
    let fail = |e| BackupError::io(format!("cannot read {}", path.display()), e);
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
    let sha256 = flashforge_domain::knowledge::hex(&hasher.finalize());
    Ok(FileEntry { size, sha256 })
}

/// Refuses when `path` (the backup) and the deployment's folders lie inside one another: a
/// backup would copy itself, a `--force` restore would delete what it restores.
pub(super) fn refuse_overlaps(
    settings: &Settings,
    path: &Path,
    what: &str,
) -> Result<(), BackupError> {
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
            return Err(BackupError::Refused(format!(
                "{what} ({}) and {key} ({}) lie inside one another: keep backups apart from the \
                 deployment's folders",
                path.display(),
                folder.display()
            )));
        }
    }
    Ok(())
}

/// `path` made absolute, with its existing part resolved through symbolic links.
pub(super) fn absolute(path: &Path) -> PathBuf {
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
