//! An exact vector index in memory (cosine by brute force, BM25 with IDF computed over the
//! stored points), a deterministic embedder and a blob store: the harness's knowledge base.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::knowledge::{
    ApproximateTokens, BlobStore, BlobStream, ChunkId, Embedder, EmbeddingModel, IndexedChunk,
    Scope, ScoredChunk, TokenCounter, VectorIndex, VectorPoint, VectorQuery, sparse,
};
use parking_lot::RwLock;

/// Every point, searched exhaustively: the reference the approximate indexes are measured by.
pub struct ExactVectorIndex {
    model: EmbeddingModel,
    points: RwLock<BTreeMap<ChunkId, VectorPoint>>,
}

impl ExactVectorIndex {
    pub fn new(model: EmbeddingModel) -> Self {
        Self {
            model,
            points: RwLock::new(BTreeMap::new()),
        }
    }
}

fn in_scope(point: &VectorPoint, scope: &Scope) -> bool {
    point.user_id == scope.user
        && scope.chat.is_none_or(|c| point.chat_id == c)
        && scope.document.is_none_or(|d| point.document_id == d)
}

/// Cosine similarity.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

#[async_trait]
impl VectorIndex for ExactVectorIndex {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), InfraError> {
        let mut stored = self.points.write();
        for point in points {
            if point.dense.len() != self.model.dimension {
                return Err(InfraError::internal(format!(
                    "a vector of {} dimensions for an index of {}",
                    point.dense.len(),
                    self.model.dimension
                )));
            }
            stored.insert(point.chunk_id, point);
        }
        Ok(())
    }

    async fn search(
        &self,
        scope: Scope,
        query: VectorQuery,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, InfraError> {
        if let VectorQuery::Dense(vector) = &query
            && vector.len() != self.model.dimension
        {
            return Err(InfraError::internal(format!(
                "a query of {} dimensions for an index of {}",
                vector.len(),
                self.model.dimension
            )));
        }
        let points = self.points.read();
        let mut scored: Vec<ScoredChunk> = match &query {
            VectorQuery::Dense(vector) => points
                .values()
                .filter(|p| in_scope(p, &scope))
                .map(|p| ScoredChunk {
                    chunk_id: p.chunk_id,
                    score: cosine(vector, &p.dense),
                })
                .collect(),
            VectorQuery::Sparse(query) => {
                // Document frequencies over the whole index, as Qdrant's IDF modifier counts.
                let total = points.len() as u64;
                let mut frequency: HashMap<u32, u64> = HashMap::new();
                for point in points.values() {
                    for term in &point.sparse.indices {
                        if query.indices.contains(term) {
                            *frequency.entry(*term).or_default() += 1;
                        }
                    }
                }
                points
                    .values()
                    .filter(|p| in_scope(p, &scope))
                    .filter_map(|p| {
                        let mut score = 0f32;
                        for (term, weight) in query.indices.iter().zip(&query.values) {
                            if let Some(at) = p.sparse.indices.iter().position(|t| t == term) {
                                let df = frequency.get(term).copied().unwrap_or(0);
                                score += weight * p.sparse.values[at] * sparse::idf(total, df);
                            }
                        }
                        (score > 0.0).then_some(ScoredChunk {
                            chunk_id: p.chunk_id,
                            score,
                        })
                    })
                    .collect()
            }
        };
        scored.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.chunk_id.cmp(&b.chunk_id))
        });
        scored.truncate(limit);
        Ok(scored)
    }

    async fn delete(&self, scope: Scope) -> Result<(), InfraError> {
        self.points.write().retain(|_, p| !in_scope(p, &scope));
        Ok(())
    }

    async fn delete_chunks(&self, owner: UserId, ids: &[ChunkId]) -> Result<(), InfraError> {
        let mut points = self.points.write();
        for id in ids {
            if points.get(id).is_some_and(|p| p.user_id == owner) {
                points.remove(id);
            }
        }
        Ok(())
    }

    async fn retrieve(&self, owner: UserId, ids: &[ChunkId]) -> Result<Vec<ChunkId>, InfraError> {
        let points = self.points.read();
        Ok(ids
            .iter()
            .filter(|id| points.get(id).is_some_and(|p| p.user_id == owner))
            .copied()
            .collect())
    }

    async fn count(&self, scope: Scope) -> Result<u64, InfraError> {
        Ok(self
            .points
            .read()
            .values()
            .filter(|p| in_scope(p, &scope))
            .count() as u64)
    }

    async fn scan(
        &self,
        after: Option<ChunkId>,
        limit: usize,
    ) -> Result<Vec<IndexedChunk>, InfraError> {
        let points = self.points.read();
        Ok(points
            .values()
            .filter(|p| after.is_none_or(|a| p.chunk_id > a))
            .take(limit)
            .map(|p| IndexedChunk {
                chunk_id: p.chunk_id,
                user_id: p.user_id,
            })
            .collect())
    }
}

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

/// Blobs in a map.
#[derive(Default)]
pub struct InMemoryBlobStore {
    blobs: RwLock<BTreeMap<String, Bytes>>,
}

impl InMemoryBlobStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl BlobStore for InMemoryBlobStore {
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), InfraError> {
        let bytes = tokio::fs::read(path).await.map_err(InfraError::internal)?;
        self.blobs
            .write()
            .insert(key.to_string(), Bytes::from(bytes));
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, InfraError> {
        Ok(self.blobs.read().get(key).cloned())
    }

    async fn open(&self, key: &str) -> Result<Option<BlobStream>, InfraError> {
        let bytes = self.blobs.read().get(key).cloned();
        Ok(bytes.map(|b| Box::pin(futures_util::stream::once(async move { Ok(b) })) as BlobStream))
    }

    async fn delete(&self, key: &str) -> Result<(), InfraError> {
        self.blobs.write().remove(key);
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, InfraError> {
        let mut blobs = self.blobs.write();
        let before = blobs.len();
        blobs.retain(|key, _| !key.starts_with(prefix));
        Ok((before - blobs.len()) as u64)
    }
}
