//! Typed, validated configuration.
//!
//! Layers, each overriding the one before: defaults embedded in the binary → `config/default.toml`
//! → `config/{FLASHFORGE_ENV}.toml` → `.env` (development only) → `FLASHFORGE__SECTION__KEY`
//! environment variables. Validation names every bad key at once; the process refuses to start
//! on any of them.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The defaults, as built into the binary.
const EMBEDDED_DEFAULTS: &str = include_str!("../../../config/default.toml");

/// Which deployment this process belongs to, from `FLASHFORGE_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Test,
    Staging,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Development => "development",
            Environment::Test => "test",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "staging" => Ok(Self::Staging),
            "production" | "prod" => Ok(Self::Production),
            other => Err(format!(
                "FLASHFORGE_ENV: `{other}` is not one of development, test, staging, production"
            )),
        }
    }
}

/// A configuration secret: never shown by `Debug`, serialized as `[REDACTED]`.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[REDACTED]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Set from `FLASHFORGE_ENV`, not from files.
    #[serde(skip_deserializing, default = "default_environment")]
    pub environment: Environment,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub rate_limit: RateLimitSettings,
    pub assistant: AssistantConfig,
    pub llm: LlmSettings,
    pub knowledge: KnowledgeConfig,
    pub storage: StorageSettings,
    pub embedding: EmbeddingSettings,
    pub vector: VectorSettings,
    pub log: LogSettings,
    pub worker: WorkerSettings,
    pub health: HealthSettings,
    pub backup: BackupSettings,
    pub metrics: MetricsSettings,
    pub cache: CacheSettings,
    pub quotas: QuotaSettings,
}

/// Per-user quotas; 0 = none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSettings {
    /// Original files kept, MiB.
    pub storage_mb: u64,
    pub documents: u64,
    pub chunks: u64,
    pub cards: u64,
    /// Ingestions and generations waiting or running.
    pub queued_jobs: u64,
}

impl QuotaSettings {
    pub fn policy(&self) -> flashforge_domain::quotas::QuotaPolicy {
        flashforge_domain::quotas::QuotaPolicy {
            storage_bytes: self.storage_mb.saturating_mul(1024 * 1024),
            documents: self.documents,
            chunks: self.chunks,
            cards: self.cards,
            queued_jobs: self.queued_jobs,
        }
    }
}

fn default_environment() -> Environment {
    Environment::Development
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// After SIGTERM/SIGINT, how long the server goes on accepting while readiness reports it
    /// stopping (load balancers take it out), before it closes the listener.
    pub shutdown_delay_ms: u64,
    pub keep_alive_secs: u64,
    pub client_request_timeout_ms: u64,
    /// A request body that makes no progress for this long is cut off (408).
    pub body_timeout_secs: u64,
    /// While an answer streams, a comment line this often keeps proxies from closing it.
    pub sse_keepalive_secs: u64,
    /// A stream that has sent no event for this long ends.
    pub sse_idle_timeout_secs: u64,
    /// The most bytes of header names and values one request may carry.
    pub max_header_bytes: usize,
    pub json_limit_bytes: usize,
    pub body_limit_bytes: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins browsers may call the API from.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    #[serde(default)]
    pub cors_allow_credentials: bool,
    /// PEM certificate chain and private key: both set turns TLS on.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// With TLS on: a plain-HTTP port that redirects to HTTPS (0 = none).
    #[serde(default)]
    pub http_redirect_port: u16,
    /// A TLS-terminating proxy is in front: send HSTS even though this process speaks HTTP.
    #[serde(default)]
    pub behind_tls_proxy: bool,
}

impl AuthSettings {
    /// Hashing threads: as configured, or (0) one less than the cores, at least one, so that a
    /// login storm always leaves a core to serve other requests.
    pub fn hashing_threads(&self) -> usize {
        if self.argon2_max_concurrent > 0 {
            return self.argon2_max_concurrent;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cores.saturating_sub(1).max(1)
    }
}

impl ServerSettings {
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert_file.is_some() && self.tls_key_file.is_some()
    }
}

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
}

/// A key that no longer signs but still verifies, during a rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousJwtKey {
    pub algorithm: flashforge_auth::JwtAlgorithm,
    /// The key id tokens signed with it carry.
    pub kid: Option<String>,
    /// For HS256.
    pub secret: Option<Secret>,
    /// For EdDSA and RS256.
    pub public_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_algorithm: flashforge_auth::JwtAlgorithm,
    /// The HS256 key.
    #[serde(default)]
    pub jwt_secret: Option<Secret>,
    /// For EdDSA and RS256: PKCS#8 private key and public key, PEM.
    #[serde(default)]
    pub jwt_private_key_file: Option<PathBuf>,
    #[serde(default)]
    pub jwt_public_key_file: Option<PathBuf>,
    /// The `kid` of the active key; derived from the key when unset.
    #[serde(default)]
    pub jwt_key_id: Option<String>,
    #[serde(default)]
    pub jwt_previous_keys: Vec<PreviousJwtKey>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_leeway_secs: u64,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// A refresh token presented again this soon after its rotation gets the same new pair.
    pub refresh_grace_secs: u64,
    pub session_max_age_secs: u64,
    /// zxcvbn score (0–4) a new password needs.
    pub password_min_score: u8,
    pub password_min_length: usize,
    pub password_max_length: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub argon2_max_concurrent: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
    /// OTLP/HTTP traces endpoint, e.g. `http://otel-collector:4318/v1/traces`: spans are exported
    /// there. Unset or empty: no export.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    #[serde(default = "default_otlp_service_name")]
    pub otlp_service_name: String,
}

fn default_otlp_service_name() -> String {
    "flashforge".into()
}

impl LogSettings {
    /// The OTLP traces endpoint, unless unset or empty.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// `redis://…`: share limits across instances. Unset: in-process.
    #[serde(default)]
    pub redis_url: Option<Secret>,
    pub key_prefix: String,
    pub redis_timeout_ms: u64,
    pub login_failures_before_backoff: u64,
    pub login_backoff_base_secs: u64,
    pub login_backoff_max_secs: u64,
    pub login_failure_window_secs: u64,
    /// Failures from one address (any account), or of one account (any address), before
    /// logins there are slowed down; and the longest such a hold lasts.
    pub login_failures_before_slowdown: u64,
    pub login_slowdown_max_secs: u64,
    pub registrations_per_ip_per_hour: u64,
    pub reads_per_minute: u64,
    pub writes_per_minute: u64,
    /// The bits of an IPv6 address that name one client in every per-address limit.
    pub ipv6_prefix: u8,
}

impl RateLimitSettings {
    pub fn policy(&self) -> flashforge_domain::limits::RateLimitPolicy {
        use flashforge_domain::limits::{Quota, RateLimitPolicy};
        RateLimitPolicy {
            enabled: self.enabled,
            login_failures_before_backoff: self.login_failures_before_backoff,
            login_backoff_base: Duration::from_secs(self.login_backoff_base_secs),
            login_backoff_max: Duration::from_secs(self.login_backoff_max_secs),
            login_failure_window: Duration::from_secs(self.login_failure_window_secs),
            login_failures_before_slowdown: self.login_failures_before_slowdown,
            login_slowdown_max: Duration::from_secs(self.login_slowdown_max_secs),
            registrations_per_ip: Quota::per_hour(self.registrations_per_ip_per_hour),
            reads_per_client: Quota::per_minute(self.reads_per_minute),
            writes_per_client: Quota::per_minute(self.writes_per_minute),
            ipv6_prefix: self.ipv6_prefix,
        }
    }

    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url
            .as_ref()
            .map(Secret::expose)
            .filter(|url| !url.is_empty())
    }
}

/// How answers are grounded and bounded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssistantConfig {
    pub passages: usize,
    pub history_messages: u64,
    pub history_chars: usize,
    pub max_message_chars: usize,
    /// Tokens a user's model calls (answers and flashcard generations) may use per UTC day;
    /// 0 for no limit.
    pub daily_token_budget: u64,
    /// A streamed answer nobody follows for this long is stopped and its tokens counted.
    pub abandoned_stream_secs: u64,
}

/// Which language model answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// The extractive assistant: quotes the material, no network.
    Offline,
    /// An OpenAI-compatible chat-completions API (OpenAI, Ollama, vLLM, llama.cpp server).
    Openai,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSettings {
    pub provider: LlmProvider,
    /// Up to and including `/v1`.
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// The default model.
    pub model: String,
    /// The models clients may ask for; empty: whatever the provider lists.
    #[serde(default)]
    pub models: Vec<String>,
    pub timeout_secs: u64,
    pub max_retries: u32,
    /// `max_tokens` of every request: the longest answer a model may write.
    pub max_tokens: u32,
    /// Model calls one user may have under way at once (per process); 0 for no limit.
    pub max_concurrent_calls_per_user: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    pub enabled: bool,
    /// Ingestion jobs one process runs at once.
    pub concurrency: usize,
    /// How often an idle worker looks for jobs queued by other processes.
    pub poll_interval_ms: u64,
    /// The most jobs of one user running at once across all workers; 0 = no limit.
    pub max_running_per_user: u32,
    /// An ingestion (a flashcard generation) running longer fails and its lease is released.
    pub ingest_timeout_secs: u64,
    pub generation_timeout_secs: u64,
}

impl WorkerSettings {
    /// The queue's limits, for the services.
    pub fn policy(&self) -> flashforge_domain::jobs::JobPolicy {
        flashforge_domain::jobs::JobPolicy {
            ingest_timeout: std::time::Duration::from_secs(self.ingest_timeout_secs),
            generation_timeout: std::time::Duration::from_secs(self.generation_timeout_secs),
            fairness: flashforge_domain::jobs::Fairness {
                max_running_per_user: self.max_running_per_user,
            },
        }
    }
}

/// Prometheus metrics: on a listener of their own (for the private network), and/or at
/// `/metrics` on the API's port behind a bearer token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// The metrics listener, e.g. `0.0.0.0:9464`; empty: none.
    #[serde(default)]
    pub bind: String,
    /// With a token, the API's port also serves `/metrics` to `Authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Option<Secret>,
}

/// The cache of query embeddings, the current-user lookup and model lists: in this process by
/// default, shared through Redis when `redis_url` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// `redis://host:6379/1`; unset: an in-process cache.
    #[serde(default)]
    pub redis_url: Option<Secret>,
    pub key_prefix: String,
    /// Entries the in-process cache holds.
    pub max_entries: u64,
    pub redis_timeout_ms: u64,
    pub embedding_ttl_secs: u64,
    pub user_ttl_secs: u64,
    pub models_ttl_secs: u64,
}

impl CacheSettings {
    /// The Redis URL, unless unset or empty.
    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url
            .as_ref()
            .map(Secret::expose)
            .filter(|u| !u.trim().is_empty())
    }
}

/// Uploads and their ingestion.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeConfig {
    pub max_upload_mb: u64,
    /// Chunk size in the embedding model's tokens, and the overlap of neighbours.
    pub chunk_tokens: usize,
    pub chunk_overlap_tokens: usize,
    pub embed_batch: usize,
    /// Ingestion embedding calls at once in one process; they take turns, lightest user first.
    pub embed_concurrency: usize,
    pub max_attempts: u32,
    pub lease_secs: u64,
    pub retry_backoff_secs: u64,
    pub pdf_timeout_secs: u64,
    pub pdf_isolation: PdfIsolation,
    /// The program run as `<program> extract-pdf` for process isolation; unset: this binary.
    #[serde(default)]
    pub pdf_extractor_program: Option<PathBuf>,
    /// The PDF child's address space (MiB) and CPU time (seconds).
    pub pdf_max_memory_mb: u64,
    pub pdf_max_cpu_secs: u64,
    /// What one document may become, enforced while it is read.
    pub max_pages: u32,
    pub max_chars: u64,
    pub max_page_chars: u64,
    pub max_chunks: u32,
}

/// How the PDF parser is kept from taking the process down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PdfIsolation {
    /// A child process (`flashforge extract-pdf`), killed when it overruns.
    Process,
    /// A thread with `catch_unwind` (a hung parse is abandoned).
    Thread,
}

/// Where original files are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    Local,
    S3,
    Memory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSettings {
    pub blobs: BlobBackend,
    pub blob_dir: PathBuf,
    #[serde(default)]
    pub s3_bucket: String,
    #[serde(default)]
    pub s3_region: String,
    #[serde(default)]
    pub s3_endpoint: Option<String>,
    #[serde(default)]
    pub s3_access_key_id: Option<String>,
    #[serde(default)]
    pub s3_secret_access_key: Option<Secret>,
    #[serde(default)]
    pub s3_allow_http: bool,
}

/// Which embedding model turns text into vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddingProvider {
    /// all-MiniLM-L6-v2 in-process (candle), from `embedding.model_dir`.
    Local,
    /// An OpenAI-compatible `/v1/embeddings` API.
    Openai,
    /// A deterministic word-hash embedder: tests only, it knows nothing of meaning.
    Hash,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingSettings {
    pub provider: EmbeddingProvider,
    pub model_dir: PathBuf,
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<Secret>,
    pub model: String,
    pub dimension: usize,
    pub batch_size: usize,
    pub timeout_secs: u64,
    pub max_retries: u32,
}

/// Which vector index holds the embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorProvider {
    /// The Qdrant engine in-process (qdrant-edge), persisted under `vector.dir`.
    Embedded,
    /// A Qdrant server over gRPC.
    Qdrant,
    /// Exact search in memory (lost on exit).
    Memory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorSettings {
    pub provider: VectorProvider,
    pub dir: PathBuf,
    pub qdrant_url: String,
    #[serde(default)]
    pub qdrant_api_key: Option<Secret>,
    pub collection: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    pub readiness_timeout_ms: u64,
}

/// Backups (`flashforge backup`, `flashforge restore`) and the worker's scheduled ones.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// Where scheduled backups go, one folder each named by its UTC time (`20261126T031500Z`).
    pub dir: PathBuf,
    /// Hours between the worker's backups; 0: none.
    pub interval_hours: u64,
    /// Scheduled backups kept, newest first; older ones are deleted.
    pub keep: usize,
}

/// Every problem found in the configuration, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub problems: Vec<(String, String)>,
}

impl SettingsError {
    fn one(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            problems: vec![(key.into(), message.into())],
        }
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.problems.len()
        )?;
        for (key, message) in &self.problems {
            writeln!(f, "  - {key}: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

/// What happened while loading that the operator should hear about once logging is up.
#[derive(Debug, Default, Clone)]
pub struct LoadNotes {
    pub warnings: Vec<String>,
}

/// The folder of the TOML files: `FLASHFORGE_CONFIG_DIR`, or `config` in the working directory.
pub fn config_dir() -> PathBuf {
    std::env::var_os("FLASHFORGE_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("config"))
}

impl Settings {
    /// Loads from the process's environment: `FLASHFORGE_ENV`, the config folder, `.env` in
    /// development, then `FLASHFORGE__…` variables.
    pub fn load() -> Result<(Self, LoadNotes), SettingsError> {
        let environment = match std::env::var("FLASHFORGE_ENV") {
            Ok(value) => value
                .parse()
                .map_err(|e: String| SettingsError::one("FLASHFORGE_ENV", e))?,
            Err(_) => Environment::Development,
        };
        if environment == Environment::Development {
            // A missing .env is normal; a malformed one is worth a word.
            if let Err(e) = dotenvy::dotenv()
                && !e.not_found()
            {
                return Err(SettingsError::one(".env", e.to_string()));
            }
        }
        Self::load_from(environment, &config_dir(), std::env::vars())
    }

    /// Loads with an explicit environment, folder and set of variables (tests use this).
    pub fn load_from(
        environment: Environment,
        dir: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, LoadNotes), SettingsError> {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("FLASHFORGE__"))
            .collect();
        let built = config::Config::builder()
            .add_source(config::File::from_str(
                EMBEDDED_DEFAULTS,
                config::FileFormat::Toml,
            ))
            .add_source(
                config::File::from(dir.join("default.toml"))
                    .format(config::FileFormat::Toml)
                    .required(false),
            )
            .add_source(
                config::File::from(dir.join(format!("{}.toml", environment.as_str())))
                    .format(config::FileFormat::Toml)
                    .required(false),
            )
            .add_source(
                config::Environment::with_prefix("FLASHFORGE")
                    .prefix_separator("__")
                    .separator("__")
                    // Lists come as comma-separated values.
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.trusted_proxies")
                    .with_list_parse_key("server.cors_allowed_origins")
                    .with_list_parse_key("llm.models")
                    .source(Some(vars)),
            )
            .build()
            .map_err(|e| SettingsError::one(key_of(&e.to_string()), e.to_string()))?;
        let mut settings: Settings = built
            .try_deserialize()
            .map_err(|e| SettingsError::one(key_of(&e.to_string()), e.to_string()))?;
        settings.environment = environment;
        let notes = settings.validate()?;
        Ok((settings, notes))
    }

    /// Checks every rule and names every broken one. In development, fills in a random JWT
    /// secret when none is set.
    pub fn validate(&mut self) -> Result<LoadNotes, SettingsError> {
        let mut problems = Vec::new();
        let mut notes = LoadNotes::default();
        let mut bad = |key: &str, message: String| problems.push((key.to_string(), message));

        let s = &self.server;
        if s.behind_tls_proxy && s.trusted_proxies.is_empty() {
            let why = "server.behind_tls_proxy is on but server.trusted_proxies is empty: every client would share the proxy's address (one login back-off and one request budget for everyone). Set FLASHFORGE__SERVER__TRUSTED_PROXIES to the proxies' addresses or ranges (comma-separated)";
            if self.environment == Environment::Production {
                bad("server.trusted_proxies", why.into());
            } else {
                notes.warnings.push(why.into());
            }
        }
        if s.host.trim().is_empty() {
            bad("server.host", "must not be empty".into());
        }
        if s.workers > 1024 {
            bad(
                "server.workers",
                "must be at most 1024 (0 means one per core)".into(),
            );
        }
        if s.shutdown_timeout_secs == 0 || s.shutdown_timeout_secs > 3600 {
            bad(
                "server.shutdown_timeout_secs",
                "must be between 1 and 3600".into(),
            );
        }
        if s.shutdown_delay_ms > 300_000 {
            bad(
                "server.shutdown_delay_ms",
                "must be at most 300000 (five minutes)".into(),
            );
        }
        if !(1024..=128 * 1024).contains(&s.max_header_bytes) {
            bad(
                "server.max_header_bytes",
                "must be between 1024 and 131072 (the HTTP parser's own bound)".into(),
            );
        }
        if s.body_timeout_secs == 0 || s.body_timeout_secs > 3600 {
            bad(
                "server.body_timeout_secs",
                "must be between 1 and 3600".into(),
            );
        }
        if s.sse_keepalive_secs == 0 || s.sse_keepalive_secs > 300 {
            bad(
                "server.sse_keepalive_secs",
                "must be between 1 and 300".into(),
            );
        }
        if s.sse_idle_timeout_secs < s.sse_keepalive_secs || s.sse_idle_timeout_secs > 3600 {
            bad(
                "server.sse_idle_timeout_secs",
                "must be at least server.sse_keepalive_secs and at most 3600".into(),
            );
        }
        if s.client_request_timeout_ms == 0 {
            bad(
                "server.client_request_timeout_ms",
                "must be more than 0".into(),
            );
        }
        if !(1024..=64 * 1024 * 1024).contains(&s.json_limit_bytes) {
            bad(
                "server.json_limit_bytes",
                "must be between 1 KiB and 64 MiB".into(),
            );
        }
        if !(1024..=1024 * 1024 * 1024).contains(&s.body_limit_bytes) {
            bad(
                "server.body_limit_bytes",
                "must be between 1 KiB and 1 GiB".into(),
            );
        }

        let d = &self.database;
        if d.kind().is_none() {
            bad(
                "database.url",
                "must start with postgres://, sqlite: or be memory://".into(),
            );
        }
        if d.max_connections == 0 {
            bad("database.max_connections", "must be at least 1".into());
        }
        if d.min_connections > d.max_connections {
            bad(
                "database.min_connections",
                "must not exceed database.max_connections".into(),
            );
        }
        if d.busy_timeout_ms == 0 || d.busy_timeout_ms > 60_000 {
            bad(
                "database.busy_timeout_ms",
                "must be between 1 and 60000".into(),
            );
        }
        if d.acquire_timeout_secs == 0 {
            bad("database.acquire_timeout_secs", "must be at least 1".into());
        }

        let a = &self.auth;
        if a.password_min_length < flashforge_domain::accounts::PasswordPolicy::FLOOR {
            bad("auth.password_min_length", "must be at least 8".into());
        }
        if a.password_max_length < a.password_min_length || a.password_max_length > 1024 {
            bad(
                "auth.password_max_length",
                "must be between auth.password_min_length and 1024".into(),
            );
        }
        if a.argon2_iterations == 0 {
            bad("auth.argon2_iterations", "must be at least 1".into());
        }
        if a.argon2_parallelism == 0 || a.argon2_parallelism > 64 {
            bad("auth.argon2_parallelism", "must be between 1 and 64".into());
        }
        if a.argon2_memory_kib < 8 * a.argon2_parallelism.max(1) {
            bad(
                "auth.argon2_memory_kib",
                "must be at least 8 × auth.argon2_parallelism".into(),
            );
        }
        if a.argon2_max_concurrent > 256 {
            bad(
                "auth.argon2_max_concurrent",
                "must be at most 256 (0 = one less than the cores)".into(),
            );
        }
        if a.access_token_ttl_secs == 0 || a.access_token_ttl_secs > 24 * 3600 {
            bad(
                "auth.access_token_ttl_secs",
                "must be between 1 and 86400".into(),
            );
        }
        if a.refresh_grace_secs > 120 {
            bad(
                "auth.refresh_grace_secs",
                "must be at most 120 (0 turns the grace off)".into(),
            );
        }
        if a.refresh_token_ttl_secs == 0 {
            bad("auth.refresh_token_ttl_secs", "must be more than 0".into());
        }
        if a.session_max_age_secs == 0 {
            bad("auth.session_max_age_secs", "must be more than 0".into());
        }
        if a.jwt_leeway_secs > 300 {
            bad("auth.jwt_leeway_secs", "must be at most 300".into());
        }
        if a.password_min_score > 4 {
            bad("auth.password_min_score", "must be between 0 and 4".into());
        }
        if a.jwt_issuer.trim().is_empty() {
            bad("auth.jwt_issuer", "must not be empty".into());
        }
        if a.jwt_audience.trim().is_empty() {
            bad("auth.jwt_audience", "must not be empty".into());
        }
        for (i, previous) in a.jwt_previous_keys.iter().enumerate() {
            let ok = match previous.algorithm {
                flashforge_auth::JwtAlgorithm::HS256 => previous
                    .secret
                    .as_ref()
                    .is_some_and(|s| check_jwt_secret(s.expose()).is_ok()),
                _ => previous
                    .public_key_file
                    .as_ref()
                    .is_some_and(|p| p.is_file()),
            };
            if !ok {
                bad(
                    &format!("auth.jwt_previous_keys[{i}]"),
                    "needs a valid `secret` (HS256) or an existing `public_key_file` (EdDSA, RS256)".into(),
                );
            }
        }
        let uses_files = a.jwt_algorithm != flashforge_auth::JwtAlgorithm::HS256;
        if uses_files {
            for (key, path) in [
                ("auth.jwt_private_key_file", &a.jwt_private_key_file),
                ("auth.jwt_public_key_file", &a.jwt_public_key_file),
            ] {
                if !path.as_ref().is_some_and(|p| p.is_file()) {
                    bad(
                        key,
                        "must name a readable PEM file when auth.jwt_algorithm is EdDSA or RS256"
                            .into(),
                    );
                }
            }
        }
        match (&a.jwt_secret, self.environment) {
            _ if uses_files => {}
            (Some(secret), _) if !secret.expose().is_empty() => {
                if let Err(why) = check_jwt_secret(secret.expose()) {
                    bad("auth.jwt_secret", why);
                }
            }
            (_, Environment::Development) => {
                self.auth.jwt_secret = Some(random_secret());
                notes.warnings.push(
                    "auth.jwt_secret is not set: using a random one for this run, so tokens will not survive a restart. Set FLASHFORGE__AUTH__JWT_SECRET to keep them.".into(),
                );
            }
            (_, env) => bad(
                "auth.jwt_secret",
                format!(
                    "is required in {}: set FLASHFORGE__AUTH__JWT_SECRET to at least 32 random bytes (e.g. `openssl rand -base64 48`)",
                    env.as_str()
                ),
            ),
        }

        let r = &self.rate_limit;
        if r.login_failures_before_backoff == 0 {
            bad(
                "rate_limit.login_failures_before_backoff",
                "must be at least 1".into(),
            );
        }
        if r.login_backoff_base_secs == 0 || r.login_backoff_max_secs < r.login_backoff_base_secs {
            bad(
                "rate_limit.login_backoff_max_secs",
                "must be at least rate_limit.login_backoff_base_secs, which must be at least 1"
                    .into(),
            );
        }
        for (key, value) in [
            (
                "rate_limit.registrations_per_ip_per_hour",
                r.registrations_per_ip_per_hour,
            ),
            ("rate_limit.reads_per_minute", r.reads_per_minute),
            ("rate_limit.writes_per_minute", r.writes_per_minute),
            (
                "rate_limit.login_failure_window_secs",
                r.login_failure_window_secs,
            ),
            ("rate_limit.redis_timeout_ms", r.redis_timeout_ms),
        ] {
            if value == 0 {
                bad(key, "must be more than 0".into());
            }
        }
        if r.login_failures_before_slowdown < r.login_failures_before_backoff {
            bad(
                "rate_limit.login_failures_before_slowdown",
                "must be at least rate_limit.login_failures_before_backoff (an address or account as a whole is allowed at least what one pair of them is)".into(),
            );
        }
        if r.login_slowdown_max_secs == 0 || r.login_slowdown_max_secs > 60 {
            bad(
                "rate_limit.login_slowdown_max_secs",
                "must be between 1 and 60 (a login held back longer is a 429)".into(),
            );
        }
        if !(32..=128).contains(&r.ipv6_prefix) {
            bad(
                "rate_limit.ipv6_prefix",
                "must be between 32 and 128 (64: one subscriber's network)".into(),
            );
        }
        if let Some(url) = r.redis_url()
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            bad(
                "rate_limit.redis_url",
                "must start with redis:// or rediss://".into(),
            );
        }
        let m = &self.metrics;
        if !m.bind.is_empty() && m.bind.parse::<std::net::SocketAddr>().is_err() {
            bad(
                "metrics.bind",
                "must be an address and port such as 0.0.0.0:9464, or empty".into(),
            );
        }
        if m.token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            bad("metrics.token", "must be at least 16 characters".into());
        }
        let c = &self.cache;
        if let Some(url) = self.cache.redis_url()
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            bad(
                "cache.redis_url",
                "must start with redis:// or rediss://".into(),
            );
        }
        if c.max_entries == 0 {
            bad("cache.max_entries", "must be more than 0".into());
        }
        for (key, value) in [
            ("cache.redis_timeout_ms", c.redis_timeout_ms),
            ("cache.embedding_ttl_secs", c.embedding_ttl_secs),
            ("cache.user_ttl_secs", c.user_ttl_secs),
            ("cache.models_ttl_secs", c.models_ttl_secs),
        ] {
            if value == 0 {
                bad(key, "must be more than 0".into());
            }
        }
        let s = &self.server;
        if s.tls_cert_file.is_some() != s.tls_key_file.is_some() {
            bad(
                "server.tls_key_file",
                "TLS needs both server.tls_cert_file and server.tls_key_file".into(),
            );
        }
        for (key, path) in [
            ("server.tls_cert_file", &s.tls_cert_file),
            ("server.tls_key_file", &s.tls_key_file),
        ] {
            if let Some(path) = path
                && !path.is_file()
            {
                bad(key, format!("{} is not a readable file", path.display()));
            }
        }
        if s.http_redirect_port != 0 && !s.tls_enabled() {
            bad(
                "server.http_redirect_port",
                "needs TLS (server.tls_cert_file and server.tls_key_file)".into(),
            );
        }
        if s.cors_allow_credentials && s.cors_allowed_origins.iter().any(|o| o == "*") {
            bad(
                "server.cors_allowed_origins",
                "`*` cannot be combined with server.cors_allow_credentials".into(),
            );
        }
        for origin in &s.cors_allowed_origins {
            let well_formed = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin.ends_with('/'));
            if !well_formed {
                bad(
                    "server.cors_allowed_origins",
                    format!("`{origin}` is not an origin like https://app.example.com"),
                );
            }
        }

        let asst = &self.assistant;
        if asst.passages == 0 || asst.passages > 50 {
            bad("assistant.passages", "must be between 1 and 50".into());
        }
        if asst.max_message_chars == 0 || asst.max_message_chars > 100_000 {
            bad(
                "assistant.max_message_chars",
                "must be between 1 and 100000".into(),
            );
        }

        let llm = &self.llm;
        if llm.provider == LlmProvider::Openai {
            if !(llm.base_url.starts_with("http://") || llm.base_url.starts_with("https://")) {
                bad(
                    "llm.base_url",
                    "must be an http(s) URL ending in /v1".into(),
                );
            }
            if llm.model.trim().is_empty() {
                bad("llm.model", "must name the default model".into());
            }
        }
        if llm.timeout_secs == 0 || llm.timeout_secs > 600 {
            bad("llm.timeout_secs", "must be between 1 and 600".into());
        }
        if llm.max_retries > 10 {
            bad("llm.max_retries", "must be at most 10".into());
        }
        if llm.max_tokens == 0 || llm.max_tokens > 200_000 {
            bad("llm.max_tokens", "must be between 1 and 200000".into());
        }
        if llm.max_concurrent_calls_per_user > 1000 {
            bad(
                "llm.max_concurrent_calls_per_user",
                "must be at most 1000 (0 for no limit)".into(),
            );
        }
        if asst.abandoned_stream_secs == 0 || asst.abandoned_stream_secs > 3600 {
            bad(
                "assistant.abandoned_stream_secs",
                "must be between 1 and 3600".into(),
            );
        }

        let k = &self.knowledge;
        if k.max_upload_mb == 0 || k.max_upload_mb > 1024 {
            bad(
                "knowledge.max_upload_mb",
                "must be between 1 and 1024".into(),
            );
        }
        if !(16..=8192).contains(&k.chunk_tokens) {
            bad(
                "knowledge.chunk_tokens",
                "must be between 16 and 8192".into(),
            );
        }
        if k.chunk_overlap_tokens >= k.chunk_tokens {
            bad(
                "knowledge.chunk_overlap_tokens",
                "must be less than knowledge.chunk_tokens".into(),
            );
        }
        if k.embed_batch == 0 || k.embed_batch > 2048 {
            bad("knowledge.embed_batch", "must be between 1 and 2048".into());
        }
        if k.embed_concurrency == 0 || k.embed_concurrency > 64 {
            bad(
                "knowledge.embed_concurrency",
                "must be between 1 and 64".into(),
            );
        }
        if k.max_attempts == 0 || k.max_attempts > 100 {
            bad("knowledge.max_attempts", "must be between 1 and 100".into());
        }
        for (key, value) in [
            ("knowledge.lease_secs", k.lease_secs),
            ("knowledge.pdf_timeout_secs", k.pdf_timeout_secs),
        ] {
            if value == 0 || value > 3600 {
                bad(key, "must be between 1 and 3600".into());
            }
        }
        if !(64..=65_536).contains(&k.pdf_max_memory_mb) {
            bad(
                "knowledge.pdf_max_memory_mb",
                "must be between 64 and 65536".into(),
            );
        }
        if k.pdf_max_cpu_secs == 0 || k.pdf_max_cpu_secs > 3600 {
            bad(
                "knowledge.pdf_max_cpu_secs",
                "must be between 1 and 3600".into(),
            );
        }
        if k.max_pages == 0 || k.max_pages > 100_000 {
            bad("knowledge.max_pages", "must be between 1 and 100000".into());
        }
        if k.max_chars == 0 || k.max_chars > 200_000_000 {
            bad(
                "knowledge.max_chars",
                "must be between 1 and 200000000".into(),
            );
        }
        if k.max_page_chars == 0 || k.max_page_chars > k.max_chars {
            bad(
                "knowledge.max_page_chars",
                "must be between 1 and knowledge.max_chars".into(),
            );
        }
        if k.max_chunks == 0 || k.max_chunks > 1_000_000 {
            bad(
                "knowledge.max_chunks",
                "must be between 1 and 1000000".into(),
            );
        }
        if self.worker.concurrency == 0 || self.worker.concurrency > 64 {
            bad("worker.concurrency", "must be between 1 and 64".into());
        }
        if self.worker.poll_interval_ms < 10 {
            bad("worker.poll_interval_ms", "must be at least 10".into());
        }
        for (key, value) in [
            (
                "worker.ingest_timeout_secs",
                self.worker.ingest_timeout_secs,
            ),
            (
                "worker.generation_timeout_secs",
                self.worker.generation_timeout_secs,
            ),
        ] {
            if value == 0 || value > 7 * 24 * 3600 {
                bad(key, "must be between 1 and 604800 (a week)".into());
            }
        }
        let st = &self.storage;
        if st.blobs == BlobBackend::S3 && st.s3_bucket.trim().is_empty() {
            bad(
                "storage.s3_bucket",
                "must name the bucket when storage.blobs is s3".into(),
            );
        }
        let e = &self.embedding;
        if e.provider == EmbeddingProvider::Openai
            && !(e.base_url.starts_with("http://") || e.base_url.starts_with("https://"))
        {
            bad(
                "embedding.base_url",
                "must be an http(s) URL ending in /v1".into(),
            );
        }
        if e.dimension == 0 || e.dimension > 65536 {
            bad("embedding.dimension", "must be between 1 and 65536".into());
        }
        if e.batch_size == 0 || e.timeout_secs == 0 {
            bad(
                "embedding.batch_size",
                "embedding.batch_size and embedding.timeout_secs must be more than 0".into(),
            );
        }
        let v = &self.vector;
        if v.provider == VectorProvider::Qdrant && v.qdrant_url.trim().is_empty() {
            bad(
                "vector.qdrant_url",
                "must be set when vector.provider is qdrant".into(),
            );
        }
        if v.collection.trim().is_empty()
            || !v
                .collection
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bad(
                "vector.collection",
                "must be letters, digits, `_` or `-`".into(),
            );
        }

        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            bad("log.level", format!("is not a valid filter: {e}"));
        }
        if let Some(url) = self.log.otlp_endpoint()
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bad(
                "log.otlp_endpoint",
                "must start with http:// or https://".into(),
            );
        }
        if self.log.otlp_service_name.trim().is_empty() {
            bad("log.otlp_service_name", "must not be empty".into());
        }
        if self.health.readiness_timeout_ms == 0 {
            bad("health.readiness_timeout_ms", "must be more than 0".into());
        }
        let b = &self.backup;
        if b.interval_hours > 24 * 366 {
            bad(
                "backup.interval_hours",
                "must be at most 8784 (0 = no scheduled backups)".into(),
            );
        }
        if b.interval_hours > 0 && self.database.kind() == Some(DatabaseKind::Memory) {
            bad(
                "backup.interval_hours",
                "needs a database on disk: database.url is memory://".into(),
            );
        }
        if b.keep == 0 || b.keep > 10_000 {
            bad("backup.keep", "must be between 1 and 10000".into());
        }
        if b.interval_hours > 0 && b.dir.as_os_str().is_empty() {
            bad(
                "backup.dir",
                "must be set when backup.interval_hours is more than 0".into(),
            );
        }

        if problems.is_empty() {
            Ok(notes)
        } else {
            Err(SettingsError { problems })
        }
    }

    /// The effective configuration as JSON, secrets redacted.
    pub fn redacted_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.server.shutdown_timeout_secs)
    }
}

/// Secrets copied from tutorials and templates, refused in any environment.
const PLACEHOLDERS: &[&str] = &[
    "your-secret-key-here",
    "your-secret-key",
    "your_secret_key",
    "changeme",
    "change-me",
    "change_me",
    "changethis",
    "secret",
    "supersecret",
    "jwt-secret",
    "jwt_secret",
    "mysecret",
    "password",
    "placeholder",
    "replace-me",
    "example",
];

/// Why a JWT secret is unfit, if it is.
pub fn check_jwt_secret(secret: &str) -> Result<(), String> {
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDERS.iter().any(|p| lower == *p) {
        return Err(
            "is a well-known placeholder; generate a random one (e.g. `openssl rand -base64 48`)"
                .into(),
        );
    }
    if secret.len() < 32 {
        return Err(format!(
            "is {} bytes long; it must be at least 32 random bytes",
            secret.len()
        ));
    }
    if PLACEHOLDERS
        .iter()
        .any(|p| p.len() >= 8 && lower.contains(p))
    {
        return Err(
            "looks like a placeholder; generate a random one (e.g. `openssl rand -base64 48`)"
                .into(),
        );
    }
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 10 {
        return Err("has too few distinct characters to be random".into());
    }
    Ok(())
}

fn random_secret() -> Secret {
    let mut bytes = [0u8; 48];
    // The OS random source failing is not something to limp on without: an all-zero buffer
    // would fail `check_jwt_secret`, so fall back to a time-seeded value only for development.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
    Secret::new(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
}

/// The key a `config` error message names, such as `server.port`.
fn key_of(message: &str) -> String {
    message
        .split_once("for key `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(key, _)| key.to_string())
        .or_else(|| {
            message
                .split_once("unknown field `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(key, _)| key.to_string())
        })
        .unwrap_or_else(|| "configuration".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn config() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
    }

    const GOOD_SECRET: &str = "q8Vt2mLx9Rz4Kp7Wn3Bc6Hd1Fg5Js0Ye";

    #[test]
    fn environment_variables_override_files() {
        let (settings, _) = Settings::load_from(
            Environment::Test,
            &config(),
            vars(&[
                ("FLASHFORGE__SERVER__PORT", "9123"),
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
            ]),
        )
        .unwrap();
        assert_eq!(settings.server.port, 9123);
        // test.toml overrides default.toml
        assert_eq!(settings.auth.argon2_memory_kib, 1024);
        assert_eq!(settings.database.kind(), Some(DatabaseKind::Memory));
    }

    #[test]
    fn production_refuses_a_missing_short_or_placeholder_secret() {
        for secret in [
            None,
            Some("short"),
            Some("your-secret-key-here"),
            Some("changeme"),
        ] {
            let mut pairs = vec![];
            if let Some(s) = secret {
                pairs.push(("FLASHFORGE__AUTH__JWT_SECRET", s));
            }
            let err =
                Settings::load_from(Environment::Production, &config(), vars(&pairs)).unwrap_err();
            assert!(
                err.problems.iter().any(|(k, _)| k == "auth.jwt_secret"),
                "{secret:?}: {err}"
            );
        }
        let long_placeholder = "your-secret-key-here-change-in-production-please";
        assert!(check_jwt_secret(long_placeholder).is_err());
        assert!(check_jwt_secret(&"a".repeat(40)).is_err());
        assert!(check_jwt_secret(GOOD_SECRET).is_ok());
    }

    #[test]
    fn a_tls_proxy_without_trusted_proxies_is_an_error_in_production_and_a_warning_elsewhere() {
        let secret = [("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET)];
        let err =
            Settings::load_from(Environment::Production, &config(), vars(&secret)).unwrap_err();
        assert!(
            err.problems
                .iter()
                .any(|(k, _)| k == "server.trusted_proxies"),
            "{err}"
        );
        let mut trusted = secret.to_vec();
        trusted.push(("FLASHFORGE__SERVER__TRUSTED_PROXIES", "10.0.0.0/8"));
        let (_, notes) =
            Settings::load_from(Environment::Production, &config(), vars(&trusted)).unwrap();
        assert!(
            notes
                .warnings
                .iter()
                .all(|w| !w.contains("trusted_proxies"))
        );
        let (_, notes) =
            Settings::load_from(Environment::Staging, &config(), vars(&secret)).unwrap();
        assert!(
            notes.warnings.iter().any(|w| w.contains("trusted_proxies")),
            "{:?}",
            notes.warnings
        );
    }

    #[test]
    fn every_bad_key_is_named_in_one_error() {
        let err = Settings::load_from(
            Environment::Production,
            &config(),
            vars(&[
                ("FLASHFORGE__DATABASE__URL", "mysql://nope"),
                ("FLASHFORGE__DATABASE__MAX_CONNECTIONS", "0"),
                ("FLASHFORGE__LOG__LEVEL", "info,=bogus=="),
            ]),
        )
        .unwrap_err();
        let keys: Vec<_> = err.problems.iter().map(|(k, _)| k.as_str()).collect();
        for key in [
            "database.url",
            "database.max_connections",
            "auth.jwt_secret",
            "log.level",
        ] {
            assert!(keys.contains(&key), "{key} missing from {err}");
        }
    }

    #[test]
    fn backup_defaults_and_bad_values_name_their_keys() {
        let (settings, _) = Settings::load_from(
            Environment::Development,
            &config(),
            vars(&[("FLASHFORGE__BACKUP__INTERVAL_HOURS", "24")]),
        )
        .unwrap();
        assert_eq!(settings.backup.dir, PathBuf::from("backups"));
        assert_eq!(settings.backup.interval_hours, 24);
        assert_eq!(settings.backup.keep, 7);
        let err = Settings::load_from(
            Environment::Test,
            &config(),
            vars(&[
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__BACKUP__KEEP", "0"),
                ("FLASHFORGE__BACKUP__INTERVAL_HOURS", "6"),
            ]),
        )
        .unwrap_err();
        let keys: Vec<_> = err.problems.iter().map(|(k, _)| k.as_str()).collect();
        // test.toml's database is memory://: nothing to back up on a schedule.
        assert_eq!(keys, ["backup.interval_hours", "backup.keep"], "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let err = Settings::load_from(
            Environment::Development,
            &config(),
            vars(&[("FLASHFORGE__SERVER__PORT", "eighty")]),
        )
        .unwrap_err();
        assert_eq!(err.problems[0].0, "server.port", "{err}");
    }

    #[test]
    fn development_generates_a_secret_and_says_so() {
        let (settings, notes) =
            Settings::load_from(Environment::Development, &config(), vars(&[])).unwrap();
        let secret = settings.auth.jwt_secret.as_ref().unwrap();
        assert!(check_jwt_secret(secret.expose()).is_ok());
        assert!(notes.warnings.iter().any(|w| w.contains("auth.jwt_secret")));
    }

    #[test]
    fn secrets_are_redacted_in_debug_and_in_the_printed_config() {
        let (settings, _) = Settings::load_from(
            Environment::Test,
            &config(),
            vars(&[
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                (
                    "FLASHFORGE__DATABASE__URL",
                    "postgres://app:pg-pass-123@db/ff",
                ),
            ]),
        )
        .unwrap();
        for text in [format!("{settings:?}"), settings.redacted_json()] {
            assert!(!text.contains(GOOD_SECRET));
            assert!(!text.contains("pg-pass-123"));
            assert!(text.contains("[REDACTED]"));
        }
    }
}
