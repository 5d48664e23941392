//! The composition root: picks an adapter for every port from the configuration, builds the
//! services, and runs the HTTP server and the background worker until a shutdown signal.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use flashforge_auth::{Argon2Hasher, Argon2Settings};
use flashforge_domain::accounts::PasswordPolicy;
use flashforge_domain::clock::SystemClock;
use flashforge_domain::health::HealthCheck;
use flashforge_domain::{Ports, ServiceSettings, Services};
use flashforge_http::{AppState, ExtraRoutes, Limits, create_app, no_extra_routes};
use flashforge_memory::InMemoryUserRepository;
use flashforge_sql::{
    DatabaseConnection, Migration, SqlHealthCheck, SqlUserRepository, connect, migrate,
};

use crate::settings::{DatabaseKind, Settings};
use crate::worker::{RunningWorker, Worker};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("auth: {0}")]
    Auth(String),
}

/// What the harness may add to a process: routes that exist only in tests, and extra
/// dependencies for readiness to check.
#[derive(Clone)]
pub struct Hooks {
    pub extra_routes: ExtraRoutes,
    pub extra_health_checks: Vec<Arc<dyn HealthCheck>>,
    /// Whether SIGTERM/SIGINT stop the server. Off for in-process test servers.
    pub handle_signals: bool,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            extra_routes: no_extra_routes,
            extra_health_checks: Vec::new(),
            handle_signals: true,
        }
    }
}

/// The adapters chosen for this process, and the pool to close at the end.
pub struct Backend {
    pub ports: Ports,
    pub database: Option<DatabaseConnection>,
}

/// Opens the database named by the configuration (running migrations when configured) and
/// builds every port's adapter.
pub async fn compose(settings: &Settings) -> Result<Backend, StartupError> {
    let hasher = Argon2Hasher::new(Argon2Settings {
        memory_kib: settings.auth.argon2_memory_kib,
        iterations: settings.auth.argon2_iterations,
        parallelism: settings.auth.argon2_parallelism,
        max_concurrent: settings.auth.argon2_max_concurrent,
    })
    .map_err(StartupError::Auth)?;

    match settings.database.kind() {
        Some(DatabaseKind::Memory) => Ok(Backend {
            ports: Ports {
                users: Arc::new(InMemoryUserRepository::new()),
                password_hasher: Arc::new(hasher),
                clock: Arc::new(SystemClock),
                health_checks: Vec::new(),
            },
            database: None,
        }),
        Some(DatabaseKind::Postgres | DatabaseKind::Sqlite) => {
            let db = open_database(settings).await?;
            if settings.database.migrate_on_start {
                migrate(&db, Migration::Up)
                    .await
                    .map_err(|e| StartupError::Database(format!("migrations failed: {e}")))?;
            }
            Ok(Backend {
                ports: Ports {
                    users: Arc::new(SqlUserRepository::new(db.clone())),
                    password_hasher: Arc::new(hasher),
                    clock: Arc::new(SystemClock),
                    health_checks: vec![Arc::new(SqlHealthCheck::new(db.clone()))],
                },
                database: Some(db),
            })
        }
        None => Err(StartupError::Database(
            "database.url names no supported database".into(),
        )),
    }
}

/// Opens the configured database without touching its schema.
pub async fn open_database(settings: &Settings) -> Result<DatabaseConnection, StartupError> {
    connect(settings.database.url.expose(), &settings.database.pool())
        .await
        .map_err(|e| StartupError::Database(format!("cannot connect: {e}")))
}

/// The background tasks of this process. The ingestion job queue and the token sweeper join
/// here as their features land.
pub fn background_worker(_backend: &Backend) -> Worker {
    Worker::new()
}

pub struct Application {
    port: u16,
    server: Server,
    database: Option<DatabaseConnection>,
    worker: Option<RunningWorker>,
    shutdown_timeout: Duration,
    handle_signals: bool,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Hooks::default()).await
    }

    /// Builds the process: adapters, services, the bound listener (port 0 picks a free port),
    /// and, when enabled, the background worker.
    pub async fn build_with(settings: Settings, hooks: Hooks) -> Result<Self, StartupError> {
        let mut backend = compose(&settings).await?;
        backend
            .ports
            .health_checks
            .extend(hooks.extra_health_checks.iter().cloned());
        let worker = settings
            .worker
            .enabled
            .then(|| background_worker(&backend).start());

        let services = Services::new(
            backend.ports.clone(),
            ServiceSettings {
                password_policy: PasswordPolicy {
                    min_chars: settings.auth.password_min_length,
                    max_chars: settings.auth.password_max_length,
                },
                readiness_timeout: Duration::from_millis(settings.health.readiness_timeout_ms),
            },
        );
        let state = AppState {
            services: Arc::new(services),
            limits: Limits {
                json_bytes: settings.server.json_limit_bytes,
                body_bytes: settings.server.body_limit_bytes,
            },
        };

        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let extra = hooks.extra_routes;
        let mut server = HttpServer::new(move || create_app(state.clone(), extra))
            .shutdown_timeout(settings.server.shutdown_timeout_secs)
            .keep_alive(Duration::from_secs(settings.server.keep_alive_secs))
            .client_request_timeout(Duration::from_millis(
                settings.server.client_request_timeout_ms,
            ))
            .disable_signals();
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.listen(listener).map_err(bind_error)?.run();
        tracing::info!(
            address = %format!("{}:{port}", settings.server.host),
            environment = settings.environment.as_str(),
            "listening"
        );

        Ok(Self {
            port,
            server,
            database: backend.database,
            worker,
            shutdown_timeout: settings.shutdown_timeout(),
            handle_signals: hooks.handle_signals,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from outside (`stop(true)` is graceful).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped: on SIGTERM/SIGINT (or a graceful stop through [`Self::handle`]) it
    /// stops accepting, lets in-flight requests finish within the shutdown timeout, stops the
    /// worker, and closes the pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let signals = self.handle_signals.then(|| {
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutdown signal received: finishing in-flight requests");
                handle.stop(true).await;
            })
        });
        let served = self.server.await;
        if let Some(signals) = signals {
            signals.abort();
        }
        if let Some(worker) = self.worker {
            worker.shutdown(self.shutdown_timeout).await;
        }
        if let Some(db) = self.database
            && let Err(e) = db.close().await
        {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
        tracing::info!("stopped");
        served
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the server");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs only the background worker until SIGTERM/SIGINT (`flashforge worker`).
pub async fn run_worker(settings: Settings) -> Result<(), StartupError> {
    let backend = compose(&settings).await?;
    let worker = background_worker(&backend);
    tracing::info!(tasks = worker.task_count(), "worker started");
    let running = worker.start();
    wait_for_signal().await;
    tracing::info!("shutdown signal received: stopping the worker");
    running.shutdown(settings.shutdown_timeout()).await;
    if let Some(db) = backend.database {
        let _ = db.close().await;
    }
    Ok(())
}
