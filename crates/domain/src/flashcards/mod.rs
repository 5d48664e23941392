//! Flashcards and their study: cards linked to the passages they came from, scheduled with FSRS.

pub mod drafting;
mod error;
mod explain;
mod generation;
mod imports;
mod interchange;
mod models;
mod notes;
mod options;
mod packages;
mod ports;
mod scheduling;
mod service;
mod session;
mod showing;
mod simulate;
mod sources;
mod stats;
mod study;

pub use error::FlashcardError;
pub use explain::Explanation;
pub use generation::{GENERATE_BATCH_CHUNKS, Generated, MAX_INLINE_GENERATE};
pub use imports::{
    DeckImport, IMPORT_BATCH_NOTES, INLINE_IMPORT_NOTES, ImportId, ImportRepository, ImportStatus,
    PackageOutcome,
};
pub use interchange::Imported;
pub use models::{
    CardCursor, CardFilter, CardSnapshot, CardSource, CardText, DeckFormat, Flashcard, FlashcardId,
    GeneratedCard, Generation, GenerationId, GenerationRequest, GenerationStatus, MAX_ANSWER_CHARS,
    MAX_BULK_CARDS, MAX_QUESTION_CHARS, MAX_QUOTE_CHARS, MAX_TAGS, Review, ReviewId, StudySettings,
    Tag,
};
pub use notes::{
    CardKind, MAX_CLOZE_NUMBER, MAX_CLOZES, NoteId, NoteRef, cloze_answer, cloze_numbers,
    render_cloze,
};
pub use options::{
    EXAM_RAMP_DAYS, EXAM_RETENTION, LEARN_AHEAD, LeechAction, MAX_DAILY_LIMIT, MAX_INTERVAL_DAYS,
    MAX_STEPS, NewOrder, StudyDay, StudyOptions, StudyOptionsPatch, exam_retention, format_step,
    parse_steps,
};
pub use packages::{
    ConvertedNotes, MAX_CSV_BYTES, MAX_PACKAGE_BYTES, PACKAGE_LIMITS, PackageCard, PackageDeck,
    PackageImport, PackageLimits, PackageNote, PackageReview,
};
pub use ports::{
    CardsStored, DeckFileError, DeckFiles, DeckRow, FlashcardRepository, GenerationRepository,
    QueueCounts, QueueKind, Recorded, Studied, StudyContext, StudyRepository,
};
pub use scheduling::{
    CardState, MemoryModel, MemoryState, NextState, Rating, Schedule, Scheduler, SchedulerSettings,
};
pub use service::{
    CardInput, CardPatch, FlashcardPorts, FlashcardSettings, Flashcards, GenerateInput,
    GeneratedCards, MAX_GENERATE, MAX_IMPORT_ROWS, SourceInput, SourceStatus, StudyCard,
};
pub use session::{NextCard, StudyCounts, StudySettingsPatch};
pub use simulate::{
    ExamForecast, MAX_SIMULATION_DAYS, SimulateInput, SimulatedCard, SimulatedDay, Simulation,
    WorkloadPlan,
};
pub use stats::{ForecastDay, RetentionBucket, StudyStats};
pub use study::{DEFAULT_RETENTION, MAX_DUE_LIMIT, MIN_OPTIMIZE_REVIEWS, ReviewInput};
