//! The study queue over the in-memory cards and review log.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardState, Flashcard, NewOrder, NoteId, QueueCounts, QueueKind, Review, ReviewId, Studied,
    StudyOptions, StudyRepository,
};

use crate::flashcards::InMemoryFlashcardRepository;

/// Whether a card waits for tomorrow: a new or review card of a buried note.
fn is_buried(card: &Flashcard, buried: &[NoteId]) -> bool {
    kind_of(card) != QueueKind::Learning && buried.contains(&card.note.id)
}

/// Which part of the queue a card is in.
fn kind_of(card: &Flashcard) -> QueueKind {
    match card.schedule.state {
        CardState::New => QueueKind::New,
        CardState::Learning | CardState::Relearning => QueueKind::Learning,
        CardState::Review => QueueKind::Review,
    }
}

#[async_trait]
impl StudyRepository for InMemoryFlashcardRepository {
    async fn options(
        &self,
        owner: UserId,
        chat: ChatId,
    ) -> Result<Option<StudyOptions>, InfraError> {
        Ok(self.store.read().options.get(&(owner, chat)).cloned())
    }

    async fn all_options(&self, owner: UserId) -> Result<Vec<(ChatId, StudyOptions)>, InfraError> {
        Ok(self
            .store
            .read()
            .options
            .iter()
            .filter(|((user, _), _)| *user == owner)
            .map(|((_, chat), options)| (*chat, options.clone()))
            .collect())
    }

    async fn save_options(
        &self,
        owner: UserId,
        chat: ChatId,
        options: &StudyOptions,
    ) -> Result<(), InfraError> {
        self.store
            .write()
            .options
            .insert((owner, chat), options.clone());
        Ok(())
    }

    async fn queue_counts(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        (learning_until, review_until): (DateTime<Utc>, DateTime<Utc>),
        buried: &[NoteId],
    ) -> Result<Vec<QueueCounts>, InfraError> {
        let store = self.store.read();
        let mut counts: BTreeMap<ChatId, QueueCounts> = BTreeMap::new();
        let mine = store.cards.values().filter(|c| {
            c.user_id == owner
                && !c.suspended
                && chat.is_none_or(|chat| c.chat_id == chat)
                && !is_buried(c, buried)
        });
        for card in mine {
            let entry = counts.entry(card.chat_id).or_insert(QueueCounts {
                chat: card.chat_id,
                new: 0,
                learning: 0,
                review: 0,
            });
            match kind_of(card) {
                QueueKind::New => entry.new += 1,
                QueueKind::Learning if card.schedule.due <= learning_until => entry.learning += 1,
                QueueKind::Review if card.schedule.due < review_until => entry.review += 1,
                _ => {}
            }
        }
        Ok(counts
            .into_values()
            .filter(|c| c.new + c.learning + c.review > 0)
            .collect())
    }

    async fn studied_since(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        since: DateTime<Utc>,
    ) -> Result<Vec<(ChatId, Studied)>, InfraError> {
        let store = self.store.read();
        let mut out: BTreeMap<ChatId, Studied> = BTreeMap::new();
        for review in store
            .reviews
            .iter()
            .filter(|r| r.user_id == owner && r.reviewed_at >= since)
        {
            let Some(card) = store.cards.get(&review.card_id) else {
                continue;
            };
            if chat.is_some_and(|chat| card.chat_id != chat) {
                continue;
            }
            let entry = out.entry(card.chat_id).or_default();
            match review.state_before {
                CardState::New => entry.new += 1,
                CardState::Review => entry.review += 1,
                CardState::Learning | CardState::Relearning => entry.learning += 1,
            }
            entry.duration_ms += u64::from(review.duration_ms.unwrap_or(0));
        }
        Ok(out.into_iter().collect())
    }

    async fn queue(
        &self,
        owner: UserId,
        chats: &[ChatId],
        (kind, order): (QueueKind, NewOrder),
        due_until: DateTime<Utc>,
        buried: &[NoteId],
        limit: u64,
    ) -> Result<Vec<Flashcard>, InfraError> {
        let store = self.store.read();
        let mut cards: Vec<&Flashcard> = store
            .cards
            .values()
            .filter(|c| c.user_id == owner && !c.suspended && chats.contains(&c.chat_id))
            .filter(|c| kind_of(c) == kind && !is_buried(c, buried))
            .filter(|c| kind == QueueKind::New || c.schedule.due <= due_until)
            .collect();
        match (kind, order) {
            (QueueKind::New, NewOrder::Created) => cards.sort_by_key(|c| (c.created_at, c.id)),
            (QueueKind::New, NewOrder::Random) => cards.sort_by_key(|c| (c.shuffle_key(), c.id)),
            _ => cards.sort_by_key(|c| (c.schedule.due, c.id)),
        }
        Ok(cards
            .into_iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }

    async fn note_cards(&self, owner: UserId, note: NoteId) -> Result<Vec<Flashcard>, InfraError> {
        let store = self.store.read();
        let mut cards: Vec<Flashcard> = store
            .cards
            .values()
            .filter(|c| c.user_id == owner && c.note.id == note)
            .cloned()
            .collect();
        cards.sort_by_key(|c| (c.note.ordinal, c.id));
        Ok(cards)
    }

    async fn notes_studied_since(
        &self,
        owner: UserId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(ChatId, NoteId)>, InfraError> {
        let store = self.store.read();
        let mut notes: Vec<(ChatId, NoteId)> = store
            .reviews
            .iter()
            .filter(|r| r.user_id == owner && r.reviewed_at >= since)
            .filter_map(|r| store.cards.get(&r.card_id))
            .map(|c| (c.chat_id, c.note.id))
            .collect();
        notes.sort();
        notes.dedup();
        Ok(notes)
    }

    async fn last_review(
        &self,
        owner: UserId,
        since: DateTime<Utc>,
    ) -> Result<Option<Review>, InfraError> {
        let store = self.store.read();
        // The latest by review time; of equal times, the one logged last.
        Ok(store
            .reviews
            .iter()
            .enumerate()
            .filter(|(_, r)| r.user_id == owner && r.reviewed_at >= since)
            .max_by_key(|(logged, r)| (r.reviewed_at, *logged))
            .map(|(_, r)| r.clone()))
    }

    async fn undo_review(
        &self,
        owner: UserId,
        review: ReviewId,
        restored: &Flashcard,
        reps_now: u32,
    ) -> Result<bool, InfraError> {
        let mut store = self.store.write();
        let Some(at) = store
            .reviews
            .iter()
            .position(|r| r.id == review && r.user_id == owner && r.card_id == restored.id)
        else {
            return Ok(false);
        };
        let Some(card) = store
            .cards
            .get_mut(&restored.id)
            .filter(|c| c.user_id == owner && c.schedule.reps == reps_now)
        else {
            return Ok(false);
        };
        card.schedule = restored.schedule;
        card.suspended = restored.suspended;
        card.tags = restored.tags.clone();
        card.updated_at = restored.updated_at;
        store.reviews.remove(at);
        Ok(true)
    }
}
