//! Composing the backend: an adapter for every port, chosen from the configuration.

use std::sync::Arc;
use std::time::Duration;

use flashforge_ai::{OfflineModel, OpenAiModel, OpenAiSettings};
use flashforge_auth::{
    Argon2Hasher, Argon2Settings, JwtAlgorithm, JwtKey, JwtSettings, JwtTokens, ZxcvbnStrength,
};
use flashforge_domain::Ports;
use flashforge_domain::assistant::{LanguageModel, MessageRepository};
use flashforge_domain::cache::{CacheLayer, CachedEmbedder, CachedModels, CachedSessions};
use flashforge_domain::clock::SystemClock;
use flashforge_domain::health::HealthCheck;
use flashforge_domain::knowledge::{DocumentRepository, Embedder, JobQueue};
use flashforge_domain::limits::RateLimitStore;
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

use super::error::StartupError;
use crate::database::open_database;
use crate::knowledge::knowledge_ports;
use crate::metrics::{MeteredEmbedder, MeteredModel};
use crate::settings::{
    AuthSettings, DatabaseKind, Environment, LlmProvider, LlmSettings, Settings,
};

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
        LlmProvider::Openai => Arc::new(
            OpenAiModel::new(OpenAiSettings {
                base_url: llm.base_url.clone(),
                api_key: llm.api_key.as_ref().map(|k| k.expose().to_string()),
                model: llm.model.clone(),
                models: llm.models.clone(),
                listed_only,
                max_tokens: llm.max_tokens,
                temperature: llm.temperature,
                timeout: Duration::from_secs(llm.timeout_secs),
                max_retries: llm.max_retries,
                retry_base: Duration::from_millis(500),
            })
            .map_err(|e| e.describe())?,
        ),
    })
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
    let rate_limit_store = rate_limit_store(settings, &mut health_checks).await?;
    let storage = Storage::open(settings, &mut health_checks).await?;
    let cache = cache_layer(settings).map_err(StartupError::Cache)?;
    let ttl = |secs: u64| Duration::from_secs(secs);
    let (mut knowledge, knowledge_checks) =
        knowledge_ports(settings, storage.documents, storage.jobs, embedder)
            .await
            .map_err(StartupError::Knowledge)?;
    health_checks.extend(knowledge_checks);
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
            settings.environment == Environment::Production,
        )
        .map_err(StartupError::Llm)?,
        &cache,
        settings,
    );
    health_checks.push(Arc::new(crate::readiness::LanguageModelHealth(
        language_model.clone(),
    )));
    Ok(Backend {
        cache: cache.clone(),
        ports: Ports {
            users: storage.users,
            sessions,
            chats: storage.chats,
            messages: storage.messages,
            knowledge,
            flashcards: storage.flashcards,
            generations: storage.generations,
            imports: storage.imports,
            deck_files: Arc::new(flashforge_anki::DeckFileFormats),
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
            shared_cache: settings.cache.redis_url().is_some().then(|| cache.clone()),
        },
        database: storage.database,
    })
}

/// The store of rate-limit counters: Redis (whose readiness joins `health_checks`) when
/// `rate_limit.redis_url` is set, else in this process.
async fn rate_limit_store(
    settings: &Settings,
    health_checks: &mut Vec<Arc<dyn HealthCheck>>,
) -> Result<Arc<dyn RateLimitStore>, StartupError> {
    Ok(match settings.rate_limit.redis_url() {
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
    })
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
    imports: Arc<dyn flashforge_domain::flashcards::ImportRepository>,
    database: Option<DatabaseConnection>,
}

impl Storage {
    /// The repositories of the database `database.url` names, opened (and migrated when
    /// `database.migrate_on_start`); its readiness check goes first in `health_checks`.
    async fn open(
        settings: &Settings,
        health_checks: &mut Vec<Arc<dyn HealthCheck>>,
    ) -> Result<Self, StartupError> {
        match settings.database.kind() {
            Some(DatabaseKind::Memory) => Ok(Self::in_memory()),
            Some(DatabaseKind::Postgres | DatabaseKind::Sqlite) => {
                let db = open_database(settings).await?;
                if settings.database.migrate_on_start {
                    migrate(&db, Migration::Up)
                        .await
                        .map_err(StartupError::Migrations)?;
                }
                health_checks.insert(0, Arc::new(SqlHealthCheck::new(db.clone())));
                Ok(Self::sql(db))
            }
            None => Err(StartupError::UnsupportedDatabase),
        }
    }

    fn in_memory() -> Self {
        let messages = Arc::new(InMemoryMessageRepository::new());
        let jobs = Arc::new(InMemoryJobQueue::new());
        Self {
            flashcards: Arc::new(InMemoryFlashcardRepository::new()),
            generations: Arc::new(InMemoryGenerationRepository::new(jobs.clone())),
            imports: Arc::new(flashforge_memory::InMemoryImportRepository::new(
                jobs.clone(),
            )),
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

    fn sql(db: DatabaseConnection) -> Self {
        Self {
            flashcards: Arc::new(SqlFlashcardRepository::new(db.clone())),
            generations: Arc::new(SqlGenerationRepository::new(db.clone())),
            imports: Arc::new(flashforge_sql::SqlImportRepository::new(db.clone())),
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
