//! `[database]`: which database (by its URL) and the pool's sizes and timeouts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout_secs: u64,
    /// SQLite: how long a write waits for another writer before the request answers 503.
    pub busy_timeout_ms: u64,
    pub idle_timeout_secs: u64,
    pub max_lifetime_secs: u64,
    pub migrate_on_start: bool,
}

/// Which family of adapters a database URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Postgres,
    Sqlite,
    Memory,
}

impl DatabaseSettings {
    pub fn kind(&self) -> Option<DatabaseKind> {
        let url = self.url.expose();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(DatabaseKind::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(DatabaseKind::Sqlite)
        } else if url == "memory://" || url == "memory:" {
            Some(DatabaseKind::Memory)
        } else {
            None
        }
    }

    pub fn pool(&self) -> flashforge_sql::DatabaseOptions {
        flashforge_sql::DatabaseOptions {
            max_connections: self.max_connections,
            min_connections: self.min_connections,
            acquire_timeout: Duration::from_secs(self.acquire_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            max_lifetime: Duration::from_secs(self.max_lifetime_secs),
            busy_timeout: Duration::from_millis(self.busy_timeout_ms),
        }
    }

    /// The rules of `database.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.kind().is_none() {
            problems.bad(
                "database.url",
                "must start with postgres://, sqlite: or be memory://",
            );
        }
        if self.max_connections == 0 {
            problems.bad("database.max_connections", "must be at least 1");
        }
        if self.min_connections > self.max_connections {
            problems.bad(
                "database.min_connections",
                "must not exceed database.max_connections",
            );
        }
        if self.busy_timeout_ms == 0 || self.busy_timeout_ms > 60_000 {
            problems.bad("database.busy_timeout_ms", "must be between 1 and 60000");
        }
        if self.acquire_timeout_secs == 0 {
            problems.bad("database.acquire_timeout_secs", "must be at least 1");
        }
    }
}
