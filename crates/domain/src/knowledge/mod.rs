//! The knowledge base: the course material uploaded into chats, made searchable by meaning and
//! by words, and the passages the assistant and the flashcard generator draw on.

mod bounds;
mod chunking;
mod error;
mod fair;
mod ingestion;
mod inspect;
mod language;
mod models;
mod ports;
mod service;
pub mod sparse;

pub use crate::jobs::{Fairness, Job, JobPayload, JobQueue, NewJob, QueueStats};
pub use bounds::{ExtractionLimits, OverLimit, PageBudget, bounded_text_pages, grouped};
pub use chunking::{ChunkSettings, chunk_pages, text_pages};
pub use error::KnowledgeError;
pub use fair::FairGate;
pub use inspect::{InspectError, Inspection, Inspector, hex, inspect};
pub use language::Language;
pub use models::{
    Chunk, ChunkCursor, ChunkId, Document, DocumentCursor, DocumentId, DocumentStatus, Extracted,
    ExtractedPage, FileName, JobId, MAX_FILE_NAME_CHARS, MediaType, PageUnit, Scope, SearchHit,
    SearchMode, blob_key, chat_blob_prefix, user_blob_prefix,
};
pub use ports::{
    ApproximateTokens, AtRestWork, BlobStore, BlobStream, CHUNK_WRITE_BATCH, Completion, Created,
    DocumentRepository, Embedder, EmbeddingModel, ExtractError, IndexedChunk, NewDocument,
    ScoredChunk, SparseVector, TextExtractor, TokenCounter, VectorIndex, VectorPoint, VectorQuery,
};
pub use service::{
    KnowledgeBase, KnowledgeBasePorts, KnowledgePorts, KnowledgeSettings, ReconcileReport, Upload,
    Uploaded, reciprocal_rank_fusion,
};
