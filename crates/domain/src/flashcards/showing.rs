//! How cards are shown: each with its next intervals under its chat's options and its owner's
//! settings, and the state of the passage it came from.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::error::FlashcardError;
use super::models::{Flashcard, StudySettings};
use super::options::StudyOptions;
use super::ports::StudyContext;
use super::scheduling::{Scheduler, SchedulerSettings};
use super::service::Flashcards;
use super::{SourceStatus, StudyCard};
use crate::accounts::UserId;
use crate::chats::ChatId;
use crate::error::InfraError;
use crate::knowledge::ChunkId;

impl Flashcards {
    /// The scheduler for a chat's cards at `now`: its options' steps and limits (and exam), its
    /// retention (the account's unless the chat sets one, raised as an exam approaches) and the
    /// user's parameters.
    pub(super) fn scheduler<'a>(
        &'a self,
        study: &'a StudySettings,
        options: &StudyOptions,
        settings: &'a SchedulerSettings,
        now: DateTime<Utc>,
    ) -> Scheduler<'a> {
        Scheduler {
            model: self.model.as_ref(),
            settings,
            desired_retention: options.desired_retention_at(
                study.desired_retention,
                &study.day,
                now,
            ),
            parameters: &study.parameters,
        }
    }

    /// The options of the chats of `cards` (the defaults for those that never set one); those
    /// of one chat may be `known` already.
    pub(super) async fn chat_options(
        &self,
        owner: UserId,
        cards: &[Flashcard],
        day: &super::options::StudyDay,
        known: Option<(ChatId, &Option<StudyOptions>)>,
    ) -> Result<HashMap<ChatId, (StudyOptions, SchedulerSettings)>, InfraError> {
        let mut out: HashMap<ChatId, (StudyOptions, SchedulerSettings)> = HashMap::new();
        let mut chats: Vec<ChatId> = cards.iter().map(|c| c.chat_id).collect();
        chats.sort();
        chats.dedup();
        let stored: HashMap<ChatId, StudyOptions> = match (chats.as_slice(), known) {
            ([], _) => HashMap::new(),
            ([one], Some((chat, options))) if *one == chat => {
                options.clone().map(|o| (chat, o)).into_iter().collect()
            }
            ([one], _) => self
                .cards
                .options(owner, *one)
                .await?
                .map(|o| (*one, o))
                .into_iter()
                .collect(),
            _ => self.cards.all_options(owner).await?.into_iter().collect(),
        };
        for chat in chats {
            let options = stored.get(&chat).cloned().unwrap_or_default();
            let settings = options.scheduler_settings(day);
            out.insert(chat, (options, settings));
        }
        Ok(out)
    }

    pub(super) async fn study_settings(&self, owner: UserId) -> Result<StudySettings, InfraError> {
        Ok(self.cards.settings(owner).await?.unwrap_or_default())
    }

    /// Each card with its next intervals and its source's status.
    pub(super) async fn study_all(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        now: DateTime<Utc>,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        let study = self.study_settings(owner).await?;
        self.study_with(owner, cards, now, &study, None).await
    }

    /// [`Self::study_all`] for cards of `chat`, with its [`StudyContext`] at hand.
    pub(super) async fn study_in(
        &self,
        owner: UserId,
        chat: ChatId,
        cards: Vec<Flashcard>,
        now: DateTime<Utc>,
        context: &StudyContext,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        let study = context.settings.clone().unwrap_or_default();
        self.study_with(owner, cards, now, &study, Some((chat, &context.options)))
            .await
    }

    /// [`Self::study_all`] with the owner's settings at hand, and the options of one chat if
    /// `known`.
    async fn study_with(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        now: DateTime<Utc>,
        study: &StudySettings,
        known: Option<(ChatId, &Option<StudyOptions>)>,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        let present = self
            .document_chats(
                owner,
                cards
                    .iter()
                    .filter_map(|c| c.source.as_ref().map(|s| s.document_id)),
            )
            .await?;
        // The passages the cards came from, as they are now (a re-read document has new ones).
        let wanted: Vec<ChunkId> = cards
            .iter()
            .filter_map(|c| c.source.as_ref())
            .filter(|s| present.contains_key(&s.document_id))
            .filter_map(|s| s.chunk_id)
            .collect();
        let passages: std::collections::HashSet<ChunkId> = if wanted.is_empty() {
            std::collections::HashSet::new()
        } else {
            self.documents
                .chunks_by_ids(owner, &wanted)
                .await?
                .into_iter()
                .map(|(chunk, _)| chunk.id)
                .collect()
        };
        let options = self.chat_options(owner, &cards, &study.day, known).await?;
        let defaults = (StudyOptions::default(), SchedulerSettings::default());
        cards
            .into_iter()
            .map(|card| {
                let (options, settings) = options.get(&card.chat_id).unwrap_or(&defaults);
                let next_intervals = self
                    .scheduler(study, options, settings, now)
                    .preview(&card.schedule, now.max(card.schedule.due))
                    .map_err(FlashcardError::Scheduling)?;
                let source_status = card.source.as_ref().map(|s| {
                    if !present.contains_key(&s.document_id) {
                        return SourceStatus::Missing;
                    }
                    // The document was read again: the card's passage is gone.
                    let changed = s.chunk_id.is_some_and(|chunk| !passages.contains(&chunk));
                    if changed {
                        SourceStatus::Changed
                    } else {
                        SourceStatus::Available
                    }
                });
                Ok(StudyCard {
                    card,
                    next_intervals,
                    source_status,
                    leech: false,
                })
            })
            .collect()
    }

    /// One card with its next intervals and its source's status, under `study`.
    pub(super) async fn study(
        &self,
        card: Flashcard,
        now: DateTime<Utc>,
        study: &StudySettings,
    ) -> Result<StudyCard, FlashcardError> {
        let owner = card.user_id;
        let mut all = self.study_with(owner, vec![card], now, study, None).await?;
        all.pop().ok_or(FlashcardError::NotFound)
    }

    /// One card with its next intervals and its source's status, in its [`StudyContext`].
    pub(super) async fn study_card(
        &self,
        card: Flashcard,
        now: DateTime<Utc>,
        context: &StudyContext,
    ) -> Result<StudyCard, FlashcardError> {
        let mut all = self
            .study_in(card.user_id, card.chat_id, vec![card], now, context)
            .await?;
        all.pop().ok_or(FlashcardError::NotFound)
    }
}
