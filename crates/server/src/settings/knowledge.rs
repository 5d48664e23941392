//! `[knowledge]`: uploads, chunking, ingestion, the guarded file parsers and OCR.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::problems::Problems;

/// Uploads and their ingestion.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeConfig {
    pub max_upload_mb: u64,
    /// Chunk size in the embedding model's tokens, and the overlap of neighbours.
    pub chunk_tokens: usize,
    pub chunk_overlap_tokens: usize,
    pub embed_batch: usize,
    /// Ingestion embedding calls at once in one process; they take turns, lightest user first.
    pub embed_concurrency: usize,
    pub max_attempts: u32,
    pub lease_secs: u64,
    pub retry_backoff_secs: u64,
    pub pdf_timeout_secs: u64,
    pub pdf_isolation: PdfIsolation,
    /// The program run as `<program> extract-pdf --media-type …` for process isolation (every
    /// format's parser, not only PDF's); unset: this binary.
    #[serde(default)]
    pub pdf_extractor_program: Option<PathBuf>,
    /// The PDF child's address space (MiB) and CPU time (seconds).
    pub pdf_max_memory_mb: u64,
    pub pdf_max_cpu_secs: u64,
    /// What one document may become, enforced while it is read.
    pub max_pages: u32,
    pub max_chars: u64,
    pub max_page_chars: u64,
    pub max_chunks: u32,
    /// What the parts of a DOCX, PPTX, ODT, ODP or EPUB may expand to in all (a zip bomb stops).
    pub max_unpacked_mb: u64,
    /// OCR of scans and pictures (Tesseract, Poppler's pdftoppm).
    pub ocr_enabled: bool,
    /// Tesseract language packs, e.g. `["eng", "deu"]`.
    pub ocr_languages: Vec<String>,
    pub ocr_tesseract: PathBuf,
    pub ocr_pdftoppm: PathBuf,
    pub ocr_dpi: u32,
    pub ocr_page_timeout_secs: u64,
    pub ocr_max_pages: u32,
    pub ocr_max_memory_mb: u64,
}

/// How the PDF parser is kept from taking the process down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PdfIsolation {
    /// A child process (`flashforge extract-pdf`), killed when it overruns.
    Process,
    /// A thread with `catch_unwind` (a hung parse is abandoned).
    Thread,
}

impl KnowledgeConfig {
    /// The rules of `knowledge.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.max_upload_mb == 0 || self.max_upload_mb > 1024 {
            problems.bad("knowledge.max_upload_mb", "must be between 1 and 1024");
        }
        if !(16..=8192).contains(&self.chunk_tokens) {
            problems.bad("knowledge.chunk_tokens", "must be between 16 and 8192");
        }
        if self.chunk_overlap_tokens >= self.chunk_tokens {
            problems.bad(
                "knowledge.chunk_overlap_tokens",
                "must be less than knowledge.chunk_tokens",
            );
        }
        if self.embed_batch == 0 || self.embed_batch > 2048 {
            problems.bad("knowledge.embed_batch", "must be between 1 and 2048");
        }
        if self.embed_concurrency == 0 || self.embed_concurrency > 64 {
            problems.bad("knowledge.embed_concurrency", "must be between 1 and 64");
        }
        if self.max_attempts == 0 || self.max_attempts > 100 {
            problems.bad("knowledge.max_attempts", "must be between 1 and 100");
        }
        for (key, value) in [
            ("knowledge.lease_secs", self.lease_secs),
            ("knowledge.pdf_timeout_secs", self.pdf_timeout_secs),
        ] {
            if value == 0 || value > 3600 {
                problems.bad(key, "must be between 1 and 3600");
            }
        }
        if !(64..=65_536).contains(&self.pdf_max_memory_mb) {
            problems.bad(
                "knowledge.pdf_max_memory_mb",
                "must be between 64 and 65536",
            );
        }
        if self.pdf_max_cpu_secs == 0 || self.pdf_max_cpu_secs > 3600 {
            problems.bad("knowledge.pdf_max_cpu_secs", "must be between 1 and 3600");
        }
        if self.max_pages == 0 || self.max_pages > 100_000 {
            problems.bad("knowledge.max_pages", "must be between 1 and 100000");
        }
        if self.max_chars == 0 || self.max_chars > 200_000_000 {
            problems.bad("knowledge.max_chars", "must be between 1 and 200000000");
        }
        if self.max_page_chars == 0 || self.max_page_chars > self.max_chars {
            problems.bad(
                "knowledge.max_page_chars",
                "must be between 1 and knowledge.max_chars",
            );
        }
        if self.max_chunks == 0 || self.max_chunks > 1_000_000 {
            problems.bad("knowledge.max_chunks", "must be between 1 and 1000000");
        }
        if self.max_unpacked_mb == 0 || self.max_unpacked_mb > 16_384 {
            problems.bad("knowledge.max_unpacked_mb", "must be between 1 and 16384");
        }
        self.validate_ocr(problems);
    }

    fn validate_ocr(&self, problems: &mut Problems) {
        let valid_language = |l: &String| {
            !l.is_empty()
                && l.len() <= 32
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if self.ocr_languages.is_empty() || !self.ocr_languages.iter().all(valid_language) {
            problems.bad(
                "knowledge.ocr_languages",
                "must list Tesseract language codes such as \"eng\" or \"deu\"",
            );
        }
        if !(70..=1200).contains(&self.ocr_dpi) {
            problems.bad("knowledge.ocr_dpi", "must be between 70 and 1200");
        }
        if self.ocr_page_timeout_secs == 0 || self.ocr_page_timeout_secs > 3600 {
            problems.bad(
                "knowledge.ocr_page_timeout_secs",
                "must be between 1 and 3600",
            );
        }
        if self.ocr_max_pages > 100_000 {
            problems.bad("knowledge.ocr_max_pages", "must be at most 100000");
        }
        if !(64..=65_536).contains(&self.ocr_max_memory_mb) {
            problems.bad(
                "knowledge.ocr_max_memory_mb",
                "must be between 64 and 65536",
            );
        }
    }
}
