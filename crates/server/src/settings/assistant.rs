//! `[assistant]` and `[llm]`: how answers are grounded and bounded, and which language model
//! writes them.

use serde::{Deserialize, Serialize};

use super::problems::{Problems, is_http_url};
use super::secret::Secret;

/// The most `llm.max_tokens` may be: past any model's output window.
const MAX_TOKENS_CAP: u32 = 200_000;

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
    /// Up to and including `/v1`. Unset: `OPENAI_BASE_URL`, else Ollama on this machine.
    #[serde(default)]
    pub base_url: String,
    /// Unset: `OPENAI_API_KEY`, if that is set.
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
    /// `temperature` of every request (0 to 2); unset leaves it to the provider.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Model calls one user may have under way at once (per process); 0 for no limit.
    pub max_concurrent_calls_per_user: u32,
}

impl AssistantConfig {
    /// The rules of `assistant.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.passages == 0 || self.passages > 50 {
            problems.bad("assistant.passages", "must be between 1 and 50");
        }
        if self.max_message_chars == 0 || self.max_message_chars > 100_000 {
            problems.bad(
                "assistant.max_message_chars",
                "must be between 1 and 100000",
            );
        }
        if self.abandoned_stream_secs == 0 || self.abandoned_stream_secs > 3600 {
            problems.bad(
                "assistant.abandoned_stream_secs",
                "must be between 1 and 3600",
            );
        }
    }
}

impl LlmSettings {
    /// The rules of `llm.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.provider == LlmProvider::Openai {
            if !is_http_url(&self.base_url) {
                problems.bad("llm.base_url", "must be an http(s) URL ending in /v1");
            }
            if self.model.trim().is_empty() {
                problems.bad("llm.model", "must name the default model");
            }
        }
        if self.timeout_secs == 0 || self.timeout_secs > 600 {
            problems.bad("llm.timeout_secs", "must be between 1 and 600");
        }
        if self.max_retries > 10 {
            problems.bad("llm.max_retries", "must be at most 10");
        }
        if self.max_tokens == 0 || self.max_tokens > MAX_TOKENS_CAP {
            problems.bad("llm.max_tokens", "must be between 1 and 200000");
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            problems.bad(
                "llm.temperature",
                "must be between 0 and 2 (unset: the provider's)",
            );
        }
        if self.max_concurrent_calls_per_user > 1000 {
            problems.bad(
                "llm.max_concurrent_calls_per_user",
                "must be at most 1000 (0 for no limit)",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::settings::{Environment, Settings, SettingsError};

    fn config() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut vars = vec![(
            "FLASHFORGE__AUTH__JWT_SECRET".to_string(),
            "q8Vt2mLx9Rz4Kp7Wn3Bc6Hd1Fg5Js0Ye".to_string(),
        )];
        vars.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Settings::load_from(Environment::Test, &config(), vars).map(|(s, _)| s)
    }

    fn key(settings: &Option<super::Secret>) -> Option<&str> {
        settings.as_ref().map(|k| k.expose())
    }

    #[test]
    fn unset_provider_keys_and_urls_fall_back_to_the_openai_variables() {
        let settings = load(&[
            ("OPENAI_API_KEY", "sk-env"),
            ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        ])
        .unwrap();
        for (api_key, base_url) in [
            (&settings.llm.api_key, &settings.llm.base_url),
            (&settings.embedding.api_key, &settings.embedding.base_url),
        ] {
            assert_eq!(key(api_key), Some("sk-env"));
            assert_eq!(base_url, "https://api.openai.com/v1");
        }
    }

    #[test]
    fn flashforge_keys_win_over_the_openai_variables() {
        let settings = load(&[
            ("OPENAI_API_KEY", "sk-env"),
            ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
            ("FLASHFORGE__LLM__API_KEY", "sk-llm"),
            ("FLASHFORGE__LLM__BASE_URL", "http://llm:8000/v1"),
            ("FLASHFORGE__EMBEDDING__BASE_URL", "http://tei:80/v1"),
        ])
        .unwrap();
        assert_eq!(key(&settings.llm.api_key), Some("sk-llm"));
        assert_eq!(settings.llm.base_url, "http://llm:8000/v1");
        assert_eq!(key(&settings.embedding.api_key), Some("sk-env"));
        assert_eq!(settings.embedding.base_url, "http://tei:80/v1");
    }

    #[test]
    fn without_either_the_url_is_the_local_ollama_and_there_is_no_key() {
        let settings = load(&[("OPENAI_API_KEY", " "), ("FLASHFORGE__LLM__API_KEY", "")]).unwrap();
        for (api_key, base_url) in [
            (&settings.llm.api_key, &settings.llm.base_url),
            (&settings.embedding.api_key, &settings.embedding.base_url),
        ] {
            assert_eq!(key(api_key), None);
            assert_eq!(base_url, "http://127.0.0.1:11434/v1");
        }
        // Today's request: no temperature, max_tokens 1024.
        assert_eq!(settings.llm.temperature, None);
        assert_eq!(settings.llm.max_tokens, 1024);
    }

    #[test]
    fn temperature_and_max_tokens_are_checked_against_their_ranges() {
        let ok = load(&[
            ("FLASHFORGE__LLM__TEMPERATURE", "1.5"),
            ("FLASHFORGE__LLM__MAX_TOKENS", "4096"),
        ])
        .unwrap();
        assert_eq!(ok.llm.temperature, Some(1.5));
        assert_eq!(ok.llm.max_tokens, 4096);
        for (temperature, max_tokens) in [("-0.1", "0"), ("2.01", "200001"), ("NaN", "0")] {
            let err = load(&[
                ("FLASHFORGE__LLM__TEMPERATURE", temperature),
                ("FLASHFORGE__LLM__MAX_TOKENS", max_tokens),
            ])
            .unwrap_err();
            let keys: Vec<_> = err.problems.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, ["llm.max_tokens", "llm.temperature"], "{err}");
        }
    }
}
