//! Flashcards over HTTP: CRUD, bulk create, reviews (FSRS), the due queue, export and import,
//! and generation from the chat's material.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardCursor, CardFilter, CardInput, CardPatch, CardSource, CardState, Flashcard, FlashcardId,
    Generated, Generation, GenerationId, MAX_IMPORT_ROWS, Rating, ReviewInput, SourceInput,
    StudyCard, Tag,
};
use flashforge_domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::pagination::{PageBody, PageQuery};
use crate::problem::{ApiError, Problem};

/// The passage a card came from.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct SourceBody {
    pub document_id: Uuid,
    pub chunk_id: Option<Uuid>,
    /// 1-based.
    #[schema(minimum = 1)]
    pub page: Option<u32>,
    #[schema(max_length = 1000)]
    pub quote: Option<String>,
}

impl From<SourceBody> for SourceInput {
    fn from(s: SourceBody) -> Self {
        Self {
            document_id: s.document_id,
            chunk_id: s.chunk_id,
            page: s.page,
            quote: s.quote,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCardRequest {
    /// Markdown, 1–2000 characters.
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "What do mitochondria produce?"
    )]
    pub question: String,
    /// Markdown, 1–5000 characters.
    #[schema(
        min_length = 1,
        max_length = 5000,
        example = "ATP, by oxidative phosphorylation."
    )]
    pub answer: String,
    /// Up to 20 tags of letters, digits and `-_:./`.
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub suspended: bool,
    pub source: Option<SourceBody>,
}

impl From<NewCardRequest> for CardInput {
    fn from(r: NewCardRequest) -> Self {
        Self {
            question: r.question,
            answer: r.answer,
            tags: r.tags,
            suspended: r.suspended,
            source: r.source.map(Into::into),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkCardsRequest {
    /// 1–500 cards, created all or none.
    pub cards: Vec<NewCardRequest>,
}

/// A present-but-null field is `Some(None)`; an absent one `None`.
fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Changes to a card; a field left out stays as it is; `"source": null` removes the source.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CardPatchRequest {
    #[schema(min_length = 1, max_length = 2000)]
    pub question: Option<String>,
    #[schema(min_length = 1, max_length = 5000)]
    pub answer: Option<String>,
    pub tags: Option<Vec<String>>,
    pub suspended: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<SourceBody>)]
    pub source: Option<Option<SourceBody>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReviewRequest {
    /// `again`, `hard`, `good` or `easy`.
    #[schema(example = "good")]
    pub rating: String,
    /// When the review happened (offline study); default: now. Not before the card was created
    /// or its last review, and not in the future (a few minutes of clock skew are taken as now).
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Time spent on the card.
    #[schema(maximum = 86400000)]
    pub duration_ms: Option<u32>,
}

/// When the card would next be due after each rating, in seconds from now.
#[derive(Debug, Serialize, ToSchema)]
pub struct NextIntervalsBody {
    pub again: i64,
    pub hard: i64,
    pub good: i64,
    pub easy: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardBody {
    pub id: Uuid,
    pub chat_id: Uuid,
    pub question: String,
    pub answer: String,
    pub tags: Vec<String>,
    pub suspended: bool,
    pub source: Option<SourceBody>,
    /// `available`, or `missing` once the source document was deleted or replaced; null
    /// without a source.
    pub source_status: Option<String>,
    /// `new`, `learning`, `review` or `relearning`.
    pub state: String,
    pub due: DateTime<Utc>,
    /// FSRS stability (days until recall falls to 90 %); null before the first review.
    pub stability: Option<f32>,
    /// FSRS difficulty, 1–10; null before the first review.
    pub difficulty: Option<f32>,
    pub reps: u32,
    pub lapses: u32,
    pub last_reviewed_at: Option<DateTime<Utc>>,
    pub next_intervals: NextIntervalsBody,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StudyCard> for CardBody {
    fn from(study: StudyCard) -> Self {
        let card = study.card;
        let source_status = study.source_status.map(|s| s.as_str().to_string());
        let [again, hard, good, easy] = study.next_intervals.map(|d| d.num_seconds());
        Self {
            id: card.id.as_uuid(),
            chat_id: card.chat_id.as_uuid(),
            question: card.question.as_str().to_string(),
            answer: card.answer.as_str().to_string(),
            tags: card.tags.iter().map(|t| t.as_str().to_string()).collect(),
            suspended: card.suspended,
            source: card.source.map(|s| SourceBody {
                document_id: s.document_id.as_uuid(),
                chunk_id: s.chunk_id.map(|c| c.as_uuid()),
                page: s.page,
                quote: s.quote,
            }),
            source_status,
            state: card.schedule.state.as_str().to_string(),
            due: card.schedule.due,
            stability: card.schedule.memory.map(|m| m.stability),
            difficulty: card.schedule.memory.map(|m| m.difficulty),
            reps: card.schedule.reps,
            lapses: card.schedule.lapses,
            last_reviewed_at: card.schedule.last_reviewed_at,
            next_intervals: NextIntervalsBody {
                again,
                hard,
                good,
                easy,
            },
            created_at: card.created_at,
            updated_at: card.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardsBody {
    pub items: Vec<CardBody>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CardListFilter {
    /// Only cards with this tag.
    pub tag: Option<String>,
    /// Only cards in this state: `new`, `learning`, `review`, `relearning`.
    pub state: Option<String>,
    /// `true`: only cards due now.
    pub due: Option<bool>,
    /// Only cards whose question or answer contains this text (1–200 characters).
    #[param(max_length = 200)]
    pub text: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DueQuery {
    /// Only this chat's cards.
    pub chat_id: Option<Uuid>,
    /// 1–500, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

fn chat_path(id: Uuid) -> ChatId {
    ChatId::from_uuid(id)
}

fn card_path(id: Uuid) -> FlashcardId {
    FlashcardId::from_uuid(id)
}

/// Creates a flashcard in a chat.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = NewCardRequest,
    responses(
        (status = 201, description = "The new card, due now; `Location` names it", body = CardBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "It would pass one of the caller's quotas (`quota_exceeded`, naming it); nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields", body = Problem, content_type = "application/problem+json")
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
        (status = 201, description = "Every card, in the order sent", body = CardsBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "It would pass one of the caller's quotas (`quota_exceeded`, naming it); nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller", body = Problem, content_type = "application/problem+json"),
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
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller", body = Problem, content_type = "application/problem+json"),
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
    params(("id" = Uuid, Path, description = "The card's id")),
    responses(
        (status = 200, body = CardBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card of the caller", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/flashcards/{id}")]
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
    params(("id" = Uuid, Path, description = "The card's id")),
    request_body = CardPatchRequest,
    responses(
        (status = 200, body = CardBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad fields", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/flashcards/{id}")]
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
    params(("id" = Uuid, Path, description = "The card's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card of the caller", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/flashcards/{id}")]
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
        ("id" = Uuid, Path, description = "The card's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")
    ),
    request_body = ReviewRequest,
    responses(
        (status = 200, description = "The card with its new schedule", body = CardBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another review landed at the same moment, or the key was used for another card", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad rating, time or duration", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/flashcards/{id}/reviews")]
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

/// The cards due now across the caller's chats (or one chat), soonest first.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    params(DueQuery),
    responses(
        (status = 200, description = "Due cards", body = CardsBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad `limit`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/study/due")]
pub async fn due(
    services: web::Data<Services>,
    who: Authenticated,
    query: web::Query<DueQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = ValidationErrors::new();
    let limit = crate::pagination::parse_limit(query.limit.as_deref(), 500, &mut errors);
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let cards = services
        .flashcards
        .due(who.0, query.chat_id.map(ChatId::from_uuid), limit)
        .await?;
    Ok(HttpResponse::Ok().json(CardsBody {
        items: cards.into_iter().map(CardBody::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudySettingsBody {
    /// The probability of recall reviews aim for.
    pub desired_retention: f32,
    /// Whether FSRS parameters fitted to the caller's reviews are in use.
    pub personalized: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<flashforge_domain::flashcards::StudySettings> for StudySettingsBody {
    fn from(s: flashforge_domain::flashcards::StudySettings) -> Self {
        Self {
            desired_retention: s.desired_retention,
            personalized: !s.parameters.is_empty(),
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StudySettingsPatch {
    /// 0.70–0.99: higher means more reviews and fewer lapses.
    #[schema(minimum = 0.7, maximum = 0.99, example = 0.9)]
    pub desired_retention: f32,
}

/// The caller's study settings.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    responses(
        (status = 200, body = StudySettingsBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/study/settings")]
pub async fn study_settings(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let settings = services.flashcards.settings(who.0).await?;
    Ok(HttpResponse::Ok().json(StudySettingsBody::from(settings)))
}

/// Sets the caller's desired retention.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    request_body = StudySettingsPatch,
    responses(
        (status = 200, body = StudySettingsBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Out of range", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/study/settings")]
pub async fn update_study_settings(
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<StudySettingsPatch>,
) -> Result<HttpResponse, ApiError> {
    let settings = services
        .flashcards
        .set_desired_retention(who.0, body.desired_retention)
        .await?;
    Ok(HttpResponse::Ok().json(StudySettingsBody::from(settings)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayCountBody {
    pub date: chrono::NaiveDate,
    pub reviews: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StudyStatsBody {
    pub due_now: u64,
    /// Due before the end of today (UTC).
    pub due_today: u64,
    pub total_cards: u64,
    pub new_cards: u64,
    pub reviews_today: u64,
    /// The last 30 UTC days, oldest first.
    pub reviews_per_day: Vec<DayCountBody>,
    /// Of the last 30 days' reviews of cards in review, the share not answered `again`; null
    /// before there is any.
    pub true_retention: Option<f32>,
    /// How many reviews `true_retention` is measured on.
    pub retention_reviews: u64,
    pub desired_retention: f32,
}

/// Due counts, reviews per day and true retention.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    responses(
        (status = 200, body = StudyStatsBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/study/stats")]
pub async fn study_stats(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let stats = services.flashcards.stats(who.0).await?;
    Ok(HttpResponse::Ok().json(StudyStatsBody {
        due_now: stats.due_now,
        due_today: stats.due_today,
        total_cards: stats.total_cards,
        new_cards: stats.new_cards,
        reviews_today: stats.reviews_today,
        reviews_per_day: stats
            .reviews_per_day
            .into_iter()
            .map(|(date, reviews)| DayCountBody { date, reviews })
            .collect(),
        true_retention: stats.true_retention,
        retention_reviews: stats.retention_reviews,
        desired_retention: stats.desired_retention,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptimizedBody {
    pub settings: StudySettingsBody,
    /// How many reviews the parameters were fitted to.
    pub reviews_used: usize,
}

/// Fits the caller's FSRS parameters to their review log with the fsrs optimizer; from then on
/// their cards are scheduled with them. Needs enough reviews, and says how many more when there
/// are not.
#[utoipa::path(
    tag = "study",
    security(("bearer" = [])),
    responses(
        (status = 200, body = OptimizedBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An optimization of the caller's parameters is already running (`optimization_running`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not enough reviews yet; `errors` says how many more", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/study/optimize")]
pub async fn optimize(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (settings, reviews_used) = services.flashcards.optimize(who.0).await?;
    Ok(HttpResponse::Ok().json(OptimizedBody {
        settings: settings.into(),
        reviews_used,
    }))
}

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

#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerateRequest {
    /// A completed document of the chat (a long one is read in batches of 40 chunks, in the
    /// background)…
    pub document_id: Option<Uuid>,
    /// …or up to 40 chunks of the chat's documents…
    #[schema(max_items = 40)]
    pub chunk_ids: Option<Vec<Uuid>>,
    /// …or text to make cards from (1–20000 characters)…
    #[schema(max_length = 20000)]
    pub text: Option<String>,
    /// …or a topic: the chat's 20 passages most relevant to it (1–500 characters).
    #[schema(max_length = 500)]
    pub topic: Option<String>,
    /// 1–200, default 10. More than 50 cards run in the background.
    #[schema(minimum = 1, maximum = 200)]
    pub count: Option<u32>,
    /// Save the cards (tagged `generated:<generator>`); otherwise they are only returned.
    #[serde(default)]
    pub save: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DraftBody {
    pub question: String,
    pub answer: String,
    pub source: Option<SourceBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedBody {
    /// `language_model`, or `offline` (definition and cloze cards from the material's own
    /// sentences) when no language model that writes structured output is configured.
    pub generator: String,
    pub drafts: Vec<DraftBody>,
    /// The saved cards, when `save` was asked.
    pub cards: Option<Vec<CardBody>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationProgress {
    /// Batches of material done (a batch is up to 40 chunks, one language-model call).
    pub batches_done: u32,
    pub batches_total: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedCardBody {
    pub question: String,
    pub answer: String,
    pub source: Option<SourceBody>,
    /// The saved card, when the generation saves.
    pub card_id: Option<Uuid>,
}

/// A generation running in the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationBody {
    pub id: Uuid,
    pub chat_id: Uuid,
    /// `queued`, `running`, `completed` or `failed`.
    pub status: String,
    /// `language_model` or `offline`, once a batch ran.
    pub generator: Option<String>,
    pub progress: GenerationProgress,
    /// The cards made (when completed).
    pub cards: Vec<GeneratedCardBody>,
    /// Why the last attempt failed (a retry is coming while `queued`), or why it failed for good.
    pub error: Option<String>,
    pub count: u32,
    pub save: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn source_body(s: CardSource) -> SourceBody {
    SourceBody {
        document_id: s.document_id.as_uuid(),
        chunk_id: s.chunk_id.map(|c| c.as_uuid()),
        page: s.page,
        quote: s.quote,
    }
}

impl From<Generation> for GenerationBody {
    fn from(g: Generation) -> Self {
        Self {
            id: g.id.as_uuid(),
            chat_id: g.chat_id.as_uuid(),
            status: g.status.as_str().to_string(),
            generator: g.generator,
            progress: GenerationProgress {
                batches_done: g.batches_done,
                batches_total: g.batches_total,
            },
            cards: g
                .cards
                .into_iter()
                .map(|c| GeneratedCardBody {
                    question: c.question,
                    answer: c.answer,
                    source: c.source.map(source_body),
                    card_id: c.card_id.map(|id| id.as_uuid()),
                })
                .collect(),
            error: g.error,
            count: g.request.count,
            save: g.request.save,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// Makes flashcards from the chat's material — a document, chunks, text or a topic — each
/// linked to the chunk and page it came from; near-duplicates of the chat's cards are left out.
/// A long document (more than 40 chunks) or more than 50 cards runs in the background: the
/// answer is `202` with the generation to poll.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "The cards (saved when asked)", body = GeneratedBody),
        (status = 202, description = "Queued; `Location` names the generation to poll", body = GenerationBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "It would pass one of the caller's quotas (`quota_exceeded`, naming it); nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such chat of the caller", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not exactly one of document_id, chunk_ids, text and topic; a document not completed; chunks of another chat; a bad count", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "A rate limit was reached, today's model-token budget is spent (`token_budget_spent`, until midnight UTC) or too many of the caller's model calls are under way (`model_calls_busy`); `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The language model failed", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The language model did not answer in time", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/flashcards/generate")]
pub async fn generate_cards(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    body: web::Json<GenerateRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let generated = services
        .flashcards
        .generate(
            who.0,
            chat_path(chat_id.into_inner()),
            flashforge_domain::flashcards::GenerateInput {
                document_id: body.document_id,
                chunk_ids: body.chunk_ids,
                text: body.text,
                topic: body.topic,
                count: body.count,
                save: body.save,
            },
        )
        .await?;
    let generated = match generated {
        Generated::Queued(generation) => {
            return Ok(HttpResponse::Accepted()
                .insert_header((
                    "Location",
                    format!("/api/v1/flashcards/generations/{}", generation.id),
                ))
                .json(GenerationBody::from(generation)));
        }
        Generated::Done(generated) => generated,
    };
    Ok(HttpResponse::Ok().json(GeneratedBody {
        generator: generated.generator.as_str().to_string(),
        drafts: generated
            .drafts
            .into_iter()
            .map(|(draft, source)| DraftBody {
                question: draft.question,
                answer: draft.answer,
                source: source.map(source_body),
            })
            .collect(),
        cards: generated
            .saved
            .map(|cards| cards.into_iter().map(CardBody::from).collect()),
    }))
}

/// A background generation: its status, progress and, once completed, its cards.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("generation_id" = Uuid, Path, description = "The generation's id")),
    responses(
        (status = 200, description = "The generation", body = GenerationBody),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such generation of the caller", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/flashcards/generations/{generation_id}")]
pub async fn get_generation(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let generation = services
        .flashcards
        .generation(who.0, GenerationId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(GenerationBody::from(generation)))
}
