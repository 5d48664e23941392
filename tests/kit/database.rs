//! Throwaway databases: a uniquely named Postgres database dropped when the test ends, a SQLite
//! file in a temp folder, and whether Postgres and Redis answer. Without them a test is skipped
//! with a notice, unless `FLASHFORGE_REQUIRE_POSTGRES=1` or `FLASHFORGE_REQUIRE_REDIS=1` makes
//! that a failure (see [`crate::skip`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use flashforge_sql::DatabaseConnection;
use flashforge_sql::sea_orm::{ConnectionTrait, Database};
use tokio::sync::OnceCell;

use crate::skip;

/// The adapters a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    Postgres,
}

// ---------------------------------------------------------------------------------------------
// Postgres

/// The Postgres server's admin database (`FLASHFORGE_TEST_POSTGRES_URL`).
pub fn admin_url() -> String {
    std::env::var("FLASHFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Whether Postgres answers at [`admin_url`] within 5 s (asked once per process).
pub async fn postgres_answers() -> bool {
    static AVAILABLE: OnceCell<bool> = OnceCell::const_new();
    *AVAILABLE
        .get_or_init(|| async {
            let connect = Database::connect(admin_url());
            matches!(
                tokio::time::timeout(Duration::from_secs(5), connect).await,
                Ok(Ok(_))
            )
        })
        .await
}

/// Whether Postgres cases run. Without a server they are skipped with a notice (once per
/// process), or fail when `FLASHFORGE_REQUIRE_POSTGRES=1`.
pub async fn postgres_or_skip() -> bool {
    if postgres_answers().await {
        return true;
    }
    let why = format!("Postgres does not answer at {}", admin_url());
    skip::fail_if_required("FLASHFORGE_REQUIRE_POSTGRES", &why);
    static NOTICE: OnceLock<()> = OnceLock::new();
    NOTICE.get_or_init(|| skip::notice("FLASHFORGE_REQUIRE_POSTGRES", &why));
    false
}

/// A uniquely named Postgres database, dropped when the test ends.
pub struct TestDatabase {
    name: String,
    pub url: String,
}

impl TestDatabase {
    /// A new database named `ff_test_…`.
    pub async fn create() -> Self {
        Self::create_prefixed("ff_test").await
    }

    /// A new database named `{prefix}_…`, so that one left behind says whose it was.
    pub async fn create_prefixed(prefix: &str) -> Self {
        let name = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(admin_url())
            .await
            .expect("connect to Postgres as admin");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let admin = admin_url();
        let (base, query) = match admin.split_once('?') {
            Some((base, query)) => (base.to_string(), format!("?{query}")),
            None => (admin.clone(), String::new()),
        };
        let (server, _) = base.rsplit_once('/').expect("admin URL names a database");
        let url = format!("{server}/{name}{query}");
        Self { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop can't await, and the test's runtime may be gone or busy: do it on a thread with
        // its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(admin_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

/// The Redis URL for tests that need one, or `None` (with a notice) when it does not answer,
/// unless `FLASHFORGE_REQUIRE_REDIS=1`, which makes that a failure.
pub async fn redis_or_skip() -> Option<String> {
    let url = std::env::var("FLASHFORGE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_string());
    let store = flashforge_redis::RedisRateLimitStore::connect(
        &url,
        "ff:probe:",
        Duration::from_millis(500),
    )
    .await;
    if store.is_ok() {
        return Some(url);
    }
    skip::skip(
        "FLASHFORGE_REQUIRE_REDIS",
        &format!("Redis does not answer at {url}"),
    );
    None
}

// ---------------------------------------------------------------------------------------------
// Storage

/// The URL of the SQLite database in `file`, created on first use.
pub fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}?mode=rwc", file.display())
}

/// The settings that keep the vector index (the embedded engine) and blobs (local) in `dir`.
pub fn local_files(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("FLASHFORGE__VECTOR__PROVIDER", "embedded".into()),
        (
            "FLASHFORGE__VECTOR__DIR",
            dir.join("index").display().to_string(),
        ),
        ("FLASHFORGE__STORAGE__BLOBS", "local".into()),
        (
            "FLASHFORGE__STORAGE__BLOB_DIR",
            dir.join("blobs").display().to_string(),
        ),
    ]
}

/// Keeps a test's storage alive (dropping it removes it): a Postgres database or a SQLite
/// folder, each with a folder for the vector index and blobs.
pub enum Storage {
    None,
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase, tempfile::TempDir),
}

impl Storage {
    /// Fresh storage for `backend` and the URL to reach it.
    pub async fn create(backend: Backend) -> (Self, String) {
        let storage = match backend {
            Backend::Memory => return (Storage::None, "memory://".to_string()),
            Backend::Sqlite => Storage::sqlite(),
            Backend::Postgres => Storage::postgres().await,
        };
        let url = storage.database_url().expect("a real database");
        (storage, url)
    }

    /// A SQLite file in a new temp folder.
    pub fn sqlite() -> Self {
        Storage::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    /// A new Postgres database and a temp folder.
    pub async fn postgres() -> Self {
        Storage::Postgres(
            TestDatabase::create().await,
            tempfile::tempdir().expect("temp dir"),
        )
    }

    /// The SQLite file, for the SQLite backend.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self {
            Storage::Sqlite(dir) => Some(dir.path().join("flashforge.db")),
            Storage::None | Storage::Postgres(..) => None,
        }
    }

    /// The database of the real backends.
    pub fn database_url(&self) -> Option<String> {
        match self {
            Storage::None => None,
            Storage::Sqlite(_) => self.sqlite_file().as_deref().map(sqlite_url),
            Storage::Postgres(db, _) => Some(db.url.clone()),
        }
    }

    /// Where the real backends keep their vector index and blobs.
    pub fn files_dir(&self) -> Option<&Path> {
        match self {
            Storage::None => None,
            Storage::Sqlite(dir) | Storage::Postgres(_, dir) => Some(dir.path()),
        }
    }
}

/// An open, migrated database for adapter tests, or `None` for the memory backend.
pub async fn migrated_database(backend: Backend) -> (Storage, Option<DatabaseConnection>) {
    let (storage, url) = Storage::create(backend).await;
    if backend == Backend::Memory {
        return (storage, None);
    }
    let db = flashforge_sql::connect(&url, &Default::default())
        .await
        .expect("connect");
    flashforge_sql::migrate(&db, flashforge_sql::Migration::Up)
        .await
        .expect("migrate");
    (storage, Some(db))
}
