//! Secrets in the configuration: redacted everywhere, and JWT secrets checked for strength.

use std::fmt;

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

pub(super) fn random_secret() -> Secret {
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
