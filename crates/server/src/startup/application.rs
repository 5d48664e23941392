//! The process: the HTTP server over the composed backend, the metrics and redirect
//! listeners, the background worker, and an orderly stop.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use flashforge_domain::Services;
use flashforge_domain::assistant::{LanguageModel, PassageSearch};
use flashforge_domain::health::HealthCheck;
use flashforge_domain::knowledge::Embedder;
use flashforge_http::metrics::{MetricsEndpoint, MetricsSource};
use flashforge_http::{AppState, ExtraRoutes, HttpSecurity, Limits, create_app, no_extra_routes};
use flashforge_sql::DatabaseConnection;

use super::compose::{Backend, compose_with, instrument_model};
use super::error::StartupError;
use super::services::{background_worker, service_settings};
use crate::metrics::ProcessMetrics;
use crate::settings::{ServerSettings, Settings};
use crate::shutdown::Drain;
use crate::tls;
use crate::worker::RunningWorker;

/// What the harness may add to a process: routes that exist only in tests, and extra
/// dependencies for readiness to check.
#[derive(Clone)]
pub struct Hooks {
    pub extra_routes: ExtraRoutes,
    pub extra_health_checks: Vec<Arc<dyn HealthCheck>>,
    /// Whether SIGTERM/SIGINT stop the server. Off for in-process test servers.
    pub handle_signals: bool,
    /// A language model to use instead of the configured one (the harness's scripted model).
    pub language_model: Option<Arc<dyn LanguageModel>>,
    /// Retrieval to use instead of the configured one.
    pub passages: Option<Arc<dyn PassageSearch>>,
    /// An embedder to use instead of the configured one.
    pub embedder: Option<Arc<dyn Embedder>>,
    /// A clock to use instead of the system's (a test that lives through months of reviews).
    pub clock: Option<Arc<dyn flashforge_domain::clock::Clock>>,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            extra_routes: no_extra_routes,
            extra_health_checks: Vec::new(),
            handle_signals: true,
            language_model: None,
            passages: None,
            embedder: None,
            clock: None,
        }
    }
}

impl Hooks {
    /// Puts the harness's additions and replacements into the composed backend.
    fn apply(&self, backend: &mut Backend, settings: &Settings) {
        backend
            .ports
            .health_checks
            .extend(self.extra_health_checks.iter().cloned());
        if let Some(model) = &self.language_model {
            backend.ports.language_model =
                instrument_model(model.clone(), &backend.cache, settings);
        }
        if let Some(passages) = &self.passages {
            backend.ports.passages = Some(passages.clone());
        }
        if let Some(clock) = &self.clock {
            backend.ports.clock = clock.clone();
        }
    }
}

pub struct Application {
    port: u16,
    server: Server,
    /// The plain-HTTP listener that redirects to HTTPS, and its port.
    redirect: Option<(Server, u16)>,
    /// The metrics listener, and its port.
    metrics: Option<(Server, u16)>,
    database: Option<DatabaseConnection>,
    worker: Option<RunningWorker>,
    shutdown_timeout: Duration,
    handle_signals: bool,
    /// Closes the listener ahead of a signalled stop.
    drain: Drain,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with(settings, Hooks::default()).await
    }

    /// Builds the process: adapters, services, the bound listener (port 0 picks a free port),
    /// and, when enabled, the background worker.
    pub async fn build_with(settings: Settings, hooks: Hooks) -> Result<Self, StartupError> {
        // Before anything is recorded: what comes before the recorder is lost.
        crate::metrics::install();
        let mut backend = compose_with(&settings, hooks.embedder.clone()).await?;
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        hooks.apply(&mut backend, &settings);
        let services = Arc::new(Services::new(
            backend.ports.clone(),
            service_settings(&settings),
        ));
        let drain = Drain::new(
            &listener,
            Some(services.clone()),
            Duration::from_millis(settings.server.shutdown_delay_ms),
        );
        let worker = settings.worker.enabled.then(|| {
            background_worker(&services, backend.ports.knowledge.index.clone(), &settings).start()
        });
        let tls = if settings.server.tls_enabled() {
            Some(tls::server_config(&settings.server)?)
        } else {
            None
        };
        let metrics_source: Arc<dyn MetricsSource> = Arc::new(ProcessMetrics {
            services: services.clone(),
            database: backend.database.clone(),
        });
        let metrics_server = metrics_listener(&settings, metrics_source.clone())?;
        let state = app_state(&settings, services, metrics_source, tls.is_some());
        let server = http_server(&settings.server, state, hooks.extra_routes, listener, tls)
            .map_err(bind_error)?;
        tracing::info!(
            address = %format!("{}:{port}", settings.server.host),
            tls = settings.server.tls_enabled(),
            environment = settings.environment.as_str(),
            "listening"
        );
        let redirect = redirect_listener(&settings.server, port)?;

        Ok(Self {
            port,
            server,
            redirect,
            metrics: metrics_server,
            database: backend.database,
            worker,
            shutdown_timeout: settings.shutdown_timeout(),
            handle_signals: hooks.handle_signals,
            drain,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the metrics listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    /// The port of the HTTP→HTTPS redirect listener, when there is one.
    pub fn redirect_port(&self) -> Option<u16> {
        self.redirect.as_ref().map(|(_, port)| *port)
    }

    /// Stops the server from outside (`stop(true)` is graceful).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped: on SIGTERM/SIGINT it turns unready, stops new connections and
    /// takes the ones already queued ([`Drain`]); then (as on a graceful stop through
    /// [`Self::handle`]) it stops accepting, lets in-flight requests finish within the shutdown
    /// timeout, stops the worker, and closes the pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let redirect = self.redirect.map(|(server, _)| {
            let handle = server.handle();
            (tokio::spawn(server), handle)
        });
        let metrics = self.metrics.map(|(server, _)| {
            let handle = server.handle();
            (tokio::spawn(server), handle)
        });
        let drain = self.drain;
        let signals = self.handle_signals.then(|| {
            tokio::spawn(async move {
                wait_for_signal().await;
                tracing::info!("shutdown signal received: draining the listener");
                drain.close().await;
                tracing::info!("finishing in-flight requests");
                handle.stop(true).await;
            })
        });
        let served = self.server.await;
        for (task, handle) in redirect.into_iter().chain(metrics) {
            handle.stop(true).await;
            let _ = task.await;
        }
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

/// What every request handler shares: the services, the body limits, the HTTP security
/// settings, and `/metrics` when a token is set.
fn app_state(
    settings: &Settings,
    services: Arc<Services>,
    metrics_source: Arc<dyn MetricsSource>,
    tls: bool,
) -> AppState {
    let server = &settings.server;
    AppState {
        metrics: settings
            .metrics
            .token
            .as_ref()
            .filter(|_| settings.metrics.enabled)
            .map(|token| MetricsEndpoint {
                source: metrics_source.clone(),
                token: token.expose().to_string(),
            }),
        services,
        limits: Limits {
            json_bytes: server.json_limit_bytes,
            body_bytes: server.body_limit_bytes,
            body_timeout: Duration::from_secs(server.body_timeout_secs),
            sse_keepalive: Duration::from_secs(server.sse_keepalive_secs),
            sse_idle: Duration::from_secs(server.sse_idle_timeout_secs),
        },
        security: HttpSecurity {
            trusted_proxies: server.trusted_proxies.clone(),
            cors_allowed_origins: server.cors_allowed_origins.clone(),
            cors_allow_credentials: server.cors_allow_credentials,
            hsts: tls || server.behind_tls_proxy,
            max_header_bytes: server.max_header_bytes,
        },
    }
}

/// The HTTP server on `listener` (over TLS with `tls`), running.
fn http_server(
    settings: &ServerSettings,
    state: AppState,
    extra: ExtraRoutes,
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
) -> std::io::Result<Server> {
    let mut server = HttpServer::new(move || create_app(state.clone(), extra))
        .shutdown_timeout(settings.shutdown_timeout_secs)
        // Streamed answers are many small writes: without this, Nagle's algorithm and the
        // client's delayed ACK hold each for ~40 ms.
        .tcp_nodelay(true)
        .keep_alive(Duration::from_secs(settings.keep_alive_secs))
        .client_request_timeout(Duration::from_millis(settings.client_request_timeout_ms))
        .disable_signals();
    if settings.workers > 0 {
        server = server.workers(settings.workers);
    }
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config),
        None => server.listen(listener),
    }?;
    Ok(server.run())
}

/// The plain-HTTP listener of `server.http_redirect_port` that redirects to HTTPS on
/// `https_port`, when one is set.
fn redirect_listener(
    settings: &ServerSettings,
    https_port: u16,
) -> Result<Option<(Server, u16)>, StartupError> {
    if settings.http_redirect_port == 0 {
        return Ok(None);
    }
    let (server, port) =
        tls::redirect_server(&settings.host, settings.http_redirect_port, https_port).map_err(
            |source| StartupError::Bind {
                address: format!("{}:{}", settings.host, settings.http_redirect_port),
                source,
            },
        )?;
    tracing::info!(port, "redirecting plain HTTP to HTTPS");
    Ok(Some((server, port)))
}

/// The metrics listener of `metrics.bind`, when metrics are on and it is set.
pub(super) fn metrics_listener(
    settings: &Settings,
    source: Arc<dyn MetricsSource>,
) -> Result<Option<(Server, u16)>, StartupError> {
    let m = &settings.metrics;
    if !m.enabled || m.bind.is_empty() {
        return Ok(None);
    }
    let (server, port) =
        crate::metrics::listener(&m.bind, source).map_err(|source| StartupError::Bind {
            address: m.bind.clone(),
            source,
        })?;
    tracing::info!(address = %m.bind, port, "serving metrics");
    Ok(Some((server, port)))
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
