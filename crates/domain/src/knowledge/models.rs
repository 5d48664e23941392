//! The knowledge base's entities: documents, their chunks, and what a search returns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::UserId;
use crate::chats::ChatId;
use crate::error::FieldError;

pub use crate::ids::{DocumentId, JobId};

/// A chunk of a document's text. Its id is derived from the document and the chunk's index, so
/// that re-running an ingestion writes the same ids (no duplicate chunks or vectors).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ChunkId(uuid::Uuid);

impl ChunkId {
    /// The id of chunk `index` of `document`: a UUIDv5 in the document's namespace.
    pub fn derive(document: DocumentId, index: u32) -> Self {
        Self(uuid::Uuid::new_v5(
            &document.as_uuid(),
            format!("chunk:{index}").as_bytes(),
        ))
    }

    pub fn from_uuid(id: uuid::Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl std::fmt::Display for ChunkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What a file is, decided from its bytes (never from the client's name or content type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaType {
    Pdf,
    Markdown,
    /// Plain text in any encoding the extractor can detect (UTF-8, UTF-16, legacy code pages).
    Text,
    Html,
    Docx,
    Odt,
    Rtf,
    Pptx,
    Odp,
    Epub,
    /// A picture (PNG, JPEG, TIFF): read by OCR.
    Image,
}

/// What a format's pages are called, for the labels a person sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageUnit {
    Page,
    Slide,
    /// A part between headings (a document that records no page breaks, a web page, a chapter).
    Section,
}

impl MediaType {
    pub const ALL: [MediaType; 11] = [
        MediaType::Pdf,
        MediaType::Markdown,
        MediaType::Text,
        MediaType::Html,
        MediaType::Docx,
        MediaType::Odt,
        MediaType::Rtf,
        MediaType::Pptx,
        MediaType::Odp,
        MediaType::Epub,
        MediaType::Image,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Pdf => "pdf",
            MediaType::Markdown => "markdown",
            MediaType::Text => "text",
            MediaType::Html => "html",
            MediaType::Docx => "docx",
            MediaType::Odt => "odt",
            MediaType::Rtf => "rtf",
            MediaType::Pptx => "pptx",
            MediaType::Odp => "odp",
            MediaType::Epub => "epub",
            MediaType::Image => "image",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == raw)
    }

    /// The file's type for downloads.
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Pdf => "application/pdf",
            MediaType::Markdown => "text/markdown",
            MediaType::Text => "text/plain",
            MediaType::Html => "text/html",
            MediaType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            MediaType::Odt => "application/vnd.oasis.opendocument.text",
            MediaType::Rtf => "application/rtf",
            MediaType::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            MediaType::Odp => "application/vnd.oasis.opendocument.presentation",
            MediaType::Epub => "application/epub+zip",
            MediaType::Image => "application/octet-stream",
        }
    }

    /// Whether extracted pages mark headings as Markdown does (`#`, `##` …), so chunks split at
    /// them and carry their heading path.
    pub fn has_headings(self) -> bool {
        !matches!(self, MediaType::Pdf | MediaType::Text | MediaType::Image)
    }

    /// What its pages are, when the extractor gives them no label of their own.
    pub fn page_unit(self) -> PageUnit {
        match self {
            MediaType::Pptx | MediaType::Odp => PageUnit::Slide,
            MediaType::Html | MediaType::Epub => PageUnit::Section,
            _ => PageUnit::Page,
        }
    }

    /// The label of page `number` when the extractor gave none: "p. 4", "slide 12", "section 2".
    pub fn default_label(self, number: u32) -> String {
        match self.page_unit() {
            PageUnit::Page => format!("p. {number}"),
            PageUnit::Slide => format!("slide {number}"),
            PageUnit::Section => format!("section {number}"),
        }
    }
}

/// Where a document is in its ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentStatus {
    /// Stored, waiting for a worker.
    Pending,
    /// A worker is extracting, chunking and embedding it.
    Processing,
    /// Searchable.
    Completed,
    /// Ingestion gave up; `error` says why. `retry` queues it again.
    Failed,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Pending => "pending",
            DocumentStatus::Processing => "processing",
            DocumentStatus::Completed => "completed",
            DocumentStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(DocumentStatus::Pending),
            "processing" => Some(DocumentStatus::Processing),
            "completed" => Some(DocumentStatus::Completed),
            "failed" => Some(DocumentStatus::Failed),
            _ => None,
        }
    }
}

/// The longest file name kept, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// A file name as shown to the user: the last path segment of what the client sent, without
/// control characters, 1–255 characters; `upload` when nothing usable is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FileName(String);

impl FileName {
    pub fn sanitize(raw: Option<&str>) -> Self {
        let raw = raw.unwrap_or_default();
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let cleaned: String = last
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_FILE_NAME_CHARS)
            .collect();
        let cleaned = cleaned.trim();
        if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
            Self("upload".into())
        } else {
            Self(cleaned.to_string())
        }
    }

    /// A stored name, trusted as is.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A document of a chat.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Document {
    pub id: DocumentId,
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub file_name: FileName,
    pub media_type: MediaType,
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub status: DocumentStatus,
    /// Why ingestion failed (or, while retrying, why the last attempt did).
    pub error: Option<String>,
    pub pages_total: Option<u32>,
    pub pages_done: u32,
    pub chunk_count: u32,
    /// The title the file gives itself (an HTML `<title>`, a DOCX's or EPUB's title), once read.
    pub title: Option<String>,
    /// The language detected in its text (ISO 639-3, e.g. `deu`), once read.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Document {
    /// Where the original bytes live in blob storage.
    pub fn blob_key(&self) -> String {
        blob_key(self.user_id, self.chat_id, self.id)
    }
}

/// The blob key of a document: grouped by owner and chat so that deleting either removes a prefix.
pub fn blob_key(user: UserId, chat: ChatId, document: DocumentId) -> String {
    format!("{}{}", chat_blob_prefix(user, chat), document)
}

pub fn user_blob_prefix(user: UserId) -> String {
    format!("users/{user}/")
}

pub fn chat_blob_prefix(user: UserId, chat: ChatId) -> String {
    format!("users/{user}/chats/{chat}/")
}

/// The key of the documents list: newest first by id (UUIDv7 ids sort by creation).
pub type DocumentCursor = uuid::Uuid;

/// The key of the chunk list: by index.
pub type ChunkCursor = u32;

/// A chunk of a document's text, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chunk {
    pub id: ChunkId,
    pub document_id: DocumentId,
    pub user_id: UserId,
    pub chat_id: ChatId,
    /// Position of the chunk in the document, from 0.
    pub index: u32,
    /// The page it is on (1-based); text files have one page per form-feed-separated part.
    pub page: u32,
    /// What a person sees for that page: "p. 4", "slide 12", "Chapter 3".
    pub page_label: Option<String>,
    /// The headings the chunk sits under, outermost first, joined by " › ".
    pub heading: Option<String>,
    /// Character offsets of the chunk within its page's text.
    pub char_start: u32,
    pub char_end: u32,
    pub text: String,
}

/// How a search ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// By meaning: cosine similarity of embeddings.
    Semantic,
    /// By words: BM25.
    Keyword,
    /// Both, fused with reciprocal rank fusion.
    #[default]
    Hybrid,
}

impl SearchMode {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw {
            "semantic" => Ok(Self::Semantic),
            "keyword" => Ok(Self::Keyword),
            "hybrid" => Ok(Self::Hybrid),
            _ => Err(FieldError::new(
                "mode",
                "must be one of semantic, keyword, hybrid",
            )),
        }
    }
}

/// A chunk found by a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub chunk_id: ChunkId,
    pub document_id: DocumentId,
    pub chat_id: ChatId,
    pub file_name: String,
    pub page: u32,
    pub page_label: Option<String>,
    pub heading: Option<String>,
    pub text: String,
    pub score: f32,
}

/// Whose material a search or delete covers. Every index query carries the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub user: UserId,
    pub chat: Option<ChatId>,
    pub document: Option<DocumentId>,
}

impl Scope {
    pub fn user(user: UserId) -> Self {
        Self {
            user,
            chat: None,
            document: None,
        }
    }

    pub fn chat(user: UserId, chat: ChatId) -> Self {
        Self {
            user,
            chat: Some(chat),
            document: None,
        }
    }

    pub fn document(user: UserId, chat: ChatId, document: DocumentId) -> Self {
        Self {
            user,
            chat: Some(chat),
            document: Some(document),
        }
    }
}

/// The text of one page (or slide, or section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractedPage {
    /// 1-based.
    pub number: u32,
    /// What a person sees for it ("slide 3", "Chapter 2"); `None`: the format's default label.
    pub label: Option<String>,
    /// For formats with headings, they are written as Markdown headings (`# Title`).
    pub text: String,
}

impl ExtractedPage {
    pub fn new(number: u32, text: impl Into<String>) -> Self {
        Self {
            number,
            label: None,
            text: text.into(),
        }
    }

    pub fn labelled(number: u32, label: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            number,
            label: Some(label.into()),
            text: text.into(),
        }
    }
}

/// What an extractor read from a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extracted {
    pub pages: Vec<ExtractedPage>,
    /// The title the file gives itself, if any.
    pub title: Option<String>,
}

impl Extracted {
    pub fn pages(pages: Vec<ExtractedPage>) -> Self {
        Self { pages, title: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_ids_are_deterministic_per_document_and_index() {
        let doc = DocumentId::new();
        assert_eq!(ChunkId::derive(doc, 3), ChunkId::derive(doc, 3));
        assert_ne!(ChunkId::derive(doc, 3), ChunkId::derive(doc, 4));
        assert_ne!(
            ChunkId::derive(doc, 3),
            ChunkId::derive(DocumentId::new(), 3)
        );
    }

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(
            FileName::sanitize(Some("../../etc/passwd")).as_str(),
            "passwd"
        );
        assert_eq!(
            FileName::sanitize(Some("C:\\notes\\week 1.md")).as_str(),
            "week 1.md"
        );
        assert_eq!(
            FileName::sanitize(Some("a\u{0}b\nc.txt")).as_str(),
            "abc.txt"
        );
        assert_eq!(FileName::sanitize(Some("..")).as_str(), "upload");
        assert_eq!(FileName::sanitize(None).as_str(), "upload");
        let long = "x".repeat(400);
        assert_eq!(
            FileName::sanitize(Some(&long)).as_str().chars().count(),
            255
        );
    }
}
