//! `[embedding]`: which model turns text into vectors.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::problems::{Problems, is_http_url};
use super::secret::Secret;

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
    /// Up to and including `/v1`. Unset: `OPENAI_BASE_URL`, else Ollama on this machine.
    #[serde(default)]
    pub base_url: String,
    /// Unset: `OPENAI_API_KEY`, if that is set.
    #[serde(default)]
    pub api_key: Option<Secret>,
    pub model: String,
    pub dimension: usize,
    pub batch_size: usize,
    pub timeout_secs: u64,
    pub max_retries: u32,
}

impl EmbeddingSettings {
    /// The rules of `embedding.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.provider == EmbeddingProvider::Openai && !is_http_url(&self.base_url) {
            problems.bad("embedding.base_url", "must be an http(s) URL ending in /v1");
        }
        if self.dimension == 0 || self.dimension > 65536 {
            problems.bad("embedding.dimension", "must be between 1 and 65536");
        }
        if self.batch_size == 0 || self.timeout_secs == 0 {
            problems.bad(
                "embedding.batch_size",
                "embedding.batch_size and embedding.timeout_secs must be more than 0",
            );
        }
    }
}
