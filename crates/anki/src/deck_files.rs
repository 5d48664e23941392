//! The domain's [`DeckFiles`]: a chat's flashcards as a CSV file or an Anki package, and both
//! read back.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::flashcards::{
    CardKind, CardState, DeckFileError, DeckFiles, DeckFormat, DeckRow, Flashcard, FlashcardId,
    PackageDeck, PackageLimits, Review,
};

use crate::card::{AnkiCard, AnkiReview, AnkiSchedule, NoteKind};

/// Writes `.apkg` files with [`write_apkg`](crate::package::write_apkg) and reads them with
/// [`read_apkg`](crate::package::read_apkg); writes and reads CSV files with
/// [`csv_deck`](crate::csv_deck).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeckFileFormats;

#[async_trait]
impl DeckFiles for DeckFileFormats {
    async fn write(
        &self,
        format: DeckFormat,
        deck: &str,
        cards: Vec<Flashcard>,
        reviews: Vec<Review>,
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, InfraError> {
        match format {
            DeckFormat::Apkg => {
                let mut by_card: HashMap<FlashcardId, Vec<Review>> = HashMap::new();
                for review in reviews {
                    by_card.entry(review.card_id).or_default().push(review);
                }
                let notes = cards
                    .iter()
                    .map(|card| anki_card(card, by_card.remove(&card.id).unwrap_or_default()))
                    .collect();
                crate::package::write_apkg(deck, notes, now)
                    .await
                    .map_err(InfraError::internal)
            }
            // A large deck is real work: off the async threads.
            DeckFormat::Csv => tokio::task::spawn_blocking(move || crate::csv_deck::write(&cards))
                .await
                .map_err(InfraError::internal)?
                .map_err(InfraError::internal),
        }
    }

    async fn read_csv(
        &self,
        file: bytes::Bytes,
        limit: usize,
    ) -> Result<Vec<DeckRow>, DeckFileError> {
        // Parsing thousands of rows is real work: off the async threads.
        tokio::task::spawn_blocking(move || crate::csv_deck::read(&file, limit))
            .await
            .map_err(InfraError::internal)?
            .map_err(DeckFileError::Unreadable)
    }

    async fn read_package(
        &self,
        file: bytes::Bytes,
        limits: PackageLimits,
    ) -> Result<PackageDeck, DeckFileError> {
        crate::package::read_apkg(file, limits).await
    }
}

/// A card as Anki holds it: review-state cards keep their due date, interval, reps and lapses,
/// learning ones their next step's time; new ones arrive as new cards. Its reviews become the
/// review log, each with the interval it gave (the time to the next review, or to the card's
/// due date for the last).
fn anki_card(card: &Flashcard, mut reviews: Vec<Review>) -> AnkiCard {
    let s = &card.schedule;
    reviews.sort_by_key(|r| r.reviewed_at);
    let interval_days = s
        .last_reviewed_at
        .map(|last| (s.due - last).num_days().max(1) as u32)
        .unwrap_or(1);
    let log = reviews
        .iter()
        .enumerate()
        .map(|(i, review)| {
            let next = reviews.get(i + 1).map_or(s.due, |r| r.reviewed_at);
            AnkiReview {
                at: review.reviewed_at,
                ease: review.rating.number() as u8,
                kind: match review.state_before {
                    CardState::New | CardState::Learning => 0,
                    CardState::Review => 1,
                    CardState::Relearning => 2,
                },
                interval_days: (next - review.reviewed_at).num_days().max(0) as u32,
                duration_ms: review.duration_ms.unwrap_or(0),
            }
        })
        .collect();
    AnkiCard {
        id: card.id.as_uuid(),
        note_id: card.note.id.as_uuid(),
        kind: match card.note.kind {
            CardKind::Basic => NoteKind::Basic,
            CardKind::Reversed => NoteKind::Reversed,
            CardKind::Cloze => NoteKind::Cloze,
        },
        ordinal: card.note.ordinal,
        question: card.question.as_str().to_string(),
        answer: card.answer.as_str().to_string(),
        tags: card.tags.iter().map(|t| t.as_str().to_string()).collect(),
        suspended: card.suspended,
        schedule: (s.state != CardState::New).then(|| AnkiSchedule {
            due: s.due,
            interval_days,
            reps: s.reps,
            lapses: s.lapses,
            review: s.state == CardState::Review,
            relearning: s.state == CardState::Relearning,
        }),
        reviews: log,
    }
}
