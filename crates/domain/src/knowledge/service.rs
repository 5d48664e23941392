//! The knowledge base: uploads, the ingestion pipeline a worker runs, search, and removal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::bounds::ExtractionLimits;
use super::chunking::ChunkSettings;
use super::error::KnowledgeError;
use super::inspect::Inspection;
use super::language::Language;
use super::models::{
    Chunk, ChunkCursor, ChunkId, Document, DocumentCursor, DocumentId, DocumentStatus, FileName,
    JobId, Scope, SearchHit, SearchMode, chat_blob_prefix, user_blob_prefix,
};
use super::ports::{
    BlobStore, BlobStream, Created, DocumentRepository, Embedder, NewDocument, TextExtractor,
    VectorIndex, VectorPoint, VectorQuery,
};
use super::sparse;
use crate::accounts::{Principal, UserData, UserId};
use crate::assistant::{Passage, PassageSearch};
use crate::chats::{ChatContents, ChatId, ChatRepository};
use crate::clock::Clock;
use crate::error::{FieldError, InfraError, ValidationErrors};
use crate::jobs::{JobPayload, JobQueue, NewJob};
use crate::pagination::{Page, PageRequest};
use crate::quotas::Quotas;

/// The knobs of the knowledge base.
#[derive(Debug, Clone)]
pub struct KnowledgeSettings {
    pub max_upload_bytes: u64,
    pub chunking: ChunkSettings,
    /// Texts per embedding call.
    pub embed_batch: usize,
    /// Ingestion embedding calls running at once in this process (they take turns, the user
    /// with the least work waiting first).
    pub embed_concurrency: usize,
    /// Attempts per ingestion job before it is marked dead.
    pub max_attempts: u32,
    /// How long a claimed job is held without a heartbeat.
    pub lease: Duration,
    /// The wait before the first retry; each later one doubles it.
    pub retry_backoff: Duration,
    pub default_search_limit: u32,
    pub max_search_limit: u32,
    pub max_query_chars: usize,
    /// What one document may become.
    pub limits: ExtractionLimits,
}

impl Default for KnowledgeSettings {
    fn default() -> Self {
        Self {
            max_upload_bytes: 50 * 1024 * 1024,
            chunking: ChunkSettings::default(),
            embed_batch: 32,
            embed_concurrency: 1,
            max_attempts: 5,
            lease: Duration::from_secs(60),
            retry_backoff: Duration::from_secs(5),
            default_search_limit: 10,
            max_search_limit: 50,
            max_query_chars: 1000,
            limits: ExtractionLimits::default(),
        }
    }
}

/// A file that has fully arrived (spooled to `path`) and been inspected.
pub struct Upload<'a> {
    pub file_name: FileName,
    pub path: &'a Path,
    pub inspection: Inspection,
    pub idempotency_key: Option<String>,
    /// Replace a document with the same bytes instead of returning it.
    pub replace: bool,
}

/// What an upload did.
#[derive(Debug, Clone, PartialEq)]
pub enum Uploaded {
    /// Stored and queued for ingestion.
    Accepted(Document),
    /// Already there (same bytes in the chat, or a replayed idempotency key).
    Existing(Document),
}

/// What `reconcile` repaired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    pub vectors_checked: u64,
    pub orphan_vectors_removed: u64,
    pub chunks_checked: u64,
    pub documents_requeued: u64,
}

/// The adapters the knowledge base runs on.
#[derive(Clone)]
pub struct KnowledgePorts {
    pub documents: Arc<dyn DocumentRepository>,
    pub jobs: Arc<dyn JobQueue>,
    pub blobs: Arc<dyn BlobStore>,
    pub embedder: Arc<dyn Embedder>,
    pub index: Arc<dyn VectorIndex>,
    pub extractor: Arc<dyn TextExtractor>,
}

/// What the knowledge base is built from.
#[derive(Clone)]
pub struct KnowledgeBasePorts {
    /// Its own adapters.
    pub store: KnowledgePorts,
    pub chats: Arc<dyn ChatRepository>,
    pub clock: Arc<dyn Clock>,
    pub quotas: Arc<Quotas>,
}

/// Uploads, ingestion, search and removal of the chats' material.
pub struct KnowledgeBase {
    pub(super) chats: Arc<dyn ChatRepository>,
    pub(super) ports: KnowledgePorts,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) settings: KnowledgeSettings,
    pub(super) quotas: Arc<Quotas>,
    /// Turns at the embedder for ingestion jobs.
    pub(super) embed_gate: super::fair::FairGate,
    /// Woken when a job is queued, so an in-process worker starts at once.
    pub(super) queued: Arc<Notify>,
}

impl KnowledgeBase {
    pub fn new(ports: KnowledgeBasePorts, settings: KnowledgeSettings) -> Self {
        Self {
            chats: ports.chats,
            ports: ports.store,
            clock: ports.clock,
            embed_gate: super::fair::FairGate::new(settings.embed_concurrency),
            settings,
            quotas: ports.quotas,
            queued: Arc::new(Notify::new()),
        }
    }

    pub fn settings(&self) -> &KnowledgeSettings {
        &self.settings
    }

    /// Notified whenever this process queues a job.
    pub fn job_queued(&self) -> Arc<Notify> {
        self.queued.clone()
    }

    /// `Ok` when `chat` is the caller's: handlers check it before reading a request body.
    pub async fn check_chat(&self, who: Principal, chat: ChatId) -> Result<(), KnowledgeError> {
        self.own_chat(who, chat).await
    }

    async fn own_chat(&self, who: Principal, chat: ChatId) -> Result<(), KnowledgeError> {
        match self.chats.find(who.user_id, chat).await? {
            Some(_) => Ok(()),
            None => Err(KnowledgeError::ChatNotFound),
        }
    }

    /// The caller's document `id` of `chat`.
    pub async fn get(
        &self,
        who: Principal,
        chat: ChatId,
        id: DocumentId,
    ) -> Result<Document, KnowledgeError> {
        match self.ports.documents.find(who.user_id, id).await? {
            Some(doc) if doc.chat_id == chat => Ok(doc),
            _ => Err(KnowledgeError::DocumentNotFound),
        }
    }

    fn new_job(&self, user_id: UserId, document_id: DocumentId) -> NewJob {
        NewJob {
            id: JobId::new(),
            payload: JobPayload::IngestDocument {
                user_id,
                document_id,
            },
            max_attempts: self.settings.max_attempts,
            run_at: self.clock.now(),
            request_id: crate::context::request_id(),
        }
    }

    /// Stores an upload and queues its ingestion; returns the existing document for the same
    /// bytes in the chat (unless `replace`) or for a replayed idempotency key.
    pub async fn upload(
        &self,
        who: Principal,
        chat: ChatId,
        upload: Upload<'_>,
    ) -> Result<Uploaded, KnowledgeError> {
        if let Some(key) = &upload.idempotency_key {
            crate::idempotency::check_key(key)?;
        }
        self.own_chat(who, chat).await?;
        let documents = &self.ports.documents;
        if let Some(key) = &upload.idempotency_key
            && let Some(previous) = documents.find_by_idempotency_key(who.user_id, key).await?
        {
            return if previous.chat_id == chat && previous.sha256 == upload.inspection.sha256 {
                Ok(Uploaded::Existing(previous))
            } else {
                Err(KnowledgeError::IdempotencyKeyReused)
            };
        }
        if let Some(existing) = documents
            .find_by_sha256(who.user_id, chat, &upload.inspection.sha256)
            .await?
        {
            if !upload.replace {
                return Ok(Uploaded::Existing(existing));
            }
            self.remove(&existing).await?;
        }

        self.quotas
            .check_upload(who.user_id, upload.inspection.size_bytes)
            .await?;
        let id = DocumentId::new();
        let key = super::models::blob_key(who.user_id, chat, id);
        self.ports.blobs.put_file(&key, upload.path).await?;
        let new = NewDocument {
            id,
            user_id: who.user_id,
            chat_id: chat,
            file_name: upload.file_name,
            media_type: upload.inspection.media_type,
            size_bytes: upload.inspection.size_bytes,
            sha256: upload.inspection.sha256,
            idempotency_key: upload.idempotency_key,
            created_at: self.clock.now(),
        };
        match documents.create(new, self.new_job(who.user_id, id)).await {
            Ok(Created::New(doc)) => {
                self.queued.notify_waiters();
                tracing::info!(document = %doc.id, size = doc.size_bytes, media_type = doc.media_type.as_str(), "document accepted");
                Ok(Uploaded::Accepted(doc))
            }
            Ok(Created::Existing(doc)) => {
                // A concurrent upload of the same bytes won the race.
                self.delete_blob_quietly(&key).await;
                Ok(Uploaded::Existing(doc))
            }
            Err(error) => {
                self.delete_blob_quietly(&key).await;
                Err(error.into())
            }
        }
    }

    async fn delete_blob_quietly(&self, key: &str) {
        if let Err(error) = self.ports.blobs.delete(key).await {
            tracing::warn!(key, error = %crate::error::chain(&error), "could not delete a blob");
        }
    }

    pub async fn list(
        &self,
        who: Principal,
        chat: ChatId,
        status: Option<DocumentStatus>,
        page: PageRequest<DocumentCursor>,
    ) -> Result<Page<Document>, KnowledgeError> {
        self.own_chat(who, chat).await?;
        Ok(self
            .ports
            .documents
            .list(who.user_id, chat, status, page)
            .await?)
    }

    pub async fn chunks(
        &self,
        who: Principal,
        chat: ChatId,
        id: DocumentId,
        page: PageRequest<ChunkCursor>,
    ) -> Result<Page<Chunk>, KnowledgeError> {
        let doc = self.get(who, chat, id).await?;
        Ok(self
            .ports
            .documents
            .chunks(who.user_id, doc.id, page)
            .await?)
    }

    /// The original bytes, streamed.
    pub async fn download(
        &self,
        who: Principal,
        chat: ChatId,
        id: DocumentId,
    ) -> Result<(Document, BlobStream), KnowledgeError> {
        let doc = self.get(who, chat, id).await?;
        match self.ports.blobs.open(&doc.blob_key()).await? {
            Some(stream) => Ok((doc, stream)),
            None => Err(InfraError::internal(format!(
                "the blob of document {} is missing",
                doc.id
            ))
            .into()),
        }
    }

    /// Deletes the document, its chunks, its vectors and its blob.
    pub async fn delete(
        &self,
        who: Principal,
        chat: ChatId,
        id: DocumentId,
    ) -> Result<(), KnowledgeError> {
        let doc = self.get(who, chat, id).await?;
        self.remove(&doc).await?;
        Ok(())
    }

    /// Vectors and blob first, then the rows: a failure half-way leaves a document that is
    /// still listed and can be deleted again, never a hidden one whose text stays searchable.
    async fn remove(&self, doc: &Document) -> Result<(), InfraError> {
        self.ports
            .index
            .delete(Scope::document(doc.user_id, doc.chat_id, doc.id))
            .await?;
        self.ports.blobs.delete(&doc.blob_key()).await?;
        self.ports.documents.delete(doc.user_id, doc.id).await?;
        tracing::info!(document = %doc.id, "document deleted");
        Ok(())
    }

    /// Queues a failed document again.
    pub async fn retry(
        &self,
        who: Principal,
        chat: ChatId,
        id: DocumentId,
    ) -> Result<Document, KnowledgeError> {
        let doc = self.get(who, chat, id).await?;
        if doc.status != DocumentStatus::Failed {
            return Err(KnowledgeError::NotRetryable(doc.status));
        }
        self.quotas.check_job(who.user_id).await?;
        let requeued = self
            .ports
            .documents
            .requeue(
                who.user_id,
                id,
                self.new_job(who.user_id, id),
                self.clock.now(),
            )
            .await?;
        if !requeued {
            return Err(KnowledgeError::DocumentNotFound);
        }
        self.queued.notify_waiters();
        // As it was queued: a worker may already be on it by the time this is read back.
        Ok(Document {
            status: DocumentStatus::Pending,
            error: None,
            pages_done: 0,
            ..doc
        })
    }

    /// Searches the caller's material: one chat's, or all of it.
    pub async fn search(
        &self,
        who: Principal,
        chat: Option<ChatId>,
        query: &str,
        mode: SearchMode,
        limit: Option<u32>,
    ) -> Result<Vec<SearchHit>, KnowledgeError> {
        let mut errors = ValidationErrors::new();
        let query = query.trim();
        if query.is_empty() {
            errors.push(FieldError::new("q", "must not be empty"));
        } else if query.chars().count() > self.settings.max_query_chars {
            errors.push(FieldError::new(
                "q",
                format!(
                    "must be at most {} characters",
                    self.settings.max_query_chars
                ),
            ));
        }
        let limit = limit.unwrap_or(self.settings.default_search_limit);
        if limit == 0 || limit > self.settings.max_search_limit {
            errors.push(FieldError::new(
                "limit",
                format!("must be between 1 and {}", self.settings.max_search_limit),
            ));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let scope = match chat {
            Some(chat) => {
                self.own_chat(who, chat).await?;
                Scope::chat(who.user_id, chat)
            }
            None => Scope::user(who.user_id),
        };
        Ok(self.find(scope, query, mode, limit as usize).await?)
    }

    async fn find(
        &self,
        scope: Scope,
        query: &str,
        mode: SearchMode,
        limit: usize,
    ) -> Result<Vec<SearchHit>, InfraError> {
        let index = &self.ports.index;
        let candidates = (limit * 2).max(20);
        let semantic = async {
            if mode == SearchMode::Keyword {
                return Ok(Vec::new());
            }
            let vector = self
                .ports
                .embedder
                .embed(&[query.to_string()])
                .await?
                .pop()
                .ok_or_else(|| InfraError::internal("the embedder returned no vector"))?;
            index
                .search(scope, VectorQuery::Dense(vector), candidates)
                .await
        };
        let keyword = async {
            let sparse = sparse::encode_query(query);
            if mode == SearchMode::Semantic || sparse.indices.is_empty() {
                return Ok(Vec::new());
            }
            index
                .search(scope, VectorQuery::Sparse(sparse), candidates)
                .await
        };
        let (semantic, keyword) = tokio::join!(semantic, keyword);
        let (semantic, keyword) = (semantic?, keyword?);
        let ranked: Vec<(ChunkId, f32)> = match mode {
            SearchMode::Semantic => semantic.iter().map(|s| (s.chunk_id, s.score)).collect(),
            SearchMode::Keyword => keyword.iter().map(|s| (s.chunk_id, s.score)).collect(),
            SearchMode::Hybrid => reciprocal_rank_fusion(&[
                semantic.iter().map(|s| s.chunk_id).collect(),
                keyword.iter().map(|s| s.chunk_id).collect(),
            ]),
        };
        let ids: Vec<ChunkId> = ranked.iter().map(|(id, _)| *id).collect();
        let mut found: HashMap<ChunkId, (Chunk, FileName)> = self
            .ports
            .documents
            .chunks_by_ids(scope.user, &ids)
            .await?
            .into_iter()
            .map(|(chunk, name)| (chunk.id, (chunk, name)))
            .collect();
        Ok(ranked
            .into_iter()
            .filter_map(|(id, score)| {
                let (chunk, name) = found.remove(&id)?;
                // The index is scoped already; the database row confirms it.
                if scope.chat.is_some_and(|c| c != chunk.chat_id) {
                    return None;
                }
                Some(SearchHit {
                    chunk_id: chunk.id,
                    document_id: chunk.document_id,
                    chat_id: chunk.chat_id,
                    file_name: name.as_str().to_string(),
                    page: chunk.page,
                    page_label: chunk.page_label,
                    heading: chunk.heading,
                    text: chunk.text,
                    score,
                })
            })
            .take(limit)
            .collect())
    }

    /// Removes index points that have no chunk row, and queues again the completed documents
    /// whose chunks have no point.
    pub async fn reconcile(&self) -> Result<ReconcileReport, InfraError> {
        const BATCH: usize = 500;
        let mut report = ReconcileReport::default();
        let mut after = None;
        loop {
            let points = self.ports.index.scan(after, BATCH).await?;
            let Some(last) = points.last() else { break };
            after = Some(last.chunk_id);
            report.vectors_checked += points.len() as u64;
            let mut by_user: BTreeMap<UserId, Vec<ChunkId>> = BTreeMap::new();
            for point in &points {
                by_user
                    .entry(point.user_id)
                    .or_default()
                    .push(point.chunk_id);
            }
            for (user, ids) in by_user {
                let present: HashSet<ChunkId> = self
                    .ports
                    .documents
                    .chunks_by_ids(user, &ids)
                    .await?
                    .into_iter()
                    .map(|(c, _)| c.id)
                    .collect();
                let orphans: Vec<ChunkId> =
                    ids.into_iter().filter(|id| !present.contains(id)).collect();
                if !orphans.is_empty() {
                    self.ports.index.delete_chunks(user, &orphans).await?;
                    report.orphan_vectors_removed += orphans.len() as u64;
                }
            }
            if points.len() < BATCH {
                break;
            }
        }
        let mut requeue: BTreeMap<DocumentId, UserId> = BTreeMap::new();
        let mut after = None;
        loop {
            let chunks = self
                .ports
                .documents
                .scan_chunks(after, BATCH as u64)
                .await?;
            let Some(last) = chunks.last() else { break };
            after = Some(last.id);
            report.chunks_checked += chunks.len() as u64;
            let mut by_user: BTreeMap<UserId, Vec<&Chunk>> = BTreeMap::new();
            for chunk in &chunks {
                by_user.entry(chunk.user_id).or_default().push(chunk);
            }
            for (user, chunks) in by_user {
                let ids: Vec<ChunkId> = chunks.iter().map(|c| c.id).collect();
                let indexed: HashSet<ChunkId> = self
                    .ports
                    .index
                    .retrieve(user, &ids)
                    .await?
                    .into_iter()
                    .collect();
                for chunk in chunks {
                    if !indexed.contains(&chunk.id) {
                        requeue.insert(chunk.document_id, user);
                    }
                }
            }
            if chunks.len() < BATCH {
                break;
            }
        }
        for (document, user) in requeue {
            let Some(doc) = self.ports.documents.find(user, document).await? else {
                continue;
            };
            if doc.status != DocumentStatus::Completed && doc.status != DocumentStatus::Failed {
                continue; // a job is on it already
            }
            if self
                .ports
                .documents
                .requeue(
                    user,
                    document,
                    self.new_job(user, document),
                    self.clock.now(),
                )
                .await?
            {
                report.documents_requeued += 1;
            }
        }
        Ok(report)
    }

    /// Embeds every stored chunk with `embedder` into `target` (a new, empty index), for
    /// switching the embedding model; returns how many chunks were written.
    pub async fn reindex_into(
        &self,
        embedder: &dyn Embedder,
        target: &dyn VectorIndex,
    ) -> Result<u64, InfraError> {
        let mut written = 0u64;
        let mut after = None;
        let mut languages = HashMap::new();
        loop {
            let chunks = self.ports.documents.scan_chunks(after, 256).await?;
            let Some(last) = chunks.last() else { break };
            after = Some(last.id);
            for batch in chunks.chunks(self.settings.embed_batch.max(1)) {
                let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
                let vectors = embedder.embed(&texts).await?;
                let mut points = Vec::with_capacity(batch.len());
                for (chunk, dense) in batch.iter().zip(vectors) {
                    let language = self.language_of(&mut languages, chunk).await?;
                    points.push(VectorPoint {
                        chunk_id: chunk.id,
                        user_id: chunk.user_id,
                        chat_id: chunk.chat_id,
                        document_id: chunk.document_id,
                        dense,
                        // A document stored before languages were detected: each chunk's own.
                        sparse: match language {
                            Some(language) => {
                                sparse::encode_document_in(&chunk.text, Some(language))
                            }
                            None => sparse::encode_document(&chunk.text),
                        },
                    });
                }
                target.upsert(points).await?;
                written += batch.len() as u64;
            }
            if chunks.len() < 256 {
                break;
            }
        }
        Ok(written)
    }
}

impl KnowledgeBase {
    /// The language a chunk's document was detected in (its keyword terms are stemmed in it),
    /// remembered per document across a reindex.
    async fn language_of(
        &self,
        known: &mut HashMap<DocumentId, Option<Language>>,
        chunk: &Chunk,
    ) -> Result<Option<Language>, InfraError> {
        if let Some(language) = known.get(&chunk.document_id) {
            return Ok(*language);
        }
        let language = self
            .ports
            .documents
            .find(chunk.user_id, chunk.document_id)
            .await?
            .and_then(|doc| doc.language)
            .and_then(|code| Language::from_code(&code));
        known.insert(chunk.document_id, language);
        Ok(language)
    }
}

/// Reciprocal rank fusion (k = 60): each list adds `1 / (60 + rank)` to the items it ranks.
pub fn reciprocal_rank_fusion(lists: &[Vec<ChunkId>]) -> Vec<(ChunkId, f32)> {
    const K: f32 = 60.0;
    let mut scores: HashMap<ChunkId, f32> = HashMap::new();
    let mut first_seen: Vec<ChunkId> = Vec::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let score = scores.entry(*id).or_insert_with(|| {
                first_seen.push(*id);
                0.0
            });
            *score += 1.0 / (K + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(ChunkId, f32)> =
        first_seen.into_iter().map(|id| (id, scores[&id])).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1));
    fused
}

#[async_trait]
impl PassageSearch for KnowledgeBase {
    async fn search(
        &self,
        owner: UserId,
        chat: ChatId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Passage>, InfraError> {
        let query: String = query
            .trim()
            .chars()
            .take(self.settings.max_query_chars)
            .collect();
        if query.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let hits = self
            .find(Scope::chat(owner, chat), &query, SearchMode::Hybrid, limit)
            .await?;
        Ok(hits
            .into_iter()
            .map(|hit| Passage {
                chunk_id: hit.chunk_id.as_uuid(),
                document_id: hit.document_id.as_uuid(),
                file_name: hit.file_name,
                page: Some(hit.page),
                page_label: hit.page_label,
                text: hit.text,
            })
            .collect())
    }
}

#[async_trait]
impl ChatContents for KnowledgeBase {
    async fn delete_chat_contents(&self, owner: UserId, chat: ChatId) -> Result<(), InfraError> {
        self.ports.index.delete(Scope::chat(owner, chat)).await?;
        self.ports
            .blobs
            .delete_prefix(&chat_blob_prefix(owner, chat))
            .await?;
        self.ports.documents.delete_chat(owner, chat).await?;
        Ok(())
    }
}

#[async_trait]
impl UserData for KnowledgeBase {
    fn name(&self) -> &str {
        "documents"
    }
    async fn delete_user_data(&self, owner: UserId) -> Result<u64, InfraError> {
        self.ports.index.delete(Scope::user(owner)).await?;
        self.ports
            .blobs
            .delete_prefix(&user_blob_prefix(owner))
            .await?;
        self.ports.documents.delete_user(owner).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_fusion_rewards_items_both_lists_rank_high() {
        let [a, b, c] = [
            ChunkId::from_uuid(uuid::Uuid::from_u128(1)),
            ChunkId::from_uuid(uuid::Uuid::from_u128(2)),
            ChunkId::from_uuid(uuid::Uuid::from_u128(3)),
        ];
        let fused = reciprocal_rank_fusion(&[vec![a, b, c], vec![b, c]]);
        let order: Vec<_> = fused.iter().map(|(id, _)| *id).collect();
        assert_eq!(order, [b, c, a]);
        assert!((fused[0].1 - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
    }
}
