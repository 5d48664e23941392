//! A study session: the next card to show within the day's limits, the counts left, undo, and
//! the options and settings that shape them.
//!
//! The queue, as Anki's v3 scheduler builds it:
//! 1. a learning or relearning card whose step is due comes first;
//! 2. then review cards (due by the end of the study day) and new cards, each within its chat's
//!    daily limit, new cards spread evenly among the reviews;
//! 3. when nothing else is left, a learning card due within [`LEARN_AHEAD`] is shown early.
//!
//! Limits count what was studied since the study day began (at the user's hour, in their time
//! zone): new cards introduced and reviews of cards in review; learning steps are not limited.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::error::FlashcardError;
use super::models::{Flashcard, StudySettings};
use super::notes::NoteId;
use super::options::{LEARN_AHEAD, NewOrder, StudyDay, StudyOptions, StudyOptionsPatch};
use super::ports::{QueueKind, Studied};
use super::service::{Flashcards, StudyCard};
use crate::accounts::{Principal, UserId};
use crate::chats::ChatId;
use crate::error::{FieldError, ValidationErrors};

/// What is left to study today.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StudyCounts {
    pub new: u64,
    pub learning: u64,
    pub review: u64,
}

/// The next card to study, and what is left.
#[derive(Debug, Clone)]
pub struct NextCard {
    /// `None` when nothing is left to study now.
    pub card: Option<StudyCard>,
    /// Which part of the queue the card came from.
    pub queue: Option<QueueKind>,
    /// Left today, the card shown included.
    pub counts: StudyCounts,
    /// With nothing to show now: when the next learning card of today is due.
    pub next_due_at: Option<DateTime<Utc>>,
    /// When the study day ends (and the limits start again).
    pub day_ends_at: DateTime<Utc>,
}

/// A change to the caller's study settings: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct StudySettingsPatch {
    pub desired_retention: Option<f32>,
    /// An IANA time zone name.
    pub timezone: Option<String>,
    pub day_starts_at_hour: Option<u32>,
}

/// Per chat in a session's scope: its options, and how many new and review cards it may still
/// show today.
struct Room {
    chat: ChatId,
    options: StudyOptions,
    new: u64,
    review: u64,
}

impl Flashcards {
    /// Changes the caller's study settings; every field is checked before any is applied.
    pub async fn update_settings(
        &self,
        who: Principal,
        patch: StudySettingsPatch,
    ) -> Result<StudySettings, FlashcardError> {
        let mut settings = self.study_settings(who.user_id).await?;
        let mut errors = ValidationErrors::new();
        if let Some(retention) = patch.desired_retention {
            if (0.70..=0.99).contains(&retention) {
                settings.desired_retention = retention;
            } else {
                errors.push(FieldError::new(
                    "desired_retention",
                    "must be between 0.70 and 0.99",
                ));
            }
        }
        if let Some(zone) = &patch.timezone {
            match StudyDay::parse_timezone(zone) {
                Ok(zone) => settings.day.timezone = zone,
                Err(e) => errors.push(e),
            }
        }
        if let Some(hour) = patch.day_starts_at_hour {
            match u8::try_from(hour) {
                Ok(hour) if hour < 24 => settings.day.starts_at_hour = hour,
                _ => errors.push(FieldError::new(
                    "day_starts_at_hour",
                    "must be an hour from 0 to 23",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        settings.updated_at = Some(self.clock.now());
        self.cards.save_settings(who.user_id, &settings).await?;
        Ok(settings)
    }

    /// The chat's study options (the defaults until one is changed).
    pub async fn study_options(
        &self,
        who: Principal,
        chat: ChatId,
    ) -> Result<StudyOptions, FlashcardError> {
        self.own_chat(who, chat).await?;
        Ok(self
            .cards
            .options(who.user_id, chat)
            .await?
            .unwrap_or_default())
    }

    /// Changes the chat's study options; every field is checked before any is applied.
    pub async fn update_study_options(
        &self,
        who: Principal,
        chat: ChatId,
        patch: StudyOptionsPatch,
    ) -> Result<StudyOptions, FlashcardError> {
        let mut options = self.study_options(who, chat).await?;
        let today = self
            .study_settings(who.user_id)
            .await?
            .day
            .date_of(self.clock.now());
        options.apply(patch, today)?;
        options.updated_at = Some(self.clock.now());
        self.cards.save_options(who.user_id, chat, &options).await?;
        Ok(options)
    }

    /// The next card to study in one chat or across all of the caller's, and what is left today.
    pub async fn next_card(
        &self,
        who: Principal,
        chat: Option<ChatId>,
    ) -> Result<NextCard, FlashcardError> {
        if let Some(chat) = chat {
            self.own_chat(who, chat).await?;
        }
        let owner = who.user_id;
        let study = self.study_settings(owner).await?;
        let now = self.clock.now();
        let (day_start, day_end) = study.day.bounds(now);
        let mut options: HashMap<ChatId, StudyOptions> = match chat {
            Some(chat) => self
                .cards
                .options(owner, chat)
                .await?
                .map(|o| (chat, o))
                .into_iter()
                .collect(),
            None => self.cards.all_options(owner).await?.into_iter().collect(),
        };
        let buried = self.buried(owner, chat, day_start, &options).await?;
        let counts = self
            .cards
            .queue_counts(owner, chat, (now + LEARN_AHEAD, day_end), &buried)
            .await?;
        let studied: HashMap<ChatId, Studied> = self
            .cards
            .studied_since(owner, chat, day_start)
            .await?
            .into_iter()
            .collect();
        let mut left = StudyCounts::default();
        let mut rooms = Vec::with_capacity(counts.len());
        for c in &counts {
            let options = options.remove(&c.chat).unwrap_or_default();
            let done = studied.get(&c.chat).copied().unwrap_or_default();
            let new = c
                .new
                .min(u64::from(options.new_per_day).saturating_sub(done.new));
            let review = c
                .review
                .min(u64::from(options.reviews_per_day).saturating_sub(done.review));
            left.new += new;
            left.review += review;
            left.learning += c.learning;
            rooms.push(Room {
                chat: c.chat,
                options,
                new,
                review,
            });
        }
        let done = studied.values().fold(Studied::default(), |a, b| Studied {
            new: a.new + b.new,
            review: a.review + b.review,
            ..a
        });
        let picked = self
            .pick(owner, &rooms, (left, done), (now, day_end), &buried)
            .await?;
        let next_due_at = match picked {
            Some(_) => None,
            None => {
                self.next_learning(owner, chat, now, day_end, &buried)
                    .await?
            }
        };
        let (card, queue) = match picked {
            Some((card, queue)) => (Some(self.study(card, now, &study).await?), Some(queue)),
            None => (None, None),
        };
        Ok(NextCard {
            card,
            queue,
            counts: left,
            next_due_at,
            day_ends_at: day_end,
        })
    }

    /// The card to show now, in the order the module's documentation gives.
    async fn pick(
        &self,
        owner: UserId,
        rooms: &[Room],
        (left, done): (StudyCounts, Studied),
        (now, day_end): (DateTime<Utc>, DateTime<Utc>),
        buried: &[NoteId],
    ) -> Result<Option<(Flashcard, QueueKind)>, FlashcardError> {
        let all = chats_of(rooms);
        if let Some(card) = self
            .take(owner, &all, QueueKind::Learning, now, buried)
            .await?
        {
            return Ok(Some((card, QueueKind::Learning)));
        }
        let kinds = if new_comes_next(left, done) {
            [QueueKind::New, QueueKind::Review]
        } else {
            [QueueKind::Review, QueueKind::New]
        };
        for kind in kinds {
            let card = match kind {
                QueueKind::New => self.take_new(owner, rooms, buried).await?,
                _ => {
                    let with_room: Vec<ChatId> = rooms
                        .iter()
                        .filter(|r| r.review > 0)
                        .map(|r| r.chat)
                        .collect();
                    self.take(owner, &with_room, QueueKind::Review, day_end, buried)
                        .await?
                }
            };
            if let Some(card) = card {
                return Ok(Some((card, kind)));
            }
        }
        let ahead = self
            .take(owner, &all, QueueKind::Learning, now + LEARN_AHEAD, buried)
            .await?;
        Ok(ahead.map(|card| (card, QueueKind::Learning)))
    }

    /// When the next learning card of the day is due, in one chat or all.
    async fn next_learning(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        now: DateTime<Utc>,
        day_end: DateTime<Utc>,
        buried: &[NoteId],
    ) -> Result<Option<DateTime<Utc>>, FlashcardError> {
        // Review cards due before `now` (there are none left to show) are not asked for.
        let later = self
            .cards
            .queue_counts(owner, chat, (day_end, now), buried)
            .await?
            .into_iter()
            .filter(|c| c.learning > 0)
            .map(|c| c.chat)
            .collect::<Vec<_>>();
        Ok(self
            .take(owner, &later, QueueKind::Learning, day_end, buried)
            .await?
            .map(|card| card.schedule.due))
    }

    /// The first new card of the first chat (oldest first) with room for one, in its order.
    async fn take_new(
        &self,
        owner: UserId,
        rooms: &[Room],
        buried: &[NoteId],
    ) -> Result<Option<Flashcard>, FlashcardError> {
        for room in rooms.iter().filter(|r| r.new > 0) {
            let found = self
                .cards
                .queue(
                    owner,
                    &[room.chat],
                    (QueueKind::New, room.options.new_order),
                    chrono::DateTime::<Utc>::MAX_UTC,
                    buried,
                    1,
                )
                .await?;
            if let Some(card) = found.into_iter().next() {
                return Ok(Some(card));
            }
        }
        Ok(None)
    }

    /// The first card of `kind` due by `until` in `chats`, soonest first.
    async fn take(
        &self,
        owner: UserId,
        chats: &[ChatId],
        kind: QueueKind,
        until: DateTime<Utc>,
        buried: &[NoteId],
    ) -> Result<Option<Flashcard>, FlashcardError> {
        if chats.is_empty() {
            return Ok(None);
        }
        Ok(self
            .cards
            .queue(owner, chats, (kind, NewOrder::Created), until, buried, 1)
            .await?
            .into_iter()
            .next())
    }

    /// The notes whose new and review cards wait for tomorrow: those with a card studied today,
    /// in chats that bury siblings.
    async fn buried(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        day_start: DateTime<Utc>,
        options: &HashMap<ChatId, StudyOptions>,
    ) -> Result<Vec<NoteId>, FlashcardError> {
        let mut notes: Vec<NoteId> = self
            .cards
            .notes_studied_since(owner, day_start)
            .await?
            .into_iter()
            .filter(|(c, _)| chat.is_none_or(|chat| chat == *c))
            .filter(|(c, _)| options.get(c).is_none_or(|o| o.bury_siblings))
            .map(|(_, note)| note)
            .collect();
        notes.sort();
        notes.dedup();
        Ok(notes)
    }

    /// Undoes the caller's last review of the study day: the card is put back as it was and
    /// the review leaves the log. Called again, it undoes the one before.
    pub async fn undo(&self, who: Principal) -> Result<StudyCard, FlashcardError> {
        let owner = who.user_id;
        let study = self.study_settings(owner).await?;
        let now = self.clock.now();
        let (day_start, _) = study.day.bounds(now);
        let review = self
            .cards
            .last_review(owner, day_start)
            .await?
            .ok_or(FlashcardError::NothingToUndo)?;
        let before = review.card_before.ok_or(FlashcardError::NothingToUndo)?;
        let card = self
            .cards
            .find(owner, review.card_id)
            .await?
            .ok_or(FlashcardError::NothingToUndo)?;
        let reps_now = card.schedule.reps;
        let restored = Flashcard {
            schedule: before.schedule,
            suspended: before.suspended,
            tags: before.tags,
            updated_at: before.updated_at,
            ..card
        };
        if !self
            .cards
            .undo_review(owner, review.id, &restored, reps_now)
            .await?
        {
            return Err(FlashcardError::Conflict);
        }
        self.study(restored, now, &study).await
    }
}

fn chats_of(rooms: &[Room]) -> Vec<ChatId> {
    rooms.iter().map(|r| r.chat).collect()
}

/// Whether a new card comes before a review: new cards are spread evenly over the day, so that
/// the share of new cards studied so far keeps up with their share of the whole day.
fn new_comes_next(left: StudyCounts, done: Studied) -> bool {
    if left.new == 0 {
        return false;
    }
    if left.review == 0 {
        return true;
    }
    // The midpoint rule: the next slot goes to a new card when the new cards shown so far,
    // half a card more, fall short of their share of the slots so far and this one.
    let new_total = (done.new + left.new) as f64;
    let day_total = new_total + (done.review + left.review) as f64;
    (done.new as f64) + 0.5 < new_total / day_total * ((done.new + done.review + 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five new cards among ten reviews come one in three; two among one surround it.
    #[test]
    fn new_cards_are_spread_among_the_reviews() {
        let mut left = StudyCounts {
            new: 5,
            learning: 0,
            review: 10,
        };
        let mut done = Studied::default();
        let mut order = String::new();
        while left.new + left.review > 0 {
            if new_comes_next(left, done) {
                order.push('N');
                left.new -= 1;
                done.new += 1;
            } else {
                order.push('R');
                left.review -= 1;
                done.review += 1;
            }
        }
        assert_eq!(order, "RNRRNRRNRRNRRNR");
    }

    #[test]
    fn two_new_cards_and_one_review_alternate() {
        let left = StudyCounts {
            new: 2,
            learning: 0,
            review: 1,
        };
        assert!(new_comes_next(left, Studied::default()));
        let after_one = Studied {
            new: 1,
            ..Studied::default()
        };
        let left = StudyCounts { new: 1, ..left };
        assert!(!new_comes_next(left, after_one));
    }
}
