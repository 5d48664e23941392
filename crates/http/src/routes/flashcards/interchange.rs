//! Decks in and out: CSV export and import, the Anki package (.apkg).

use flashforge_domain::flashcards::{
    DeckFormat, DeckImport, ImportId, MAX_CSV_BYTES, MAX_PACKAGE_BYTES, PackageImport,
    PackageOutcome,
};

use crate::extract::too_large;
use crate::responses::{NoSuchChat, NotAuthenticated, QuotaExceeded};

use super::*;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (question, answer, tags — for Quizlet, Knowt and spreadsheets; the default) or
    /// `apkg` (an Anki deck package named after the chat, review cards keeping their interval).
    #[param(value_type = Option<crate::schemas::ExportFormat>)]
    pub format: Option<String>,
}

/// Exports a chat's flashcards.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), ExportQuery),
    responses(
        (status = 200, description = "CSV with a header row: question, answer, tags (space-separated); or, with `format=apkg`, an Anki package", content(
            (String = "text/csv"),
            (crate::schemas::BinaryFile = "application/vnd.anki")
        ), headers(("Content-Disposition" = String, description = "`attachment; filename=\"flashcards-<chat id>.<csv|apkg>\"`"))),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "An unknown format", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/chats/{chat_id}/flashcards/export")]
pub async fn export_cards(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let chat = chat_path(chat_id.into_inner());
    let format = DeckFormat::parse(query.format.as_deref())?;
    let bytes = services.flashcards.export_deck(who.0, chat, format).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", format.media_type()))
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"flashcards-{chat}.{}\"",
                format.extension()
            ),
        ))
        .body(bytes))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorBody {
    /// 1-based data row of a CSV file (the header is row 0), or 1-based note of a package (in
    /// the package's order).
    pub row: usize,
    pub field: String,
    pub message: String,
}

/// Notes of a note type the API does not store, imported as basic cards from their first two
/// fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConvertedBody {
    /// The note type's name in the package.
    pub note_type: String,
    pub notes: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportBody {
    /// The cards created.
    pub imported: usize,
    /// The rows (notes of a package) left out, and why.
    pub errors: Vec<ImportErrorBody>,
    /// Anki packages: the notes created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<usize>,
    /// Anki packages: the reviews of the review log imported with the cards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviews: Option<usize>,
    /// Anki packages: notes of other note types, imported as basic cards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converted: Option<Vec<ConvertedBody>>,
    /// Anki packages: the media files it held, which are not imported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_skipped: Option<Vec<String>>,
}

impl From<PackageImport> for ImportBody {
    fn from(report: PackageImport) -> Self {
        Self {
            imported: report.cards,
            errors: error_bodies(report.errors),
            notes: Some(report.notes),
            reviews: Some(report.reviews),
            converted: Some(
                report
                    .converted
                    .into_iter()
                    .map(|c| ConvertedBody {
                        note_type: c.note_type,
                        notes: c.notes,
                    })
                    .collect(),
            ),
            media_skipped: Some(report.media_skipped),
        }
    }
}

/// How far a background import is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProgress {
    /// Notes looked at (stored or reported).
    pub done: u32,
    pub total: u32,
}

/// An Anki package importing in the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeckImportBody {
    pub id: Uuid,
    pub chat_id: Uuid,
    #[schema(value_type = crate::schemas::GenerationStatus)]
    pub status: String,
    pub progress: ImportProgress,
    /// What it did so far: the cards, notes and reviews stored, the notes left out and why,
    /// converted note types and skipped media.
    pub report: ImportBody,
    /// Why the last attempt failed (a retry is coming while `queued`), or why it failed for good.
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<DeckImport> for DeckImportBody {
    fn from(import: DeckImport) -> Self {
        Self {
            id: import.id.as_uuid(),
            chat_id: import.chat_id.as_uuid(),
            status: import.status.as_str().to_string(),
            progress: ImportProgress {
                done: import.notes_done,
                total: import.notes_total,
            },
            report: ImportBody::from(import.report),
            error: import.error,
            created_at: import.created_at,
            updated_at: import.updated_at,
        }
    }
}

/// A background import of an Anki package: its status, progress and what it did so far.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("import_id" = Uuid, Path, description = "The import's id")),
    responses(
        (status = 200, description = "The import", body = DeckImportBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, description = "No such import of the caller", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/flashcards/imports/{import_id}")]
pub async fn get_import(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let import = services
        .flashcards
        .get_import(who.0, ImportId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(DeckImportBody::from(import)))
}

fn error_bodies(errors: Vec<(usize, FieldError)>) -> Vec<ImportErrorBody> {
    errors
        .into_iter()
        .map(|(row, e)| ImportErrorBody {
            row,
            field: e.field,
            message: e.message,
        })
        .collect()
}

/// The request's media type, lowercase, without parameters.
fn media_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
}

/// Whether the body is an Anki package: by its type, or a zip's first bytes.
fn is_package(req: &HttpRequest, body: &[u8]) -> bool {
    matches!(
        media_type(req).as_deref(),
        Some("application/vnd.anki" | "application/apkg" | "application/zip")
    ) || body.starts_with(b"PK\x03\x04")
}

/// The body, refused with 413 past `limit` bytes (by its declared length before reading).
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    payload
        .to_bytes_limited(limit)
        .await
        .map_err(|_| too_large(limit))?
        .map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "unreadable_body",
                "The request body could not be read.",
            )
        })
}

/// Imports flashcards from a CSV file or an Anki package.
///
/// - CSV (`text/csv`): header `question,answer[,tags][,type]`, tags space-separated, type
///   `basic`, `reversed` or `cloze`. Valid rows are created; invalid ones are reported by row.
/// - An Anki package (`.apkg` or `.colpkg`, Anki's current format or the legacy one; `application/vnd.anki`,
///   `application/zip`, or any body that is a zip): its notes with their tags — Basic-like note
///   types as basic cards, Basic-and-reversed-like as reversed notes, cloze types as cloze notes;
///   other note types as basic cards from their first two fields, reported in `converted` — and
///   every card's suspension, schedule and review log, from which its FSRS memory state is
///   computed with the caller's parameters. Media files are not imported: they are listed in
///   `media_skipped`. At most 5,000 notes, 10,000 cards and 500,000 reviews per package. Up to
///   500 notes import at once, all the package's cards or none; a larger package answers `202`
///   with an import to poll (`Location`), which stores its notes 250 at a time.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body(content(
        (String = "text/csv"),
        (crate::schemas::BinaryFile = "application/vnd.anki")
    )),
    responses(
        (status = 200, description = "How many cards were imported, and the rows (notes) that were not", body = ImportBody),
        (status = 202, description = "A package of more than 500 notes: queued; `Location` names the import to poll", body = DeckImportBody, headers(("Location" = String, description = "The import's URL"))),
        (status = 401, response = NotAuthenticated),
        (status = 403, response = QuotaExceeded),
        (status = 404, response = NoSuchChat),
        (status = 413, description = "A CSV file larger than 8 MiB, a package larger than 100 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not CSV with a question and an answer column, not an Anki package, or past a limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/flashcards/import")]
pub async fn import_cards(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let chat = chat_path(chat_id.into_inner());
    // Another user's chat answers 404 before the body is read.
    services.flashcards.check_chat(who.0, chat).await?;
    let says_text = media_type(&req).is_some_and(|t| t.starts_with("text/"));
    let limit = if says_text {
        MAX_CSV_BYTES
    } else {
        MAX_PACKAGE_BYTES
    };
    let body = read_body(&req, payload, limit).await?;
    let package = is_package(&req, &body);
    if !package && body.len() > MAX_CSV_BYTES {
        return Err(too_large(MAX_CSV_BYTES));
    }
    if package {
        return Ok(
            match services
                .flashcards
                .import_package(who.0, chat, body)
                .await?
            {
                PackageOutcome::Imported(report) => {
                    HttpResponse::Ok().json(ImportBody::from(report))
                }
                PackageOutcome::Queued(import) => HttpResponse::Accepted()
                    .insert_header((
                        "Location",
                        format!("/api/v1/flashcards/imports/{}", import.id),
                    ))
                    .json(DeckImportBody::from(*import)),
            },
        );
    }
    let (imported, errors) = services.flashcards.import_csv(who.0, chat, body).await?;
    Ok(HttpResponse::Ok().json(ImportBody {
        imported,
        errors: error_bodies(errors),
        notes: None,
        reviews: None,
        converted: None,
        media_skipped: None,
    }))
}
