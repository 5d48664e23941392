//! Flashcards: validated texts and tags, the source passage, and the review log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::notes::{CardKind, NoteId, NoteRef, render_cloze};
use super::options::StudyDay;
use super::scheduling::{CardState, Rating, Schedule};
use crate::accounts::UserId;
use crate::chats::ChatId;
use crate::error::FieldError;
use crate::ids::uuid_id;
use crate::knowledge::{ChunkId, DocumentId};

uuid_id!(
    /// A flashcard.
    FlashcardId
);
uuid_id!(
    /// One review of a card.
    ReviewId
);

pub const MAX_QUESTION_CHARS: usize = 2_000;
pub const MAX_ANSWER_CHARS: usize = 5_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;
pub const MAX_QUOTE_CHARS: usize = 1_000;
/// Cards one bulk request may create.
pub const MAX_BULK_CARDS: usize = 500;

/// A question or an answer: Markdown, not blank, bounded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CardText(String);

impl CardText {
    pub fn parse(field: &str, raw: &str, max_chars: usize) -> Result<Self, FieldError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if text.chars().count() > max_chars {
            return Err(FieldError::new(
                field,
                format!("must be at most {max_chars} characters"),
            ));
        }
        Ok(Self(text.to_string()))
    }

    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    /// A text that may be empty (a cloze note's extra text), otherwise as [`Self::parse`].
    pub fn parse_optional(field: &str, raw: &str, max_chars: usize) -> Result<Self, FieldError> {
        if raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        Self::parse(field, raw, max_chars)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tag: lowercase letters, digits and `-_:./`, 1–50 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tag(String);

impl Tag {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let tag = raw.trim().to_lowercase();
        let valid = !tag.is_empty()
            && tag.chars().count() <= MAX_TAG_CHARS
            && tag
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:./".contains(c));
        if valid {
            Ok(Self(tag))
        } else {
            Err(FieldError::new(
                "tags",
                format!(
                    "each tag is 1 to {MAX_TAG_CHARS} letters, digits or -_:./ (got `{}`)",
                    raw.chars().take(60).collect::<String>()
                ),
            ))
        }
    }

    /// A list of tags: at most 20, duplicates removed, sorted.
    pub fn parse_all(raw: &[String]) -> Result<Vec<Self>, FieldError> {
        if raw.len() > MAX_TAGS {
            return Err(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
        }
        let mut tags = raw
            .iter()
            .map(|t| Tag::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        Ok(tags)
    }

    pub fn from_stored(tag: String) -> Self {
        Self(tag)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The passage a card came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSource {
    pub document_id: DocumentId,
    pub chunk_id: Option<ChunkId>,
    pub page: Option<u32>,
    /// What a person sees for the page: "p. 4", "slide 12", "Chapter 3".
    #[serde(default)]
    pub page_label: Option<String>,
    pub quote: Option<String>,
}

/// A flashcard with its schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Flashcard {
    pub id: FlashcardId,
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub question: CardText,
    pub answer: CardText,
    pub tags: Vec<Tag>,
    pub suspended: bool,
    pub source: Option<CardSource>,
    /// The note the card is made from, and which of its cards it is.
    pub note: NoteRef,
    pub schedule: Schedule,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Flashcard {
    /// What the card shows first, Markdown: the question (the answer on a reversed note's
    /// backward card; the cloze text with this card's gap on a cloze card).
    pub fn front(&self) -> String {
        match (self.note.kind, self.note.ordinal) {
            (CardKind::Reversed, 1) => self.answer.as_str().to_string(),
            (CardKind::Cloze, n) => render_cloze(self.question.as_str(), n, false),
            _ => self.question.as_str().to_string(),
        }
    }

    /// What the card shows on the back, Markdown; a cloze card's back is its text with the gap
    /// filled in, then the extra text if there is any.
    pub fn back(&self) -> String {
        match (self.note.kind, self.note.ordinal) {
            (CardKind::Reversed, 1) => self.question.as_str().to_string(),
            (CardKind::Cloze, n) => {
                let mut back = render_cloze(self.question.as_str(), n, true);
                if !self.answer.as_str().is_empty() {
                    back.push_str("\n\n");
                    back.push_str(self.answer.as_str());
                }
                back
            }
            _ => self.answer.as_str().to_string(),
        }
    }

    /// The card's place in a random new-card order: fixed for the card, random across cards
    /// (the random bits of its UUIDv7 id), 0–2³¹−1 so every database can store it.
    pub fn shuffle_key(&self) -> i32 {
        let bytes = self.id.as_uuid().into_bytes();
        let key = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) >> 1;
        i32::try_from(key).unwrap_or(i32::MAX)
    }
}

/// Which cards a list shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardFilter {
    pub tag: Option<Tag>,
    pub state: Option<CardState>,
    /// Only cards due at or before this time.
    pub due_before: Option<DateTime<Utc>>,
    /// Only cards whose question or answer contains this text (case-insensitive).
    pub text: Option<String>,
    /// Only the cards of this note (siblings).
    pub note: Option<NoteId>,
}

/// The key of the card list: newest first by id.
pub type CardCursor = uuid::Uuid;

/// One review, as the log keeps it (the optimizer learns from it).
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: ReviewId,
    pub card_id: FlashcardId,
    pub user_id: UserId,
    pub rating: Rating,
    pub state_before: CardState,
    pub reviewed_at: DateTime<Utc>,
    /// Whole days since the card's previous review (0 the first time).
    pub elapsed_days: u32,
    pub duration_ms: Option<u32>,
    /// The memory state after this review.
    pub stability: f32,
    pub difficulty: f32,
    pub idempotency_key: Option<String>,
    /// The card as it was before this review: what undoing the review puts back. `None` for
    /// reviews that cannot be undone (imported ones, and those logged before undo existed).
    pub card_before: Option<CardSnapshot>,
}

/// What a review changes on a card, as it was before: its schedule, suspension and tags (a
/// leech is suspended or tagged) and when it last changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardSnapshot {
    pub schedule: Schedule,
    pub suspended: bool,
    pub tags: Vec<Tag>,
    pub updated_at: DateTime<Utc>,
}

impl CardSnapshot {
    pub fn of(card: &Flashcard) -> Self {
        Self {
            schedule: card.schedule,
            suspended: card.suspended,
            tags: card.tags.clone(),
            updated_at: card.updated_at,
        }
    }
}

/// A user's study settings.
#[derive(Debug, Clone, PartialEq)]
pub struct StudySettings {
    /// The probability of recall reviews aim for: 0.70–0.99.
    pub desired_retention: f32,
    /// FSRS parameters fitted to the user's reviews; empty for the defaults.
    pub parameters: Vec<f32>,
    /// When the user's study days begin.
    pub day: StudyDay,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for StudySettings {
    fn default() -> Self {
        Self {
            desired_retention: 0.9,
            parameters: Vec::new(),
            day: StudyDay::default(),
            updated_at: None,
        }
    }
}

pub use crate::ids::GenerationId;

/// Where a background generation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

impl GenerationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// What a generation was asked for, kept with it so that a worker can run it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<DocumentId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunk_ids: Vec<ChunkId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    pub count: u32,
    pub save: bool,
}

/// A card a generation made: a draft, and its saved card when the generation saves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedCard {
    /// Basic or cloze (stored before cloze drafts existed: basic).
    #[serde(default)]
    pub kind: super::notes::CardKind,
    pub question: String,
    pub answer: String,
    pub source: Option<CardSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_id: Option<FlashcardId>,
}

/// A generation that runs in the background, batch by batch, with a status to poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub id: GenerationId,
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub request: GenerationRequest,
    pub status: GenerationStatus,
    /// `language_model` or `offline`, once a batch ran.
    pub generator: Option<String>,
    pub batches_done: u32,
    pub batches_total: u32,
    pub cards: Vec<GeneratedCard>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A file format a chat's cards can be exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeckFormat {
    /// A header row, then question, answer and space-separated tags per card.
    Csv,
    /// An Anki deck package named after the chat; review cards keep their interval.
    Apkg,
}

impl DeckFormat {
    /// The format a client named (`csv` when it named none).
    pub fn parse(name: Option<&str>) -> Result<Self, crate::error::ValidationErrors> {
        match name {
            None | Some("csv") => Ok(Self::Csv),
            Some("apkg") => Ok(Self::Apkg),
            Some(_) => Err(crate::error::ValidationErrors::single(
                "format",
                "must be `csv` or `apkg`",
            )),
        }
    }

    /// The file's media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Apkg => "application/vnd.anki",
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Apkg => "apkg",
        }
    }
}
