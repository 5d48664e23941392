//! What the benchmarks share: a server in this process, and how numbers are printed.

#![allow(clippy::unwrap_used)]
// Each benchmark uses its own part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use flashforge::settings::{Environment, Settings};
use flashforge::startup::{Application, Hooks};

/// Starts FlashForge on a free port with the in-memory adapters, two HTTP workers, rate limits
/// off, quiet logs, and `overrides` on top; returns its base URL.
pub async fn start_server(overrides: &[(&str, &str)]) -> String {
    start(overrides).await.address
}

/// A server this process runs, with the means to stop it.
pub struct Running {
    pub address: String,
    handle: actix_web::dev::ServerHandle,
    stopped: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops it: connections, then the background worker (a job running is cut off after
    /// `server.shutdown_timeout_secs`), then the pool.
    pub async fn stop(self) {
        self.handle.stop(false).await;
        let _ = self.stopped.await;
    }
}

/// Like [`start_server`], keeping what stops it.
pub async fn start(overrides: &[(&str, &str)]) -> Running {
    let config = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config"));
    let mut vars: Vec<(String, String)> = [
        (
            "FLASHFORGE__AUTH__JWT_SECRET",
            "bench-Only_9fQ2xLmZ8rVb4Nw7Kc1Hd6Jp0Sg5Ye",
        ),
        ("FLASHFORGE__DATABASE__URL", "memory://"),
        ("FLASHFORGE__SERVER__PORT", "0"),
        ("FLASHFORGE__SERVER__WORKERS", "2"),
        ("FLASHFORGE__RATE_LIMIT__ENABLED", "false"),
        ("FLASHFORGE__LOG__LEVEL", "error"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let (settings, _) = Settings::load_from(Environment::Test, &config, vars).unwrap();
    let app = Application::build_with(
        settings,
        Hooks {
            handle_signals: false,
            ..Hooks::default()
        },
    )
    .await
    .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let stopped = tokio::spawn(app.run_until_stopped());
    Running {
        address,
        handle,
        stopped,
    }
}

/// Where the embedding model is (`make models`; `FLASHFORGE_MODEL_DIR` moves it).
pub fn model_dir() -> PathBuf {
    std::env::var_os("FLASHFORGE_MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/all-MiniLM-L6-v2").into()
        })
}

/// A fresh Postgres database at `FLASHFORGE_TEST_POSTGRES_URL`'s server, or `None` when it does
/// not answer.
pub async fn postgres_database(prefix: &str) -> Option<PgDatabase> {
    let admin_url = std::env::var("FLASHFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let admin = tokio::time::timeout(
        Duration::from_secs(5),
        flashforge_sql::connect(&admin_url, &Default::default()),
    )
    .await
    .ok()?
    .ok()?;
    let name = format!("{prefix}_{}", std::process::id());
    use flashforge_sql::sea_orm::ConnectionTrait;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .ok()?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .ok()?;
    let url = format!("{}/{name}", admin_url.rsplit_once('/')?.0);
    Some(PgDatabase { admin, name, url })
}

/// A benchmark's own Postgres database.
pub struct PgDatabase {
    admin: flashforge_sql::DatabaseConnection,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn drop(self) {
        use flashforge_sql::sea_orm::ConnectionTrait;
        let _ = self
            .admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await;
    }
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
