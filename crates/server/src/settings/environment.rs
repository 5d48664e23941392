//! Which deployment this process belongs to (`FLASHFORGE_ENV`): it decides what is an error
//! and what only a warning. And the variables of the wider environment that the configuration
//! falls back to (`OPENAI_API_KEY`, `OPENAI_BASE_URL`).

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::secret::Secret;

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

/// Where an OpenAI-compatible provider is when neither the configuration nor `OPENAI_BASE_URL`
/// says: Ollama on this machine.
pub(super) const LOCAL_OPENAI_BASE_URL: &str = "http://127.0.0.1:11434/v1";

/// The variables every OpenAI client reads, `OPENAI_API_KEY` and `OPENAI_BASE_URL`: fallbacks
/// for the language model's and the embedder's `api_key` and `base_url` when FlashForge's own
/// configuration (files, then `FLASHFORGE__…` variables) leaves them unset. Empty is unset.
#[derive(Debug, Clone, Default)]
pub(super) struct OpenAiEnv {
    api_key: Option<Secret>,
    base_url: Option<String>,
}

impl OpenAiEnv {
    /// The fallbacks among `vars`.
    pub(super) fn from_vars<'a>(vars: impl IntoIterator<Item = &'a (String, String)>) -> Self {
        let mut env = Self::default();
        for (key, value) in vars {
            let value = value.trim();
            match key.as_str() {
                _ if value.is_empty() => {}
                "OPENAI_API_KEY" => env.api_key = Some(Secret::new(value)),
                "OPENAI_BASE_URL" => env.base_url = Some(value.to_string()),
                _ => {}
            }
        }
        env
    }

    /// Fills an unset (or empty) `api_key` and `base_url` of one provider's section: the
    /// configuration first, then `OPENAI_…`, then (for the URL) [`LOCAL_OPENAI_BASE_URL`].
    pub(super) fn fill(&self, api_key: &mut Option<Secret>, base_url: &mut String) {
        if api_key
            .as_ref()
            .is_none_or(|k| k.expose().trim().is_empty())
        {
            *api_key = self.api_key.clone();
        }
        if base_url.trim().is_empty() {
            *base_url = self
                .base_url
                .clone()
                .unwrap_or_else(|| LOCAL_OPENAI_BASE_URL.to_string());
        }
    }
}
