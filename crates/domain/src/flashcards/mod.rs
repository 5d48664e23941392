//! Flashcards and their study: cards linked to the passages they came from, scheduled with FSRS.

pub mod drafting;
mod generation;
mod models;
mod ports;
mod scheduling;
mod service;

pub use generation::{GENERATE_BATCH_CHUNKS, Generated, MAX_INLINE_GENERATE};
pub use models::{
    CardCursor, CardFilter, CardSource, CardText, Flashcard, FlashcardId, GeneratedCard,
    Generation, GenerationId, GenerationRequest, GenerationStatus, MAX_ANSWER_CHARS,
    MAX_BULK_CARDS, MAX_QUESTION_CHARS, MAX_QUOTE_CHARS, MAX_TAGS, Review, ReviewId, StudySettings,
    Tag,
};
pub use ports::{CardsStored, FlashcardRepository, GenerationRepository, Recorded};
pub use scheduling::{
    CardState, MemoryModel, MemoryState, NextState, Rating, Schedule, Scheduler, SchedulerSettings,
};
pub use service::{
    CardInput, CardPatch, DEFAULT_RETENTION, FlashcardError, FlashcardPorts, Flashcards,
    GenerateInput, GeneratedCards, MAX_DUE_LIMIT, MAX_GENERATE, MAX_IMPORT_ROWS,
    MIN_OPTIMIZE_REVIEWS, ReviewInput, SourceInput, SourceStatus, StudyCard, StudyStats,
};
