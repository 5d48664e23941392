//! Flashcards and their study: cards linked to the passages they came from, scheduled with FSRS.

pub mod drafting;
mod error;
mod generation;
mod interchange;
mod models;
mod ports;
mod scheduling;
mod service;
mod study;

pub use error::FlashcardError;
pub use generation::{GENERATE_BATCH_CHUNKS, Generated, MAX_INLINE_GENERATE};
pub use interchange::Imported;
pub use models::{
    CardCursor, CardFilter, CardSource, CardText, DeckFormat, Flashcard, FlashcardId,
    GeneratedCard, Generation, GenerationId, GenerationRequest, GenerationStatus, MAX_ANSWER_CHARS,
    MAX_BULK_CARDS, MAX_QUESTION_CHARS, MAX_QUOTE_CHARS, MAX_TAGS, Review, ReviewId, StudySettings,
    Tag,
};
pub use ports::{
    CardsStored, DeckFileError, DeckFiles, DeckRow, FlashcardRepository, GenerationRepository,
    Recorded,
};
pub use scheduling::{
    CardState, MemoryModel, MemoryState, NextState, Rating, Schedule, Scheduler, SchedulerSettings,
};
pub use service::{
    CardInput, CardPatch, FlashcardPorts, FlashcardSettings, Flashcards, GenerateInput,
    GeneratedCards, MAX_GENERATE, MAX_IMPORT_ROWS, SourceInput, SourceStatus, StudyCard,
};
pub use study::{DEFAULT_RETENTION, MAX_DUE_LIMIT, MIN_OPTIMIZE_REVIEWS, ReviewInput, StudyStats};
