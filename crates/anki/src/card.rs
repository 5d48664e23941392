//! What is exported: a card, and its review state.

use chrono::{DateTime, Utc};

/// One flashcard to export: a note with one card.
#[derive(Debug, Clone, PartialEq)]
pub struct AnkiCard {
    /// The card's id; the note's GUID is derived from it, so it must be stable across exports.
    pub id: uuid::Uuid,
    /// The front, Markdown.
    pub question: String,
    /// The back, Markdown.
    pub answer: String,
    /// Tags; whitespace inside a tag becomes `_`, blank and repeated tags are dropped.
    pub tags: Vec<String>,
    /// Where the card is in its reviews; `None` exports it as new.
    pub schedule: Option<AnkiSchedule>,
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
    /// `true` when the card is in review state; `false` (learning, relearning, new) exports it as
    /// a new card, keeping `reps` and `lapses`.
    pub review: bool,
}
