//! Decks in and out: CSV export and import, the Anki package (.apkg).

use flashforge_domain::flashcards::DeckFormat;

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
    /// 1-based data row (the header is row 0).
    pub row: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportBody {
    pub imported: usize,
    /// The rows left out, and why.
    pub errors: Vec<ImportErrorBody>,
}

/// Imports flashcards from CSV (`text/csv` body, header `question,answer[,tags]`, tags
/// space-separated). Valid rows are created; invalid ones are reported by row.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, description = "How many rows were imported, and the rows that were not", body = ImportBody),
        (status = 401, response = NotAuthenticated),
        (status = 403, response = QuotaExceeded),
        (status = 404, response = NoSuchChat),
        (status = 413, description = "Larger than the body limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not CSV with a question and an answer column, or too many rows", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/flashcards/import")]
pub async fn import_cards(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let chat = chat_path(chat_id.into_inner());
    let (imported, errors) = services.flashcards.import_csv(who.0, chat, body).await?;
    Ok(HttpResponse::Ok().json(ImportBody {
        imported,
        errors: errors
            .into_iter()
            .map(|(row, e)| ImportErrorBody {
                row,
                field: e.field,
                message: e.message,
            })
            .collect(),
    }))
}
