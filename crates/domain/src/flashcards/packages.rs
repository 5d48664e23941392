//! Anki packages in: the notes, cards and review history an adapter read from an `.apkg` (or a
//! legacy `.colpkg`), validated like any other cards and stored as the chat's notes, each card
//! with its review log and the FSRS memory state computed from that log, so a learner arriving
//! from Anki keeps their schedule.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::FlashcardError;
use super::imports::{INLINE_IMPORT_NOTES, ImportId, PackageOutcome};
use super::models::{Flashcard, FlashcardId, Review, ReviewId, StudySettings};
use super::notes::CardKind;
use super::ports::DeckFileError;
use super::scheduling::{CardState, Rating, Schedule};
use super::service::{CardInput, Flashcards, MAX_IMPORT_ROWS};
use crate::accounts::{Principal, UserId};
use crate::chats::ChatId;
use crate::error::{FieldError, ValidationErrors};

/// The largest package accepted, compressed (the request body).
pub const MAX_PACKAGE_BYTES: usize = 100 * 1024 * 1024;

/// The largest CSV file accepted: 5,000 rows of long questions and answers fit.
pub const MAX_CSV_BYTES: usize = 8 * 1024 * 1024;

/// What a package may hold. A package is untrusted input: a reader stops as soon as one of these
/// is passed, before it has done the work the excess would cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageLimits {
    /// The collection database, uncompressed.
    pub max_collection_bytes: u64,
    /// Entries in the zip (the collection, the media map and the media files).
    pub max_entries: usize,
    pub max_notes: usize,
    pub max_cards: usize,
    pub max_reviews: usize,
    /// Characters of one field, before conversion; longer fields are refused by the card limits
    /// anyway, this bounds the work on a hostile one.
    pub max_field_chars: usize,
}

/// The limits of an import through the API.
pub const PACKAGE_LIMITS: PackageLimits = PackageLimits {
    max_collection_bytes: 64 * 1024 * 1024,
    max_entries: 20_000,
    max_notes: MAX_IMPORT_ROWS,
    max_cards: 2 * MAX_IMPORT_ROWS,
    max_reviews: 500_000,
    max_field_chars: 100_000,
};

/// A deck package as the adapter read it, before the service validates it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageDeck {
    /// The names of the media files it holds: not imported.
    pub media: Vec<String>,
    pub notes: Vec<PackageNote>,
}

/// One note: its kind and texts (Markdown), tags and the cards it had in the package.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageNote {
    pub kind: CardKind,
    pub question: String,
    pub answer: String,
    pub tags: Vec<String>,
    /// The name of the package's note type when it is none the API stores: the note is imported
    /// as a basic card from its first two fields.
    pub converted_from: Option<String>,
    pub cards: Vec<PackageCard>,
}

/// One card of a package note, with its schedule and history.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageCard {
    /// Its place in the note as [`NoteRef::ordinal`](super::notes::NoteRef) counts it: 0 for a
    /// basic card, 0 or 1 for a reversed note's, the cloze number for a cloze card.
    pub ordinal: u32,
    pub suspended: bool,
    pub state: CardState,
    /// When it is next due; `None` for a new card.
    pub due: Option<DateTime<Utc>>,
    pub reps: u32,
    pub lapses: u32,
    /// Its reviews, oldest first (manual reschedules left out).
    pub reviews: Vec<PackageReview>,
    /// Anki's interval (days) and ease factor (permille), for a card in review without a review
    /// log: its memory state is estimated from them, as Anki does.
    pub interval_days: u32,
    pub ease_factor: u32,
}

/// One review of a package card.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackageReview {
    pub at: DateTime<Utc>,
    pub rating: Rating,
    pub state_before: CardState,
    pub duration_ms: u32,
}

/// How many notes of a note type the API does not store were imported as basic cards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvertedNotes {
    pub note_type: String,
    pub notes: usize,
}

/// What a package import did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackageImport {
    pub notes: usize,
    pub cards: usize,
    pub reviews: usize,
    /// The notes (1-based, in the package's order) left out, and why.
    pub errors: Vec<(usize, FieldError)>,
    pub converted: Vec<ConvertedNotes>,
    /// Media files the package held: not imported.
    pub media_skipped: Vec<String>,
}

impl Flashcards {
    /// Creates the notes and cards of an Anki package in the chat, with their tags, suspension,
    /// schedules and review logs; invalid notes are reported by their place in the package. A
    /// package of up to [`INLINE_IMPORT_NOTES`] notes is imported at once, all cards or none (a
    /// quota decides for the whole package); a larger one is queued as a background import.
    pub async fn import_package(
        &self,
        who: Principal,
        chat: ChatId,
        file: bytes::Bytes,
    ) -> Result<PackageOutcome, FlashcardError> {
        // Another user's chat answers 404 before the file is looked at.
        self.own_chat(who, chat).await?;
        let deck = match self
            .deck_files
            .read_package(file.clone(), PACKAGE_LIMITS)
            .await
        {
            Ok(deck) => deck,
            Err(DeckFileError::Unreadable(why)) => {
                return Err(ValidationErrors::single("file", why).into());
            }
            Err(DeckFileError::Infra(e)) => return Err(e.into()),
        };
        if deck.notes.len() > INLINE_IMPORT_NOTES {
            let import = self.queue_import(who, chat, file, deck.notes.len()).await?;
            return Ok(PackageOutcome::Queued(Box::new(import)));
        }
        let study = self.study_settings(who.user_id).await?;
        let now = self.clock.now();
        let mut report = PackageImport {
            media_skipped: deck.media,
            ..PackageImport::default()
        };
        let (cards, reviews) = self.convert_notes(
            who.user_id,
            chat,
            deck.notes.into_iter().enumerate(),
            &study,
            now,
            &mut report,
            None,
        )?;
        if !cards.is_empty() {
            self.store_history(who.user_id, cards, reviews).await?;
        }
        Ok(PackageOutcome::Imported(report))
    }

    /// Package notes (with their 0-based places) as validated cards and their review logs,
    /// counted into `report`; notes that do not validate are reported instead. With `import`,
    /// card ids derive from it, the note's place and the card's ordinal (see [`super::imports`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn convert_notes(
        &self,
        owner: UserId,
        chat: ChatId,
        notes: impl Iterator<Item = (usize, PackageNote)>,
        study: &StudySettings,
        now: DateTime<Utc>,
        report: &mut PackageImport,
        import: Option<ImportId>,
    ) -> Result<(Vec<Flashcard>, Vec<Review>), FlashcardError> {
        let mut cards: Vec<Flashcard> = Vec::new();
        let mut reviews: Vec<Review> = Vec::new();
        for (i, note) in notes {
            let input = CardInput {
                kind: note.kind,
                question: note.question,
                answer: note.answer,
                tags: note.tags,
                suspended: false,
                source: None,
            };
            let mut errors = ValidationErrors::new();
            let built = match self.build(owner, chat, input, "", &mut errors, now) {
                Some(built) if errors.is_empty() => built,
                _ => {
                    report
                        .errors
                        .extend(errors.fields().iter().map(|e| (i + 1, e.clone())));
                    continue;
                }
            };
            if let Some(name) = note.converted_from {
                match report.converted.iter_mut().find(|c| c.note_type == name) {
                    Some(seen) => seen.notes += 1,
                    None => report.converted.push(ConvertedNotes {
                        note_type: name,
                        notes: 1,
                    }),
                }
            }
            report.notes += 1;
            for mut card in built {
                if let Some(import) = import {
                    let name = format!("{i}:{}", card.note.ordinal);
                    card.id = FlashcardId::from_uuid(uuid::Uuid::new_v5(
                        &import.as_uuid(),
                        name.as_bytes(),
                    ));
                }
                if let Some(kept) = note.cards.iter().find(|c| c.ordinal == card.note.ordinal) {
                    card.suspended = kept.suspended;
                    let log = self.replay(&mut card, kept, study, now)?;
                    reviews.extend(log);
                }
                cards.push(card);
            }
        }
        report.cards += cards.len();
        report.reviews += reviews.len();
        Ok((cards, reviews))
    }

    /// Gives `card` the schedule `kept` had, its memory state computed from its history with
    /// the user's parameters, and answers its review log.
    fn replay(
        &self,
        card: &mut Flashcard,
        kept: &PackageCard,
        study: &StudySettings,
        now: DateTime<Utc>,
    ) -> Result<Vec<Review>, FlashcardError> {
        let history = elapsed_history(&kept.reviews);
        let states = if history.is_empty() {
            Vec::new()
        } else {
            self.model
                .memory_states(&study.parameters, &history)
                .map_err(FlashcardError::Scheduling)?
        };
        let memory = match (kept.state, states.last()) {
            (CardState::New, _) => None,
            (_, Some(last)) => Some(*last),
            // In review without a log (a shared deck, say): estimated from Anki's interval and
            // ease, as Anki does when it switches a collection to FSRS.
            (_, None) => Some(
                self.model
                    .memory_from_interval(
                        &study.parameters,
                        kept.interval_days.max(1),
                        kept.ease_factor,
                        study.desired_retention,
                    )
                    .map_err(FlashcardError::Scheduling)?,
            ),
        };
        let last = kept.reviews.last().map(|r| r.at);
        card.schedule = Schedule {
            state: kept.state,
            memory,
            due: match kept.state {
                CardState::New => now,
                _ => kept.due.unwrap_or(now),
            },
            reps: kept.reps,
            lapses: kept.lapses,
            step: 0,
            last_reviewed_at: if kept.state == CardState::New {
                None
            } else {
                last
            },
        };
        Ok(kept
            .reviews
            .iter()
            .zip(history.iter().zip(states.iter()))
            .map(|(review, ((_, elapsed), state))| Review {
                id: ReviewId::new(),
                card_id: card.id,
                user_id: card.user_id,
                rating: review.rating,
                state_before: review.state_before,
                reviewed_at: review.at,
                elapsed_days: *elapsed,
                duration_ms: Some(review.duration_ms),
                stability: state.stability,
                difficulty: state.difficulty,
                idempotency_key: None,
                card_before: None,
            })
            .collect())
    }
}

/// Each review's rating and the whole days since the one before (0 for the first), counted as
/// the scheduler counts them: 24-hour periods.
pub(super) fn elapsed_history(reviews: &[PackageReview]) -> Vec<(Rating, u32)> {
    let mut previous: Option<DateTime<Utc>> = None;
    reviews
        .iter()
        .map(|review| {
            let days = previous.map_or(0, |p| (review.at - p).num_days().max(0) as u32);
            previous = Some(review.at);
            (review.rating, days)
        })
        .collect()
}
