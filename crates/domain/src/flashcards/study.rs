//! Studying: the study settings and their optimization, the statistics, reviews and the due
//! queue.

use chrono::{DateTime, Duration, Utc};

use super::error::FlashcardError;
use super::models::{CardSnapshot, FlashcardId, Review, ReviewId, StudySettings, Tag};
use super::options::LeechAction;
use super::ports::Recorded;
use super::scheduling::{CardState, Rating};
use super::service::{Flashcards, StudyCard};
use crate::accounts::Principal;
use crate::chats::ChatId;
use crate::error::{FieldError, ValidationErrors};

/// Reviews on a later day than the card's previous one that the optimizer needs.
pub const MIN_OPTIMIZE_REVIEWS: usize = 400;

/// The most recent reviews an optimization reads.
pub const OPTIMIZE_REVIEW_WINDOW: u64 = 20_000;

/// The longest history of one card an optimization trains on (its first reviews).
pub const OPTIMIZE_CARD_HISTORY: usize = 64;

/// The desired retention when the user has not chosen one.
pub const DEFAULT_RETENTION: f32 = 0.9;
/// The tag a leech gets.
pub const LEECH_TAG: &str = "leech";
/// The most cards a due queue answers at once.
pub const MAX_DUE_LIMIT: u32 = 500;

/// A review as the client sends it.
#[derive(Debug, Clone)]
pub struct ReviewInput {
    pub rating: Rating,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<u32>,
    pub idempotency_key: Option<String>,
}

impl Flashcards {
    /// The caller's study settings (the defaults until they change one).
    pub async fn settings(&self, who: Principal) -> Result<StudySettings, FlashcardError> {
        Ok(self.study_settings(who.user_id).await?)
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
        let (mut card, context) = self
            .cards
            .find_in_context(who.user_id, id)
            .await?
            .ok_or(FlashcardError::NotFound)?;
        let study = context.settings.clone().unwrap_or_default();
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
        let options = context.options.clone().unwrap_or_default();
        let settings = options.scheduler_settings(&study.day);
        let snapshot = CardSnapshot::of(&card);
        let before = card.schedule;
        let after = self
            .scheduler(&study, &options, &settings, at)
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
            card_before: Some(snapshot),
        };
        card.schedule = after;
        card.updated_at = now;
        let leech = after.lapses > before.lapses && options.is_leech(after.lapses);
        if leech {
            let tag = Tag::from_stored(LEECH_TAG.to_string());
            if !card.tags.contains(&tag) && card.tags.len() < super::models::MAX_TAGS {
                card.tags.push(tag);
                card.tags.sort();
            }
            if options.leech_action == LeechAction::Suspend {
                card.suspended = true;
            }
        }
        match self.cards.record_review(&card, before.reps, review).await? {
            Recorded::Applied => {
                let mut shown = self.study_card(card, now, &context).await?;
                shown.leech = leech;
                Ok(shown)
            }
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
