//! Cards of a chat: create (one or a batch), list, read, change, delete, review.

use super::*;
use crate::responses::{
    BadFields, ModelCallsLimited, NoSuchCard, NoSuchChat, NotAuthenticated, QuotaExceeded,
};

/// Creates a flashcard in a chat.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = NewCardRequest,
    responses(
        (status = 201, description = "The new card, due now; `Location` names it. A reversed or cloze note makes several cards: this is its first (lowest ordinal); `GET …/flashcards?note_id=` lists them all", body = CardBody, headers(("Location" = String, description = "The new card's URL"))),
        (status = 401, response = NotAuthenticated),
        (status = 403, response = QuotaExceeded),
        (status = 404, response = NoSuchChat),
        (status = 422, response = BadFields)
    )
)]
#[post("/chats/{chat_id}/flashcards")]
pub async fn create_card(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    body: web::Json<NewCardRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut cards = services
        .flashcards
        .create(
            who.0,
            chat_path(chat_id.into_inner()),
            vec![body.into_inner().into()],
            false,
        )
        .await?;
    let card = CardBody::from(cards.remove(0));
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/flashcards/{}", card.id)))
        .json(card))
}

/// Creates up to 500 flashcards at once: all of them, or none when any is invalid.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = BulkCardsRequest,
    responses(
        (status = 201, description = "Every card, in the order sent, each note's cards in ordinal order", body = CardsBody),
        (status = 401, response = NotAuthenticated),
        (status = 403, response = QuotaExceeded),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "Bad fields, named `cards[i].field`; nothing was created", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/flashcards/bulk")]
pub async fn create_cards(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    body: web::Json<BulkCardsRequest>,
) -> Result<HttpResponse, ApiError> {
    let inputs = body
        .into_inner()
        .cards
        .into_iter()
        .map(Into::into)
        .collect();
    let cards = services
        .flashcards
        .create(who.0, chat_path(chat_id.into_inner()), inputs, true)
        .await?;
    Ok(HttpResponse::Created().json(CardsBody {
        items: cards.into_iter().map(CardBody::from).collect(),
    }))
}

/// A chat's flashcards, newest first.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), PageQuery, CardListFilter),
    responses(
        (status = 200, description = "One page of cards", body = PageBody<CardBody>),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "A bad filter, `limit` or `cursor`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/chats/{chat_id}/flashcards")]
pub async fn list_cards(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    page: web::Query<PageQuery>,
    filter: web::Query<CardListFilter>,
) -> Result<HttpResponse, ApiError> {
    let page = page.parse::<CardCursor>()?;
    let mut errors = ValidationErrors::new();
    let tag = filter
        .tag
        .as_deref()
        .and_then(|t| errors.check(Tag::parse(t).map_err(|e| FieldError::new("tag", e.message))));
    let state = match filter.state.as_deref() {
        None => None,
        Some(raw) => {
            let state = CardState::parse(raw);
            if state.is_none() {
                errors.push(FieldError::new(
                    "state",
                    "must be one of new, learning, review, relearning",
                ));
            }
            state
        }
    };
    let text = match filter.text.as_deref().map(str::trim) {
        Some(t) if t.is_empty() || t.chars().count() > 200 => {
            errors.push(FieldError::new("text", "must be 1 to 200 characters"));
            None
        }
        other => other.map(str::to_string),
    };
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let filter = CardFilter {
        tag,
        state,
        due_before: (filter.due == Some(true)).then(Utc::now),
        text,
        note: filter
            .note_id
            .map(flashforge_domain::flashcards::NoteId::from_uuid),
    };
    let cards = services
        .flashcards
        .list(who.0, chat_path(chat_id.into_inner()), filter, page)
        .await?;
    Ok(HttpResponse::Ok().json(PageBody::from_page(cards, CardBody::from)))
}

/// One flashcard, with its schedule and the next interval for each rating.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("card_id" = Uuid, Path, description = "The card's id")),
    responses(
        (status = 200, body = CardBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchCard)
    )
)]
#[get("/flashcards/{card_id}")]
pub async fn get_card(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let card = services
        .flashcards
        .get(who.0, card_path(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(CardBody::from(card)))
}

/// Edits a flashcard's texts, tags, suspension or source.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("card_id" = Uuid, Path, description = "The card's id")),
    request_body = CardPatchRequest,
    responses(
        (status = 200, body = CardBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchCard),
        (status = 422, response = BadFields)
    )
)]
#[patch("/flashcards/{card_id}")]
pub async fn update_card(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: web::Json<CardPatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let card = services
        .flashcards
        .update(
            who.0,
            card_path(id.into_inner()),
            CardPatch {
                question: body.question,
                answer: body.answer,
                tags: body.tags,
                suspended: body.suspended,
                source: body.source.map(|s| s.map(Into::into)),
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(CardBody::from(card)))
}

/// Deletes a flashcard and its review history.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("card_id" = Uuid, Path, description = "The card's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchCard)
    )
)]
#[delete("/flashcards/{card_id}")]
pub async fn delete_card(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    services
        .flashcards
        .delete(who.0, card_path(id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Records a review and schedules the card with FSRS. An `Idempotency-Key` makes a retried
/// review apply once.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(
        ("card_id" = Uuid, Path, description = "The card's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")
    ),
    request_body = ReviewRequest,
    responses(
        (status = 200, description = "The card with its new schedule", body = CardBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchCard),
        (status = 409, description = "Another review landed at the same moment, or the key was used for another card", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad rating, time or duration", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/flashcards/{card_id}/reviews")]
pub async fn review_card(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
    req: HttpRequest,
    body: web::Json<ReviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let rating = Rating::parse(&body.rating).ok_or_else(|| {
        ApiError::from(ValidationErrors::single(
            "rating",
            "must be one of again, hard, good, easy",
        ))
    })?;
    let idempotency_key = crate::extract::idempotency_key(&req)?;
    let card = services
        .flashcards
        .review(
            who.0,
            card_path(id.into_inner()),
            ReviewInput {
                rating,
                reviewed_at: body.reviewed_at,
                duration_ms: body.duration_ms,
                idempotency_key,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(CardBody::from(card)))
}

#[derive(Serialize, ToSchema)]
pub struct ExplanationBody {
    /// The explanation, Markdown, citing the passages it uses as `[n]`.
    pub explanation: String,
    /// The passages cited, in order of first mention; each quote is verbatim.
    pub citations: Vec<crate::routes::messages::CitationBody>,
    /// The model that wrote it (`offline` without a language model: the passages themselves).
    pub model: String,
    /// Whether the card's source is still there; null without a source.
    #[schema(value_type = Option<crate::schemas::SourceStatus>)]
    pub source_status: Option<String>,
}

/// Explains a card from the passage it came from and the passages around it (or, when that is
/// gone, the chat's passages nearest its question): the assistant's language model, grounded
/// in the student's material and cited — for a student who just failed the card.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("card_id" = Uuid, Path, description = "The card's id")),
    responses(
        (status = 200, body = ExplanationBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchCard),
        (status = 429, response = ModelCallsLimited),
        (status = 502, description = "The language model failed", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The language model did not answer in time", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/flashcards/{card_id}/explain")]
pub async fn explain_card(
    services: web::Data<Services>,
    who: Authenticated,
    card_id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let explained = services
        .flashcards
        .explain(who.0, card_path(card_id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(ExplanationBody {
        explanation: explained.text,
        citations: explained
            .citations
            .into_iter()
            .map(|c| crate::routes::messages::CitationBody {
                document_id: c.document_id,
                file_name: c.file_name,
                page: c.page,
                page_label: c.page_label,
                chunk_id: c.chunk_id,
                quote: c.quote,
            })
            .collect(),
        model: explained.model,
        source_status: explained.source_status.map(|s| s.as_str().to_string()),
    }))
}
