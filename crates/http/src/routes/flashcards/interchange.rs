//! Decks in and out: CSV export and import, the Anki package (.apkg).

use super::*;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `csv` (question, answer, tags — for Quizlet, Knowt and spreadsheets; the default) or
    /// `apkg` (an Anki deck package named after the chat, review cards keeping their interval).
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
            (Vec<u8> = "application/vnd.anki")
        )),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller", body = Problem, content_type = "application/problem+json"),
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
    let apkg = match query.format.as_deref() {
        None | Some("csv") => false,
        Some("apkg") => true,
        Some(_) => {
            return Err(ValidationErrors::single("format", "must be `csv` or `apkg`").into());
        }
    };
    let cards = services.flashcards.export(who.0, chat).await?;
    if apkg {
        let deck = services.chats.get(who.0, chat).await?;
        let bytes = anki_package(deck.name.as_str(), &cards).await?;
        return Ok(HttpResponse::Ok()
            .insert_header(("Content-Type", "application/vnd.anki"))
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"flashcards-{chat}.apkg\""),
            ))
            .body(bytes));
    }
    // A large deck is real work: off the async thread.
    let bytes = web::block(move || csv_export(&cards))
        .await
        .map_err(|_| ApiError::internal())??;
    Ok(HttpResponse::Ok()
        .insert_header(("Content-Type", "text/csv; charset=utf-8"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"flashcards-{chat}.csv\""),
        ))
        .body(bytes))
}

/// The cards as CSV: a header row, then question, answer and space-separated tags per card.
fn csv_export(cards: &[Flashcard]) -> Result<Vec<u8>, ApiError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| {
        tracing::error!(error = %e, "writing CSV failed");
        ApiError::internal()
    };
    writer
        .write_record(["question", "answer", "tags"])
        .map_err(internal)?;
    for card in cards {
        let tags: Vec<&str> = card.tags.iter().map(Tag::as_str).collect();
        writer
            .write_record([
                inert_cell(card.question.as_str()).as_ref(),
                inert_cell(card.answer.as_str()).as_ref(),
                inert_cell(&tags.join(" ")).as_ref(),
            ])
            .map_err(internal)?;
    }
    writer
        .into_inner()
        .map_err(|e| internal(e.into_error().into()))
}

/// The cards as an Anki deck: review-state cards keep their due date, interval, reps and lapses;
/// the others arrive as new cards.
async fn anki_package(deck: &str, cards: &[Flashcard]) -> Result<Vec<u8>, ApiError> {
    let notes: Vec<flashforge_anki::AnkiCard> = cards
        .iter()
        .map(|card| {
            let s = &card.schedule;
            let review = s.state == CardState::Review;
            flashforge_anki::AnkiCard {
                id: card.id.as_uuid(),
                question: card.question.as_str().to_string(),
                answer: card.answer.as_str().to_string(),
                tags: card.tags.iter().map(|t| t.as_str().to_string()).collect(),
                schedule: review.then(|| flashforge_anki::AnkiSchedule {
                    due: s.due,
                    interval_days: s
                        .last_reviewed_at
                        .map(|last| (s.due - last).num_days().max(1) as u32)
                        .unwrap_or(1),
                    reps: s.reps,
                    lapses: s.lapses,
                    review: true,
                }),
            }
        })
        .collect();
    flashforge_anki::write_apkg(deck, notes, Utc::now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "writing the Anki package failed");
            ApiError::internal()
        })
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
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "It would pass one of the caller's quotas (`quota_exceeded`, naming it); nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller", body = Problem, content_type = "application/problem+json"),
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
    // Another user's chat answers 404 before the file is looked at.
    services.flashcards.check_chat(who.0, chat).await?;
    // Parsing up to 5,000 rows is real work: off the async thread.
    let rows = web::block(move || csv_rows(&body))
        .await
        .map_err(|_| ApiError::internal())??;
    let (imported, errors) = services.flashcards.import(who.0, chat, rows).await?;
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

/// The first characters that make a spreadsheet read a cell as a formula (OWASP, CSV
/// injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell a spreadsheet shows as text: one that would start a formula gets a leading `'`.
fn inert_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// A cell as exported by [`inert_cell`], back to what it was.
fn imported_cell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => text,
    }
}

/// The rows of an imported CSV file; reading stops once there are more than can be imported.
fn csv_rows(body: &[u8]) -> Result<Vec<CardInput>, ApiError> {
    let bad = |message: String| ApiError::from(ValidationErrors::single("file", message));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("is not CSV: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(question), Some(answer)) = (column("question"), column("answer")) else {
        return Err(bad(
            "needs a header row with `question` and `answer` columns".into(),
        ));
    };
    let tags = column("tags");
    let mut rows = Vec::new();
    for record in reader.records() {
        if rows.len() > MAX_IMPORT_ROWS {
            // Enough to refuse it; the rest is not read.
            break;
        }
        let record = record.map_err(|e| bad(format!("is not valid CSV: {e}")))?;
        let cell = |i: usize| imported_cell(record.get(i).unwrap_or_default()).to_string();
        rows.push(CardInput {
            question: cell(question),
            answer: cell(answer),
            tags: tags
                .map(|i| cell(i).split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            suspended: false,
            source: None,
        });
    }
    Ok(rows)
}
