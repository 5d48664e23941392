//! Creating, editing and studying flashcards.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::models::{
    CardCursor, CardFilter, CardSource, CardText, Flashcard, FlashcardId, MAX_ANSWER_CHARS,
    MAX_BULK_CARDS, MAX_QUESTION_CHARS, MAX_QUOTE_CHARS, Review, ReviewId, StudySettings, Tag,
};
use super::ports::{CardsStored, FlashcardRepository, GenerationRepository, Recorded};
use super::scheduling::CardState;
use super::scheduling::{MemoryModel, Rating, Schedule, Scheduler, SchedulerSettings};
use crate::accounts::{Principal, UserData, UserId};
use crate::chats::{ChatContents, ChatId, ChatRepository};
use crate::clock::Clock;
use crate::error::{DomainError, ErrorKind, FieldError, InfraError, ValidationErrors};
use crate::knowledge::{ChunkId, DocumentId, DocumentRepository};
use crate::pagination::{Page, PageRequest};
use crate::quotas::{QuotaCheckError, QuotaExceeded, QuotaName, Quotas};

/// The most cards one generation makes.
pub const MAX_GENERATE: u32 = 200;
/// The longest text a generation takes directly.
pub const MAX_GENERATE_TEXT_CHARS: usize = 20_000;
/// The longest topic a generation searches the material for.
pub const MAX_TOPIC_CHARS: usize = 500;

/// What to make cards from: exactly one of a document, chunks, text or a topic.
#[derive(Debug, Clone, Default)]
pub struct GenerateInput {
    pub document_id: Option<uuid::Uuid>,
    pub chunk_ids: Option<Vec<uuid::Uuid>>,
    pub text: Option<String>,
    pub topic: Option<String>,
    pub count: Option<u32>,
    pub save: bool,
}

/// Generated cards: saved (with their ids) or drafts.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedCards {
    pub generator: super::drafting::Generator,
    pub drafts: Vec<(super::drafting::Draft, Option<CardSource>)>,
    /// The saved cards, in the order of `drafts`, when `save` was asked.
    pub saved: Option<Vec<StudyCard>>,
}

/// The most rows one import may hold.
pub const MAX_IMPORT_ROWS: usize = 5_000;

/// Reviews on a later day than the card's previous one that the optimizer needs.
pub const MIN_OPTIMIZE_REVIEWS: usize = 400;

/// The most recent reviews an optimization reads.
pub const OPTIMIZE_REVIEW_WINDOW: u64 = 20_000;

/// The longest history of one card an optimization trains on (its first reviews).
pub const OPTIMIZE_CARD_HISTORY: usize = 64;

/// The desired retention when the user has not chosen one.
pub const DEFAULT_RETENTION: f32 = 0.9;
/// The most cards a due queue answers at once.
pub const MAX_DUE_LIMIT: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum FlashcardError {
    #[error("chat not found")]
    ChatNotFound,
    #[error("flashcard not found")]
    NotFound,
    #[error("generation not found")]
    GenerationNotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(
        "the card was reviewed at the same moment by another request; reload it and review again"
    )]
    Conflict,
    #[error("this Idempotency-Key was already used for a review of another card")]
    IdempotencyKeyReused,
    #[error("scheduling failed: {0}")]
    Scheduling(String),
    #[error("{0}")]
    NotEnoughReviews(ValidationErrors),
    /// The language model failed (`true`: it timed out).
    #[error("the language model could not make flashcards")]
    Upstream(bool),
    #[error("an optimization of your parameters is already running; try again when it ends")]
    OptimizationRunning,
    /// The model's token budget or its concurrent calls.
    #[error(transparent)]
    Spend(crate::spend::SpendError),
    #[error(transparent)]
    Quota(#[from] QuotaExceeded),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<QuotaCheckError> for FlashcardError {
    fn from(error: QuotaCheckError) -> Self {
        match error {
            QuotaCheckError::Exceeded(e) => Self::Quota(e),
            QuotaCheckError::Infra(e) => Self::Infra(e),
        }
    }
}

impl DomainError for FlashcardError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::ChatNotFound | Self::NotFound | Self::GenerationNotFound => ErrorKind::NotFound,
            Self::Invalid(e) => e.kind(),
            Self::Conflict | Self::IdempotencyKeyReused | Self::OptimizationRunning => {
                ErrorKind::Conflict
            }
            Self::Scheduling(_) => ErrorKind::Internal,
            Self::NotEnoughReviews(e) => e.kind(),
            Self::Upstream(true) => ErrorKind::UpstreamTimeout,
            Self::Upstream(false) => ErrorKind::UpstreamFailed,
            Self::Quota(e) => e.kind(),
            Self::Spend(crate::spend::SpendError::Infra(e)) => e.kind(),
            Self::Spend(_) => ErrorKind::RateLimited,
            Self::Infra(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Self::ChatNotFound => "chat_not_found",
            Self::NotFound => "flashcard_not_found",
            Self::GenerationNotFound => "generation_not_found",
            Self::Invalid(e) => e.code(),
            Self::Conflict => "review_conflict",
            Self::OptimizationRunning => "optimization_running",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::Scheduling(_) => "internal_error",
            Self::NotEnoughReviews(_) => "not_enough_reviews",
            Self::Upstream(true) => "upstream_timeout",
            Self::Upstream(false) => "upstream_failed",
            Self::Quota(e) => e.code(),
            Self::Spend(crate::spend::SpendError::BudgetSpent(_)) => "token_budget_spent",
            Self::Spend(crate::spend::SpendError::Busy(_)) => "model_calls_busy",
            Self::Spend(crate::spend::SpendError::Infra(e)) => e.code(),
            Self::Infra(e) => e.code(),
        }
    }
    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Self::Spend(
                crate::spend::SpendError::BudgetSpent(l) | crate::spend::SpendError::Busy(l),
            ) => Some(l.retry_after),
            _ => None,
        }
    }
    fn quota(&self) -> Option<&QuotaExceeded> {
        match self {
            Self::Quota(e) => Some(e),
            _ => None,
        }
    }
    fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid(e) | Self::NotEnoughReviews(e) => e.fields(),
            _ => &[],
        }
    }
}

/// A card as the client sends it.
#[derive(Debug, Clone, Default)]
pub struct CardInput {
    pub question: String,
    pub answer: String,
    pub tags: Vec<String>,
    pub suspended: bool,
    pub source: Option<SourceInput>,
}

/// A source as the client sends it.
#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    pub document_id: uuid::Uuid,
    pub chunk_id: Option<uuid::Uuid>,
    pub page: Option<u32>,
    pub quote: Option<String>,
}

/// Changes to a card; `None` leaves a field as it is (`source: Some(None)` removes it).
#[derive(Debug, Clone, Default)]
pub struct CardPatch {
    pub question: Option<String>,
    pub answer: Option<String>,
    pub tags: Option<Vec<String>>,
    pub suspended: Option<bool>,
    pub source: Option<Option<SourceInput>>,
}

/// A review as the client sends it.
#[derive(Debug, Clone)]
pub struct ReviewInput {
    pub rating: Rating,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u32>,
    pub idempotency_key: Option<String>,
}

/// Whether a card's source document is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    Available,
    /// The document was deleted or replaced; the card stays.
    Missing,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Available => "available",
            SourceStatus::Missing => "missing",
        }
    }
}

/// The caller's study at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyStats {
    pub due_now: u64,
    /// Due before the end of today (UTC).
    pub due_today: u64,
    pub total_cards: u64,
    pub new_cards: u64,
    pub reviews_today: u64,
    /// Reviews per UTC day, the last 30 days, oldest first.
    pub reviews_per_day: Vec<(chrono::NaiveDate, u64)>,
    /// Of the reviews of cards in review (not learning), the share not answered `again`, over
    /// the last 30 days; `None` before there is any.
    pub true_retention: Option<f32>,
    pub retention_reviews: u64,
    pub desired_retention: f32,
}

/// A card, when it would be due after each rating, and whether its source is still there.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyCard {
    pub card: Flashcard,
    /// Again, hard, good, easy.
    pub next_intervals: [Duration; 4],
    /// `None` for a card without a source.
    pub source_status: Option<SourceStatus>,
}

fn source(prefix: &str, input: SourceInput, errors: &mut ValidationErrors) -> Option<CardSource> {
    if let Some(quote) = &input.quote
        && quote.chars().count() > MAX_QUOTE_CHARS
    {
        errors.push(FieldError::new(
            format!("{prefix}source.quote"),
            format!("must be at most {MAX_QUOTE_CHARS} characters"),
        ));
        return None;
    }
    if input.page == Some(0) {
        errors.push(FieldError::new(
            format!("{prefix}source.page"),
            "pages start at 1",
        ));
        return None;
    }
    Some(CardSource {
        document_id: DocumentId::from_uuid(input.document_id),
        chunk_id: input.chunk_id.map(ChunkId::from_uuid),
        page: input.page,
        quote: input.quote,
    })
}

/// Cards of the chats, their reviews and the due queue.
pub struct Flashcards {
    pub(super) language_model: Arc<dyn crate::assistant::LanguageModel>,
    pub(super) spend: Arc<crate::spend::ModelSpend>,
    pub(super) chats: Arc<dyn ChatRepository>,
    pub(super) cards: Arc<dyn FlashcardRepository>,
    pub(super) generations: Arc<dyn GenerationRepository>,
    pub(super) documents: Arc<dyn DocumentRepository>,
    pub(super) passages: Arc<dyn crate::assistant::PassageSearch>,
    model: Arc<dyn MemoryModel>,
    pub(super) clock: Arc<dyn Clock>,
    /// Woken when a generation job is queued, so an in-process worker starts at once.
    pub(super) queued: Arc<tokio::sync::Notify>,
    /// Attempts of a generation job before it fails for good.
    pub(super) max_attempts: u32,
    pub(super) quotas: Arc<Quotas>,
    limits: Arc<crate::limits::RateLimits>,
    settings: SchedulerSettings,
}

/// The adapters the flashcard service runs on.
#[derive(Clone)]
pub struct FlashcardPorts {
    pub chats: Arc<dyn ChatRepository>,
    pub cards: Arc<dyn FlashcardRepository>,
    pub generations: Arc<dyn GenerationRepository>,
    /// The knowledge base's documents and chunks (the material cards are made from).
    pub documents: Arc<dyn DocumentRepository>,
    /// Finds the material about a topic.
    pub passages: Arc<dyn crate::assistant::PassageSearch>,
    pub model: Arc<dyn MemoryModel>,
    pub language_model: Arc<dyn crate::assistant::LanguageModel>,
    /// Budgets and records the language model's calls.
    pub spend: Arc<crate::spend::ModelSpend>,
    pub clock: Arc<dyn Clock>,
    /// Signalled when a job is queued (shared with the job runner).
    pub queued: Arc<tokio::sync::Notify>,
    pub max_attempts: u32,
    pub quotas: Arc<Quotas>,
    /// Keeps expensive work to one at a time per user.
    pub limits: Arc<crate::limits::RateLimits>,
}

impl Flashcards {
    pub fn new(ports: FlashcardPorts) -> Self {
        Self {
            language_model: ports.language_model,
            spend: ports.spend,
            chats: ports.chats,
            cards: ports.cards,
            generations: ports.generations,
            documents: ports.documents,
            passages: ports.passages,
            model: ports.model,
            clock: ports.clock,
            queued: ports.queued,
            max_attempts: ports.max_attempts,
            quotas: ports.quotas,
            limits: ports.limits,
            settings: SchedulerSettings::default(),
        }
    }

    fn scheduler<'a>(&'a self, study: &'a StudySettings) -> Scheduler<'a> {
        Scheduler {
            model: self.model.as_ref(),
            settings: &self.settings,
            desired_retention: study.desired_retention,
            parameters: &study.parameters,
        }
    }

    async fn study_settings(&self, owner: UserId) -> Result<StudySettings, InfraError> {
        Ok(self.cards.settings(owner).await?.unwrap_or_default())
    }

    /// The caller's study settings (the defaults until they change one).
    pub async fn settings(&self, who: Principal) -> Result<StudySettings, FlashcardError> {
        Ok(self.study_settings(who.user_id).await?)
    }

    /// Sets the caller's desired retention (0.70–0.99).
    pub async fn set_desired_retention(
        &self,
        who: Principal,
        desired_retention: f32,
    ) -> Result<StudySettings, FlashcardError> {
        if !(0.70..=0.99).contains(&desired_retention) {
            return Err(ValidationErrors::single(
                "desired_retention",
                "must be between 0.70 and 0.99",
            )
            .into());
        }
        let mut settings = self.study_settings(who.user_id).await?;
        settings.desired_retention = desired_retention;
        settings.updated_at = Some(self.clock.now());
        self.cards.save_settings(who.user_id, &settings).await?;
        Ok(settings)
    }

    /// Fits FSRS parameters to the caller's review log (once it holds enough reviews) and uses
    /// them for their cards from now on. Returns the settings and how many reviews were used.
    ///
    /// Bounded whatever the log holds: one optimization per user at a time (another answers
    /// 409), the [`OPTIMIZE_REVIEW_WINDOW`] most recent reviews, and at most
    /// [`OPTIMIZE_CARD_HISTORY`] reviews of one card (a card's training items grow with the
    /// square of its history).
    pub async fn optimize(&self, who: Principal) -> Result<(StudySettings, usize), FlashcardError> {
        let key = format!("optimize:user:{}", who.user_id);
        if !self
            .limits
            .acquire_exclusive(&key, std::time::Duration::from_secs(600))
            .await
        {
            return Err(FlashcardError::OptimizationRunning);
        }
        // Released however the request ends (a client that goes away drops this future).
        let slot = crate::limits::Exclusive::new(self.limits.clone(), key);
        let fitted = self.fit_parameters(who).await;
        slot.release().await;
        fitted
    }

    async fn fit_parameters(
        &self,
        who: Principal,
    ) -> Result<(StudySettings, usize), FlashcardError> {
        let reviews = self
            .cards
            .recent_reviews(who.user_id, OPTIMIZE_REVIEW_WINDOW)
            .await?;
        // A card's history counts only from its first review (of a new card): one cut off by
        // the window would start mid-way and teach the model a wrong first step.
        let mut by_card: std::collections::BTreeMap<FlashcardId, Option<Vec<(Rating, u32)>>> =
            std::collections::BTreeMap::new();
        for review in &reviews {
            let history = by_card
                .entry(review.card_id)
                .or_insert_with(|| (review.state_before == CardState::New).then(Vec::new));
            if let Some(history) = history
                && history.len() < OPTIMIZE_CARD_HISTORY
            {
                history.push((review.rating, review.elapsed_days));
            }
        }
        let histories: Vec<Vec<(Rating, u32)>> = by_card.into_values().flatten().collect();
        let usable = histories
            .iter()
            .map(|h| h.iter().skip(1).filter(|(_, days)| *days > 0).count())
            .sum::<usize>();
        if usable < MIN_OPTIMIZE_REVIEWS {
            return Err(FlashcardError::NotEnoughReviews(ValidationErrors::single(
                "reviews",
                format!(
                    "the optimizer needs {MIN_OPTIMIZE_REVIEWS} reviews made on a later day than the card's previous one; you have {usable}, so {} more",
                    MIN_OPTIMIZE_REVIEWS - usable
                ),
            )));
        }
        let model = self.model.clone();
        let parameters = tokio::task::spawn_blocking(move || model.optimize(&histories))
            .await
            .map_err(|e| FlashcardError::Scheduling(e.to_string()))?
            .map_err(FlashcardError::Scheduling)?;
        let mut settings = self.study_settings(who.user_id).await?;
        settings.parameters = parameters;
        settings.updated_at = Some(self.clock.now());
        self.cards.save_settings(who.user_id, &settings).await?;
        Ok((settings, usable))
    }

    /// Due counts, review counts per day and true retention over the last 30 days.
    pub async fn stats(&self, who: Principal) -> Result<StudyStats, FlashcardError> {
        let owner = who.user_id;
        let now = self.clock.now();
        let today = now.date_naive();
        let end_of_today = today
            .succ_opt()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
            .unwrap_or(now);
        let first_day = today - Duration::days(29);
        let since = first_day.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
        let reviews = self.cards.reviews_since(owner, since).await?;
        let mut per_day: std::collections::BTreeMap<chrono::NaiveDate, u64> = (0..30)
            .map(|i| (first_day + Duration::days(i), 0))
            .collect();
        let (mut mature, mut recalled) = (0u64, 0u64);
        for review in &reviews {
            *per_day.entry(review.reviewed_at.date_naive()).or_default() += 1;
            if review.state_before == CardState::Review {
                mature += 1;
                if review.rating != Rating::Again {
                    recalled += 1;
                }
            }
        }
        let (total_cards, new_cards) = self.cards.count_cards(owner).await?;
        Ok(StudyStats {
            due_now: self.cards.count_due(owner, now).await?,
            due_today: self.cards.count_due(owner, end_of_today).await?,
            total_cards,
            new_cards,
            reviews_today: per_day.get(&today).copied().unwrap_or(0),
            reviews_per_day: per_day.into_iter().collect(),
            true_retention: (mature > 0).then(|| recalled as f32 / mature as f32),
            retention_reviews: mature,
            desired_retention: self.study_settings(owner).await?.desired_retention,
        })
    }

    /// The chats (by document) of `owner`'s documents among `ids`; absent ones are left out.
    async fn document_chats(
        &self,
        owner: UserId,
        ids: impl Iterator<Item = DocumentId>,
    ) -> Result<std::collections::HashMap<DocumentId, ChatId>, InfraError> {
        // `find_many` answers each document once, however often it is named.
        let wanted: Vec<DocumentId> = ids.collect();
        Ok(self
            .documents
            .find_many(owner, &wanted)
            .await?
            .into_iter()
            .map(|doc| (doc.id, doc.chat_id))
            .collect())
    }

    /// Each card with its next intervals and its source's status.
    pub(super) async fn study_all(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        now: DateTime<Utc>,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        let study = self.study_settings(owner).await?;
        self.study_with(owner, cards, now, &study).await
    }

    /// [`Self::study_all`] with the owner's settings already at hand.
    async fn study_with(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        now: DateTime<Utc>,
        study: &StudySettings,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        let present = self
            .document_chats(
                owner,
                cards
                    .iter()
                    .filter_map(|c| c.source.as_ref().map(|s| s.document_id)),
            )
            .await?;
        let scheduler = self.scheduler(study);
        cards
            .into_iter()
            .map(|card| {
                let next_intervals = scheduler
                    .preview(&card.schedule, now.max(card.schedule.due))
                    .map_err(FlashcardError::Scheduling)?;
                let source_status = card.source.as_ref().map(|s| {
                    if present.contains_key(&s.document_id) {
                        SourceStatus::Available
                    } else {
                        SourceStatus::Missing
                    }
                });
                Ok(StudyCard {
                    card,
                    next_intervals,
                    source_status,
                })
            })
            .collect()
    }

    /// One card with its next intervals and its source's status, under `study`.
    async fn study(
        &self,
        card: Flashcard,
        now: DateTime<Utc>,
        study: &StudySettings,
    ) -> Result<StudyCard, FlashcardError> {
        let owner = card.user_id;
        let mut all = self.study_with(owner, vec![card], now, study).await?;
        all.pop().ok_or(FlashcardError::NotFound)
    }

    /// A new source must name one of the caller's documents in the card's chat.
    async fn check_sources(
        &self,
        owner: UserId,
        chat: ChatId,
        sources: &[(String, DocumentId)],
    ) -> Result<(), FlashcardError> {
        let present = self
            .document_chats(owner, sources.iter().map(|(_, id)| *id))
            .await?;
        let mut errors = ValidationErrors::new();
        for (field, id) in sources {
            if present.get(id) != Some(&chat) {
                errors.push(FieldError::new(
                    field.clone(),
                    "names no document of this chat",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into())
        }
    }

    /// `Ok` when `chat` is the caller's: handlers check it before reading a request body.
    pub async fn check_chat(&self, who: Principal, chat: ChatId) -> Result<(), FlashcardError> {
        self.own_chat(who, chat).await
    }

    pub(super) async fn own_chat(
        &self,
        who: Principal,
        chat: ChatId,
    ) -> Result<(), FlashcardError> {
        match self.chats.find(who.user_id, chat).await? {
            Some(_) => Ok(()),
            None => Err(FlashcardError::ChatNotFound),
        }
    }

    fn build(
        &self,
        who: Principal,
        chat: ChatId,
        input: CardInput,
        prefix: &str,
        errors: &mut ValidationErrors,
        now: DateTime<Utc>,
    ) -> Option<Flashcard> {
        let question = errors.check(
            CardText::parse("question", &input.question, MAX_QUESTION_CHARS)
                .map_err(|e| FieldError::new(format!("{prefix}{}", e.field), e.message)),
        );
        let answer = errors.check(
            CardText::parse("answer", &input.answer, MAX_ANSWER_CHARS)
                .map_err(|e| FieldError::new(format!("{prefix}{}", e.field), e.message)),
        );
        let tags = errors.check(
            Tag::parse_all(&input.tags)
                .map_err(|e| FieldError::new(format!("{prefix}{}", e.field), e.message)),
        );
        let source = input.source.and_then(|s| source(prefix, s, errors));
        Some(Flashcard {
            id: FlashcardId::new(),
            user_id: who.user_id,
            chat_id: chat,
            question: question?,
            answer: answer?,
            tags: tags?,
            suspended: input.suspended,
            source,
            schedule: Schedule::new_card(now),
            created_at: now,
            updated_at: now,
        })
    }

    /// Stores `owner`'s new cards, all or none: none when they would pass the card quota.
    pub(super) async fn store(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
    ) -> Result<(), FlashcardError> {
        let adding = cards.len() as u64;
        let limit = self.quotas.policy().cards;
        match self.cards.create_many(owner, cards, limit).await? {
            CardsStored::Stored => Ok(()),
            CardsStored::OverQuota { cards } => Err(QuotaExceeded {
                quota: QuotaName::Cards,
                limit,
                used: cards,
                adding,
            }
            .into()),
        }
    }

    /// Creates cards, all or none (at most 500).
    pub async fn create(
        &self,
        who: Principal,
        chat: ChatId,
        inputs: Vec<CardInput>,
        bulk: bool,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        self.own_chat(who, chat).await?;
        if inputs.is_empty() || inputs.len() > MAX_BULK_CARDS {
            return Err(ValidationErrors::single(
                "cards",
                format!("send 1 to {MAX_BULK_CARDS} cards"),
            )
            .into());
        }
        let now = self.clock.now();
        let mut errors = ValidationErrors::new();
        let mut cards = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let prefix = if bulk {
                format!("cards[{i}].")
            } else {
                String::new()
            };
            if let Some(card) = self.build(who, chat, input, &prefix, &mut errors, now) {
                cards.push(card);
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let sources: Vec<(String, DocumentId)> = cards
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let field = if bulk {
                    format!("cards[{i}].source.document_id")
                } else {
                    "source.document_id".to_string()
                };
                c.source.as_ref().map(|s| (field, s.document_id))
            })
            .collect();
        self.check_sources(who.user_id, chat, &sources).await?;
        self.store(who.user_id, cards.clone()).await?;
        self.study_all(who.user_id, cards, now).await
    }

    /// Creates the valid rows of an import (at most 5000) and reports the invalid ones by row
    /// number (1-based, after the header).
    pub async fn import(
        &self,
        who: Principal,
        chat: ChatId,
        rows: Vec<CardInput>,
    ) -> Result<(usize, Vec<(usize, FieldError)>), FlashcardError> {
        self.own_chat(who, chat).await?;
        if rows.len() > MAX_IMPORT_ROWS {
            return Err(ValidationErrors::single(
                "file",
                format!("at most {MAX_IMPORT_ROWS} rows per import"),
            )
            .into());
        }
        let now = self.clock.now();
        let mut cards = Vec::new();
        let mut problems = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            let mut errors = ValidationErrors::new();
            // Imported cards carry no source: a file cannot vouch for one.
            let row = CardInput {
                source: None,
                ..row
            };
            match self.build(who, chat, row, "", &mut errors, now) {
                Some(card) if errors.is_empty() => cards.push(card),
                _ => problems.extend(errors.fields().iter().map(|e| (i + 1, e.clone()))),
            }
        }
        let imported = cards.len();
        if !cards.is_empty() {
            self.store(who.user_id, cards).await?;
        }
        Ok((imported, problems))
    }

    /// Every card of the chat, oldest first, for export.
    pub async fn export(
        &self,
        who: Principal,
        chat: ChatId,
    ) -> Result<Vec<Flashcard>, FlashcardError> {
        self.own_chat(who, chat).await?;
        Ok(self.all_cards(who.user_id, chat).await?)
    }

    /// Every card of `owner`'s chat, oldest first.
    pub(super) async fn all_cards(
        &self,
        owner: UserId,
        chat: ChatId,
    ) -> Result<Vec<Flashcard>, InfraError> {
        let mut all: Vec<Flashcard> = Vec::new();
        let limit = crate::pagination::Limit::parse(Some(crate::pagination::MAX_PAGE_LIMIT))
            .unwrap_or_default();
        loop {
            let page = PageRequest {
                limit,
                after: all.last().map(|c| c.id.as_uuid()),
            };
            let found = self
                .cards
                .list(owner, chat, &CardFilter::default(), page)
                .await?;
            all.extend(found.items);
            if found.next_cursor.is_none() {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }

    pub async fn get(&self, who: Principal, id: FlashcardId) -> Result<StudyCard, FlashcardError> {
        let (card, study) = self
            .cards
            .find_with_settings(who.user_id, id)
            .await?
            .ok_or(FlashcardError::NotFound)?;
        self.study(card, self.clock.now(), &study.unwrap_or_default())
            .await
    }

    pub async fn list(
        &self,
        who: Principal,
        chat: ChatId,
        filter: CardFilter,
        page: PageRequest<CardCursor>,
    ) -> Result<Page<StudyCard>, FlashcardError> {
        self.own_chat(who, chat).await?;
        let page = self.cards.list(who.user_id, chat, &filter, page).await?;
        let items = self
            .study_all(who.user_id, page.items, self.clock.now())
            .await?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub async fn update(
        &self,
        who: Principal,
        id: FlashcardId,
        patch: CardPatch,
    ) -> Result<StudyCard, FlashcardError> {
        let (mut card, study) = self
            .cards
            .find_with_settings(who.user_id, id)
            .await?
            .ok_or(FlashcardError::NotFound)?;
        let mut errors = ValidationErrors::new();
        if let Some(q) = &patch.question
            && let Some(q) = errors.check(CardText::parse("question", q, MAX_QUESTION_CHARS))
        {
            card.question = q;
        }
        if let Some(a) = &patch.answer
            && let Some(a) = errors.check(CardText::parse("answer", a, MAX_ANSWER_CHARS))
        {
            card.answer = a;
        }
        if let Some(tags) = &patch.tags
            && let Some(tags) = errors.check(Tag::parse_all(tags))
        {
            card.tags = tags;
        }
        if let Some(suspended) = patch.suspended {
            card.suspended = suspended;
        }
        let mut new_document = None;
        if let Some(new_source) = patch.source {
            card.source = new_source.and_then(|s| source("", s, &mut errors));
            new_document = card.source.as_ref().map(|s| s.document_id);
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if let Some(document) = new_document {
            self.check_sources(
                who.user_id,
                card.chat_id,
                &[("source.document_id".to_string(), document)],
            )
            .await?;
        }
        card.updated_at = self.clock.now();
        if !self.cards.update(&card).await? {
            return Err(FlashcardError::NotFound);
        }
        self.study(card, self.clock.now(), &study.unwrap_or_default())
            .await
    }

    pub async fn delete(&self, who: Principal, id: FlashcardId) -> Result<(), FlashcardError> {
        if self.cards.delete(who.user_id, id).await? {
            Ok(())
        } else {
            Err(FlashcardError::NotFound)
        }
    }

    /// Records a review and schedules the card; a retried request with the same idempotency key
    /// applies once.
    pub async fn review(
        &self,
        who: Principal,
        id: FlashcardId,
        input: ReviewInput,
    ) -> Result<StudyCard, FlashcardError> {
        if let Some(key) = &input.idempotency_key {
            crate::idempotency::check_key(key)?;
        }
        let (mut card, study) = self
            .cards
            .find_with_settings(who.user_id, id)
            .await?
            .ok_or(FlashcardError::NotFound)?;
        let study = study.unwrap_or_default();
        // Read after the card: a review that another request applied meanwhile is in the past.
        // Without a time from the client, never before the last review (another instance's
        // clock may be ahead).
        let now = self.clock.now();
        let at = input.reviewed_at.unwrap_or_else(|| {
            card.schedule
                .last_reviewed_at
                .map_or(now, |last| now.max(last))
        });
        let mut errors = ValidationErrors::new();
        if at > now + Duration::minutes(5) {
            errors.push(FieldError::new("reviewed_at", "must not be in the future"));
        }
        // Within the clock skew allowed above, a time ahead of ours is taken as now.
        let at = at.min(now.max(card.schedule.last_reviewed_at.unwrap_or(now)));
        if at < card.created_at {
            errors.push(FieldError::new(
                "reviewed_at",
                "must not be before the card was created",
            ));
        }
        if let Some(last) = card.schedule.last_reviewed_at
            && at < last
        {
            errors.push(FieldError::new(
                "reviewed_at",
                "must not be before the card's last review",
            ));
        }
        if input.duration_ms.is_some_and(|d| d > 24 * 3600 * 1000) {
            errors.push(FieldError::new("duration_ms", "must be at most a day"));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let before = card.schedule;
        let after = self
            .scheduler(&study)
            .review(&before, input.rating, at)
            .map_err(FlashcardError::Scheduling)?;
        let memory = after.memory.unwrap_or(super::scheduling::MemoryState {
            stability: 0.0,
            difficulty: 0.0,
        });
        let review = Review {
            id: ReviewId::new(),
            card_id: card.id,
            user_id: who.user_id,
            rating: input.rating,
            state_before: before.state,
            reviewed_at: at,
            elapsed_days: before
                .last_reviewed_at
                .map_or(0, |last| (at - last).num_days().max(0) as u32),
            duration_ms: input.duration_ms,
            stability: memory.stability,
            difficulty: memory.difficulty,
            idempotency_key: input.idempotency_key,
        };
        card.schedule = after;
        card.updated_at = now;
        match self.cards.record_review(&card, before.reps, review).await? {
            Recorded::Applied => self.study(card, now, &study).await,
            Recorded::Replayed(previous) if previous.card_id == id => self.get(who, id).await,
            Recorded::Replayed(_) => Err(FlashcardError::IdempotencyKeyReused),
            Recorded::Stale => Err(FlashcardError::Conflict),
        }
    }

    /// The cards due now, soonest first, in one chat or all.
    pub async fn due(
        &self,
        who: Principal,
        chat: Option<ChatId>,
        limit: Option<u32>,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        let limit = limit.unwrap_or(50);
        if limit == 0 || limit > MAX_DUE_LIMIT {
            return Err(ValidationErrors::single(
                "limit",
                format!("must be between 1 and {MAX_DUE_LIMIT}"),
            )
            .into());
        }
        if let Some(chat) = chat {
            self.own_chat(who, chat).await?;
        }
        let now = self.clock.now();
        let cards = self
            .cards
            .due(who.user_id, chat, now, u64::from(limit))
            .await?;
        self.study_all(who.user_id, cards, now).await
    }
}

#[async_trait]
impl ChatContents for Flashcards {
    async fn delete_chat_contents(&self, owner: UserId, chat: ChatId) -> Result<(), InfraError> {
        self.generations.delete_chat(owner, chat).await?;
        self.cards.delete_chat(owner, chat).await.map(|_| ())
    }
}

#[async_trait]
impl UserData for Flashcards {
    fn name(&self) -> &str {
        "flashcards"
    }
    async fn delete_user_data(&self, owner: UserId) -> Result<u64, InfraError> {
        self.generations.delete_user(owner).await?;
        self.cards.delete_user(owner).await
    }
}
