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
    /// The vectors' size. Unset: the model's own (384 for the local model, a known `openai`
    /// model's size — see [`known_dimension`]); set, it must agree with a model we know.
    #[serde(default)]
    pub dimension: Option<usize>,
    pub batch_size: usize,
    pub timeout_secs: u64,
    pub max_retries: u32,
}

/// The size of the vectors of embedding models served through OpenAI-compatible APIs (OpenAI,
/// Ollama, TEI), by the name they are served under (an Ollama tag such as `:latest` ignored).
pub fn known_dimension(model: &str) -> Option<usize> {
    let name = model.rsplit('/').next().unwrap_or(model);
    let name = name.split(':').next().unwrap_or(name).to_ascii_lowercase();
    Some(match name.as_str() {
        "all-minilm" | "all-minilm-l6-v2" | "paraphrase-multilingual-minilm-l12-v2" => 384,
        "nomic-embed-text"
        | "nomic-embed-text-v1.5"
        | "paraphrase-multilingual"
        | "paraphrase-multilingual-mpnet-base-v2" => 768,
        "bge-m3"
        | "mxbai-embed-large"
        | "snowflake-arctic-embed"
        | "snowflake-arctic-embed2"
        | "multilingual-e5-large"
        | "bge-large-en-v1.5" => 1024,
        "text-embedding-3-small" | "text-embedding-ada-002" => 1536,
        "text-embedding-3-large" => 3072,
        _ => return None,
    })
}

/// The local model's vectors (all-MiniLM-L6-v2).
const LOCAL_DIMENSION: usize = 384;

impl EmbeddingSettings {
    /// The vectors' size: the configured one, else the model's own (validated to exist).
    pub fn dimension(&self) -> usize {
        match (self.dimension, self.provider) {
            (Some(dimension), _) => dimension,
            (None, EmbeddingProvider::Openai) => known_dimension(&self.model).unwrap_or(0),
            (None, _) => LOCAL_DIMENSION,
        }
    }

    /// The rules of `embedding.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.provider == EmbeddingProvider::Openai && !is_http_url(&self.base_url) {
            problems.bad("embedding.base_url", "must be an http(s) URL ending in /v1");
        }
        let model_size = match self.provider {
            EmbeddingProvider::Local => Some(LOCAL_DIMENSION),
            EmbeddingProvider::Openai => known_dimension(&self.model),
            EmbeddingProvider::Hash => None,
        };
        match (self.dimension, model_size) {
            (Some(0), _) => problems.bad("embedding.dimension", "must be between 1 and 65536"),
            (Some(d), _) if d > 65536 => {
                problems.bad("embedding.dimension", "must be between 1 and 65536")
            }
            (Some(d), Some(size)) if d != size => problems.bad(
                "embedding.dimension",
                format!(
                    "is {d}, but the model `{}` makes vectors of {size}; leave it unset to follow \
                     the model",
                    self.model_name()
                ),
            ),
            (None, None) if self.provider == EmbeddingProvider::Openai => problems.bad(
                "embedding.dimension",
                format!(
                    "must be set: the size of the model `{}`'s vectors is not known here",
                    self.model
                ),
            ),
            _ => {}
        }
        if self.batch_size == 0 || self.timeout_secs == 0 {
            problems.bad(
                "embedding.batch_size",
                "embedding.batch_size and embedding.timeout_secs must be more than 0",
            );
        }
    }

    fn model_name(&self) -> &str {
        match self.provider {
            EmbeddingProvider::Local => "all-MiniLM-L6-v2",
            _ => &self.model,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(
        provider: EmbeddingProvider,
        model: &str,
        dimension: Option<usize>,
    ) -> EmbeddingSettings {
        EmbeddingSettings {
            provider,
            model_dir: "models".into(),
            base_url: "http://127.0.0.1:11434/v1".into(),
            api_key: None,
            model: model.into(),
            dimension,
            batch_size: 8,
            timeout_secs: 5,
            max_retries: 1,
        }
    }

    fn problems(settings: &EmbeddingSettings) -> Vec<(String, String)> {
        let mut problems = Problems::default();
        settings.validate(&mut problems);
        match problems.into_result(super::super::problems::LoadNotes::default()) {
            Ok(_) => Vec::new(),
            Err(error) => error.problems,
        }
    }

    #[test]
    fn the_dimension_follows_the_model_unless_set() {
        let local = settings(EmbeddingProvider::Local, "ignored", None);
        assert_eq!(local.dimension(), 384);
        assert!(problems(&local).is_empty());
        let ollama = settings(EmbeddingProvider::Openai, "nomic-embed-text:latest", None);
        assert_eq!(ollama.dimension(), 768);
        assert!(problems(&ollama).is_empty());
        let bge = settings(EmbeddingProvider::Openai, "bge-m3", None);
        assert_eq!(bge.dimension(), 1024);
        let custom = settings(EmbeddingProvider::Openai, "my-own-model", Some(512));
        assert_eq!(custom.dimension(), 512);
        assert!(problems(&custom).is_empty());
    }

    #[test]
    fn a_dimension_that_contradicts_the_model_or_is_unknown_is_refused() {
        let wrong = settings(EmbeddingProvider::Openai, "nomic-embed-text", Some(384));
        let found = problems(&wrong);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("768"), "{found:?}");
        let local = settings(EmbeddingProvider::Local, "x", Some(768));
        assert!(problems(&local)[0].1.contains("384"));
        let unknown = settings(EmbeddingProvider::Openai, "my-own-model", None);
        assert!(problems(&unknown)[0].1.contains("must be set"));
        let hash = settings(EmbeddingProvider::Hash, "x", Some(16));
        assert!(problems(&hash).is_empty());
    }
}
