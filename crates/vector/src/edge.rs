//! The vector index in-process, on local disk: a Qdrant Edge shard.
//!
//! Layout of the index directory:
//!
//! ```text
//! dir/index.json         {"model": "...", "dimension": 384, "generation": "gen-1718000000000"}
//! dir/gen-1718000000000/ the active shard
//! dir/gen-1718000001234/ a generation being built by a reindex (until it is activated)
//! ```
//!
//! Qdrant Edge 0.7.2 has no write-ahead-log replay: what was written is durable only once the
//! shard is flushed, so every write here flushes before it returns. Its `flush` panics when it
//! meets a concurrent writer, so writes, flushes and optimizations are serialized by a mutex;
//! reads run concurrently. Edge never optimizes on its own: after enough writes an optimization
//! (HNSW indexing, merging, vacuuming deleted points) runs in the background.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::knowledge::{
    AtRestWork, ChunkId, EmbeddingModel, IndexedChunk, Scope, ScoredChunk, SparseVector,
    VectorIndex, VectorPoint, VectorQuery,
};
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard,
    EdgeSparseVectorParams, EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter,
    HasIdCondition, HnswIndexConfig, JsonPath, Match, Modifier, NamedQuery, Payload,
    PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStructPersisted, QueryEnum, QueryRequest, ScoringQuery, ScrollRequest, SearchParams,
    UpdateOperation, VectorInternal, VectorPersisted, VectorStructPersisted, WithPayloadInterface,
    WithVector,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    CHAT_ID, DENSE, DOCUMENT_ID, SPARSE, USER_ID, check_dimension, model_mismatch, rank,
    unix_millis,
};

/// The file naming the model and the active generation.
const INDEX_FILE: &str = "index.json";
/// Generation directories start with this.
const GENERATION_PREFIX: &str = "gen-";
/// Qdrant Edge's own config file in a shard directory.
const EDGE_CONFIG_FILE: &str = "edge_config.json";
/// Points written or deleted after which an optimization is started.
const OPTIMIZE_AFTER: usize = 1024;

/// What `index.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct IndexFile {
    model: String,
    dimension: usize,
    generation: String,
}

/// Knobs the tests turn: how soon segments get an HNSW index and when HNSW is used at all.
#[derive(Debug, Clone, Default)]
struct Tuning {
    optimizers: EdgeOptimizersConfig,
    hnsw: Option<HnswIndexConfig>,
}

/// The vector index on a Qdrant Edge shard in a local directory. Cheap to share behind an `Arc`;
/// every call runs on tokio's blocking pool.
pub struct EdgeVectorIndex {
    model: EmbeddingModel,
    dir: PathBuf,
    generation: String,
    inner: Arc<Inner>,
}

/// The shard, dropped under `catch_unwind`: qdrant-edge flushes on drop and panics when that
/// fails (its folder removed, a full disk), which must not take a process down at shutdown.
struct Guarded(Option<EdgeShard>);

impl std::ops::Deref for Guarded {
    type Target = EdgeShard;
    fn deref(&self) -> &EdgeShard {
        match &self.0 {
            Some(shard) => shard,
            // Only `drop` takes it out.
            None => unreachable!("the shard is only taken when dropped"),
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Some(shard) = self.0.take()
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(shard))).is_err()
        {
            tracing::error!("the vector index could not be flushed when it was closed");
        }
    }
}

struct Inner {
    shard: Guarded,
    /// Held by every write, flush and optimization (see the module's documentation).
    writes: Mutex<WriteState>,
    /// An optimization is queued or running.
    optimizing: AtomicBool,
    filters: Keys,
}

#[derive(Default)]
struct WriteState {
    /// Points written or deleted since the last optimization.
    changed: usize,
}

/// The payload keys, parsed once.
struct Keys {
    user: JsonPath,
    chat: JsonPath,
    document: JsonPath,
}

impl Keys {
    fn new() -> Result<Self, String> {
        let parse = |key: &str| {
            key.parse::<JsonPath>()
                .map_err(|()| format!("`{key}` is not a valid payload key"))
        };
        Ok(Self {
            user: parse(USER_ID)?,
            chat: parse(CHAT_ID)?,
            document: parse(DOCUMENT_ID)?,
        })
    }

    fn is(&self, key: &JsonPath, id: Uuid) -> Condition {
        Condition::Field(FieldCondition::new_match(
            key.clone(),
            Match::from(id.to_string()),
        ))
    }

    fn scope(&self, scope: &Scope) -> Filter {
        let mut must = vec![self.is(&self.user, scope.user.as_uuid())];
        if let Some(chat) = scope.chat {
            must.push(self.is(&self.chat, chat.as_uuid()));
        }
        if let Some(document) = scope.document {
            must.push(self.is(&self.document, document.as_uuid()));
        }
        all(must)
    }

    /// `owner`'s points among `ids`.
    fn owned(&self, owner: UserId, ids: &[ChunkId]) -> Filter {
        let has_id: HasIdCondition = ids.iter().map(|id| point_id(*id)).collect();
        all(vec![
            self.is(&self.user, owner.as_uuid()),
            Condition::HasId(has_id),
        ])
    }
}

fn all(must: Vec<Condition>) -> Filter {
    Filter {
        should: None,
        min_should: None,
        must: Some(must),
        must_not: None,
    }
}

fn point_id(id: ChunkId) -> PointId {
    PointId::Uuid(id.as_uuid())
}

fn chunk_id(id: PointId) -> Result<ChunkId, InfraError> {
    match id {
        PointId::Uuid(uuid) => Ok(ChunkId::from_uuid(uuid)),
        PointId::NumId(n) => Err(InfraError::internal(format!(
            "the vector index holds a point with the numeric id {n}; chunk ids are UUIDs"
        ))),
    }
}

fn edge_error(error: impl std::fmt::Display) -> InfraError {
    InfraError::internal(format!("qdrant edge: {error}"))
}

fn sparse(vector: SparseVector) -> Result<qdrant_edge::SparseVector, InfraError> {
    let mut vector = qdrant_edge::SparseVector::new(vector.indices, vector.values)
        .map_err(|e| InfraError::internal(format!("an invalid sparse vector: {e}")))?;
    vector.sort_by_indices();
    Ok(vector)
}

fn edge_config(model: &EmbeddingModel, tuning: &Tuning) -> EdgeConfig {
    let mut builder = EdgeConfig::builder()
        .vector(
            DENSE,
            EdgeVectorParams::builder(model.dimension, Distance::Cosine).build(),
        )
        .sparse_vector(
            SPARSE,
            EdgeSparseVectorParams::builder()
                .modifier(Modifier::Idf)
                .build(),
        )
        .optimizers(tuning.optimizers.clone());
    if let Some(hnsw) = tuning.hnsw {
        builder = builder.hnsw_config(hnsw);
    }
    builder.build()
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, WriteState> {
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens the shard in `path`, creating it when the directory holds none.
    fn open(path: &Path, model: &EmbeddingModel, tuning: &Tuning) -> Result<Self, String> {
        fs::create_dir_all(path)
            .map_err(|e| format!("cannot create the vector index directory {path:?}: {e}"))?;
        let shard = if path.join(EDGE_CONFIG_FILE).exists() {
            EdgeShard::load(path, None)
                .map_err(|e| format!("cannot load the vector index in {path:?}: {e}"))?
        } else {
            EdgeShard::new(path, edge_config(model, tuning))
                .map_err(|e| format!("cannot create the vector index in {path:?}: {e}"))?
        };
        check_shard(&shard, path, model)?;
        let inner = Self {
            shard: Guarded(Some(shard)),
            writes: Mutex::new(WriteState::default()),
            optimizing: AtomicBool::new(false),
            filters: Keys::new()?,
        };
        {
            let _writes = inner.lock();
            inner
                .ensure_payload_indexes()
                .map_err(|e| format!("cannot index the payload of {path:?}: {e}"))?;
            inner.shard.flush();
        }
        Ok(inner)
    }

    /// Creates the keyword indexes of the payload keys (a no-op for those that exist). The caller
    /// holds the write lock.
    fn ensure_payload_indexes(&self) -> Result<(), qdrant_edge::OperationError> {
        for key in [
            &self.filters.user,
            &self.filters.chat,
            &self.filters.document,
        ] {
            self.shard.update(UpdateOperation::FieldIndexOperation(
                FieldIndexOperations::CreateIndex(CreateIndex {
                    field_name: key.clone(),
                    field_schema: Some(PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
                }),
            ))?;
        }
        Ok(())
    }

    /// Applies `operation` and flushes; `changed` points count toward the next optimization.
    /// Returns whether the caller should start one.
    fn write(&self, operation: UpdateOperation, changed: usize) -> Result<bool, InfraError> {
        let mut state = self.lock();
        self.shard.update(operation).map_err(edge_error)?;
        self.shard.flush();
        state.changed += changed;
        Ok(state.changed >= OPTIMIZE_AFTER && !self.optimizing.swap(true, Ordering::AcqRel))
    }

    fn optimize(&self) -> Result<(), InfraError> {
        let mut state = self.lock();
        let result = self.shard.optimize().map_err(edge_error).and_then(|_| {
            // Segments built by the optimizer keep their payload indexes; this only covers a
            // fresh appendable segment.
            self.ensure_payload_indexes().map_err(edge_error)
        });
        self.shard.flush();
        state.changed = 0;
        self.optimizing.store(false, Ordering::Release);
        result
    }

    fn search(
        &self,
        scope: &Scope,
        query: VectorQuery,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, InfraError> {
        let sparse_query = matches!(query, VectorQuery::Sparse(_));
        // A beam well above the limit keeps HNSW recall high (measured in the knowledge
        // benchmark against exact search); sparse search is exact already.
        let params = (!sparse_query).then(|| SearchParams {
            hnsw_ef: Some((limit * 8).max(128)),
            ..SearchParams::default()
        });
        let query = match query {
            VectorQuery::Dense(vector) => {
                NamedQuery::new(VectorInternal::Dense(vector), DENSE.to_string())
            }
            VectorQuery::Sparse(vector) => {
                NamedQuery::new(VectorInternal::Sparse(sparse(vector)?), SPARSE.to_string())
            }
        };
        let points = self
            .shard
            .query(QueryRequest {
                prefetches: Vec::new(),
                query: Some(ScoringQuery::Vector(QueryEnum::Nearest(query))),
                filter: Some(self.filters.scope(scope)),
                score_threshold: None,
                limit,
                offset: 0,
                params,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(false),
            })
            .map_err(edge_error)?;
        let mut scored = Vec::with_capacity(points.len());
        for point in points {
            // A sparse score of zero means no shared term: the exact index leaves those out.
            if sparse_query && point.score <= 0.0 {
                continue;
            }
            scored.push(ScoredChunk {
                chunk_id: chunk_id(point.id)?,
                score: point.score,
            });
        }
        rank(&mut scored);
        Ok(scored)
    }

    fn scroll(
        &self,
        offset: Option<PointId>,
        limit: usize,
        filter: Option<Filter>,
        with_payload: bool,
    ) -> Result<Vec<qdrant_edge::Record>, InfraError> {
        let (records, _next) = self
            .shard
            .scroll(ScrollRequest {
                offset,
                limit: Some(limit),
                filter,
                with_payload: Some(WithPayloadInterface::Bool(with_payload)),
                with_vector: WithVector::Bool(false),
                order_by: None,
            })
            .map_err(edge_error)?;
        Ok(records)
    }

    fn count(&self, filter: Filter) -> Result<u64, InfraError> {
        let count = self
            .shard
            .count(CountRequest {
                filter: Some(filter),
                exact: true,
            })
            .map_err(edge_error)?;
        Ok(count as u64)
    }
}

/// Checks that a loaded shard has the vectors this index needs.
fn check_shard(shard: &EdgeShard, path: &Path, model: &EmbeddingModel) -> Result<(), String> {
    let config = shard.config();
    let dense = config.vectors.get(DENSE).ok_or_else(|| {
        format!("the vector index in {path:?} has no `{DENSE}` vector; run `flashforge kb reindex`")
    })?;
    if dense.size != model.dimension {
        return Err(model_mismatch(
            &format!("in {path:?}"),
            "unknown",
            dense.size,
            model,
        ));
    }
    let has_idf = config
        .sparse_vectors
        .get(SPARSE)
        .is_some_and(|s| s.modifier == Some(Modifier::Idf));
    if !has_idf {
        return Err(format!(
            "the vector index in {path:?} has no `{SPARSE}` vector with IDF; \
             run `flashforge kb reindex`"
        ));
    }
    Ok(())
}

fn read_index_file(dir: &Path) -> Result<Option<IndexFile>, String> {
    let path = dir.join(INDEX_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {path:?}: {e}")),
    };
    let file: IndexFile = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{path:?} is not a valid vector index file: {e}"))?;
    let plain = !file.generation.is_empty()
        && file
            .generation
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return Err(format!(
            "{path:?} names the generation {:?}, which is not a plain directory name",
            file.generation
        ));
    }
    Ok(Some(file))
}

/// Writes `index.json` atomically: a temporary file, synced, renamed over the old one.
fn write_index_file(dir: &Path, file: &IndexFile) -> Result<(), String> {
    let path = dir.join(INDEX_FILE);
    let temporary = dir.join(format!("{INDEX_FILE}.tmp"));
    let json = serde_json::to_vec_pretty(file).map_err(|e| e.to_string())?;
    let write = || -> std::io::Result<()> {
        let mut out = fs::File::create(&temporary)?;
        out.write_all(&json)?;
        out.sync_all()?;
        fs::rename(&temporary, &path)?;
        // Make the rename itself durable.
        fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot write {path:?}: {e}"))
}

/// A name for a new generation directory that does not exist yet.
fn new_generation(dir: &Path) -> String {
    let base = format!("{GENERATION_PREFIX}{}", unix_millis());
    let mut name = base.clone();
    let mut n = 1;
    while dir.join(&name).exists() {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

impl EdgeVectorIndex {
    /// Opens the index in `dir` for `model`, creating the directory, a first generation and
    /// `index.json` when missing. Fails when the index was built with another model or dimension
    /// (the message says to run `flashforge kb reindex`). Blocks: call it at startup or on a
    /// blocking thread.
    pub fn open(dir: &Path, model: &EmbeddingModel) -> Result<Self, String> {
        Self::open_tuned(dir, model, Tuning::default())
    }

    fn open_tuned(dir: &Path, model: &EmbeddingModel, tuning: Tuning) -> Result<Self, String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the vector index directory {dir:?}: {e}"))?;
        match read_index_file(dir)? {
            Some(file) => {
                if file.model != model.name || file.dimension != model.dimension {
                    return Err(model_mismatch(
                        &format!("in {dir:?}"),
                        &file.model,
                        file.dimension,
                        model,
                    ));
                }
                let path = dir.join(&file.generation);
                if !path.exists() {
                    tracing::warn!(
                        path = %path.display(),
                        "the active vector index generation is missing; starting it empty"
                    );
                }
                let inner = Inner::open(&path, model, &tuning)?;
                Ok(Self::new(dir, model, file.generation, inner))
            }
            None => {
                let generation = new_generation(dir);
                let inner = Inner::open(&dir.join(&generation), model, &tuning)?;
                write_index_file(
                    dir,
                    &IndexFile {
                        model: model.name.clone(),
                        dimension: model.dimension,
                        generation: generation.clone(),
                    },
                )?;
                Ok(Self::new(dir, model, generation, inner))
            }
        }
    }

    /// Creates a new, empty generation in `dir` for `model`, beside the active one, which stays
    /// active until [`activate`](Self::activate). For reindexing: fill it, then activate it.
    pub fn create_generation(dir: &Path, model: &EmbeddingModel) -> Result<Self, String> {
        Self::create_generation_tuned(dir, model, Tuning::default())
    }

    fn create_generation_tuned(
        dir: &Path,
        model: &EmbeddingModel,
        tuning: Tuning,
    ) -> Result<Self, String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the vector index directory {dir:?}: {e}"))?;
        let generation = new_generation(dir);
        let inner = Inner::open(&dir.join(&generation), model, &tuning)?;
        Ok(Self::new(dir, model, generation, inner))
    }

    fn new(dir: &Path, model: &EmbeddingModel, generation: String, inner: Inner) -> Self {
        Self {
            model: model.clone(),
            dir: dir.to_path_buf(),
            generation,
            inner: Arc::new(inner),
        }
    }

    /// Makes this generation the active one: rewrites `index.json` atomically to name it and
    /// this model, then deletes every other generation directory. Drop any index still open on
    /// another generation first: its files are deleted. Blocks briefly (file system work).
    pub fn activate(&self) -> Result<(), String> {
        {
            let _writes = self.inner.lock();
            self.inner.shard.flush();
        }
        write_index_file(
            &self.dir,
            &IndexFile {
                model: self.model.name.clone(),
                dimension: self.model.dimension,
                generation: self.generation.clone(),
            },
        )?;
        let entries =
            fs::read_dir(&self.dir).map_err(|e| format!("cannot list {:?}: {e}", self.dir))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if is_dir
                && name.starts_with(GENERATION_PREFIX)
                && name != self.generation
                && let Err(error) = fs::remove_dir_all(entry.path())
            {
                tracing::warn!(
                    path = %entry.path().display(),
                    %error,
                    "cannot delete an old vector index generation"
                );
            }
        }
        Ok(())
    }

    /// The directory name of this index's generation.
    pub fn generation(&self) -> &str {
        &self.generation
    }

    /// Writes everything to disk. Every write already flushes; this is for shutdown paths that
    /// want to be explicit.
    pub async fn flush(&self) -> Result<(), InfraError> {
        self.blocking(|inner| {
            let _writes = inner.lock();
            inner.shard.flush();
            Ok(())
        })
        .await
    }

    /// Runs the optimizers (HNSW indexing of large segments, merging, vacuuming deleted points)
    /// until they have nothing left to do. Writes wait meanwhile; searches do not.
    pub async fn optimize(&self) -> Result<(), InfraError> {
        self.inner.optimizing.store(true, Ordering::Release);
        self.blocking(|inner| inner.optimize()).await
    }

    /// Runs `task` on tokio's blocking pool; a panic in Qdrant Edge becomes an error.
    async fn blocking<T, F>(&self, task: F) -> Result<T, InfraError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, InfraError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || task(&inner))
            .await
            .map_err(|e| InfraError::internal(format!("a vector index task failed: {e}")))?
    }

    /// Applies a write and starts an optimization in the background when one is due.
    async fn write(&self, operation: UpdateOperation, changed: usize) -> Result<(), InfraError> {
        let optimize = self
            .blocking(move |inner| inner.write(operation, changed))
            .await?;
        if optimize {
            let inner = Arc::clone(&self.inner);
            tokio::task::spawn_blocking(move || {
                if let Err(error) = inner.optimize() {
                    tracing::warn!(%error, "optimizing the vector index failed");
                }
            });
        }
        Ok(())
    }
}

#[async_trait]
impl VectorIndex for EdgeVectorIndex {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    async fn at_rest(&self, work: AtRestWork) -> Result<(), InfraError> {
        self.blocking(move |inner| {
            let _writes = inner.lock();
            inner.shard.flush();
            work();
            Ok(())
        })
        .await
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), InfraError> {
        if points.is_empty() {
            return Ok(());
        }
        let count = points.len();
        let mut persisted = Vec::with_capacity(count);
        for point in points {
            check_dimension(point.dense.len(), &self.model)?;
            let vectors = HashMap::from([
                (DENSE.to_string(), VectorPersisted::Dense(point.dense)),
                (
                    SPARSE.to_string(),
                    VectorPersisted::Sparse(sparse(point.sparse)?),
                ),
            ]);
            let payload = serde_json::Map::from_iter([
                (
                    USER_ID.to_string(),
                    serde_json::Value::String(point.user_id.to_string()),
                ),
                (
                    CHAT_ID.to_string(),
                    serde_json::Value::String(point.chat_id.to_string()),
                ),
                (
                    DOCUMENT_ID.to_string(),
                    serde_json::Value::String(point.document_id.to_string()),
                ),
            ]);
            persisted.push(PointStructPersisted {
                id: point_id(point.chunk_id),
                vector: VectorStructPersisted::Named(vectors),
                payload: Some(Payload(payload)),
            });
        }
        let operation = UpdateOperation::PointOperation(PointOperations::UpsertPoints(
            PointInsertOperations::PointsList(persisted),
        ));
        self.write(operation, count).await
    }

    async fn search(
        &self,
        scope: Scope,
        query: VectorQuery,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, InfraError> {
        match &query {
            _ if limit == 0 => return Ok(Vec::new()),
            VectorQuery::Dense(vector) => check_dimension(vector.len(), &self.model)?,
            VectorQuery::Sparse(vector) if vector.indices.is_empty() => return Ok(Vec::new()),
            VectorQuery::Sparse(_) => {}
        }
        self.blocking(move |inner| inner.search(&scope, query, limit))
            .await
    }

    async fn delete(&self, scope: Scope) -> Result<(), InfraError> {
        let changed = self
            .blocking(move |inner| inner.count(inner.filters.scope(&scope)))
            .await?;
        if changed == 0 {
            return Ok(());
        }
        let filter = self.inner.filters.scope(&scope);
        let operation =
            UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter));
        self.write(operation, usize::try_from(changed).unwrap_or(usize::MAX))
            .await
    }

    async fn delete_chunks(&self, owner: UserId, ids: &[ChunkId]) -> Result<(), InfraError> {
        if ids.is_empty() {
            return Ok(());
        }
        let filter = self.inner.filters.owned(owner, ids);
        let operation =
            UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter));
        self.write(operation, ids.len()).await
    }

    async fn retrieve(&self, owner: UserId, ids: &[ChunkId]) -> Result<Vec<ChunkId>, InfraError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = ids.to_vec();
        let found = self
            .blocking(move |inner| {
                let filter = inner.filters.owned(owner, &wanted);
                let records = inner.scroll(None, wanted.len(), Some(filter), false)?;
                records
                    .into_iter()
                    .map(|r| chunk_id(r.id))
                    .collect::<Result<HashSet<_>, _>>()
            })
            .await?;
        Ok(ids
            .iter()
            .filter(|id| found.contains(id))
            .copied()
            .collect())
    }

    async fn count(&self, scope: Scope) -> Result<u64, InfraError> {
        self.blocking(move |inner| inner.count(inner.filters.scope(&scope)))
            .await
    }

    async fn scan(
        &self,
        after: Option<ChunkId>,
        limit: usize,
    ) -> Result<Vec<IndexedChunk>, InfraError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.blocking(move |inner| {
            // The scroll's offset is inclusive: ask for one more and drop `after` itself.
            let records = inner.scroll(after.map(point_id), limit.saturating_add(1), None, true)?;
            let mut chunks = Vec::with_capacity(limit);
            for record in records {
                let chunk = chunk_id(record.id)?;
                if after.is_some_and(|a| chunk <= a) {
                    continue;
                }
                if chunks.len() == limit {
                    break;
                }
                let user = record
                    .payload
                    .as_ref()
                    .and_then(|p| p.0.get(USER_ID))
                    .and_then(|v| v.as_str())
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or_else(|| {
                        InfraError::internal(format!(
                            "the vector index point {chunk} has no valid `{USER_ID}`"
                        ))
                    })?;
                chunks.push(IndexedChunk {
                    chunk_id: chunk,
                    user_id: UserId::from_uuid(user),
                });
            }
            Ok(chunks)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
