//! The ingestion pipeline a worker runs for each uploaded document: extract → chunk → embed in
//! batches → index → completed, and the document's status following its job's.

use async_trait::async_trait;

use super::chunking::chunk_pages;
use super::language::Language;
use super::models::{Chunk, Document, DocumentId, DocumentStatus, Extracted, ExtractedPage, Scope};
use super::ports::{Completion, ExtractError, VectorPoint};
use super::service::KnowledgeBase;
use super::sparse;
use crate::accounts::UserId;
use crate::error::InfraError;
use crate::jobs::{Failure, Job, JobHandler, JobPayload};
use crate::quotas::QuotaCheckError;

/// The longest document title kept, in characters.
const MAX_TITLE_CHARS: usize = 300;

/// `text` without surrounding or repeated whitespace, at most `max` characters.
fn clip(text: &str, max: usize) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

/// How much of a document's text its language is detected from.
const LANGUAGE_SAMPLE_CHARS: usize = 20_000;

/// The language of a document's text (its keyword terms are stemmed in it), from its beginning.
fn detect_language(pages: &[ExtractedPage]) -> Option<Language> {
    let mut sample = String::new();
    let mut left = LANGUAGE_SAMPLE_CHARS;
    for page in pages {
        for c in page.text.chars().take(left) {
            sample.push(c);
            left -= 1;
        }
        if left == 0 {
            break;
        }
        sample.push('\n');
    }
    Language::detect(&sample)
}

/// How a run of the batches ended.
enum Indexed {
    /// Every batch is in.
    All,
    /// The document was deleted while it was being processed.
    Deleted,
}

impl KnowledgeBase {
    /// Extract → chunk → embed in batches → index → completed, within the extraction limits
    /// at every step. Chunk ids are derived from the document and the chunk's index, so running
    /// it again writes the same rows and points. Each batch's rows go in a short transaction of
    /// their own, so a long document never holds the database's writer for long.
    async fn ingest(&self, user: UserId, id: DocumentId) -> Result<(), Failure> {
        let documents = &self.ports.documents;
        let Some(doc) = documents.find(user, id).await? else {
            return Ok(()); // deleted since it was queued
        };
        if doc.status == DocumentStatus::Completed {
            return Ok(()); // finished before its worker could mark the job done
        }
        documents
            .set_status(user, id, DocumentStatus::Processing, None, self.clock.now())
            .await?;
        let extracted = self.extract(&doc).await?;
        let pages = extracted.pages;
        let pages_total = pages.len() as u32;
        let title = extracted.title.map(|t| clip(&t, MAX_TITLE_CHARS));
        let language = detect_language(&pages);
        documents
            .set_progress(user, id, 0, pages_total, self.clock.now())
            .await?;
        let chunks = self.chunk(&doc, pages).await?;
        if !documents.clear_chunks(user, id).await? {
            return Ok(());
        }
        match self.quotas.check_chunks(user, chunks.len() as u64).await {
            Ok(()) => {}
            Err(QuotaCheckError::Exceeded(over)) => {
                return Err(Failure::Permanent(over.to_string()));
            }
            Err(QuotaCheckError::Infra(e)) => return Err(e.into()),
        }
        let scope = Scope::document(user, doc.chat_id, id);
        // Points of an earlier attempt that made more chunks would outlive it otherwise.
        self.ports.index.delete(scope).await?;
        if let Indexed::Deleted = self
            .index_batches(&doc, &chunks, pages_total, language)
            .await?
        {
            // Deleted while it was being processed: take its points back out.
            self.ports.index.delete(scope).await?;
            return Ok(());
        }
        let completion = Completion {
            pages_total,
            chunk_count: chunks.len() as u32,
            title,
            language: language.map(|l| l.code().to_string()),
        };
        let completed = documents
            .complete(user, id, completion, self.clock.now())
            .await?;
        if !completed {
            // Deleted while it was being processed: take its points back out.
            self.ports.index.delete(scope).await?;
        }
        tracing::info!(document = %id, pages = pages_total, chunks = chunks.len(), "document ingested");
        Ok(())
    }

    /// The document's pages of text, read from its stored original by the extractor of its
    /// format.
    async fn extract(&self, doc: &Document) -> Result<Extracted, Failure> {
        let id = doc.id;
        let bytes = self
            .ports
            .blobs
            .get(&doc.blob_key())
            .await?
            .ok_or_else(|| {
                Failure::Permanent("the original file is missing from storage".into())
            })?;
        let limits = self.settings.limits;
        let stage = std::time::Instant::now();
        let extracted = self
            .ports
            .extractor
            .extract(doc.media_type, bytes, &limits)
            .await
            .map_err(|e| {
                if let ExtractError::Malformed(detail) = &e {
                    tracing::warn!(document = %id, media_type = doc.media_type.as_str(), detail, "a file could not be parsed");
                }
                Failure::Permanent(e.to_string())
            })?;
        record_stage("extract", stage);
        Ok(extracted)
    }

    /// The pages split into chunks, off the async threads; no chunk at all is a failure.
    async fn chunk(
        &self,
        doc: &Document,
        pages: Vec<ExtractedPage>,
    ) -> Result<Vec<Chunk>, Failure> {
        let stage = std::time::Instant::now();
        let counter = self.ports.embedder.token_counter();
        let settings = self.settings.chunking;
        let max_chunks = self.settings.limits.max_chunks;
        let chunk_doc = doc.clone();
        let chunks = tokio::task::spawn_blocking(move || {
            chunk_pages(&chunk_doc, &pages, counter, settings, max_chunks)
        })
        .await
        .map_err(|_| Failure::Permanent("splitting the text into chunks failed".into()))?
        .map_err(|e| Failure::Permanent(e.to_string()))?;
        record_stage("chunk", stage);
        if chunks.is_empty() {
            return Err(Failure::Permanent("the file contains no text".into()));
        }
        Ok(chunks)
    }

    /// Embeds and stores the chunks batch by batch, rows before points, the document's
    /// progress after each batch.
    async fn index_batches(
        &self,
        doc: &Document,
        chunks: &[Chunk],
        pages_total: u32,
        language: Option<Language>,
    ) -> Result<Indexed, Failure> {
        let (user, id) = (doc.user_id, doc.id);
        // The user's work waiting decides who embeds next: the lightest first.
        let waiting = self.ports.jobs.pending(user).await?;
        let batches: Vec<&[Chunk]> = chunks.chunks(self.settings.embed_batch.max(1)).collect();
        for (number, batch) in batches.iter().enumerate() {
            let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
            let turn = self.embed_gate.turn(waiting).await;
            let stage = std::time::Instant::now();
            let vectors = self.ports.embedder.embed(&texts).await?;
            record_stage("embed", stage);
            drop(turn);
            if vectors.len() != batch.len() {
                return Err(Failure::Transient(format!(
                    "the embedder returned {} vectors for {} texts",
                    vectors.len(),
                    batch.len()
                )));
            }
            // Rows before points: a point always has its row, so a search never finds a
            // passage it cannot show.
            if !self
                .ports
                .documents
                .add_chunks(user, id, batch.to_vec())
                .await?
            {
                return Ok(Indexed::Deleted);
            }
            let points = batch
                .iter()
                .zip(vectors)
                .map(|(chunk, dense)| VectorPoint {
                    chunk_id: chunk.id,
                    user_id: user,
                    chat_id: doc.chat_id,
                    document_id: id,
                    dense,
                    sparse: sparse::encode_document_in(&chunk.text, language),
                })
                .collect();
            let stage = std::time::Instant::now();
            self.ports.index.upsert(points).await?;
            record_stage("index", stage);
            // A page is done once its last chunk is indexed; the batch's last page may go on.
            let done = if number + 1 == batches.len() {
                pages_total
            } else {
                batch.last().map_or(0, |c| c.page.saturating_sub(1))
            };
            self.ports
                .documents
                .set_progress(user, id, done, pages_total, self.clock.now())
                .await?;
        }
        Ok(Indexed::All)
    }
}

/// Records how long an ingestion stage took (`ingestion_stage_seconds{stage}`).
fn record_stage(stage: &'static str, started: std::time::Instant) {
    metrics::histogram!("ingestion_stage_seconds", "stage" => stage)
        .record(started.elapsed().as_secs_f64());
}

/// Ingestion jobs: the document's status follows the job's.
#[async_trait]
impl JobHandler for KnowledgeBase {
    async fn run(&self, job: &Job) -> Result<(), Failure> {
        match &job.payload {
            JobPayload::IngestDocument {
                user_id,
                document_id,
            } => self.ingest(*user_id, *document_id).await,
            other => Err(Failure::Permanent(format!(
                "the knowledge base does not run {} jobs",
                other.kind()
            ))),
        }
    }

    async fn retrying(&self, job: &Job, note: &str) -> Result<(), InfraError> {
        self.mark(job, DocumentStatus::Pending, note).await
    }

    /// The document fails, and nothing of it stays searchable: chunks and points of the
    /// attempts that got part-way are removed.
    async fn gave_up(&self, job: &Job, reason: &str) -> Result<(), InfraError> {
        if let JobPayload::IngestDocument {
            user_id,
            document_id,
        } = &job.payload
            && let Some(doc) = self.ports.documents.find(*user_id, *document_id).await?
        {
            self.ports
                .documents
                .clear_chunks(doc.user_id, doc.id)
                .await?;
            self.ports
                .index
                .delete(Scope::document(doc.user_id, doc.chat_id, doc.id))
                .await?;
        }
        self.mark(job, DocumentStatus::Failed, reason).await
    }
}

impl KnowledgeBase {
    async fn mark(&self, job: &Job, status: DocumentStatus, note: &str) -> Result<(), InfraError> {
        if let JobPayload::IngestDocument {
            user_id,
            document_id,
        } = &job.payload
        {
            self.ports
                .documents
                .set_status(*user_id, *document_id, status, Some(note), self.clock.now())
                .await?;
        }
        Ok(())
    }
}
