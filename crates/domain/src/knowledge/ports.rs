//! The knowledge base's ports: document and chunk storage, the job queue, blob storage, text
//! extraction, embeddings and the vector index.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};

use super::bounds::{ExtractionLimits, OverLimit};
use super::models::{
    Chunk, ChunkCursor, ChunkId, Document, DocumentCursor, DocumentId, DocumentStatus, Extracted,
    FileName, MediaType, Scope,
};
use crate::accounts::UserId;
use crate::chats::ChatId;
use crate::error::InfraError;
use crate::jobs::NewJob;
use crate::pagination::{Page, PageRequest};

/// A document about to be stored.
#[derive(Debug, Clone)]
pub struct NewDocument {
    pub id: DocumentId,
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub file_name: FileName,
    pub media_type: MediaType,
    pub size_bytes: u64,
    pub sha256: String,
    /// The client's `Idempotency-Key`, unique per user.
    pub idempotency_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What a finished ingestion learned of a document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    pub pages_total: u32,
    pub chunk_count: u32,
    pub title: Option<String>,
    pub language: Option<String>,
}

/// The result of storing a new document.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// Stored, with its ingestion job queued in the same transaction.
    New(Document),
    /// The chat already has these bytes (or the user already used this idempotency key).
    Existing(Document),
}

/// The most chunks written in one transaction.
pub const CHUNK_WRITE_BATCH: usize = 256;

/// Stores documents and their chunks. Every method is scoped by the owner.
#[async_trait]
pub trait DocumentRepository: Send + Sync {
    /// Stores the document and queues `job` atomically. When the chat already holds a document
    /// with the same SHA-256, or the owner already used the idempotency key, nothing is written
    /// and that document is returned.
    async fn create(&self, document: NewDocument, job: NewJob) -> Result<Created, InfraError>;

    async fn find(&self, owner: UserId, id: DocumentId) -> Result<Option<Document>, InfraError>;

    /// `owner`'s documents among `ids`, each once, in no particular order; absent ones are left
    /// out.
    async fn find_many(
        &self,
        owner: UserId,
        ids: &[DocumentId],
    ) -> Result<Vec<Document>, InfraError>;

    async fn find_by_sha256(
        &self,
        owner: UserId,
        chat: ChatId,
        sha256: &str,
    ) -> Result<Option<Document>, InfraError>;

    async fn find_by_idempotency_key(
        &self,
        owner: UserId,
        key: &str,
    ) -> Result<Option<Document>, InfraError>;

    /// `owner`'s documents of `chat`, newest first, optionally of one status.
    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        status: Option<DocumentStatus>,
        page: PageRequest<DocumentCursor>,
    ) -> Result<Page<Document>, InfraError>;

    /// Sets the status and error; `Ok(false)` when the document is gone.
    async fn set_status(
        &self,
        owner: UserId,
        id: DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Records progress: `pages_done` of `pages_total`.
    async fn set_progress(
        &self,
        owner: UserId,
        id: DocumentId,
        pages_done: u32,
        pages_total: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Deletes every chunk of the document and sets its chunk count to 0; `Ok(false)` when the
    /// document is gone.
    async fn clear_chunks(&self, owner: UserId, id: DocumentId) -> Result<bool, InfraError>;

    /// Adds `chunks` (a batch of a few hundred at most) to the document in one short
    /// transaction, so that a long ingestion never holds the database's writer for long;
    /// `Ok(false)`, with nothing written, when the document is gone. A chunk id already stored
    /// is an error.
    async fn add_chunks(
        &self,
        owner: UserId,
        id: DocumentId,
        chunks: Vec<Chunk>,
    ) -> Result<bool, InfraError>;

    /// Replaces every chunk of the document with `chunks`: [`Self::clear_chunks`], then
    /// [`Self::add_chunks`] in batches of [`CHUNK_WRITE_BATCH`]. Not atomic: a reader may see
    /// part of the chunks while it runs (the document is not `completed` meanwhile).
    async fn replace_chunks(
        &self,
        owner: UserId,
        id: DocumentId,
        chunks: Vec<Chunk>,
    ) -> Result<bool, InfraError> {
        if !self.clear_chunks(owner, id).await? {
            return Ok(false);
        }
        let mut chunks = chunks.into_iter().peekable();
        while chunks.peek().is_some() {
            let batch: Vec<Chunk> = chunks.by_ref().take(CHUNK_WRITE_BATCH).collect();
            if !self.add_chunks(owner, id, batch).await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Marks the document completed with its counts, title and language; `Ok(false)` when the
    /// document is gone.
    async fn complete(
        &self,
        owner: UserId,
        id: DocumentId,
        completion: Completion,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Sets a document back to `pending` and queues `job`, atomically.
    async fn requeue(
        &self,
        owner: UserId,
        id: DocumentId,
        job: NewJob,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Deletes the document and its chunks.
    async fn delete(&self, owner: UserId, id: DocumentId) -> Result<bool, InfraError>;

    /// Deletes every document of the chat (and their chunks); returns how many.
    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError>;

    /// Deletes every document of the user (and their chunks); returns how many.
    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError>;

    /// The chunks of `owner`'s document, by index.
    async fn chunks(
        &self,
        owner: UserId,
        document: DocumentId,
        page: PageRequest<ChunkCursor>,
    ) -> Result<Page<Chunk>, InfraError>;

    /// `owner`'s chunks among `ids` with their documents' file names, in no particular order;
    /// ids of other users' chunks or of deleted ones are left out.
    async fn chunks_by_ids(
        &self,
        owner: UserId,
        ids: &[ChunkId],
    ) -> Result<Vec<(Chunk, FileName)>, InfraError>;

    /// How many documents `owner` has, their bytes and their chunks.
    async fn usage(&self, owner: UserId) -> Result<crate::quotas::DocumentUsage, InfraError>;

    /// Every chunk of every user, by id, `limit` at a time (for reconcile and reindex).
    async fn scan_chunks(
        &self,
        after: Option<ChunkId>,
        limit: u64,
    ) -> Result<Vec<Chunk>, InfraError>;
}

/// A stream of a blob's bytes.
pub type BlobStream = BoxStream<'static, Result<Bytes, InfraError>>;

/// Stores original files.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores the file at `path` under `key`, streaming it.
    async fn put_file(&self, key: &str, path: &Path) -> Result<(), InfraError>;
    /// Stores `bytes` under `key` (a file already in memory).
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), InfraError>;
    /// The whole blob.
    async fn get(&self, key: &str) -> Result<Option<Bytes>, InfraError>;
    /// The blob as a stream, for downloads.
    async fn open(&self, key: &str) -> Result<Option<BlobStream>, InfraError>;
    async fn delete(&self, key: &str) -> Result<(), InfraError>;
    /// Deletes every blob whose key starts with `prefix`; returns how many.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, InfraError>;
}

/// Why a file gave no text. Every one of these is final: retrying will not help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("the file is encrypted; upload a copy without a password")]
    Encrypted,
    #[error("the file contains no text")]
    NoText,
    /// Scanned pages or a picture, and OCR cannot run here; the text says why and how to
    /// enable it.
    #[error(
        "the file has no text layer (scanned pages or a picture) and OCR is not available: {0}"
    )]
    OcrUnavailable(String),
    /// The parser's message is kept for the log; the user reads a stable reason.
    #[error("the file could not be read; it may be damaged")]
    Malformed(String),
    #[error("reading the file took longer than {0} seconds")]
    TimedOut(u64),
    #[error("the file reader crashed on this file")]
    Crashed,
    /// Past a bound of [`ExtractionLimits`]: found while reading, before the rest was read.
    #[error(transparent)]
    OverLimit(#[from] OverLimit),
}

/// Extracts the text of a file of any accepted [`MediaType`], page (or slide, or section) by
/// page. Implementations must survive any input: a parser that panics or hangs on a malformed
/// file ends in an error, never in a crash or a stuck job. They MUST check `limits` while
/// reading — the page count before the first page, the characters page by page, the bytes a
/// compressed container expands to — and stop with [`ExtractError::OverLimit`] at the first
/// bound passed, so that no file makes more work or memory than the limits allow. Pages are
/// numbered from 1 in reading order (slides in presentation order, chapters in spine order).
#[async_trait]
pub trait TextExtractor: Send + Sync {
    async fn extract(
        &self,
        media_type: MediaType,
        bytes: Bytes,
        limits: &ExtractionLimits,
    ) -> Result<Extracted, ExtractError>;
}

/// Counts tokens the way an embedding model does, to size chunks.
pub trait TokenCounter: Send + Sync {
    fn count(&self, text: &str) -> usize;
}

/// Counts roughly four characters per token: for models whose tokenizer is not at hand.
pub struct ApproximateTokens;

impl TokenCounter for ApproximateTokens {
    fn count(&self, text: &str) -> usize {
        text.chars().count().div_ceil(4)
    }
}

/// The model an embedder runs (and an index was built with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingModel {
    pub name: String,
    pub dimension: usize,
}

/// Turns texts into vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    fn model(&self) -> &EmbeddingModel;
    /// The tokenizer chunks are sized with.
    fn token_counter(&self) -> Arc<dyn TokenCounter>;
    /// One vector per text, in order. `InfraError::Unavailable` is worth retrying.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, InfraError>;
}

/// A sparse vector: BM25 term weights keyed by term hash.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// A chunk's vectors and its owner, as stored in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorPoint {
    pub chunk_id: ChunkId,
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub document_id: DocumentId,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
}

/// What to rank by.
#[derive(Debug, Clone, PartialEq)]
pub enum VectorQuery {
    /// Cosine similarity to this embedding.
    Dense(Vec<f32>),
    /// BM25: the index weighs the query's terms by inverse document frequency.
    Sparse(SparseVector),
}

/// A chunk id and its score (higher is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredChunk {
    pub chunk_id: ChunkId,
    pub score: f32,
}

/// A point's id and owner, as a scan of the index lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedChunk {
    pub chunk_id: ChunkId,
    pub user_id: UserId,
}

/// Work for [`VectorIndex::at_rest`]; it runs on a thread that may block.
pub type AtRestWork = Box<dyn FnOnce() + Send + 'static>;

/// The vector index. Every search and delete is scoped by the owner.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// The embedding model the index holds vectors of.
    fn model(&self) -> &EmbeddingModel;
    /// Inserts or replaces points by chunk id.
    async fn upsert(&self, points: Vec<VectorPoint>) -> Result<(), InfraError>;
    async fn search(
        &self,
        scope: Scope,
        query: VectorQuery,
        limit: usize,
    ) -> Result<Vec<ScoredChunk>, InfraError>;
    /// Deletes every point in `scope`.
    async fn delete(&self, scope: Scope) -> Result<(), InfraError>;
    /// Deletes `owner`'s points among `ids`.
    async fn delete_chunks(&self, owner: UserId, ids: &[ChunkId]) -> Result<(), InfraError>;
    /// Which of `owner`'s `ids` have a point.
    async fn retrieve(&self, owner: UserId, ids: &[ChunkId]) -> Result<Vec<ChunkId>, InfraError>;
    /// How many points are in `scope`.
    async fn count(&self, scope: Scope) -> Result<u64, InfraError>;
    /// Every point, by id, `limit` at a time.
    async fn scan(
        &self,
        after: Option<ChunkId>,
        limit: usize,
    ) -> Result<Vec<IndexedChunk>, InfraError>;
    /// Runs `work` while everything written is on disk and no write can land: a consistent
    /// point to copy an index kept in local files from (a backup). An index that keeps nothing
    /// on this machine's disk just runs it.
    async fn at_rest(&self, work: AtRestWork) -> Result<(), InfraError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| InfraError::internal(format!("work at rest on the index failed: {e}")))
    }
}
