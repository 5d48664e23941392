//! An exact vector index in memory: cosine by brute force, BM25 with IDF computed over the
//! stored points — the reference the approximate indexes are measured by.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::knowledge::{
    ChunkId, EmbeddingModel, IndexedChunk, Scope, ScoredChunk, VectorIndex, VectorPoint,
    VectorQuery, sparse,
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
