//! `[assistant]` and `[llm]`: how answers are grounded and bounded, and which language model
//! writes them.

use serde::{Deserialize, Serialize};

use super::problems::{Problems, is_http_url};
use super::secret::Secret;

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
        if self.max_tokens == 0 || self.max_tokens > 200_000 {
            problems.bad("llm.max_tokens", "must be between 1 and 200000");
        }
        if self.max_concurrent_calls_per_user > 1000 {
            problems.bad(
                "llm.max_concurrent_calls_per_user",
                "must be at most 1000 (0 for no limit)",
            );
        }
    }
}
