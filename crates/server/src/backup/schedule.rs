//! The worker's scheduled backups and their pruning.

use super::*;

// ---------------------------------------------------------------------------------------------
// Scheduled backups

/// Every `backup.interval_hours`: a backup into `backup.dir/<UTC time>.tar.zst`, then the
/// oldest beyond `backup.keep` are deleted. Due-ness is read from the newest backup, so a restart
/// does not take an extra one, and a lock file in `backup.dir` keeps two workers from taking the
/// same one. `index` is the process's open vector index: its files are copied at rest.
pub struct ScheduledBackup {
    settings: Settings,
    every: Duration,
    index: Option<Arc<dyn VectorIndex>>,
}

impl ScheduledBackup {
    pub fn new(settings: Settings, index: Option<Arc<dyn VectorIndex>>) -> Self {
        let every = Duration::from_secs(settings.backup.interval_hours.saturating_mul(3600));
        Self {
            settings,
            every,
            index,
        }
    }

    /// One round: a backup if one is due and no other process is taking it, then the pruning.
    async fn take_backup(&self) -> Result<(), BackupError> {
        let dir = self.settings.backup.dir.clone();
        create_dir(&dir)?;
        let lock_path = dir.join(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| BackupError::io(format!("cannot open {}", lock_path.display()), e))?;
        match lock.try_lock() {
            Ok(()) => {}
            // Another process is taking one.
            Err(std::fs::TryLockError::WouldBlock) => return Ok(()),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(BackupError::io(
                    format!("cannot lock {}", lock_path.display()),
                    e,
                ));
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
        let out = dir.join(format!("{}{ARCHIVE_SUFFIX}", now.format(STAMP_FORMAT)));
        let (out, manifest) = backup(&self.settings, &out, self.index.clone()).await?;
        tracing::info!(
            archive = %out.display(),
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

#[async_trait]
impl Task for ScheduledBackup {
    fn name(&self) -> &str {
        "backup"
    }

    fn interval(&self) -> Duration {
        self.every.min(SCHEDULE_CHECK)
    }

    async fn run_once(&self) -> Result<(), String> {
        self.take_backup().await.map_err(|e| e.to_string())
    }
}

/// The scheduled backups in `dir`, oldest first: archives `<UTC time>.tar.zst`, and folders
/// `<UTC time>` of format 1.
pub(super) fn stamped_backups(dir: &Path) -> Result<Vec<(DateTime<Utc>, PathBuf)>, BackupError> {
    let mut out = Vec::new();
    for entry in read_dir(dir)? {
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let stamp = |text: &str| NaiveDateTime::parse_from_str(text, STAMP_FORMAT).ok();
        let found = match name.strip_suffix(ARCHIVE_SUFFIX) {
            Some(stem) => stamp(stem).filter(|_| path.is_file()),
            None => stamp(&name).filter(|_| path.is_dir()),
        };
        if let Some(stamp) = found {
            out.push((stamp.and_utc(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// Deletes the scheduled backups beyond the newest `keep`, and what interrupted ones left more
/// than a day ago. Other files and folders in `dir` are left alone. Returns how many backups
/// went.
pub(super) fn prune(dir: &Path, keep: usize, now: DateTime<Utc>) -> Result<usize, BackupError> {
    let stamped = stamped_backups(dir)?;
    let excess = stamped.len().saturating_sub(keep);
    for (_, path) in &stamped[..excess] {
        remove_any(path)?;
    }
    for entry in read_dir(dir)? {
        let name = entry.file_name();
        let stale = name
            .to_str()
            .and_then(|n| {
                n.strip_suffix(".partial")
                    .or_else(|| n.strip_suffix(".partial.d"))
            })
            .map(|n| n.strip_suffix(ARCHIVE_SUFFIX).unwrap_or(n))
            .and_then(|n| NaiveDateTime::parse_from_str(n, STAMP_FORMAT).ok())
            .is_some_and(|stamp| {
                now.signed_duration_since(stamp.and_utc()) > chrono::Duration::days(1)
            });
        if stale {
            let _ = remove_any(&entry.path());
        }
    }
    Ok(excess)
}
