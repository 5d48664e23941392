//! Flashcards over HTTP: CRUD, bulk create, reviews (FSRS), the due queue, export and import,
//! and generation from the chat's material.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardCursor, CardFilter, CardInput, CardKind, CardPatch, CardSource, CardState, FlashcardId,
    Generated, Generation, GenerationId, Rating, ReviewInput, SourceInput, StudyCard, Tag,
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
    /// What a person sees for the page ("slide 12", "p. 4"); set by the service from the
    /// passage the card came from, ignored when sent.
    #[serde(default, skip_deserializing)]
    #[schema(read_only)]
    pub page_label: Option<String>,
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
    /// `basic` (the default): one card; `reversed`: two cards, question → answer and answer →
    /// question; `cloze`: one card per cloze number in the question (`{{c1::mitochondria}}`).
    #[serde(default)]
    #[schema(value_type = Option<crate::schemas::CardKind>)]
    pub kind: Option<CardKind>,
    /// Markdown, 1–2000 characters; a cloze note's text with its `{{cN::text}}` or
    /// `{{cN::text::hint}}` markers.
    #[schema(
        min_length = 1,
        max_length = 2000,
        example = "What do mitochondria produce?"
    )]
    pub question: String,
    /// Markdown, 1–5000 characters; for a cloze note, extra text for the back (may be empty).
    #[serde(default)]
    #[schema(max_length = 5000, example = "ATP, by oxidative phosphorylation.")]
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
            kind: r.kind.unwrap_or_default(),
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
    #[schema(value_type = crate::schemas::Rating, example = "good")]
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
    /// The note the card is made from; its siblings share it.
    pub note_id: Uuid,
    #[schema(value_type = crate::schemas::CardKind)]
    pub kind: String,
    /// Which card of the note: 0 (basic, a reversed note's forward card), 1 (a reversed note's
    /// backward card) or the cloze number.
    pub ordinal: u32,
    /// The note's question (a cloze note's text with its markers).
    pub question: String,
    /// The note's answer (a cloze note's extra text, possibly empty).
    pub answer: String,
    /// What this card shows first, Markdown: the question; the answer on a backward card; the
    /// cloze text with this card's gap as `[...]` (or `[hint]`).
    pub front: String,
    /// What it shows on the back, Markdown; a cloze card's text with the gap in bold, then the
    /// extra text.
    pub back: String,
    pub tags: Vec<String>,
    pub suspended: bool,
    pub source: Option<SourceBody>,
    /// Null without a source.
    #[schema(value_type = Option<crate::schemas::SourceStatus>)]
    pub source_status: Option<String>,
    #[schema(value_type = crate::schemas::CardState)]
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
    /// In a review's answer: the review just made the card a leech (it was tagged `leech`, and
    /// suspended if the chat's `leech_action` says so). Otherwise false.
    pub leech: bool,
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
            note_id: card.note.id.as_uuid(),
            kind: card.note.kind.as_str().to_string(),
            ordinal: card.note.ordinal,
            front: card.front(),
            back: card.back(),
            question: card.question.as_str().to_string(),
            answer: card.answer.as_str().to_string(),
            tags: card.tags.iter().map(|t| t.as_str().to_string()).collect(),
            suspended: card.suspended,
            source: card.source.map(|s| SourceBody {
                document_id: s.document_id.as_uuid(),
                chunk_id: s.chunk_id.map(|c| c.as_uuid()),
                page: s.page,
                page_label: s.page_label,
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
            leech: study.leech,
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
    /// Only cards in this state.
    #[param(value_type = Option<crate::schemas::CardState>)]
    pub state: Option<String>,
    /// `true`: only cards due now.
    pub due: Option<bool>,
    /// Only cards whose question or answer contains this text (1–200 characters).
    #[param(max_length = 200)]
    pub text: Option<String>,
    /// Only the cards of this note (a reversed note's two cards, a cloze note's cards).
    pub note_id: Option<Uuid>,
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

// The handlers live in submodules that import this module's bodies; this module imports none of
// theirs (the route table names them by their full path).
pub mod cards;
pub mod generation;
pub mod interchange;
pub mod session;
pub mod study;
