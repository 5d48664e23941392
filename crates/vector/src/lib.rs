//! The vector-index adapters of the knowledge base: [`EdgeVectorIndex`] keeps the index in-process
//! on local disk (Qdrant Edge), [`QdrantVectorIndex`] in a Qdrant server (gRPC).
//!
//! Both store one point per chunk, keyed by the chunk's UUID, with a named dense vector `dense`
//! (cosine, the embedding model's dimension), a named sparse vector `bm25` (Qdrant's IDF modifier,
//! so the stored BM25 term-frequency parts are weighed by inverse document frequency at query
//! time) and the payload `user_id`, `chat_id`, `document_id` (UUID strings, each with a keyword
//! payload index). Every search, count and delete is filtered by the owner.
//!
//! An index remembers the embedding model it was built with; opening it with another model fails
//! with a message that says to run `flashforge kb reindex`. Reindexing builds a new, empty
//! generation beside the active one (`create_generation`), fills it, and switches to it
//! atomically (`activate`), deleting the old generation.

mod edge;
mod qdrant;

pub use edge::EdgeVectorIndex;
pub use qdrant::QdrantVectorIndex;

use flashforge_domain::knowledge::{EmbeddingModel, ScoredChunk};

/// The name of the dense vector.
const DENSE: &str = "dense";
/// The name of the sparse (BM25) vector.
const SPARSE: &str = "bm25";
/// Payload keys.
const USER_ID: &str = "user_id";
const CHAT_ID: &str = "chat_id";
const DOCUMENT_ID: &str = "document_id";
/// Every payload key, each indexed.
const PAYLOAD_KEYS: [&str; 3] = [USER_ID, CHAT_ID, DOCUMENT_ID];

/// The error of an index built with another embedding model than the configured one.
fn model_mismatch(
    location: &str,
    found_name: &str,
    found_dimension: usize,
    model: &EmbeddingModel,
) -> String {
    format!(
        "the vector index {location} was built with the embedding model `{found_name}` \
         ({found_dimension} dimensions), but the configured model is `{}` ({} dimensions); \
         run `flashforge kb reindex` to rebuild the index for the configured model",
        model.name, model.dimension
    )
}

/// A model name as it can appear in a directory or collection name: lowercase ASCII letters and
/// digits, every other run of characters a single `-`, at most 48 characters.
fn model_slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug.truncate(48);
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        slug.push_str("model");
    }
    slug
}

/// Milliseconds since the Unix epoch, for generation names.
fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// Orders search results as the exact reference index does: best first, ties by chunk id.
fn rank(scored: &mut [ScoredChunk]) {
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.chunk_id.cmp(&b.chunk_id))
    });
}

/// Checks a vector's length against the index's dimension.
fn check_dimension(
    got: usize,
    model: &EmbeddingModel,
) -> Result<(), flashforge_domain::InfraError> {
    if got == model.dimension {
        Ok(())
    } else {
        Err(flashforge_domain::InfraError::internal(format!(
            "a vector of {got} dimensions for an index of {} ({})",
            model.dimension, model.name
        )))
    }
}

#[cfg(test)]
mod scenario;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_ascii_words() {
        assert_eq!(
            model_slug("sentence-transformers/all-MiniLM-L6-v2"),
            "sentence-transformers-all-minilm-l6-v2"
        );
        assert_eq!(model_slug("  BGE small (en) "), "bge-small-en");
        assert_eq!(model_slug("???"), "model");
        assert!(model_slug(&"x".repeat(100)).len() <= 48);
    }

    #[test]
    fn the_mismatch_message_names_both_models_and_the_fix() {
        let model = EmbeddingModel {
            name: "bge-small".into(),
            dimension: 384,
        };
        let message = model_mismatch("at /data", "minilm", 256, &model);
        assert!(message.contains("minilm"));
        assert!(message.contains("bge-small"));
        assert!(
            message.contains(
                "run `flashforge kb reindex` to rebuild the index for the configured model"
            )
        );
    }

    /// The reference the scenario's expectations come from passes it too: one contract suite,
    /// every adapter (the Qdrant server's runs when QDRANT_URL is set).
    #[tokio::test]
    async fn the_exact_in_memory_index_passes_the_contract() {
        let index = flashforge_memory::ExactVectorIndex::new(scenario::model());
        scenario::exercise(&index).await;
    }
}
