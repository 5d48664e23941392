//! The caller's study at a glance, counted in their study days: what is due, what was studied
//! today and in the last 30 days, true retention (overall and by how long cards were
//! remembered) and the workload of the next 30 days as scheduled now.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Duration, NaiveDate};

use super::error::FlashcardError;
use super::scheduling::{CardState, Rating};
use super::service::Flashcards;
use crate::accounts::Principal;
use crate::chats::ChatId;

/// The days a forecast and the review history cover.
pub const STATS_DAYS: i64 = 30;
/// The most cards a forecast reads.
const FORECAST_CARDS: u64 = 100_000;

/// The cards due on one study day, as scheduled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForecastDay {
    pub date: NaiveDate,
    /// New cards that day at each chat's daily limit, while there are any.
    pub new: u64,
    pub learning: u64,
    /// Review cards due that day (today's include those overdue).
    pub review: u64,
}

/// True retention of reviews of cards held for `min_days` to `max_days` days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetentionBucket {
    pub min_days: u32,
    /// `None`: no upper bound.
    pub max_days: Option<u32>,
    pub reviews: u64,
    /// The share not answered `again`; `None` without reviews.
    pub retention: Option<f32>,
}

/// The interval buckets: a week, up to Anki's maturity (21 days), a season, longer.
const BUCKETS: [(u32, Option<u32>); 4] = [(0, Some(6)), (7, Some(20)), (21, Some(89)), (90, None)];

/// The caller's study at a glance.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyStats {
    pub due_now: u64,
    /// Due before the study day ends.
    pub due_today: u64,
    pub total_cards: u64,
    pub new_cards: u64,
    pub reviews_today: u64,
    /// Different cards reviewed today.
    pub studied_today: u64,
    /// Time spent on today's reviews (as the clients reported it).
    pub time_today_ms: u64,
    /// Reviews per study day, the last 30 days, oldest first.
    pub reviews_per_day: Vec<(NaiveDate, u64)>,
    /// Of the reviews of cards in review (not learning), the share not answered `again`, over
    /// the last 30 days; `None` before there is any.
    pub true_retention: Option<f32>,
    pub retention_reviews: u64,
    /// True retention by the days a card had been remembered (its interval when reviewed).
    pub retention_by_interval: Vec<RetentionBucket>,
    /// Today and the next 29 study days.
    pub forecast: Vec<ForecastDay>,
    pub desired_retention: f32,
}

impl Flashcards {
    /// Due counts, today's study, the last 30 days and the next 30, in the caller's study days.
    pub async fn stats(&self, who: Principal) -> Result<StudyStats, FlashcardError> {
        let owner = who.user_id;
        let now = self.clock.now();
        let settings = self.study_settings(owner).await?;
        let day = settings.day;
        let today = day.date_of(now);
        let (day_start, day_end) = day.bounds(now);
        let first_day = today - Duration::days(STATS_DAYS - 1);
        let reviews = self
            .cards
            .reviews_since(owner, Some(day.start_of(first_day)))
            .await?;
        let mut per_day: BTreeMap<NaiveDate, u64> = (0..STATS_DAYS)
            .map(|i| (first_day + Duration::days(i), 0))
            .collect();
        let (mut mature, mut recalled) = (0u64, 0u64);
        let mut buckets = [(0u64, 0u64); BUCKETS.len()];
        let mut studied = HashSet::new();
        let mut time_today_ms = 0u64;
        for review in &reviews {
            *per_day.entry(day.date_of(review.reviewed_at)).or_default() += 1;
            if review.reviewed_at >= day_start {
                studied.insert(review.card_id);
                time_today_ms += u64::from(review.duration_ms.unwrap_or(0));
            }
            if review.state_before == CardState::Review {
                let kept = u64::from(review.rating != Rating::Again);
                mature += 1;
                recalled += kept;
                let bucket = BUCKETS
                    .iter()
                    .position(|(min, max)| {
                        review.elapsed_days >= *min && max.is_none_or(|m| review.elapsed_days <= m)
                    })
                    .unwrap_or(BUCKETS.len() - 1);
                buckets[bucket].0 += 1;
                buckets[bucket].1 += kept;
            }
        }
        let (total_cards, new_cards) = self.cards.count_cards(owner).await?;
        Ok(StudyStats {
            due_now: self.cards.count_due(owner, now).await?,
            due_today: self.cards.count_due(owner, day_end).await?,
            total_cards,
            new_cards,
            reviews_today: per_day.get(&today).copied().unwrap_or(0),
            studied_today: studied.len() as u64,
            time_today_ms,
            reviews_per_day: per_day.into_iter().collect(),
            true_retention: share(recalled, mature),
            retention_reviews: mature,
            retention_by_interval: BUCKETS
                .iter()
                .zip(buckets)
                .map(|((min_days, max_days), (n, kept))| RetentionBucket {
                    min_days: *min_days,
                    max_days: *max_days,
                    reviews: n,
                    retention: share(kept, n),
                })
                .collect(),
            forecast: self.forecast(who, today).await?,
            desired_retention: settings.desired_retention,
        })
    }

    /// The next 30 study days from `today`: cards due each day as scheduled now (no future
    /// answers are guessed), new cards at each chat's daily limit while any are left.
    async fn forecast(
        &self,
        who: Principal,
        today: NaiveDate,
    ) -> Result<Vec<ForecastDay>, FlashcardError> {
        let owner = who.user_id;
        let day = self.study_settings(owner).await?.day;
        let mut days: Vec<ForecastDay> = (0..STATS_DAYS)
            .map(|i| ForecastDay {
                date: today + Duration::days(i),
                new: 0,
                learning: 0,
                review: 0,
            })
            .collect();
        let horizon = day.start_of(today + Duration::days(STATS_DAYS));
        for card in self.cards.due(owner, None, horizon, FORECAST_CARDS).await? {
            let index = (day.date_of(card.schedule.due) - today).num_days().max(0) as usize;
            let Some(slot) = days.get_mut(index) else {
                continue;
            };
            match card.schedule.state {
                CardState::New => {}
                CardState::Learning | CardState::Relearning => slot.learning += 1,
                CardState::Review => slot.review += 1,
            }
        }
        // New cards per chat, introduced at the chat's daily limit.
        let options: HashMap<ChatId, super::options::StudyOptions> =
            self.cards.all_options(owner).await?.into_iter().collect();
        let now = self.clock.now();
        let done: HashMap<ChatId, u64> = self
            .cards
            .studied_since(owner, None, day.bounds(now).0)
            .await?
            .into_iter()
            .map(|(chat, studied)| (chat, studied.new))
            .collect();
        for counts in self
            .cards
            .queue_counts(owner, None, (now, now), &[])
            .await?
        {
            let per_day = u64::from(
                options
                    .get(&counts.chat)
                    .map_or(super::options::StudyOptions::default().new_per_day, |o| {
                        o.new_per_day
                    }),
            );
            let mut left = counts.new;
            for (i, slot) in days.iter_mut().enumerate() {
                // Today's room is what today's new cards left of it.
                let room = match i {
                    0 => per_day.saturating_sub(done.get(&counts.chat).copied().unwrap_or(0)),
                    _ => per_day,
                };
                let take = left.min(room);
                slot.new += take;
                left -= take;
            }
        }
        Ok(days)
    }
}

fn share(part: u64, whole: u64) -> Option<f32> {
    (whole > 0).then(|| part as f32 / whole as f32)
}
