//! Flashcards and their review log in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardCursor, CardFilter, CardState, CardsStored, Flashcard, FlashcardId, FlashcardRepository,
    Recorded, Review, StudyOptions, StudySettings,
};
use flashforge_domain::pagination::{Page, PageRequest};
use parking_lot::RwLock;

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) cards: HashMap<FlashcardId, Flashcard>,
    /// In the order they were logged.
    pub(crate) reviews: Vec<Review>,
    pub(crate) settings: HashMap<UserId, StudySettings>,
    pub(crate) options: HashMap<(UserId, ChatId), StudyOptions>,
}

#[derive(Default)]
pub struct InMemoryFlashcardRepository {
    pub(crate) store: RwLock<Store>,
}

impl InMemoryFlashcardRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// The review log of `owner`, oldest first (tests).
    pub fn reviews(&self, owner: UserId) -> Vec<Review> {
        let mut reviews: Vec<Review> = self
            .store
            .read()
            .reviews
            .iter()
            .filter(|r| r.user_id == owner)
            .cloned()
            .collect();
        reviews.sort_by_key(|r| r.reviewed_at);
        reviews
    }

    fn remove_where(&self, gone: impl Fn(&Flashcard) -> bool) -> u64 {
        let mut store = self.store.write();
        let ids: Vec<FlashcardId> = store
            .cards
            .values()
            .filter(|c| gone(c))
            .map(|c| c.id)
            .collect();
        for id in &ids {
            store.cards.remove(id);
        }
        store.reviews.retain(|r| !ids.contains(&r.card_id));
        ids.len() as u64
    }
}

fn matches(card: &Flashcard, filter: &CardFilter) -> bool {
    filter.tag.as_ref().is_none_or(|t| card.tags.contains(t))
        && filter.state.is_none_or(|s| card.schedule.state == s)
        && filter.due_before.is_none_or(|d| card.schedule.due <= d)
        && filter.note.is_none_or(|n| card.note.id == n)
        && filter.text.as_ref().is_none_or(|text| {
            let text = text.to_lowercase();
            card.question.as_str().to_lowercase().contains(&text)
                || card.answer.as_str().to_lowercase().contains(&text)
        })
}

#[async_trait]
impl FlashcardRepository for InMemoryFlashcardRepository {
    async fn create_with_history(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        reviews: Vec<Review>,
        max_cards: u64,
    ) -> Result<CardsStored, InfraError> {
        if cards.iter().any(|c| c.user_id != owner) {
            return Err(InfraError::internal("create_many got another user's card"));
        }
        let ids: std::collections::HashSet<FlashcardId> = cards.iter().map(|c| c.id).collect();
        if reviews
            .iter()
            .any(|r| r.user_id != owner || !ids.contains(&r.card_id))
        {
            return Err(InfraError::internal(
                "create_with_history got a review of another card",
            ));
        }
        // One lock for the count and the insert: concurrent writes cannot pass the quota.
        let mut store = self.store.write();
        let have = store.cards.values().filter(|c| c.user_id == owner).count() as u64;
        if max_cards > 0 && have + cards.len() as u64 > max_cards {
            return Ok(CardsStored::OverQuota { cards: have });
        }
        for card in cards {
            store.cards.insert(card.id, card);
        }
        store.reviews.extend(reviews);
        Ok(CardsStored::Stored)
    }

    async fn card_count(&self, owner: UserId) -> Result<u64, InfraError> {
        let store = self.store.read();
        Ok(store.cards.values().filter(|c| c.user_id == owner).count() as u64)
    }

    async fn find(&self, owner: UserId, id: FlashcardId) -> Result<Option<Flashcard>, InfraError> {
        Ok(self
            .store
            .read()
            .cards
            .get(&id)
            .filter(|c| c.user_id == owner)
            .cloned())
    }

    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        filter: &CardFilter,
        page: PageRequest<CardCursor>,
    ) -> Result<Page<Flashcard>, InfraError> {
        let mut cards: Vec<Flashcard> = self
            .store
            .read()
            .cards
            .values()
            .filter(|c| c.user_id == owner && c.chat_id == chat && matches(c, filter))
            .filter(|c| page.after.is_none_or(|after| c.id.as_uuid() < after))
            .cloned()
            .collect();
        cards.sort_by_key(|c| std::cmp::Reverse(c.id));
        cards.truncate(page.limit.fetch_count() as usize);
        Ok(Page::from_overfetch(cards, page.limit, |c| c.id.as_uuid()))
    }

    async fn update(&self, card: &Flashcard) -> Result<bool, InfraError> {
        let mut store = self.store.write();
        match store
            .cards
            .get_mut(&card.id)
            .filter(|c| c.user_id == card.user_id)
        {
            Some(stored) => {
                stored.question = card.question.clone();
                stored.answer = card.answer.clone();
                stored.tags = card.tags.clone();
                stored.suspended = card.suspended;
                stored.source = card.source.clone();
                stored.updated_at = card.updated_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete(&self, owner: UserId, id: FlashcardId) -> Result<bool, InfraError> {
        Ok(self.remove_where(|c| c.user_id == owner && c.id == id) > 0)
    }

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        self.store.write().options.remove(&(owner, chat));
        Ok(self.remove_where(|c| c.user_id == owner && c.chat_id == chat))
    }

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        let mut store = self.store.write();
        store.settings.remove(&owner);
        store.options.retain(|(user, _), _| *user != owner);
        drop(store);
        Ok(self.remove_where(|c| c.user_id == owner))
    }

    async fn record_review(
        &self,
        card: &Flashcard,
        reps_before: u32,
        review: Review,
    ) -> Result<Recorded, InfraError> {
        let mut store = self.store.write();
        if let Some(key) = &review.idempotency_key
            && let Some(previous) = store
                .reviews
                .iter()
                .find(|r| r.user_id == review.user_id && r.idempotency_key.as_ref() == Some(key))
        {
            return Ok(Recorded::Replayed(Box::new(previous.clone())));
        }
        match store
            .cards
            .get_mut(&card.id)
            .filter(|c| c.user_id == card.user_id && c.schedule.reps == reps_before)
        {
            Some(stored) => {
                stored.schedule = card.schedule;
                stored.suspended = card.suspended;
                stored.tags = card.tags.clone();
                stored.updated_at = card.updated_at;
                store.reviews.push(review);
                Ok(Recorded::Applied)
            }
            None => Ok(Recorded::Stale),
        }
    }

    async fn due(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Flashcard>, InfraError> {
        let mut cards: Vec<Flashcard> = self
            .store
            .read()
            .cards
            .values()
            .filter(|c| c.user_id == owner && !c.suspended && c.schedule.due <= now)
            .filter(|c| chat.is_none_or(|chat| c.chat_id == chat))
            .cloned()
            .collect();
        cards.sort_by_key(|c| (c.schedule.due, c.id));
        cards.truncate(limit as usize);
        Ok(cards)
    }

    async fn count_due(&self, owner: UserId, before: DateTime<Utc>) -> Result<u64, InfraError> {
        Ok(self
            .store
            .read()
            .cards
            .values()
            .filter(|c| c.user_id == owner && !c.suspended && c.schedule.due <= before)
            .count() as u64)
    }

    async fn count_cards(&self, owner: UserId) -> Result<(u64, u64), InfraError> {
        let store = self.store.read();
        let mine = store.cards.values().filter(|c| c.user_id == owner);
        let (mut total, mut new) = (0, 0);
        for card in mine {
            total += 1;
            if card.schedule.state == CardState::New {
                new += 1;
            }
        }
        Ok((total, new))
    }

    async fn reviews_since(
        &self,
        owner: UserId,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Review>, InfraError> {
        Ok(self
            .reviews(owner)
            .into_iter()
            .filter(|r| since.is_none_or(|s| r.reviewed_at >= s))
            .collect())
    }

    async fn recent_reviews(&self, owner: UserId, limit: u64) -> Result<Vec<Review>, InfraError> {
        let mut all = self.reviews(owner);
        let keep = all
            .len()
            .saturating_sub(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(all.split_off(keep))
    }

    async fn settings(&self, owner: UserId) -> Result<Option<StudySettings>, InfraError> {
        Ok(self.store.read().settings.get(&owner).cloned())
    }

    async fn save_settings(
        &self,
        owner: UserId,
        settings: &StudySettings,
    ) -> Result<(), InfraError> {
        self.store.write().settings.insert(owner, settings.clone());
        Ok(())
    }
}
