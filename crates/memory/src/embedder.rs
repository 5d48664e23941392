//! A deterministic embedder for the test harness.

use std::sync::Arc;

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::knowledge::{
    ApproximateTokens, Embedder, EmbeddingModel, TokenCounter, sparse,
};

/// A deterministic embedder for the harness: each word adds a fixed pseudo-random unit vector
/// (hashed from the word), so texts sharing words are close. Not a language model: it knows
/// nothing of meaning, only of shared words.
pub struct HashEmbedder {
    model: EmbeddingModel,
}

impl HashEmbedder {
    pub fn new(dimension: usize) -> Self {
        Self {
            model: EmbeddingModel {
                name: format!("hash-{dimension}"),
                dimension,
            },
        }
    }

    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0f32; self.model.dimension];
        for term in sparse::terms(text) {
            let mut state = u64::from(sparse::term_id(&term)) | 1;
            for value in vector.iter_mut() {
                // xorshift64*
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
                *value += (bits >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
            }
        }
        let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|v| *v /= norm);
        }
        vector
    }
}

#[async_trait]
impl Embedder for HashEmbedder {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    fn token_counter(&self) -> Arc<dyn TokenCounter> {
        Arc::new(ApproximateTokens)
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, InfraError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}
