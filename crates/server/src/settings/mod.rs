//! Typed, validated configuration.
//!
//! Layers, each overriding the one before: defaults embedded in the binary → `config/default.toml`
//! → `config/{FLASHFORGE_ENV}.toml` → `.env` (development only) → `FLASHFORGE__SECTION__KEY`
//! environment variables. What all of those leave unset of the providers' `api_key` and
//! `base_url` comes from `OPENAI_API_KEY` and `OPENAI_BASE_URL`. Validation names every bad key
//! at once; the process refuses to start on any of them.
//!
//! Each section of the configuration lives in a file of its own, with the rules of its keys
//! (`validate`); this file holds the whole, its loading, and the order the sections are checked in.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod assistant;
mod auth;
mod backup;
mod cache;
mod database;
mod embedding;
mod environment;
mod health;
mod knowledge;
mod log;
mod metrics;
mod problems;
mod quotas;
mod rate_limit;
mod secret;
mod server;
mod sources;
mod storage;
mod vector;
mod worker;

pub use assistant::{AssistantConfig, LlmProvider, LlmSettings};
pub use auth::{AuthSettings, PreviousJwtKey};
pub use backup::BackupSettings;
pub use cache::CacheSettings;
pub use database::{DatabaseKind, DatabaseSettings};
pub use embedding::{EmbeddingProvider, EmbeddingSettings};
pub use environment::Environment;
pub use health::HealthSettings;
pub use knowledge::{KnowledgeConfig, PdfIsolation};
pub use log::{LogFormat, LogSettings};
pub use metrics::MetricsSettings;
use problems::Problems;
pub use problems::{LoadNotes, SettingsError};
pub use quotas::QuotaSettings;
pub use rate_limit::RateLimitSettings;
pub use secret::{Secret, check_jwt_secret};
pub use server::ServerSettings;
pub use sources::SECRET_VARIABLES;
pub use storage::{BlobBackend, StorageSettings};
pub use vector::{VectorProvider, VectorSettings};
pub use worker::WorkerSettings;

/// The defaults, as built into the binary.
const EMBEDDED_DEFAULTS: &str = include_str!("../../../../config/default.toml");

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

fn default_environment() -> Environment {
    Environment::Development
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
        let dir = sources::checked_config_dir(
            std::env::var_os("FLASHFORGE_CONFIG_DIR").map(PathBuf::from),
        )?;
        Self::load_from(environment, &dir, std::env::vars())
    }

    /// Loads with an explicit environment, folder and set of variables (tests use this).
    pub fn load_from(
        environment: Environment,
        dir: &Path,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Self, LoadNotes), SettingsError> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let openai = environment::OpenAiEnv::from_vars(&vars);
        let vars: HashMap<String, String> = sources::settings_variables(vars)?;
        let files: Vec<PathBuf> = [
            dir.join("default.toml"),
            dir.join(format!("{}.toml", environment.as_str())),
        ]
        .into_iter()
        .filter(|file| file.is_file())
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
                    .with_list_parse_key("knowledge.ocr_languages")
                    .source(Some(vars)),
            )
            .build()
            .map_err(|e| SettingsError::one(key_of(&e.to_string()), e.to_string()))?;
        let mut settings: Settings = built
            .try_deserialize()
            .map_err(|e| SettingsError::one(key_of(&e.to_string()), e.to_string()))?;
        settings.environment = environment;
        openai.fill(&mut settings.llm.api_key, &mut settings.llm.base_url);
        openai.fill(
            &mut settings.embedding.api_key,
            &mut settings.embedding.base_url,
        );
        let mut notes = settings.validate()?;
        if files.is_empty() {
            let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            notes.warnings.push(format!(
                "no configuration file in {}: built-in defaults and FLASHFORGE__ variables only (set FLASHFORGE_CONFIG_DIR to the config folder)",
                shown.display()
            ));
        }
        notes.files = files;
        Ok((settings, notes))
    }

    /// Checks every rule and names every broken one, section by section. In development, fills
    /// in a random JWT secret when none is set.
    pub fn validate(&mut self) -> Result<LoadNotes, SettingsError> {
        let mut problems = Problems::default();
        let mut notes = LoadNotes::default();
        let environment = self.environment;
        self.server.validate(environment, &mut problems, &mut notes);
        self.database.validate(&mut problems);
        self.auth.validate(environment, &mut problems, &mut notes);
        self.rate_limit.validate(&mut problems);
        self.metrics.validate(&mut problems);
        self.cache.validate(&mut problems);
        self.assistant.validate(&mut problems);
        self.llm.validate(&mut problems);
        self.knowledge.validate(&mut problems);
        self.worker.validate(&mut problems);
        self.storage.validate(&mut problems);
        self.embedding.validate(&mut problems);
        self.vector.validate(&mut problems);
        self.log.validate(&mut problems);
        self.health.validate(&mut problems);
        // Scheduled backups need a database on disk.
        self.backup.validate(self.database.kind(), &mut problems);
        problems.into_result(notes)
    }

    /// The effective configuration as JSON, secrets redacted.
    pub fn redacted_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.server.shutdown_timeout_secs)
    }
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
    fn trusted_proxies_take_bare_addresses_and_ranges_from_the_environment() {
        let (settings, _) = Settings::load_from(
            Environment::Test,
            &config(),
            vars(&[
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                (
                    "FLASHFORGE__SERVER__TRUSTED_PROXIES",
                    "127.0.0.1,::1,10.0.0.0/8",
                ),
            ]),
        )
        .unwrap();
        let proxies: Vec<String> = settings
            .server
            .trusted_proxies
            .iter()
            .map(|net| net.to_string())
            .collect();
        assert_eq!(proxies, ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]);
        let (settings, _) = Settings::load_from(
            Environment::Test,
            &config(),
            vars(&[
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__TRUSTED_PROXIES", "127.0.0.1"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.server.trusted_proxies.len(), 1);
        let err = Settings::load_from(
            Environment::Test,
            &config(),
            vars(&[
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__TRUSTED_PROXIES", "proxy.local"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("proxy.local"), "{err}");
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
