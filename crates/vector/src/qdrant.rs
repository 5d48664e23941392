//! The vector index in a Qdrant server, over gRPC.
//!
//! The configured collection name is an alias. It points at a real collection named
//! `{alias}__{model-slug}__{dimension}__{unix-millis}`, whose metadata also records the model.
//! Reindexing creates a new real collection, fills it, and repoints the alias at it in one
//! atomic alias operation, then drops the old collection.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::knowledge::{
    ChunkId, EmbeddingModel, IndexedChunk, Scope, ScoredChunk, VectorIndex, VectorPoint,
    VectorQuery,
};
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::vectors_config::Config;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateAliasBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeleteCollectionBuilder, DeletePointsBuilder, Distance,
    FieldType, Filter, KeywordIndexParamsBuilder, Modifier, NamedVectors, PayloadIncludeSelector,
    PointId, PointStruct, Query, QueryPointsBuilder, ScrollPointsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpsertPointsBuilder, Value, Vector,
    VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use uuid::Uuid;

use crate::{
    CHAT_ID, DENSE, DOCUMENT_ID, PAYLOAD_KEYS, SPARSE, USER_ID, check_dimension, model_mismatch,
    model_slug, rank, unix_millis,
};

/// Collection metadata keys recording the model.
const META_MODEL: &str = "flashforge_model";
const META_DIMENSION: &str = "flashforge_dimension";
/// Separates the parts of a real collection's name.
const SEPARATOR: &str = "__";

/// The vector index in a Qdrant server. Every search, count and delete carries the owner filter.
pub struct QdrantVectorIndex {
    client: Qdrant,
    model: EmbeddingModel,
    /// The alias the application uses.
    alias: String,
    /// The collection operations go to: the alias for the active index (so that a reindex by
    /// another process is picked up), the real collection for a generation being built.
    target: String,
    /// The real collection behind this index.
    collection: String,
}

/// gRPC status codes (`tonic::Code` as numbers, so that tonic need not be a dependency).
const CANCELLED: i32 = 1;
const UNKNOWN: i32 = 2;
const DEADLINE_EXCEEDED: i32 = 4;
const RESOURCE_EXHAUSTED: i32 = 8;
const ABORTED: i32 = 10;
const INTERNAL: i32 = 13;
const UNAVAILABLE: i32 = 14;

/// Whether an error is worth retrying: the server is unreachable, overloaded or too slow.
fn is_unavailable(error: &QdrantError) -> bool {
    match error {
        QdrantError::ResponseError { status } => match status.code() as i32 {
            CANCELLED | DEADLINE_EXCEEDED | RESOURCE_EXHAUSTED | ABORTED | UNAVAILABLE => true,
            // The client reports a failed connection (refused, unresolvable, timed out) as
            // `Internal` "Failed to connect to ..."; tonic may report a broken one as `Unknown`.
            INTERNAL => status.message().starts_with("Failed to connect to"),
            UNKNOWN => {
                let message = status.message().to_ascii_lowercase();
                message.contains("transport error") || message.contains("connection")
            }
            _ => false,
        },
        QdrantError::ResourceExhaustedError { .. } | QdrantError::Io(_) => true,
        _ => false,
    }
}

fn infra(what: &str, error: QdrantError) -> InfraError {
    let message = format!("qdrant: {what}: {error}");
    if is_unavailable(&error) {
        InfraError::unavailable(message)
    } else {
        InfraError::internal(message)
    }
}

fn setup(what: &str, error: QdrantError) -> String {
    format!("qdrant: {what}: {error}")
}

fn point_id(id: ChunkId) -> PointId {
    PointId::from(id.to_string())
}

fn chunk_id(id: Option<PointId>) -> Result<ChunkId, InfraError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(text)) => Uuid::parse_str(&text)
            .map(ChunkId::from_uuid)
            .map_err(|e| InfraError::internal(format!("qdrant: a point id {text:?}: {e}"))),
        Some(PointIdOptions::Num(n)) => Err(InfraError::internal(format!(
            "qdrant: a point with the numeric id {n}; chunk ids are UUIDs"
        ))),
        None => Err(InfraError::internal("qdrant: a point without an id")),
    }
}

fn string(value: Option<&Value>) -> Option<&str> {
    match value?.kind.as_ref()? {
        Kind::StringValue(text) => Some(text),
        _ => None,
    }
}

fn is(key: &str, id: Uuid) -> Condition {
    Condition::matches(key, id.to_string())
}

fn scope_filter(scope: &Scope) -> Filter {
    let mut must = vec![is(USER_ID, scope.user.as_uuid())];
    if let Some(chat) = scope.chat {
        must.push(is(CHAT_ID, chat.as_uuid()));
    }
    if let Some(document) = scope.document {
        must.push(is(DOCUMENT_ID, document.as_uuid()));
    }
    Filter::must(must)
}

fn owned_filter(owner: UserId, ids: &[ChunkId]) -> Filter {
    Filter::must([
        is(USER_ID, owner.as_uuid()),
        Condition::has_id(ids.iter().map(|id| point_id(*id))),
    ])
}

/// The name of a new real collection for `model` behind `alias`.
fn collection_name(alias: &str, model: &EmbeddingModel) -> String {
    format!(
        "{alias}{SEPARATOR}{}{SEPARATOR}{}{SEPARATOR}{}",
        model_slug(&model.name),
        model.dimension,
        unix_millis()
    )
}

fn client(url: &str, api_key: Option<String>) -> Result<Qdrant, String> {
    Qdrant::from_url(url)
        .api_key(api_key)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .skip_compatibility_check()
        .build()
        .map_err(|e| setup(&format!("cannot configure a client for {url}"), e))
}

impl QdrantVectorIndex {
    /// Connects to the Qdrant server at `url` (its gRPC port, usually 6334) and opens the index
    /// behind the alias `collection`, creating the real collection, its payload indexes and the
    /// alias when the alias is missing. Fails when the alias points at a collection built with
    /// another model or dimension (the message says to run `flashforge kb reindex`), or when the
    /// server cannot be reached.
    pub async fn connect(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        model: &EmbeddingModel,
    ) -> Result<Self, String> {
        let client = client(url, api_key)?;
        client
            .health_check()
            .await
            .map_err(|e| setup(&format!("cannot reach {url}"), e))?;
        let real = match alias_target(&client, collection).await? {
            Some(real) => {
                check_model(&client, collection, &real, model).await?;
                real
            }
            None => {
                let exists = client
                    .collection_exists(collection)
                    .await
                    .map_err(|e| setup(&format!("cannot look up `{collection}`"), e))?;
                if exists {
                    return Err(format!(
                        "qdrant: `{collection}` is a collection, not an alias; \
                         configure another name, or move it aside and run `flashforge kb reindex`"
                    ));
                }
                let real = collection_name(collection, model);
                create_collection(&client, &real, model).await?;
                client
                    .create_alias(CreateAliasBuilder::new(real.as_str(), collection))
                    .await
                    .map_err(|e| setup(&format!("cannot create the alias `{collection}`"), e))?;
                real
            }
        };
        Ok(Self {
            client,
            model: model.clone(),
            alias: collection.to_string(),
            target: collection.to_string(),
            collection: real,
        })
    }

    /// Creates a new, empty collection for `model` behind the alias `collection`, which keeps
    /// pointing at the active one until [`activate`](Self::activate). For reindexing: fill it,
    /// then activate it.
    pub async fn create_generation(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        model: &EmbeddingModel,
    ) -> Result<Self, String> {
        let client = client(url, api_key)?;
        let real = collection_name(collection, model);
        create_collection(&client, &real, model).await?;
        Ok(Self {
            client,
            model: model.clone(),
            alias: collection.to_string(),
            target: real.clone(),
            collection: real,
        })
    }

    /// Points the alias at this index's collection (one atomic alias operation), then drops the
    /// collection it pointed at before.
    pub async fn activate(&self) -> Result<(), String> {
        let previous = alias_target(&self.client, &self.alias).await?;
        // Creating an alias that exists repoints it atomically.
        self.client
            .create_alias(CreateAliasBuilder::new(
                self.collection.as_str(),
                self.alias.as_str(),
            ))
            .await
            .map_err(|e| {
                setup(
                    &format!("cannot point `{}` at the new index", self.alias),
                    e,
                )
            })?;
        if let Some(previous) = previous.filter(|p| *p != self.collection) {
            self.client
                .delete_collection(DeleteCollectionBuilder::new(previous.as_str()))
                .await
                .map_err(|e| setup(&format!("cannot drop the old index `{previous}`"), e))?;
        }
        Ok(())
    }

    /// The real collection behind this index.
    pub fn collection(&self) -> &str {
        &self.collection
    }
}

/// The collection `alias` points at, if it exists.
async fn alias_target(client: &Qdrant, alias: &str) -> Result<Option<String>, String> {
    let aliases = client
        .list_aliases()
        .await
        .map_err(|e| setup("cannot list the aliases", e))?;
    Ok(aliases
        .aliases
        .into_iter()
        .find(|a| a.alias_name == alias)
        .map(|a| a.collection_name))
}

/// Fails when `real` was built for another model than `model`.
async fn check_model(
    client: &Qdrant,
    alias: &str,
    real: &str,
    model: &EmbeddingModel,
) -> Result<(), String> {
    let info = client
        .collection_info(real)
        .await
        .map_err(|e| setup(&format!("cannot read the collection `{real}`"), e))?;
    let config = info.result.and_then(|r| r.config);
    let dense_size = config
        .as_ref()
        .and_then(|c| c.params.as_ref())
        .and_then(|p| p.vectors_config.as_ref())
        .and_then(|v| v.config.as_ref())
        .and_then(|c| match c {
            Config::ParamsMap(map) => map.map.get(DENSE).map(|p| p.size),
            Config::Params(_) => None,
        });
    let metadata = config.as_ref().map(|c| &c.metadata);
    let recorded_name = metadata.and_then(|m| string(m.get(META_MODEL)));
    let found_name = match recorded_name {
        Some(name) => name.to_string(),
        // A server without collection metadata: the name carries the model's slug.
        None => real
            .strip_prefix(alias)
            .and_then(|rest| rest.strip_prefix(SEPARATOR))
            .and_then(|rest| rest.split(SEPARATOR).next())
            .unwrap_or("unknown")
            .to_string(),
    };
    let name_matches = match recorded_name {
        Some(name) => name == model.name,
        None => found_name == model_slug(&model.name),
    };
    let found_dimension = dense_size.and_then(|s| usize::try_from(s).ok());
    if !name_matches || found_dimension != Some(model.dimension) {
        return Err(model_mismatch(
            &format!("`{alias}` (collection `{real}`)"),
            &found_name,
            found_dimension.unwrap_or(0),
            model,
        ));
    }
    Ok(())
}

/// Creates a collection with the dense and sparse vectors, the model in its metadata, and the
/// payload indexes.
async fn create_collection(
    client: &Qdrant,
    name: &str,
    model: &EmbeddingModel,
) -> Result<(), String> {
    let mut vectors = VectorsConfigBuilder::default();
    vectors.add_named_vector_params(
        DENSE,
        VectorParamsBuilder::new(model.dimension as u64, Distance::Cosine),
    );
    let mut sparse = SparseVectorsConfigBuilder::default();
    sparse.add_named_vector_params(
        SPARSE,
        SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
    );
    let mut request = CreateCollectionBuilder::new(name)
        .vectors_config(vectors)
        .sparse_vectors_config(sparse)
        .build();
    request.metadata = HashMap::from([
        (META_MODEL.to_string(), Value::from(model.name.clone())),
        (
            META_DIMENSION.to_string(),
            Value::from(model.dimension as i64),
        ),
    ]);
    client
        .create_collection(request)
        .await
        .map_err(|e| setup(&format!("cannot create the collection `{name}`"), e))?;
    for key in PAYLOAD_KEYS {
        let mut index =
            CreateFieldIndexCollectionBuilder::new(name, key, FieldType::Keyword).wait(true);
        if key == USER_ID {
            // Every query filters by user: let Qdrant lay out and index points per user.
            index = index.field_index_params(KeywordIndexParamsBuilder::default().is_tenant(true));
        }
        client
            .create_field_index(index)
            .await
            .map_err(|e| setup(&format!("cannot index `{key}` of `{name}`"), e))?;
    }
    Ok(())
}

#[async_trait]
impl VectorIndex for QdrantVectorIndex {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), InfraError> {
        if points.is_empty() {
            return Ok(());
        }
        let mut structs = Vec::with_capacity(points.len());
        for point in points {
            check_dimension(point.dense.len(), &self.model)?;
            let vectors = NamedVectors::default()
                .add_vector(DENSE, Vector::new_dense(point.dense))
                .add_vector(
                    SPARSE,
                    Vector::new_sparse(point.sparse.indices, point.sparse.values),
                );
            let payload = Payload::from(HashMap::from([
                (USER_ID.to_string(), Value::from(point.user_id.to_string())),
                (CHAT_ID.to_string(), Value::from(point.chat_id.to_string())),
                (
                    DOCUMENT_ID.to_string(),
                    Value::from(point.document_id.to_string()),
                ),
            ]));
            structs.push(PointStruct::new(point_id(point.chunk_id), vectors, payload));
        }
        self.client
            .upsert_points(UpsertPointsBuilder::new(self.target.as_str(), structs).wait(true))
            .await
            .map_err(|e| infra("upsert", e))?;
        Ok(())
    }

    async fn search(
        &self,
        scope: Scope,
        query: VectorQuery,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, InfraError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (input, using, sparse) = match query {
            VectorQuery::Dense(vector) => {
                check_dimension(vector.len(), &self.model)?;
                (VectorInput::new_dense(vector), DENSE, false)
            }
            VectorQuery::Sparse(vector) => {
                if vector.indices.is_empty() {
                    return Ok(Vec::new());
                }
                (
                    VectorInput::new_sparse(vector.indices, vector.values),
                    SPARSE,
                    true,
                )
            }
        };
        let response = self
            .client
            .query(
                QueryPointsBuilder::new(self.target.as_str())
                    .query(Query::new_nearest(input))
                    .using(using)
                    .filter(scope_filter(&scope))
                    .limit(limit as u64)
                    .with_payload(false),
            )
            .await
            .map_err(|e| infra("search", e))?;
        let mut scored = Vec::with_capacity(response.result.len());
        for point in response.result {
            // A sparse score of zero means no shared term: the exact index leaves those out.
            if sparse && point.score <= 0.0 {
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

    async fn delete(&self, scope: Scope) -> Result<(), InfraError> {
        self.client
            .delete_points(
                DeletePointsBuilder::new(self.target.as_str())
                    .points(scope_filter(&scope))
                    .wait(true),
            )
            .await
            .map_err(|e| infra("delete", e))?;
        Ok(())
    }

    async fn delete_chunks(&self, owner: UserId, ids: &[ChunkId]) -> Result<(), InfraError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.client
            .delete_points(
                DeletePointsBuilder::new(self.target.as_str())
                    .points(owned_filter(owner, ids))
                    .wait(true),
            )
            .await
            .map_err(|e| infra("delete chunks", e))?;
        Ok(())
    }

    async fn retrieve(&self, owner: UserId, ids: &[ChunkId]) -> Result<Vec<ChunkId>, InfraError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let limit = u32::try_from(ids.len()).unwrap_or(u32::MAX);
        let response = self
            .client
            .scroll(
                ScrollPointsBuilder::new(self.target.as_str())
                    .filter(owned_filter(owner, ids))
                    .limit(limit)
                    .with_payload(false)
                    .with_vectors(false),
            )
            .await
            .map_err(|e| infra("retrieve", e))?;
        let found = response
            .result
            .into_iter()
            .map(|p| chunk_id(p.id))
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(ids
            .iter()
            .filter(|id| found.contains(id))
            .copied()
            .collect())
    }

    async fn count(&self, scope: Scope) -> Result<u64, InfraError> {
        let response = self
            .client
            .count(
                CountPointsBuilder::new(self.target.as_str())
                    .filter(scope_filter(&scope))
                    .exact(true),
            )
            .await
            .map_err(|e| infra("count", e))?;
        Ok(response.result.map_or(0, |r| r.count))
    }

    async fn scan(
        &self,
        after: Option<ChunkId>,
        limit: usize,
    ) -> Result<Vec<IndexedChunk>, InfraError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The scroll's offset is inclusive: ask for one more and drop `after` itself.
        let page = u32::try_from(limit.saturating_add(1)).unwrap_or(u32::MAX);
        let mut request = ScrollPointsBuilder::new(self.target.as_str())
            .limit(page)
            .with_payload(PayloadIncludeSelector::new(vec![USER_ID.to_string()]))
            .with_vectors(false);
        if let Some(after) = after {
            request = request.offset(point_id(after));
        }
        let response = self
            .client
            .scroll(request)
            .await
            .map_err(|e| infra("scan", e))?;
        let mut chunks = Vec::with_capacity(limit);
        for point in response.result {
            let chunk = chunk_id(point.id)?;
            if after.is_some_and(|a| chunk <= a) {
                continue;
            }
            if chunks.len() == limit {
                break;
            }
            let user = string(point.payload.get(USER_ID))
                .and_then(|s| Uuid::parse_str(s).ok())
                .ok_or_else(|| {
                    InfraError::internal(format!(
                        "qdrant: the point {chunk} has no valid `{USER_ID}`"
                    ))
                })?;
            chunks.push(IndexedChunk {
                chunk_id: chunk,
                user_id: UserId::from_uuid(user),
            });
        }
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests;
