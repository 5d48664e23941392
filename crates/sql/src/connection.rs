//! Opening the pool and migrating the schema.

use std::path::Path;
use std::time::Duration;

use flashforge_migration::{Migrator, MigratorTrait, migration_status};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// Pool settings, from the `database` section of the configuration.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    pub max_connections: u32,
    pub min_connections: u32,
    pub acquire_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    /// SQLite: how long a statement waits for another connection's write lock (SQLite retries
    /// in the meantime); past it the statement fails as `Unavailable` (503, `Retry-After`).
    pub busy_timeout: Duration,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            busy_timeout: Duration::from_secs(2),
        }
    }
}

/// A pooled connection idle this long is pinged before it is handed out; a busier one is not
/// (the ping is a round trip, as long as the query itself). A connection that died while in use
/// fails its query (an answer of 503) and leaves the pool.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// Opens a pool on `url` (`postgres://…` or `sqlite://path?mode=rwc`). For a SQLite file, the
/// folder it lives in is created first.
pub async fn connect(url: &str, options: &DatabaseOptions) -> Result<DatabaseConnection, DbErr> {
    if let Some(folder) = sqlite_folder(url) {
        std::fs::create_dir_all(folder)
            .map_err(|e| DbErr::Custom(format!("cannot create the SQLite folder: {e}")))?;
    }
    let busy_timeout = options.busy_timeout;
    let mut connect = ConnectOptions::new(url.to_string());
    connect
        .max_connections(options.max_connections)
        .min_connections(options.min_connections)
        .connect_timeout(options.acquire_timeout)
        .acquire_timeout(options.acquire_timeout)
        .idle_timeout(options.idle_timeout)
        .max_lifetime(options.max_lifetime)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        // Statements may carry secrets in their values; they are never logged.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |opts| {
            opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
        });
    Database::connect(connect).await
}

/// The folder of a SQLite database file named by `url`, if it is one.
fn sqlite_folder(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
}

/// A schema operation, as `flashforge migrate` offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migration {
    /// Apply every pending migration.
    Up,
    /// Roll back the last applied migration.
    Down,
    /// Drop everything and apply every migration again.
    Fresh,
}

/// Runs a schema operation.
pub async fn migrate(db: &DatabaseConnection, migration: Migration) -> Result<(), DbErr> {
    match migration {
        Migration::Up => Migrator::up(db, None).await,
        Migration::Down => Migrator::down(db, Some(1)).await,
        Migration::Fresh => Migrator::fresh(db).await,
    }
}

/// Each migration's name and whether it is applied.
pub async fn status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    migration_status(db).await
}

/// The pool's connections: `(open, idle, max)`.
pub fn pool_stats(db: &DatabaseConnection) -> Option<(u32, u32, u32)> {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            Some((
                pool.size(),
                pool.num_idle() as u32,
                pool.options().get_max_connections(),
            ))
        }
        sea_orm::DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            Some((
                pool.size(),
                pool.num_idle() as u32,
                pool.options().get_max_connections(),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_folder() {
        assert_eq!(
            sqlite_folder("sqlite://data/ff.db?mode=rwc"),
            Some(Path::new("data"))
        );
        assert_eq!(
            sqlite_folder("sqlite:/tmp/x/ff.db"),
            Some(Path::new("/tmp/x"))
        );
        assert_eq!(sqlite_folder("sqlite::memory:"), None);
        assert_eq!(sqlite_folder("sqlite://ff.db"), None);
        assert_eq!(sqlite_folder("postgres://localhost/db"), None);
    }
}
