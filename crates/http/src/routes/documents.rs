//! The knowledge base over HTTP: uploads (multipart, streamed to a spool file while their size,
//! digest and type are checked), listing, chunks, download, delete, retry, and search.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    self, Chunk, ChunkCursor, Document, DocumentCursor, DocumentId, FileName, InspectError,
    Inspector, KnowledgeError, SearchHit, Upload, Uploaded,
};
use flashforge_domain::{FieldError, ValidationErrors};
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::pagination::{PageBody, PageQuery};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    BadPage, BadSearch, NoSuchChat, NoSuchDocument, NotAuthenticated, QuotaExceeded,
};
use crate::schemas::{BinaryFile, DocumentStatus, MediaType, OnDuplicate, SearchMode};

/// Room for the multipart framing around the file.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

#[derive(Serialize, ToSchema)]
pub struct ProgressBody {
    pub pages_done: u32,
    /// Known once the text has been extracted.
    pub pages_total: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentBody {
    pub id: Uuid,
    pub chat_id: Uuid,
    pub file_name: String,
    /// Decided from the bytes.
    #[schema(value_type = MediaType)]
    pub media_type: String,
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    #[schema(value_type = DocumentStatus)]
    pub status: String,
    /// Why ingestion failed, or why the last attempt did while it is retried.
    pub error: Option<String>,
    pub progress: ProgressBody,
    pub chunk_count: u32,
    /// The title the file gives itself (an HTML `<title>`, a DOCX's, PPTX's or EPUB's title),
    /// once it is read.
    pub title: Option<String>,
    /// The language detected in its text (ISO 639-3, e.g. `deu`), once it is read.
    pub language: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Document> for DocumentBody {
    fn from(doc: Document) -> Self {
        Self {
            id: doc.id.as_uuid(),
            chat_id: doc.chat_id.as_uuid(),
            file_name: doc.file_name.as_str().to_string(),
            media_type: doc.media_type.as_str().to_string(),
            size_bytes: doc.size_bytes,
            sha256: doc.sha256,
            status: doc.status.as_str().to_string(),
            error: doc.error,
            progress: ProgressBody {
                pages_done: doc.pages_done,
                pages_total: doc.pages_total,
            },
            chunk_count: doc.chunk_count,
            title: doc.title,
            language: doc.language,
            created_at: doc.created_at,
            updated_at: doc.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChunkBody {
    pub id: Uuid,
    pub document_id: Uuid,
    /// Position in the document, from 0.
    pub index: u32,
    /// 1-based page (or slide, or section).
    pub page: u32,
    /// What a person sees for the page: "p. 4", "slide 12", "Chapter 3".
    pub page_label: Option<String>,
    /// The headings the passage sits under, outermost first, joined by " › ".
    pub heading: Option<String>,
    /// Character range within the page's text.
    pub char_start: u32,
    pub char_end: u32,
    pub text: String,
}

impl From<Chunk> for ChunkBody {
    fn from(chunk: Chunk) -> Self {
        Self {
            id: chunk.id.as_uuid(),
            document_id: chunk.document_id.as_uuid(),
            index: chunk.index,
            page: chunk.page,
            page_label: chunk.page_label,
            heading: chunk.heading,
            char_start: chunk.char_start,
            char_end: chunk.char_end,
            text: chunk.text,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SearchHitBody {
    pub chunk_id: Uuid,
    pub document_id: Uuid,
    pub chat_id: Uuid,
    pub file_name: String,
    /// 1-based page (or slide, or section).
    pub page: u32,
    /// What a person sees for the page: "p. 4", "slide 12", "Chapter 3".
    pub page_label: Option<String>,
    /// The headings the passage sits under, outermost first, joined by " › ".
    pub heading: Option<String>,
    pub text: String,
    /// Higher is better; comparable within one answer only.
    pub score: f32,
}

impl From<SearchHit> for SearchHitBody {
    fn from(hit: SearchHit) -> Self {
        Self {
            chunk_id: hit.chunk_id.as_uuid(),
            document_id: hit.document_id.as_uuid(),
            chat_id: hit.chat_id.as_uuid(),
            file_name: hit.file_name,
            page: hit.page,
            page_label: hit.page_label,
            heading: hit.heading,
            text: hit.text,
            score: hit.score,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SearchBody {
    /// The mode the search ran in.
    #[schema(value_type = SearchMode)]
    pub mode: String,
    pub hits: Vec<SearchHitBody>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// `return` (default): the same bytes already in the chat answer 200 with that document;
    /// `replace`: that document is deleted and the upload stored anew.
    #[param(value_type = Option<OnDuplicate>)]
    pub on_duplicate: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentFilter {
    /// Only documents in this state.
    #[param(value_type = Option<DocumentStatus>)]
    pub status: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for: 1–1000 characters. (Read as optional so that a missing `q` answers
    /// 422 in the problem format, like any other bad field.)
    #[param(required = true, value_type = String, min_length = 1, max_length = 1000)]
    pub q: Option<String>,
    /// Hits to return: 1–50, default 10.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    pub limit: Option<String>,
    /// `hybrid` when absent.
    #[param(value_type = Option<SearchMode>)]
    pub mode: Option<String>,
}

/// The multipart body of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file: PDF, DOCX, PPTX, ODT, ODP, RTF, EPUB, HTML, text or Markdown in any common
    /// encoding, PNG, JPEG or TIFF (decided from its bytes).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn upload_error(error: InspectError) -> ApiError {
    KnowledgeError::from(error).into()
}

/// Streams the `file` field to a spool file, checking size, digest and type on the way.
async fn receive(
    mut form: Multipart,
    max_bytes: u64,
) -> Result<
    (
        tempfile::NamedTempFile,
        FileName,
        flashforge_domain::knowledge::Inspection,
    ),
    ApiError,
> {
    let mut received = None;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| {
            let status = actix_web::ResponseError::status_code(&e);
            if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                ApiError::new(
                    status,
                    "multipart_required",
                    "Send the file as multipart/form-data in a field named `file`.",
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_multipart",
                    format!("The multipart body could not be read: {e}"),
                )
            }
        })?;
        if field.name() != Some("file") || received.is_some() {
            return Err(ValidationErrors::single(
                field
                    .name()
                    .unwrap_or("field")
                    .chars()
                    .take(64)
                    .collect::<String>(),
                "unexpected field: send exactly one field named `file`",
            )
            .into());
        }
        let file_name =
            FileName::sanitize(field.content_disposition().and_then(|d| d.get_filename()));
        let spool = tempfile::NamedTempFile::new().map_err(|e| {
            tracing::error!(error = %e, "cannot create a spool file");
            ApiError::internal()
        })?;
        let mut file = tokio::fs::File::from_std(spool.reopen().map_err(|_| ApiError::internal())?);
        let mut inspector = Inspector::new(max_bytes);
        while let Some(piece) = field.try_next().await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_multipart",
                format!("The upload was cut off: {e}"),
            )
        })? {
            inspector.feed(&piece).map_err(upload_error)?;
            file.write_all(&piece).await.map_err(|e| {
                tracing::error!(error = %e, "cannot write the spool file");
                // A full disk is 507, like a full blob store; any other failure of the spool
                // folder, like an unwritable blob store, 503.
                match e.kind() {
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                        ApiError::storage_full()
                    }
                    _ => ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE),
                }
            })?;
        }
        file.flush().await.map_err(|_| ApiError::internal())?;
        let inspection = inspector.finish(file_name.as_str()).map_err(upload_error)?;
        received = Some((spool, file_name, inspection));
    }
    received.ok_or_else(|| {
        ValidationErrors::single(
            "file",
            "is required: send the file in a multipart field named `file`",
        )
        .into()
    })
}

/// Uploads a file into a chat's knowledge base.
///
/// PDF, DOCX, PPTX, ODT, ODP, RTF, EPUB, HTML, text and Markdown (any common encoding), and
/// PNG, JPEG and TIFF scans (read by OCR) are accepted, decided from the bytes. The answer is
/// 202 with the document `pending`; poll it until `completed` or `failed`. The same bytes
/// again answer 200 with the existing document (unless `on_duplicate=replace`); an
/// `Idempotency-Key` header makes a retried upload safe.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(
        ("chat_id" = Uuid, Path, description = "The chat's id"),
        UploadQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters; a retry with the same key and bytes returns the first answer's document")
    ),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored and queued for ingestion", body = DocumentBody, headers(("Location" = String, description = "The new document's URL"))),
        (status = 200, description = "The chat already holds these bytes (or the key was used): that document", body = DocumentBody),
        (status = 400, description = "The multipart body could not be read, or was cut off (`bad_multipart`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = NotAuthenticated),
        (status = 403, response = QuotaExceeded),
        (status = 404, response = NoSuchChat),
        (status = 409, description = "The Idempotency-Key was used for other bytes", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the maximum", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not PDF, text or Markdown, or the body is not `multipart/form-data` (`multipart_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty file, missing field or bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The blob store or the database is unavailable; nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The disk is full (`storage_full`); nothing was stored", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/documents")]
pub async fn upload(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    query: web::Query<UploadQuery>,
    req: HttpRequest,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let max_bytes = services.knowledge.settings().max_upload_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes + MULTIPART_OVERHEAD) {
        return Err(upload_error(InspectError::TooLarge { max_bytes }));
    }
    let replace = match query.on_duplicate.as_deref() {
        None | Some("return") => false,
        Some("replace") => true,
        Some(_) => {
            return Err(
                ValidationErrors::single("on_duplicate", "must be `return` or `replace`").into(),
            );
        }
    };
    let idempotency_key = crate::extract::idempotency_key(&req)?;
    let chat = ChatId::from_uuid(chat_id.into_inner());
    // Another user's chat answers 404 before a byte of the body is read.
    services.knowledge.check_chat(who.0, chat).await?;
    let (spool, file_name, inspection) = receive(form, max_bytes).await?;
    let uploaded = services
        .knowledge
        .upload(
            who.0,
            chat,
            Upload {
                file_name,
                path: spool.path(),
                inspection,
                idempotency_key,
                replace,
            },
        )
        .await?;
    drop(spool);
    Ok(match uploaded {
        Uploaded::Accepted(doc) => HttpResponse::Accepted()
            .insert_header((
                header::LOCATION,
                format!("/api/v1/chats/{}/documents/{}", doc.chat_id, doc.id),
            ))
            .json(DocumentBody::from(doc)),
        Uploaded::Existing(doc) => HttpResponse::Ok().json(DocumentBody::from(doc)),
    })
}

/// A chat's documents, newest first.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), PageQuery, DocumentFilter),
    responses(
        (status = 200, description = "One page of documents", body = PageBody<DocumentBody>),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "A bad `limit`, `cursor` or `status`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/chats/{chat_id}/documents")]
pub async fn list_documents(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    page: web::Query<PageQuery>,
    filter: web::Query<DocumentFilter>,
) -> Result<HttpResponse, ApiError> {
    let chat = ChatId::from_uuid(chat_id.into_inner());
    services.knowledge.check_chat(who.0, chat).await?;
    let page = page.parse::<DocumentCursor>()?;
    let status = match filter.status.as_deref() {
        None => None,
        Some(raw) => Some(knowledge::DocumentStatus::parse(raw).ok_or_else(|| {
            ApiError::from(ValidationErrors::single(
                "status",
                "must be one of pending, processing, completed, failed",
            ))
        })?),
    };
    let docs = services.knowledge.list(who.0, chat, status, page).await?;
    Ok(HttpResponse::Ok().json(PageBody::from_page(docs, DocumentBody::from)))
}

fn ids(path: (Uuid, Uuid)) -> (ChatId, DocumentId) {
    (ChatId::from_uuid(path.0), DocumentId::from_uuid(path.1))
}

/// One document, with its ingestion status and progress.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), ("document_id" = Uuid, Path, description = "The document's id")),
    responses(
        (status = 200, body = DocumentBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchDocument)
    )
)]
#[get("/chats/{chat_id}/documents/{document_id}")]
pub async fn get_document(
    services: web::Data<Services>,
    who: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (chat, id) = ids(path.into_inner());
    let doc = services.knowledge.get(who.0, chat, id).await?;
    Ok(HttpResponse::Ok().json(DocumentBody::from(doc)))
}

/// A document's chunks, in order.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), ("document_id" = Uuid, Path, description = "The document's id"), PageQuery),
    responses(
        (status = 200, description = "One page of chunks", body = PageBody<ChunkBody>),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchDocument),
        (status = 422, response = BadPage)
    )
)]
#[get("/chats/{chat_id}/documents/{document_id}/chunks")]
pub async fn list_chunks(
    services: web::Data<Services>,
    who: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (chat, id) = ids(path.into_inner());
    services.knowledge.get(who.0, chat, id).await?;
    let page = page.parse::<ChunkCursor>()?;
    let chunks = services.knowledge.chunks(who.0, chat, id, page).await?;
    Ok(HttpResponse::Ok().json(PageBody::from_page(chunks, ChunkBody::from)))
}

/// `attachment` with the stored name: plain ASCII (others become `_`) for old clients, and the
/// exact name as RFC 5987 `filename*` (UTF-8, percent-encoded) for the rest.
fn attachment(name: &str) -> header::ContentDisposition {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut parameters = vec![header::DispositionParam::Filename(ascii.clone())];
    if ascii != name {
        parameters.push(header::DispositionParam::FilenameExt(
            header::ExtendedValue {
                charset: header::Charset::Ext("UTF-8".into()),
                language_tag: None,
                value: name.as_bytes().to_vec(),
            },
        ));
    }
    header::ContentDisposition {
        disposition: header::DispositionType::Attachment,
        parameters,
    }
}

/// Downloads the original file.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), ("document_id" = Uuid, Path, description = "The document's id")),
    responses(
        (status = 200, description = "The original bytes, as an attachment with the stored name; the media type is the document's", content(
            (BinaryFile = "application/pdf"),
            (BinaryFile = "text/markdown"),
            (BinaryFile = "text/plain")
        ), headers(("Content-Disposition" = String, description = "`attachment`, with the stored file name"))),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchDocument)
    )
)]
#[get("/chats/{chat_id}/documents/{document_id}/file")]
pub async fn download(
    services: web::Data<Services>,
    who: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (chat, id) = ids(path.into_inner());
    let (doc, stream) = services.knowledge.download(who.0, chat, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, doc.media_type.mime()))
        .insert_header((header::CONTENT_LENGTH, doc.size_bytes))
        .insert_header(attachment(doc.file_name.as_str()))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .streaming(stream.map_err(|e| {
            tracing::error!(error = %flashforge_domain::error::chain(&e), "blob read failed mid-download");
            actix_web::error::ErrorInternalServerError("blob read failed")
        })))
}

/// Deletes a document with its chunks, vectors and file.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), ("document_id" = Uuid, Path, description = "The document's id")),
    responses(
        (status = 204, description = "Deleted; its text is no longer found by search"),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchDocument)
    )
)]
#[delete("/chats/{chat_id}/documents/{document_id}")]
pub async fn delete_document(
    services: web::Data<Services>,
    who: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (chat, id) = ids(path.into_inner());
    services.knowledge.delete(who.0, chat, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Queues a failed document for ingestion again.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), ("document_id" = Uuid, Path, description = "The document's id")),
    responses(
        (status = 202, description = "Queued again; now `pending`", body = DocumentBody),
        (status = 401, response = NotAuthenticated),
        (status = 403, response = QuotaExceeded),
        (status = 404, response = NoSuchDocument),
        (status = 409, description = "The document has not failed", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/documents/{document_id}/retry")]
pub async fn retry_document(
    services: web::Data<Services>,
    who: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (chat, id) = ids(path.into_inner());
    let doc = services.knowledge.retry(who.0, chat, id).await?;
    Ok(HttpResponse::Accepted().json(DocumentBody::from(doc)))
}

fn parse_search(
    query: &SearchQuery,
) -> Result<(String, knowledge::SearchMode, Option<u32>), ApiError> {
    let mut errors = ValidationErrors::new();
    let mode = match query.mode.as_deref() {
        None => Some(knowledge::SearchMode::Hybrid),
        Some(raw) => errors.check(knowledge::SearchMode::parse(raw)),
    };
    let limit = crate::pagination::parse_limit(query.limit.as_deref(), 50, &mut errors);
    let q = match query.q.as_deref() {
        Some(q) => q.to_string(),
        None => {
            errors.push(FieldError::new("q", "is required"));
            String::new()
        }
    };
    match mode {
        Some(mode) if errors.is_empty() => Ok((q, mode, limit)),
        _ => Err(errors.into()),
    }
}

fn mode_name(mode: knowledge::SearchMode) -> &'static str {
    match mode {
        knowledge::SearchMode::Semantic => "semantic",
        knowledge::SearchMode::Keyword => "keyword",
        knowledge::SearchMode::Hybrid => "hybrid",
    }
}

/// Searches one chat's material by meaning, by words, or both.
#[utoipa::path(
    tag = "search",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), SearchQuery),
    responses(
        (status = 200, description = "The best passages first", body = SearchBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, response = BadSearch)
    )
)]
#[get("/chats/{chat_id}/search")]
pub async fn search_chat(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let chat = ChatId::from_uuid(chat_id.into_inner());
    services.knowledge.check_chat(who.0, chat).await?;
    let (q, mode, limit) = parse_search(&query)?;
    let hits = services
        .knowledge
        .search(who.0, Some(chat), &q, mode, limit)
        .await?;
    Ok(HttpResponse::Ok().json(SearchBody {
        mode: mode_name(mode).into(),
        hits: hits.into_iter().map(SearchHitBody::from).collect(),
    }))
}

/// Searches all of the caller's material, across chats.
#[utoipa::path(
    tag = "search",
    security(("bearer" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "The best passages first", body = SearchBody),
        (status = 401, response = NotAuthenticated),
        (status = 422, response = BadSearch)
    )
)]
#[get("/search")]
pub async fn search_all(
    services: web::Data<Services>,
    who: Authenticated,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let (q, mode, limit) = parse_search(&query)?;
    let hits = services
        .knowledge
        .search(who.0, None, &q, mode, limit)
        .await?;
    Ok(HttpResponse::Ok().json(SearchBody {
        mode: mode_name(mode).into(),
        hits: hits.into_iter().map(SearchHitBody::from).collect(),
    }))
}
