//! The composition root: picks an adapter for every port from the configuration, builds the
//! services, and runs the HTTP server and the background worker until a shutdown signal.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::{Server, ServerHandle};
use flashforge_ai::{OfflineModel, OpenAiModel, OpenAiSettings};
use flashforge_auth::{
    Argon2Hasher, Argon2Settings, JwtAlgorithm, JwtKey, JwtSettings, JwtTokens, ZxcvbnStrength,
};
use flashforge_domain::accounts::{AccountSettings, PasswordPolicy};
use flashforge_domain::assistant::{
    AssistantSettings, LanguageModel, MessageRepository, PassageSearch,
};
use flashforge_domain::cache::{CacheLayer, CachedEmbedder, CachedModels, CachedSessions};
use flashforge_domain::clock::SystemClock;
use flashforge_domain::health::HealthCheck;
use flashforge_domain::knowledge::{DocumentRepository, Embedder, JobQueue};
use flashforge_domain::limits::RateLimitStore;
use flashforge_domain::spend::SpendSettings;
use flashforge_domain::{Ports, ServiceSettings, Services};
use flashforge_http::metrics::{MetricsEndpoint, MetricsSource};
use flashforge_http::{AppState, ExtraRoutes, HttpSecurity, Limits, create_app, no_extra_routes};
use flashforge_memory::{
    InMemoryChatRepository, InMemoryDocumentRepository, InMemoryFlashcardRepository,
    InMemoryGenerationRepository, InMemoryJobQueue, InMemoryMessageRepository,
    InMemoryRateLimitStore, InMemorySessionRepository, InMemoryUsageLedger, InMemoryUserRepository,
};
use flashforge_redis::{RedisHealthCheck, RedisRateLimitStore};
use flashforge_sql::{
    DatabaseConnection, Migration, SqlChatRepository, SqlDocumentRepository,
    SqlFlashcardRepository, SqlGenerationRepository, SqlHealthCheck, SqlJobQueue,
    SqlMessageRepository, SqlSessionRepository, SqlUsageLedger, SqlUserRepository, migrate,
};

use crate::database::open_database;
use crate::knowledge::{knowledge_ports, knowledge_settings};
use crate::metrics::{MeteredEmbedder, MeteredModel, ProcessMetrics};
use crate::settings::{AuthSettings, DatabaseKind, LlmProvider, LlmSettings, Settings};
use crate::shutdown::Drain;
use crate::tls;
use crate::worker::{Jobs, RunningWorker, SessionSweep, Worker};

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
    #[error("rate limits: {0}")]
    RateLimits(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("llm: {0}")]
    Llm(String),
    #[error("knowledge base: {0}")]
    Knowledge(String),
    #[error("cache: {0}")]
    Cache(String),
}

/// The configured language model.
///
/// With `listed_only` (production), clients may pick only the models `llm.models` lists (the
/// default model when it lists none), never whatever else the provider offers.
pub fn language_model(
    llm: &LlmSettings,
    listed_only: bool,
) -> Result<Arc<dyn LanguageModel>, String> {
    Ok(match llm.provider {
        LlmProvider::Offline => Arc::new(OfflineModel),
        LlmProvider::Openai => Arc::new(OpenAiModel::new(OpenAiSettings {
            base_url: llm.base_url.clone(),
            api_key: llm.api_key.as_ref().map(|k| k.expose().to_string()),
            model: llm.model.clone(),
            models: llm.models.clone(),
            listed_only,
            max_tokens: llm.max_tokens,
            timeout: Duration::from_secs(llm.timeout_secs),
            max_retries: llm.max_retries,
            retry_base: Duration::from_millis(500),
        })?),
    })
}

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

/// The adapters chosen for this process, and the pool to close at the end.
pub struct Backend {
    pub ports: Ports,
    /// The cache the ports use (for the language model a hook puts in).
    pub cache: CacheLayer,
    pub database: Option<DatabaseConnection>,
}

/// Opens the database named by the configuration (running migrations when configured) and
/// builds every port's adapter.
pub async fn compose(settings: &Settings) -> Result<Backend, StartupError> {
    compose_with(settings, None).await
}

/// [`compose`], with an embedder chosen by the caller.
pub async fn compose_with(
    settings: &Settings,
    embedder: Option<Arc<dyn Embedder>>,
) -> Result<Backend, StartupError> {
    let hasher = Argon2Hasher::new(Argon2Settings {
        memory_kib: settings.auth.argon2_memory_kib,
        iterations: settings.auth.argon2_iterations,
        parallelism: settings.auth.argon2_parallelism,
        max_concurrent: settings.auth.hashing_threads(),
    })
    .map_err(StartupError::Auth)?;
    let access_tokens = Arc::new(jwt_tokens(&settings.auth).map_err(StartupError::Auth)?);
    let password_strength = Arc::new(ZxcvbnStrength::new(settings.auth.password_min_score));
    let mut health_checks: Vec<Arc<dyn HealthCheck>> = Vec::new();

    let rate_limit_store: Arc<dyn RateLimitStore> = match settings.rate_limit.redis_url() {
        Some(url) => {
            let store = RedisRateLimitStore::connect(
                url,
                &settings.rate_limit.key_prefix,
                Duration::from_millis(settings.rate_limit.redis_timeout_ms),
            )
            .await
            .map_err(StartupError::RateLimits)?;
            health_checks.push(Arc::new(RedisHealthCheck::new(store.clone())));
            Arc::new(store)
        }
        None => Arc::new(InMemoryRateLimitStore::new()),
    };

    let storage = match settings.database.kind() {
        Some(DatabaseKind::Memory) => {
            let messages = Arc::new(InMemoryMessageRepository::new());
            let jobs = Arc::new(InMemoryJobQueue::new());
            Storage {
                flashcards: Arc::new(InMemoryFlashcardRepository::new()),
                generations: Arc::new(InMemoryGenerationRepository::new(jobs.clone())),
                users: Arc::new(InMemoryUserRepository::new()),
                sessions: Arc::new(InMemorySessionRepository::new()),
                chats: Arc::new(InMemoryChatRepository::with_messages(messages.clone())),
                messages,
                ledger: Arc::new(InMemoryUsageLedger::new()),
                documents: Arc::new(InMemoryDocumentRepository::new(jobs.clone())),
                jobs,
                database: None,
            }
        }
        Some(DatabaseKind::Postgres | DatabaseKind::Sqlite) => {
            let db = open_database(settings)
                .await
                .map_err(|e| StartupError::Database(e.to_string()))?;
            if settings.database.migrate_on_start {
                migrate(&db, Migration::Up)
                    .await
                    .map_err(|e| StartupError::Database(format!("migrations failed: {e}")))?;
            }
            health_checks.insert(0, Arc::new(SqlHealthCheck::new(db.clone())));
            Storage {
                flashcards: Arc::new(SqlFlashcardRepository::new(db.clone())),
                generations: Arc::new(SqlGenerationRepository::new(db.clone())),
                users: Arc::new(SqlUserRepository::new(db.clone())),
                sessions: Arc::new(SqlSessionRepository::new(db.clone())),
                chats: Arc::new(SqlChatRepository::new(db.clone())),
                messages: Arc::new(SqlMessageRepository::new(db.clone())),
                ledger: Arc::new(SqlUsageLedger::new(db.clone())),
                documents: Arc::new(SqlDocumentRepository::new(db.clone())),
                jobs: Arc::new(SqlJobQueue::new(db.clone())),
                database: Some(db),
            }
        }
        None => {
            return Err(StartupError::Database(
                "database.url names no supported database".into(),
            ));
        }
    };
    let cache = cache_layer(settings).map_err(StartupError::Cache)?;
    let ttl = |secs: u64| Duration::from_secs(secs);
    let mut knowledge = knowledge_ports(settings, storage.documents, storage.jobs, embedder)
        .await
        .map_err(StartupError::Knowledge)?;
    knowledge.embedder = Arc::new(CachedEmbedder::new(
        Arc::new(MeteredEmbedder(knowledge.embedder)),
        cache.clone(),
        ttl(settings.cache.embedding_ttl_secs),
    ));
    let sessions: Arc<dyn flashforge_domain::accounts::SessionRepository> =
        Arc::new(CachedSessions::new(
            storage.sessions,
            cache.clone(),
            ttl(settings.cache.user_ttl_secs),
        ));
    let language_model = instrument_model(
        language_model(
            &settings.llm,
            settings.environment == crate::settings::Environment::Production,
        )
        .map_err(StartupError::Llm)?,
        &cache,
        settings,
    );
    health_checks.push(Arc::new(crate::knowledge::VectorIndexHealth(
        knowledge.index.clone(),
    )));
    Ok(Backend {
        cache,
        ports: Ports {
            users: storage.users,
            sessions,
            chats: storage.chats,
            messages: storage.messages,
            knowledge,
            flashcards: storage.flashcards,
            generations: storage.generations,
            memory_model: Arc::new(
                flashforge_fsrs::FsrsModel::new().map_err(StartupError::Knowledge)?,
            ),
            passages: None,
            language_model,
            usage_ledger: storage.ledger,
            password_hasher: Arc::new(hasher),
            password_strength,
            access_tokens,
            rate_limit_store,
            clock: Arc::new(SystemClock),
            health_checks,
        },
        database: storage.database,
    })
}

/// The metrics listener of `metrics.bind`, when metrics are on and it is set.
fn metrics_listener(
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

/// The cache from the `cache` section: Redis when configured, else in this process.
pub fn cache_layer(settings: &Settings) -> Result<CacheLayer, String> {
    let cache: Arc<dyn flashforge_domain::cache::Cache> = match settings.cache.redis_url() {
        Some(url) => Arc::new(flashforge_redis::RedisCache::new(
            url,
            &settings.cache.key_prefix,
            Duration::from_millis(settings.cache.redis_timeout_ms),
        )?),
        None => Arc::new(flashforge_memory::InProcessCache::new(
            settings.cache.max_entries,
        )),
    };
    Ok(CacheLayer::new(cache))
}

/// The language model, timed for metrics and its model list cached.
pub fn instrument_model(
    model: Arc<dyn LanguageModel>,
    cache: &CacheLayer,
    settings: &Settings,
) -> Arc<dyn LanguageModel> {
    Arc::new(CachedModels::new(
        Arc::new(MeteredModel(model)),
        cache.clone(),
        Duration::from_secs(settings.cache.models_ttl_secs),
    ))
}

/// The repositories of one database (or of memory).
struct Storage {
    users: Arc<dyn flashforge_domain::accounts::UserRepository>,
    sessions: Arc<dyn flashforge_domain::accounts::SessionRepository>,
    chats: Arc<dyn flashforge_domain::chats::ChatRepository>,
    messages: Arc<dyn MessageRepository>,
    ledger: Arc<dyn flashforge_domain::spend::UsageLedger>,
    documents: Arc<dyn DocumentRepository>,
    jobs: Arc<dyn JobQueue>,
    flashcards: Arc<dyn flashforge_domain::flashcards::FlashcardRepository>,
    generations: Arc<dyn flashforge_domain::flashcards::GenerationRepository>,
    database: Option<DatabaseConnection>,
}

/// The access-token issuer from the `auth` section: the active key and any previous ones.
pub fn jwt_tokens(auth: &AuthSettings) -> Result<JwtTokens, String> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let active = match auth.jwt_algorithm {
        JwtAlgorithm::HS256 => {
            let secret = auth
                .jwt_secret
                .as_ref()
                .ok_or("auth.jwt_secret is not set")?;
            JwtKey::hs256(secret.expose().as_bytes(), auth.jwt_key_id.clone())
        }
        algorithm => {
            let private = read(
                auth.jwt_private_key_file
                    .as_deref()
                    .ok_or("auth.jwt_private_key_file is not set")?,
            )?;
            let public = read(
                auth.jwt_public_key_file
                    .as_deref()
                    .ok_or("auth.jwt_public_key_file is not set")?,
            )?;
            JwtKey::from_pem(algorithm, Some(&private), &public, auth.jwt_key_id.clone())?
        }
    };
    let mut previous = Vec::new();
    for key in &auth.jwt_previous_keys {
        previous.push(match (key.algorithm, &key.secret, &key.public_key_file) {
            (JwtAlgorithm::HS256, Some(secret), _) => {
                JwtKey::hs256(secret.expose().as_bytes(), key.kid.clone())
            }
            (algorithm, _, Some(path)) if algorithm != JwtAlgorithm::HS256 => {
                JwtKey::from_pem(algorithm, None, &read(path)?, key.kid.clone())?
            }
            _ => return Err("a previous JWT key lacks its secret or public key file".into()),
        });
    }
    JwtTokens::new(
        JwtSettings {
            issuer: auth.jwt_issuer.clone(),
            audience: auth.jwt_audience.clone(),
            lifetime: Duration::from_secs(auth.access_token_ttl_secs),
            leeway: Duration::from_secs(auth.jwt_leeway_secs),
        },
        active,
        previous,
    )
}

/// The key refresh-token successors are derived with: from the signing key (the HS256 secret
/// or the private key file), so that every instance derives the same successor.
fn rotation_key(settings: &Settings) -> flashforge_domain::accounts::RotationKey {
    use sha2::{Digest, Sha256};
    let material = match (
        &settings.auth.jwt_secret,
        &settings.auth.jwt_private_key_file,
    ) {
        (Some(secret), _) if !secret.expose().is_empty() => secret.expose().as_bytes().to_vec(),
        (_, Some(path)) => match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(_) => return flashforge_domain::accounts::RotationKey::random(),
        },
        _ => return flashforge_domain::accounts::RotationKey::random(),
    };
    let mut hasher = Sha256::new();
    hasher.update(b"flashforge refresh-token rotation v1\0");
    hasher.update(&material);
    flashforge_domain::accounts::RotationKey::new(hasher.finalize().into())
}

/// The service settings from the configuration.
pub fn service_settings(settings: &Settings) -> ServiceSettings {
    ServiceSettings {
        accounts: AccountSettings {
            password_policy: PasswordPolicy {
                min_chars: settings.auth.password_min_length,
                max_chars: settings.auth.password_max_length,
            },
            refresh_token_ttl: Duration::from_secs(settings.auth.refresh_token_ttl_secs),
            session_max_age: Duration::from_secs(settings.auth.session_max_age_secs),
            refresh_grace: Duration::from_secs(settings.auth.refresh_grace_secs),
            rotation_key: rotation_key(settings),
        },
        assistant: AssistantSettings {
            passages: settings.assistant.passages,
            history_messages: settings.assistant.history_messages,
            history_chars: settings.assistant.history_chars,
            max_message_chars: settings.assistant.max_message_chars,
            abandoned_after: Duration::from_secs(settings.assistant.abandoned_stream_secs),
        },
        knowledge: knowledge_settings(settings),
        jobs: settings.worker.policy(),
        quotas: settings.quotas.policy(),
        rate_limits: settings.rate_limit.policy(),
        spend: SpendSettings {
            daily_tokens: settings.assistant.daily_token_budget,
            max_completion_tokens: settings.llm.max_tokens,
            max_concurrent_calls: settings.llm.max_concurrent_calls_per_user,
        },
        readiness_timeout: Duration::from_millis(settings.health.readiness_timeout_ms),
    }
}

/// The background tasks of this process: the sweep of ended sessions and `worker.concurrency`
/// job loops.
pub fn background_worker(services: &Arc<Services>, settings: &Settings) -> Worker {
    let mut worker = Worker::new().with_task(Arc::new(SessionSweep::new(services.clone())));
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    for n in 0..settings.worker.concurrency {
        worker = worker.with_task(Arc::new(Jobs::new(
            services.jobs.clone(),
            format!("{host}:{}:{n}", std::process::id()),
            Duration::from_millis(settings.worker.poll_interval_ms),
        )));
    }
    if settings.backup.interval_hours > 0 {
        worker = worker.with_task(Arc::new(crate::backup::ScheduledBackup::new(
            settings.clone(),
        )));
    }
    worker
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
        let mut backend = compose_with(&settings, hooks.embedder.clone()).await?;
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let bind_error = |source| StartupError::Bind {
            address: address.clone(),
            source,
        };
        let listener = TcpListener::bind(&address).map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        backend
            .ports
            .health_checks
            .extend(hooks.extra_health_checks.iter().cloned());
        if let Some(model) = &hooks.language_model {
            backend.ports.language_model =
                instrument_model(model.clone(), &backend.cache, &settings);
        }
        if let Some(passages) = &hooks.passages {
            backend.ports.passages = Some(passages.clone());
        }
        if let Some(clock) = &hooks.clock {
            backend.ports.clock = clock.clone();
        }
        let services = Arc::new(Services::new(
            backend.ports.clone(),
            service_settings(&settings),
        ));
        let drain = Drain::new(
            &listener,
            Some(services.clone()),
            Duration::from_millis(settings.server.shutdown_delay_ms),
        );
        let worker = settings
            .worker
            .enabled
            .then(|| background_worker(&services, &settings).start());
        let tls = if settings.server.tls_enabled() {
            Some(tls::server_config(&settings.server).map_err(StartupError::Tls)?)
        } else {
            None
        };
        let metrics_source: Arc<dyn MetricsSource> = Arc::new(ProcessMetrics {
            services: services.clone(),
            database: backend.database.clone(),
        });
        let metrics_server = metrics_listener(&settings, metrics_source.clone())?;
        let state = AppState {
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
                json_bytes: settings.server.json_limit_bytes,
                body_bytes: settings.server.body_limit_bytes,
                body_timeout: Duration::from_secs(settings.server.body_timeout_secs),
                sse_keepalive: Duration::from_secs(settings.server.sse_keepalive_secs),
                sse_idle: Duration::from_secs(settings.server.sse_idle_timeout_secs),
            },
            security: HttpSecurity {
                trusted_proxies: settings.server.trusted_proxies.clone(),
                cors_allowed_origins: settings.server.cors_allowed_origins.clone(),
                cors_allow_credentials: settings.server.cors_allow_credentials,
                hsts: tls.is_some() || settings.server.behind_tls_proxy,
                max_header_bytes: settings.server.max_header_bytes,
            },
        };

        let extra = hooks.extra_routes;
        let mut server = HttpServer::new(move || create_app(state.clone(), extra))
            .shutdown_timeout(settings.server.shutdown_timeout_secs)
            // Streamed answers are many small writes: without this, Nagle's algorithm and the
            // client's delayed ACK hold each for ~40 ms.
            .tcp_nodelay(true)
            .keep_alive(Duration::from_secs(settings.server.keep_alive_secs))
            .client_request_timeout(Duration::from_millis(
                settings.server.client_request_timeout_ms,
            ))
            .disable_signals();
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config),
            None => server.listen(listener),
        }
        .map_err(bind_error)?
        .run();
        tracing::info!(
            address = %format!("{}:{port}", settings.server.host),
            tls = settings.server.tls_enabled(),
            environment = settings.environment.as_str(),
            "listening"
        );
        let redirect = if settings.server.http_redirect_port != 0 {
            let (server, redirect_port) = tls::redirect_server(
                &settings.server.host,
                settings.server.http_redirect_port,
                port,
            )
            .map_err(|source| StartupError::Bind {
                address: format!(
                    "{}:{}",
                    settings.server.host, settings.server.http_redirect_port
                ),
                source,
            })?;
            tracing::info!(port = redirect_port, "redirecting plain HTTP to HTTPS");
            Some((server, redirect_port))
        } else {
            None
        };

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
    let services = Arc::new(Services::new(
        backend.ports.clone(),
        service_settings(&settings),
    ));
    let worker = background_worker(&services, &settings);
    tracing::info!(tasks = worker.task_count(), "worker started");
    let running = worker.start();
    let metrics = metrics_listener(
        &settings,
        Arc::new(ProcessMetrics {
            services: services.clone(),
            database: backend.database.clone(),
        }),
    )?
    .map(|(server, _)| {
        let handle = server.handle();
        (tokio::spawn(server), handle)
    });
    wait_for_signal().await;
    if let Some((task, handle)) = metrics {
        handle.stop(true).await;
        let _ = task.await;
    }
    tracing::info!("shutdown signal received: stopping the worker");
    running.shutdown(settings.shutdown_timeout()).await;
    if let Some(db) = backend.database {
        let _ = db.close().await;
    }
    Ok(())
}

/// `flashforge kb reconcile`.
pub async fn reconcile(
    settings: Settings,
) -> Result<flashforge_domain::knowledge::ReconcileReport, StartupError> {
    let backend = compose(&settings).await?;
    let services = Services::new(backend.ports.clone(), service_settings(&settings));
    let report = services
        .knowledge
        .reconcile()
        .await
        .map_err(|e| StartupError::Knowledge(flashforge_domain::error::chain(&e)))?;
    if let Some(db) = backend.database {
        let _ = db.close().await;
    }
    Ok(report)
}

/// `flashforge kb reindex`: embeds every chunk with the configured model into a new index
/// generation and switches to it when done. The old index keeps serving until the switch.
pub async fn reindex(settings: Settings) -> Result<u64, StartupError> {
    use crate::settings::VectorProvider;
    let fail = |e: String| StartupError::Knowledge(e);
    let embedder = crate::knowledge::embedder(&settings).map_err(fail)?;
    let model = embedder.model().clone();
    // The current index may hold another model: open the database side only.
    let mut for_services = settings.clone();
    for_services.vector.provider = VectorProvider::Memory;
    let backend = compose(&for_services).await?;
    let services = Services::new(backend.ports.clone(), service_settings(&settings));
    let written = match settings.vector.provider {
        VectorProvider::Memory => {
            return Err(fail(
                "vector.provider is memory: there is no index to rebuild".into(),
            ));
        }
        VectorProvider::Embedded => {
            let _lock = crate::knowledge::lock_index_dir(&settings.vector.dir).map_err(fail)?;
            let dir = settings.vector.dir.clone();
            let target = tokio::task::spawn_blocking(move || {
                flashforge_vector::EdgeVectorIndex::create_generation(&dir, &model)
            })
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(fail)?;
            let written = services
                .knowledge
                .reindex_into(embedder.as_ref(), &target)
                .await
                .map_err(|e| fail(flashforge_domain::error::chain(&e)))?;
            target.activate().map_err(fail)?;
            written
        }
        VectorProvider::Qdrant => {
            let v = &settings.vector;
            let target = flashforge_vector::QdrantVectorIndex::create_generation(
                &v.qdrant_url,
                v.qdrant_api_key.as_ref().map(|k| k.expose().to_string()),
                &v.collection,
                &model,
            )
            .await
            .map_err(fail)?;
            let written = services
                .knowledge
                .reindex_into(embedder.as_ref(), &target)
                .await
                .map_err(|e| fail(flashforge_domain::error::chain(&e)))?;
            target.activate().await.map_err(fail)?;
            written
        }
    };
    if let Some(db) = backend.database {
        let _ = db.close().await;
    }
    Ok(written)
}
