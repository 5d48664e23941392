//! The domain's [`DeckPackager`]: a chat's flashcards as an Anki package.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::flashcards::{CardState, DeckPackager, Flashcard};

use crate::card::{AnkiCard, AnkiSchedule};

/// Writes decks with [`write_apkg`](crate::package::write_apkg).
#[derive(Debug, Clone, Copy, Default)]
pub struct AnkiPackager;

#[async_trait]
impl DeckPackager for AnkiPackager {
    async fn package(
        &self,
        deck: &str,
        cards: &[Flashcard],
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, InfraError> {
        let notes = cards.iter().map(anki_card).collect();
        crate::package::write_apkg(deck, notes, now)
            .await
            .map_err(InfraError::internal)
    }
}

/// A card as Anki holds it: review-state cards keep their due date, interval, reps and lapses;
/// the others arrive as new cards.
fn anki_card(card: &Flashcard) -> AnkiCard {
    let s = &card.schedule;
    let review = s.state == CardState::Review;
    AnkiCard {
        id: card.id.as_uuid(),
        question: card.question.as_str().to_string(),
        answer: card.answer.as_str().to_string(),
        tags: card.tags.iter().map(|t| t.as_str().to_string()).collect(),
        schedule: review.then(|| AnkiSchedule {
            due: s.due,
            interval_days: s
                .last_reviewed_at
                .map(|last| (s.due - last).num_days().max(1) as u32)
                .unwrap_or(1),
            reps: s.reps,
            lapses: s.lapses,
            review: true,
        }),
    }
}
