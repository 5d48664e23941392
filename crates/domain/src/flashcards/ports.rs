//! What the flashcard service needs from storage.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::models::{
    CardCursor, CardFilter, DeckFormat, Flashcard, FlashcardId, Generation, GenerationId, Review,
    ReviewId, StudySettings,
};
use super::notes::NoteId;
use super::options::{NewOrder, StudyOptions};
use crate::accounts::UserId;
use crate::chats::ChatId;
use crate::error::InfraError;
use crate::jobs::NewJob;
use crate::pagination::{Page, PageRequest};

/// What recording a review did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// Applied: the card has its new schedule and the log the review.
    Applied,
    /// The idempotency key was used already: nothing changed; this is that review.
    Replayed(Box<Review>),
    /// The card changed (another review landed first) or is gone: nothing changed.
    Stale,
}

/// What showing a chat's cards needs besides the cards: the owner's study settings and the
/// chat's options, each `None` until set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StudyContext {
    pub settings: Option<StudySettings>,
    pub options: Option<StudyOptions>,
}

/// What storing cards did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardsStored {
    Stored,
    /// Storing them would pass the owner's card quota: nothing was stored; the owner has
    /// `cards` cards.
    OverQuota {
        cards: u64,
    },
}

/// A part of a study queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// Cards never studied.
    New,
    /// Cards in learning or relearning steps.
    Learning,
    /// Cards in review.
    Review,
}

impl QueueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Learning => "learning",
            Self::Review => "review",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "new" => Some(Self::New),
            "learning" => Some(Self::Learning),
            "review" => Some(Self::Review),
            _ => None,
        }
    }
}

/// What one chat has to study: new cards, learning cards due by the learning cut-off and review
/// cards due by the end of the study day (none of them suspended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    pub chat: ChatId,
    pub new: u64,
    pub learning: u64,
    pub review: u64,
}

/// What was studied in one chat since a moment: new cards introduced, reviews of cards in
/// review, reviews of learning cards, and the time spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Studied {
    pub new: u64,
    pub review: u64,
    pub learning: u64,
    pub duration_ms: u64,
}

/// The study queue and what a study session needs beside the cards. Every method is scoped by
/// the owner. Every [`FlashcardRepository`] is one.
#[async_trait]
pub trait StudyRepository: Send + Sync {
    /// The chat's study options; `None` until one is changed.
    async fn options(
        &self,
        owner: UserId,
        chat: ChatId,
    ) -> Result<Option<StudyOptions>, InfraError>;

    /// The options of each of `owner`'s chats that has any.
    async fn all_options(&self, owner: UserId) -> Result<Vec<(ChatId, StudyOptions)>, InfraError>;

    /// Stores the chat's options (they go when the chat or its owner goes).
    async fn save_options(
        &self,
        owner: UserId,
        chat: ChatId,
        options: &StudyOptions,
    ) -> Result<(), InfraError>;

    /// Per chat (one chat, or all of `owner`'s), the cards to study that are not suspended:
    /// new cards, learning and relearning cards due at or before `learning_until`, review
    /// cards due before `review_until`; new and review cards of the `buried` notes are left
    /// out. Chats with none are left out.
    async fn queue_counts(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        (learning_until, review_until): (DateTime<Utc>, DateTime<Utc>),
        buried: &[NoteId],
    ) -> Result<Vec<QueueCounts>, InfraError>;

    /// Per chat (one chat, or all of `owner`'s), what `owner`'s reviews at or after `since`
    /// studied, counted by the card's state before each review.
    async fn studied_since(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        since: DateTime<Utc>,
    ) -> Result<Vec<(ChatId, Studied)>, InfraError>;

    /// The first `limit` cards of `kind` in `chats` (not suspended): new cards in `order`
    /// (`Created`: oldest first; `Random`: a fixed shuffle), others
    /// due at or before `due_until`, soonest first; new and review cards of the `buried` notes
    /// are left out.
    async fn queue(
        &self,
        owner: UserId,
        chats: &[ChatId],
        (kind, order): (QueueKind, NewOrder),
        due_until: DateTime<Utc>,
        buried: &[NoteId],
        limit: u64,
    ) -> Result<Vec<Flashcard>, InfraError>;

    /// The cards of one of `owner`'s notes (siblings), in ordinal order.
    async fn note_cards(&self, owner: UserId, note: NoteId) -> Result<Vec<Flashcard>, InfraError>;

    /// The notes (with their chat) of the cards `owner` reviewed at or after `since`, each once.
    async fn notes_studied_since(
        &self,
        owner: UserId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(ChatId, NoteId)>, InfraError>;

    /// `owner`'s most recent review at or after `since` (by review time, then log order).
    async fn last_review(
        &self,
        owner: UserId,
        since: DateTime<Utc>,
    ) -> Result<Option<Review>, InfraError>;

    /// Undoes a review atomically: removes `review` from the log and stores `restored` (the card
    /// as it was before), if the card still has `reps_now` reviews. `Ok(false)` (nothing
    /// changed) when the card moved on or the review is gone.
    async fn undo_review(
        &self,
        owner: UserId,
        review: ReviewId,
        restored: &Flashcard,
        reps_now: u32,
    ) -> Result<bool, InfraError>;
}

/// Stores cards and their review log. Every method is scoped by the owner.
#[async_trait]
pub trait FlashcardRepository: StudyRepository + Send + Sync {
    /// Stores every card of `owner` or none: none when the owner would then have more than
    /// `max_cards` cards (0: no limit). The count is exact under concurrent writes: it is kept
    /// in the same transaction as every card stored or deleted. Every card MUST be `owner`'s.
    async fn create_many(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        max_cards: u64,
    ) -> Result<CardsStored, InfraError> {
        self.create_with_history(owner, cards, Vec::new(), max_cards)
            .await
    }

    /// [`Self::create_many`] with the cards' past reviews (an imported review log) stored in the
    /// same transaction: all or nothing. Every review MUST be of one of `cards`.
    async fn create_with_history(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        reviews: Vec<Review>,
        max_cards: u64,
    ) -> Result<CardsStored, InfraError>;

    /// How many cards `owner` has (the count [`Self::create_many`] checks).
    async fn card_count(&self, owner: UserId) -> Result<u64, InfraError>;

    async fn find(&self, owner: UserId, id: FlashcardId) -> Result<Option<Flashcard>, InfraError>;

    /// The card with its [`StudyContext`]: what showing or reviewing it needs. A store that can
    /// answers it in one look-up.
    async fn find_in_context(
        &self,
        owner: UserId,
        id: FlashcardId,
    ) -> Result<Option<(Flashcard, StudyContext)>, InfraError> {
        let Some(card) = self.find(owner, id).await? else {
            return Ok(None);
        };
        let context = self.study_context(owner, card.chat_id).await?;
        Ok(Some((card, context)))
    }

    /// `owner`'s study settings and the options of `owner`'s `chat` (each `None` until set),
    /// in one look-up where the store can.
    async fn study_context(&self, owner: UserId, chat: ChatId) -> Result<StudyContext, InfraError> {
        Ok(StudyContext {
            settings: self.settings(owner).await?,
            options: self.options(owner, chat).await?,
        })
    }

    /// A page of [`Self::list`] with the [`StudyContext`] of its cards, in one look-up where
    /// the store can. The context is only meaningful for a page with cards: a store may leave it
    /// empty when the page is.
    async fn list_in_context(
        &self,
        owner: UserId,
        chat: ChatId,
        filter: &CardFilter,
        page: PageRequest<CardCursor>,
    ) -> Result<(Page<Flashcard>, StudyContext), InfraError> {
        let page = self.list(owner, chat, filter, page).await?;
        let context = if page.items.is_empty() {
            StudyContext::default()
        } else {
            self.study_context(owner, chat).await?
        };
        Ok((page, context))
    }

    /// `owner`'s cards of `chat`, newest first.
    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        filter: &CardFilter,
        page: PageRequest<CardCursor>,
    ) -> Result<Page<Flashcard>, InfraError>;

    /// Replaces the card's texts, tags, suspension and source; `Ok(false)` when it is gone.
    async fn update(&self, card: &Flashcard) -> Result<bool, InfraError>;

    async fn delete(&self, owner: UserId, id: FlashcardId) -> Result<bool, InfraError>;

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError>;

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError>;

    /// Stores `card`'s new schedule, suspension and tags and appends `review`, atomically, if the card still has
    /// `reps_before` reviews (so two racing reviews cannot both apply) and the review's
    /// idempotency key is new.
    async fn record_review(
        &self,
        card: &Flashcard,
        reps_before: u32,
        review: Review,
    ) -> Result<Recorded, InfraError>;

    /// `owner`'s cards due at `now` (not suspended), soonest first; in one chat or all.
    async fn due(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Flashcard>, InfraError>;

    /// How many of `owner`'s cards (not suspended) are due at or before `before`.
    async fn count_due(&self, owner: UserId, before: DateTime<Utc>) -> Result<u64, InfraError>;

    /// How many cards `owner` has, and how many of them are new.
    async fn count_cards(&self, owner: UserId) -> Result<(u64, u64), InfraError>;

    /// `owner`'s reviews at or after `since`, oldest first (all of them with `None`).
    async fn reviews_since(
        &self,
        owner: UserId,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Review>, InfraError>;

    /// `owner`'s `limit` most recent reviews, oldest first.
    async fn recent_reviews(&self, owner: UserId, limit: u64) -> Result<Vec<Review>, InfraError>;

    async fn settings(&self, owner: UserId) -> Result<Option<StudySettings>, InfraError>;

    async fn save_settings(
        &self,
        owner: UserId,
        settings: &StudySettings,
    ) -> Result<(), InfraError>;
}

/// Stores background generations. Every method is scoped by the owner.
#[async_trait]
pub trait GenerationRepository: Send + Sync {
    /// Stores the generation and queues `job` (which runs it) atomically.
    async fn create(&self, generation: &Generation, job: NewJob) -> Result<(), InfraError>;

    async fn find(&self, owner: UserId, id: GenerationId)
    -> Result<Option<Generation>, InfraError>;

    /// Stores the status, generator, progress, cards, error and update time; `Ok(false)` when
    /// the generation is gone.
    async fn update(&self, generation: &Generation) -> Result<bool, InfraError>;

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError>;

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError>;
}

/// Reads and writes decks as files: the CSV file (question, answer, tags) that spreadsheets,
/// Quizlet and Knowt read and write, and the Anki package (`.apkg`). The wire formats live in the
/// adapter; what may be imported is decided by the service.
#[async_trait]
pub trait DeckFiles: Send + Sync {
    /// `cards` as a file of `format`, for a deck named `deck`, made at `now`; `reviews` (of
    /// those cards) go along where the format keeps a review log.
    async fn write(
        &self,
        format: DeckFormat,
        deck: &str,
        cards: Vec<Flashcard>,
        reviews: Vec<Review>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, InfraError>;

    /// The rows of a CSV deck (header `question,answer[,tags][,type]`, tags space-separated). Reading
    /// stops after `limit + 1` rows: enough to refuse a file with too many.
    async fn read_csv(
        &self,
        file: bytes::Bytes,
        limit: usize,
    ) -> Result<Vec<DeckRow>, DeckFileError>;

    /// The notes, cards, schedules and review log of an Anki package (`.apkg`), read within
    /// `limits`: the file is untrusted, and anything it holds past a limit or that does not
    /// parse is [`DeckFileError::Unreadable`] with the reason.
    async fn read_package(
        &self,
        file: bytes::Bytes,
        limits: super::packages::PackageLimits,
    ) -> Result<super::packages::PackageDeck, DeckFileError>;
}

/// One row of an imported deck, before the service validates it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeckRow {
    pub question: String,
    pub answer: String,
    pub tags: Vec<String>,
    /// The note's kind as the file names it (`basic`, `reversed`, `cloze`); empty: basic.
    pub kind: String,
}

/// Why a deck file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DeckFileError {
    /// The file is not a deck; the message says why, for the client.
    #[error("{0}")]
    Unreadable(String),
    #[error(transparent)]
    Infra(#[from] InfraError),
}
