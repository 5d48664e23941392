//! The backup archive: one tar stream, zstd-compressed, the manifest its last entry. Sparse files
//! stay sparse both ways: the embedded index preallocates large files that are mostly holes, and
//! neither the archive nor a restored index spends room on their zeros.

use std::io::{Seek, SeekFrom};

use super::*;

/// How a backup archive's name ends.
pub const ARCHIVE_SUFFIX: &str = ".tar.zst";
/// zstd's default level: about 400 MB/s on one core here, and runs of zeros cost nothing.
const ZSTD_LEVEL: i32 = 3;
/// What copies read at a time.
const BLOCK: usize = 64 * 1024;
/// The unit in which copies look for zeros to leave as holes: a file system block.
const PAGE: usize = 4096;

type Compressed = zstd::Encoder<'static, std::io::BufWriter<File>>;

/// An archive being written: files go in with their size and sha256 recorded, the manifest last.
pub(super) struct ArchiveWriter {
    path: PathBuf,
    builder: tar::Builder<Compressed>,
}

impl ArchiveWriter {
    /// A new archive at `path`, which must not exist; only its owner may read it (0600).
    pub(super) fn create(path: &Path) -> Result<Self, BackupError> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let fail = |e| BackupError::io(format!("cannot create {}", path.display()), e);
        let file = options.open(path).map_err(fail)?;
        let encoder =
            zstd::Encoder::new(std::io::BufWriter::with_capacity(BLOCK, file), ZSTD_LEVEL)
                .map_err(fail)?;
        let mut builder = tar::Builder::new(encoder);
        // Sizes, modes and times of their own: the archive holds contents, not an owner's ids.
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        builder.sparse(true);
        Ok(Self {
            path: path.to_path_buf(),
            builder,
        })
    }

    /// Adds the file at `source` as `name` (a `/`-separated path), holes recorded as holes;
    /// returns its size and sha256. `None` when the file went away before it could be read.
    pub(super) fn add_file(
        &mut self,
        source: &Path,
        name: &str,
    ) -> Result<Option<FileEntry>, BackupError> {
        let entry = match hash_file(source) {
            Ok(entry) => entry,
            Err(BackupError::Io { source: e, .. }) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        self.builder
            .append_path_with_name(source, name)
            .map_err(|e| self.write_error(e))?;
        Ok(Some(entry))
    }

    /// Adds every folder and file under `root` as `prefix/<relative path>` but those `skip`
    /// names (by their path relative to `root`), the files into `files`. Returns the files and
    /// bytes added.
    pub(super) fn add_tree(
        &mut self,
        root: &Path,
        prefix: &str,
        skip: &dyn Fn(&Path) -> bool,
        files: &mut BTreeMap<String, FileEntry>,
    ) -> Result<(u64, u64), BackupError> {
        let (mut count, mut bytes) = (0, 0);
        if !root.is_dir() {
            return Ok((count, bytes));
        }
        for (relative, is_dir) in walk(root, skip)? {
            let name = format!("{prefix}/{}", slash_path(&relative));
            if is_dir {
                // Kept, empty or not: the index may expect its folders.
                self.builder
                    .append_dir(&name, root.join(&relative))
                    .map_err(|e| self.write_error(e))?;
                continue;
            }
            match self.add_file(&root.join(&relative), &name)? {
                Some(entry) => {
                    count += 1;
                    bytes += entry.size;
                    files.insert(name, entry);
                }
                None => tracing::warn!(
                    path = %root.join(&relative).display(),
                    "a file went away while the backup was written: not in the backup"
                ),
            }
        }
        Ok((count, bytes))
    }

    /// Writes `manifest` as the last entry and completes the archive on disk (flushed).
    pub(super) fn finish(mut self, manifest: &Manifest) -> Result<(), BackupError> {
        let mut text = serde_json::to_vec_pretty(manifest).map_err(BackupError::EncodeManifest)?;
        text.push(b'\n');
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o600);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder
            .append_data(&mut header, MANIFEST_FILE, text.as_slice())
            .map_err(|e| self.write_error(e))?;
        let path = self.path.clone();
        let fail = |e| BackupError::io(format!("cannot write {}", path.display()), e);
        let encoder = self.builder.into_inner().map_err(fail)?;
        let file = encoder
            .finish()
            .map_err(fail)?
            .into_inner()
            .map_err(|e| fail(e.into_error()))?;
        file.sync_all().map_err(fail)
    }

    fn write_error(&self, e: std::io::Error) -> BackupError {
        BackupError::io(format!("cannot write {}", self.path.display()), e)
    }
}

/// Expands the archive at `archive` into the empty folder `into`: regular files and folders
/// only, each inside `into`, holes kept. Nothing is trusted yet: the caller verifies the files
/// against the manifest.
pub(super) fn unpack(archive: &Path, into: &Path) -> Result<(), BackupError> {
    let file = File::open(archive)
        .map_err(|e| BackupError::io(format!("cannot read {}", archive.display()), e))?;
    let unreadable = |e: std::io::Error| {
        BackupError::Invalid(format!(
            "{} cannot be expanded: {e} (is it a damaged or truncated backup, or is there no room \
             left in {}?)",
            archive.display(),
            into.parent().unwrap_or(into).display()
        ))
    };
    let decoder = zstd::Decoder::new(file).map_err(unreadable)?;
    let mut tar = tar::Archive::new(decoder);
    tar.set_preserve_permissions(false);
    tar.set_preserve_mtime(false);
    tar.set_unpack_xattrs(false);
    for entry in tar.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        let path = entry.path().map_err(unreadable)?.into_owned();
        let safe = path.components().count() > 0
            && path.components().all(|c| matches!(c, Component::Normal(_)));
        if !safe {
            return Err(BackupError::Invalid(format!(
                "{} holds `{}`, which is outside the backup",
                archive.display(),
                path.display()
            )));
        }
        let target = into.join(&path);
        match entry.header().entry_type() {
            tar::EntryType::Directory => create_dir(&target)?,
            tar::EntryType::Regular | tar::EntryType::GNUSparse => {
                if let Some(parent) = target.parent() {
                    create_dir(parent)?;
                }
                entry.unpack(&target).map_err(unreadable)?;
            }
            other => {
                return Err(BackupError::Invalid(format!(
                    "{} holds `{}` of type {other:?}; a backup holds files and folders only",
                    archive.display(),
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// Copies the file `from` to `to` (replaced if it exists), leaving blocks of zeros as holes.
/// Returns its size.
pub(super) fn copy_sparse(from: &Path, to: &Path) -> Result<u64, BackupError> {
    let read_error = |e| BackupError::io(format!("cannot read {}", from.display()), e);
    let write_error = |e| BackupError::io(format!("cannot write {}", to.display()), e);
    let mut source = File::open(from).map_err(read_error)?;
    let mut target = File::create(to).map_err(write_error)?;
    let mut buffer = vec![0u8; BLOCK];
    let mut size = 0u64;
    loop {
        let n = source.read(&mut buffer).map_err(read_error)?;
        if n == 0 {
            break;
        }
        // Runs of zero pages become one seek, runs of data one write.
        let mut start = 0;
        while start < n {
            let zero = is_zero(&buffer[start..(start + PAGE).min(n)]);
            let mut end = (start + PAGE).min(n);
            while end < n && is_zero(&buffer[end..(end + PAGE).min(n)]) == zero {
                end = (end + PAGE).min(n);
            }
            if zero {
                target
                    .seek(SeekFrom::Current((end - start) as i64))
                    .map_err(write_error)?;
            } else {
                target.write_all(&buffer[start..end]).map_err(write_error)?;
            }
            start = end;
        }
        size += n as u64;
    }
    target.set_len(size).map_err(write_error)?;
    Ok(size)
}

fn is_zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| *b == 0)
}

/// Moves every entry of `from` into `to` (created when missing): renamed where both lie on one
/// file system, copied (holes kept) where they do not.
pub(super) fn move_tree(from: &Path, to: &Path) -> Result<(), BackupError> {
    create_dir(to)?;
    for entry in read_dir(from)? {
        let target = to.join(entry.file_name());
        if std::fs::rename(entry.path(), &target).is_err() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                copy_tree(&entry.path(), &target, &|_| false)?;
            } else {
                copy_sparse(&entry.path(), &target)?;
            }
        }
    }
    Ok(())
}

/// A relative path with `/` between its parts, as the manifest names files.
pub(super) fn slash_path(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
