//! `[auth]`: access-token keys (and the previous ones of a rotation), token lifetimes, the
//! password policy and password hashing.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::environment::Environment;
use super::problems::{LoadNotes, Problems};
use super::secret::{Secret, check_jwt_secret, random_secret};

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

    /// The rules of `auth.*`. In development, fills in a random JWT secret when none is set.
    pub(super) fn validate(
        &mut self,
        environment: Environment,
        problems: &mut Problems,
        notes: &mut LoadNotes,
    ) {
        self.validate_passwords(problems);
        self.validate_tokens(problems);
        self.validate_keys(environment, problems, notes);
    }

    /// The password policy and the hashing of passwords.
    fn validate_passwords(&self, problems: &mut Problems) {
        if self.password_min_length < flashforge_domain::accounts::PasswordPolicy::FLOOR {
            problems.bad("auth.password_min_length", "must be at least 8");
        }
        if self.password_max_length < self.password_min_length || self.password_max_length > 1024 {
            problems.bad(
                "auth.password_max_length",
                "must be between auth.password_min_length and 1024",
            );
        }
        if self.password_min_score > 4 {
            problems.bad("auth.password_min_score", "must be between 0 and 4");
        }
        if self.argon2_iterations == 0 {
            problems.bad("auth.argon2_iterations", "must be at least 1");
        }
        if self.argon2_parallelism == 0 || self.argon2_parallelism > 64 {
            problems.bad("auth.argon2_parallelism", "must be between 1 and 64");
        }
        if self.argon2_memory_kib < 8 * self.argon2_parallelism.max(1) {
            problems.bad(
                "auth.argon2_memory_kib",
                "must be at least 8 × auth.argon2_parallelism",
            );
        }
        if self.argon2_max_concurrent > 256 {
            problems.bad(
                "auth.argon2_max_concurrent",
                "must be at most 256 (0 = one less than the cores)",
            );
        }
    }

    /// Token lifetimes and claims.
    fn validate_tokens(&self, problems: &mut Problems) {
        if self.access_token_ttl_secs == 0 || self.access_token_ttl_secs > 24 * 3600 {
            problems.bad("auth.access_token_ttl_secs", "must be between 1 and 86400");
        }
        if self.refresh_grace_secs > 120 {
            problems.bad(
                "auth.refresh_grace_secs",
                "must be at most 120 (0 turns the grace off)",
            );
        }
        if self.refresh_token_ttl_secs == 0 {
            problems.bad("auth.refresh_token_ttl_secs", "must be more than 0");
        }
        if self.session_max_age_secs == 0 {
            problems.bad("auth.session_max_age_secs", "must be more than 0");
        }
        if self.jwt_leeway_secs > 300 {
            problems.bad("auth.jwt_leeway_secs", "must be at most 300");
        }
        if self.jwt_issuer.trim().is_empty() {
            problems.bad("auth.jwt_issuer", "must not be empty");
        }
        if self.jwt_audience.trim().is_empty() {
            problems.bad("auth.jwt_audience", "must not be empty");
        }
    }

    /// The signing keys: the previous ones, the key files, the secret.
    fn validate_keys(
        &mut self,
        environment: Environment,
        problems: &mut Problems,
        notes: &mut LoadNotes,
    ) {
        for (i, previous) in self.jwt_previous_keys.iter().enumerate() {
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
                problems.bad(
                    &format!("auth.jwt_previous_keys[{i}]"),
                    "needs a valid `secret` (HS256) or an existing `public_key_file` (EdDSA, RS256)",
                );
            }
        }
        let uses_files = self.jwt_algorithm != flashforge_auth::JwtAlgorithm::HS256;
        if uses_files {
            for (key, path) in [
                ("auth.jwt_private_key_file", &self.jwt_private_key_file),
                ("auth.jwt_public_key_file", &self.jwt_public_key_file),
            ] {
                if !path.as_ref().is_some_and(|p| p.is_file()) {
                    problems.bad(
                        key,
                        "must name a readable PEM file when auth.jwt_algorithm is EdDSA or RS256",
                    );
                }
            }
        }
        match (&self.jwt_secret, environment) {
            _ if uses_files => {}
            (Some(secret), _) if !secret.expose().is_empty() => {
                if let Err(why) = check_jwt_secret(secret.expose()) {
                    problems.bad("auth.jwt_secret", why);
                }
            }
            (_, Environment::Development) => {
                self.jwt_secret = Some(random_secret());
                notes.warnings.push(
                    "auth.jwt_secret is not set: using a random one for this run, so tokens will not survive a restart. Set FLASHFORGE__AUTH__JWT_SECRET to keep them.".into(),
                );
            }
            (_, env) => problems.bad(
                "auth.jwt_secret",
                format!(
                    "is required in {}: set FLASHFORGE__AUTH__JWT_SECRET to at least 32 random bytes (e.g. `openssl rand -base64 48`)",
                    env.as_str()
                ),
            ),
        }
    }
}
