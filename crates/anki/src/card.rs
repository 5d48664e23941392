//! What is exported: a card, its note, its review state and its review log.

use chrono::{DateTime, Utc};

/// The kind of note a card belongs to, as the package's note types model it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum NoteKind {
    /// One card: front → back ([`MODEL_NAME`](crate::MODEL_NAME)).
    #[default]
    Basic,
    /// Two cards from one note: front → back (ordinal 0) and back → front (ordinal 1).
    Reversed,
    /// Anki's cloze type: one card per cloze number (the ordinal), from the question's text; the
    /// answer is the note's extra text.
    Cloze,
}

/// One flashcard to export. Cards sharing a `note_id` are one note's siblings: their texts and
/// tags are the note's (the first card's are used).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnkiCard {
    /// The card's id; the note's GUID is derived from the id of its first card, so it must be
    /// stable across exports.
    pub id: uuid::Uuid,
    /// The note the card is made from.
    pub note_id: uuid::Uuid,
    pub kind: NoteKind,
    /// Basic: 0; reversed: 0 or 1; cloze: the cloze number (1 and up).
    pub ordinal: u32,
    /// The front, Markdown (a cloze note's text with its `{{cN::…}}` markers).
    pub question: String,
    /// The back, Markdown (a cloze note's extra text).
    pub answer: String,
    /// Tags; whitespace inside a tag becomes `_`, blank and repeated tags are dropped.
    pub tags: Vec<String>,
    pub suspended: bool,
    /// Where the card is in its reviews; `None` exports it as new.
    pub schedule: Option<AnkiSchedule>,
    /// Its reviews, oldest first: the package's review log.
    pub reviews: Vec<AnkiReview>,
}

/// A card's review state.
#[derive(Debug, Clone, PartialEq)]
pub struct AnkiSchedule {
    /// When the card is next due.
    pub due: DateTime<Utc>,
    /// The current interval in days (a review card gets at least 1).
    pub interval_days: u32,
    /// How many times the card was reviewed.
    pub reps: u32,
    /// How many times it was forgotten after being learned.
    pub lapses: u32,
    /// `true` when the card is in review state; `false` exports a learning (or, with
    /// `relearning`, relearning) card due at `due`'s second.
    pub review: bool,
    pub relearning: bool,
}

/// One review of the log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnkiReview {
    pub at: DateTime<Utc>,
    /// 1 (again) to 4 (easy).
    pub ease: u8,
    /// Anki's review kind: 0 learning, 1 review, 2 relearning.
    pub kind: u8,
    /// The interval the review gave, in days.
    pub interval_days: u32,
    pub duration_ms: u32,
}
