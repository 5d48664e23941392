//! The domain's [`DeckFiles`]: a chat's flashcards as a CSV file or an Anki package, and CSV
//! files read back as rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::flashcards::{
    CardState, DeckFileError, DeckFiles, DeckFormat, DeckRow, Flashcard,
};

use crate::card::{AnkiCard, AnkiSchedule};

/// Writes `.apkg` files with [`write_apkg`](crate::package::write_apkg) and CSV files with
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
        now: DateTime<Utc>,
    ) -> Result<Vec<u8>, InfraError> {
        match format {
            DeckFormat::Apkg => {
                let notes = cards.iter().map(anki_card).collect();
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
