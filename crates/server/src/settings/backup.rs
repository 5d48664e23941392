//! `[backup]`: where scheduled backups go, how often, and how many are kept.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::database::DatabaseKind;
use super::problems::Problems;

/// Backups (`flashforge backup`, `flashforge restore`) and the worker's scheduled ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// Where backups go, one archive each named by its UTC time (`20261126T031500Z.tar.zst`).
    pub dir: PathBuf,
    /// Hours between the worker's backups; 0: none.
    pub interval_hours: u64,
    /// Scheduled backups kept, newest first; older ones are deleted.
    pub keep: usize,
}

impl BackupSettings {
    /// The rules of `backup.*`. `database` is the kind `database.url` names: scheduled backups
    /// need one on disk.
    pub(super) fn validate(&self, database: Option<DatabaseKind>, problems: &mut Problems) {
        if self.interval_hours > 24 * 366 {
            problems.bad(
                "backup.interval_hours",
                "must be at most 8784 (0 = no scheduled backups)",
            );
        }
        if self.interval_hours > 0 && database == Some(DatabaseKind::Memory) {
            problems.bad(
                "backup.interval_hours",
                "needs a database on disk: database.url is memory://",
            );
        }
        if self.keep == 0 || self.keep > 10_000 {
            problems.bad("backup.keep", "must be between 1 and 10000");
        }
        if self.interval_hours > 0 && self.dir.as_os_str().is_empty() {
            problems.bad(
                "backup.dir",
                "must be set when backup.interval_hours is more than 0",
            );
        }
    }
}
