//! Spaced-repetition scheduling: FSRS memory states (from a [`MemoryModel`], the `fsrs` crate in
//! production) driven through learning and relearning steps, as Anki does.
//!
//! A new card goes through short learning steps (1 and 10 minutes) before its first interval in
//! days; a forgotten review card goes through a 10-minute relearning step. Every review, whatever
//! the state, updates the card's FSRS memory state (stability, difficulty) with the days elapsed
//! since its last review, so the model sees every answer.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How well the student recalled the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rating {
    Again,
    Hard,
    Good,
    Easy,
}

impl Rating {
    pub const ALL: [Rating; 4] = [Rating::Again, Rating::Hard, Rating::Good, Rating::Easy];

    /// FSRS's number for it: 1–4.
    pub fn number(self) -> u32 {
        match self {
            Rating::Again => 1,
            Rating::Hard => 2,
            Rating::Good => 3,
            Rating::Easy => 4,
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "again" => Some(Rating::Again),
            "hard" => Some(Rating::Hard),
            "good" => Some(Rating::Good),
            "easy" => Some(Rating::Easy),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rating::Again => "again",
            Rating::Hard => "hard",
            Rating::Good => "good",
            Rating::Easy => "easy",
        }
    }
}

/// Where a card is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    New,
    Learning,
    Review,
    Relearning,
}

impl CardState {
    pub fn as_str(self) -> &'static str {
        match self {
            CardState::New => "new",
            CardState::Learning => "learning",
            CardState::Review => "review",
            CardState::Relearning => "relearning",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "new" => Some(CardState::New),
            "learning" => Some(CardState::Learning),
            "review" => Some(CardState::Review),
            "relearning" => Some(CardState::Relearning),
            _ => None,
        }
    }
}

/// FSRS's model of one memory: how long it lasts (days until recall falls to 90 %) and how hard
/// the card is (1–10).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MemoryState {
    pub stability: f32,
    pub difficulty: f32,
}

/// A memory state and the interval (days) that reaches the desired retention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NextState {
    pub memory: MemoryState,
    pub interval_days: f32,
}

/// The FSRS model: the next memory state for each rating.
pub trait MemoryModel: Send + Sync {
    /// One next state per rating (again, hard, good, easy), from `memory` (`None` for a new card)
    /// after `days_elapsed` days, with the user's `parameters` (empty: the defaults).
    fn next_states(
        &self,
        parameters: &[f32],
        memory: Option<MemoryState>,
        desired_retention: f32,
        days_elapsed: u32,
    ) -> Result<[NextState; 4], String>;

    /// Fits parameters to review histories: one per card, each review's rating and the whole
    /// days since the card's previous review (0 for the first). Slow: run it off the async
    /// workers.
    fn optimize(&self, histories: &[Vec<(Rating, u32)>]) -> Result<Vec<f32>, String>;

    /// The memory state after each review of a history (each review's rating and the whole
    /// days since the one before, 0 for the first), with the user's `parameters`: what an
    /// imported review log leaves a card with. The default replays [`Self::next_states`].
    fn memory_states(
        &self,
        parameters: &[f32],
        history: &[(Rating, u32)],
    ) -> Result<Vec<MemoryState>, String> {
        let mut memory: Option<MemoryState> = None;
        let mut states = Vec::with_capacity(history.len());
        for (rating, days) in history {
            let next = self.next_states(parameters, memory, 0.9, *days)?;
            let state = next[(rating.number() - 1) as usize].memory;
            states.push(state);
            memory = Some(state);
        }
        Ok(states)
    }

    /// The memory state of a card reviewed by SM-2 (Anki's scheduler before FSRS) without a
    /// review log: from its interval in days and ease factor (permille, 2500 = 250%), as Anki
    /// estimates it when a collection switches to FSRS. The default takes the interval as the
    /// stability and a middling difficulty.
    fn memory_from_interval(
        &self,
        parameters: &[f32],
        interval_days: u32,
        ease_permille: u32,
        retention: f32,
    ) -> Result<MemoryState, String> {
        let _ = (parameters, ease_permille, retention);
        Ok(MemoryState {
            stability: interval_days.max(1) as f32,
            difficulty: 5.0,
        })
    }

    /// Simulates a student studying `simulation.cards` and new cards for the days asked, with
    /// the user's `parameters` (empty: the defaults); one entry per day. Deterministic for the
    /// same input. Slow for large decks: run it off the async workers.
    fn simulate(
        &self,
        parameters: &[f32],
        simulation: &super::simulate::Simulation,
    ) -> Result<Vec<super::simulate::SimulatedDay>, String> {
        let _ = (parameters, simulation);
        Err("this memory model cannot simulate".into())
    }
}

/// A card's scheduling state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub state: CardState,
    pub memory: Option<MemoryState>,
    pub due: DateTime<Utc>,
    pub reps: u32,
    pub lapses: u32,
    /// The learning or relearning step the card is on.
    pub step: u32,
    pub last_reviewed_at: Option<DateTime<Utc>>,
}

impl Schedule {
    /// A card nobody has studied yet: due at once.
    pub fn new_card(now: DateTime<Utc>) -> Self {
        Self {
            state: CardState::New,
            memory: None,
            due: now,
            reps: 0,
            lapses: 0,
            step: 0,
            last_reviewed_at: None,
        }
    }
}

/// The steps and limits of scheduling.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerSettings {
    pub learning_steps: Vec<Duration>,
    pub relearning_steps: Vec<Duration>,
    pub maximum_interval_days: u32,
    /// When the exam begins: a review interval that would end after it ends the day before it
    /// instead, when that is still in the future by a day or more.
    pub exam: Option<DateTime<Utc>>,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            learning_steps: vec![Duration::minutes(1), Duration::minutes(10)],
            relearning_steps: vec![Duration::minutes(10)],
            maximum_interval_days: 36_500,
            exam: None,
        }
    }
}

/// Schedules reviews: FSRS for memory, steps for the first minutes.
pub struct Scheduler<'a> {
    pub model: &'a dyn MemoryModel,
    pub settings: &'a SchedulerSettings,
    pub desired_retention: f32,
    /// The user's FSRS parameters; empty for the defaults.
    pub parameters: &'a [f32],
}

impl Scheduler<'_> {
    fn days_elapsed(schedule: &Schedule, now: DateTime<Utc>) -> u32 {
        schedule
            .last_reviewed_at
            .map(|last| (now - last).num_days().max(0) as u32)
            .unwrap_or(0)
    }

    /// Interval in whole days for each rating, kept in order (hard ≤ good ≤ easy) and ≥ 1.
    fn review_days(&self, next: &[NextState; 4]) -> [u32; 4] {
        let max = self.settings.maximum_interval_days.max(1);
        let days = |x: f32| (x.round().max(1.0) as u32).min(max);
        let hard = days(next[1].interval_days);
        let good = days(next[2].interval_days).max(hard + 1).min(max);
        let easy = days(next[3].interval_days).max(good + 1).min(max);
        [days(next[0].interval_days), hard, good, easy]
    }

    /// The card after `rating` at `now`.
    pub fn review(
        &self,
        schedule: &Schedule,
        rating: Rating,
        now: DateTime<Utc>,
    ) -> Result<Schedule, String> {
        let next = self.model.next_states(
            self.parameters,
            schedule.memory,
            self.desired_retention,
            Self::days_elapsed(schedule, now),
        )?;
        let index = rating.number() as usize - 1;
        let review_days = self.review_days(&next);
        let mut out = Schedule {
            memory: Some(next[index].memory),
            reps: schedule.reps + 1,
            last_reviewed_at: Some(now),
            ..*schedule
        };
        let exam = self.settings.exam;
        let to_review = |out: &mut Schedule| {
            out.state = CardState::Review;
            out.step = 0;
            out.due = now + Duration::days(i64::from(review_days[index]));
            // Never past the exam when a review before it fits: the day before it.
            if let Some(exam) = exam
                && out.due > exam
                && exam - now > Duration::days(1)
            {
                out.due = exam - Duration::days(1);
            }
        };
        let steps = |state| match state {
            CardState::Relearning => &self.settings.relearning_steps,
            _ => &self.settings.learning_steps,
        };
        match schedule.state {
            CardState::New | CardState::Learning | CardState::Relearning => {
                let state = if schedule.state == CardState::Relearning {
                    CardState::Relearning
                } else {
                    CardState::Learning
                };
                let steps = steps(state);
                match rating {
                    Rating::Again if !steps.is_empty() => {
                        out.state = state;
                        out.step = 0;
                        out.due = now + steps[0];
                    }
                    Rating::Hard if !steps.is_empty() => {
                        // Between this step and the next (Anki: the average of the first two).
                        let step = (schedule.step as usize).min(steps.len() - 1);
                        let wait = match steps.get(step + 1) {
                            Some(next) if step == 0 => (steps[step] + *next) / 2,
                            _ => steps[step] + steps[step] / 2,
                        };
                        out.state = state;
                        out.due = now + wait;
                    }
                    Rating::Good if (schedule.step as usize + 1) < steps.len() => {
                        out.state = state;
                        out.step = schedule.step + 1;
                        out.due = now + steps[out.step as usize];
                    }
                    _ => to_review(&mut out),
                }
            }
            CardState::Review => match rating {
                Rating::Again => {
                    out.lapses = schedule.lapses + 1;
                    match self.settings.relearning_steps.first() {
                        Some(first) => {
                            out.state = CardState::Relearning;
                            out.step = 0;
                            out.due = now + *first;
                        }
                        None => to_review(&mut out),
                    }
                }
                _ => to_review(&mut out),
            },
        }
        Ok(out)
    }

    /// When the card would be due after each rating (again, hard, good, easy), from `now`.
    pub fn preview(
        &self,
        schedule: &Schedule,
        now: DateTime<Utc>,
    ) -> Result<[Duration; 4], String> {
        let mut out = [Duration::zero(); 4];
        for (slot, rating) in out.iter_mut().zip(Rating::ALL) {
            *slot = self.review(schedule, rating, now)?.due - now;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in model: stability grows with the rating, the interval equals the stability.
    struct Linear;

    impl MemoryModel for Linear {
        fn next_states(
            &self,
            _parameters: &[f32],
            memory: Option<MemoryState>,
            _retention: f32,
            _days: u32,
        ) -> Result<[NextState; 4], String> {
            let base = memory.map_or(1.0, |m| m.stability);
            Ok([0.5, 1.0, 2.0, 4.0].map(|factor| NextState {
                memory: MemoryState {
                    stability: base * factor,
                    difficulty: 5.0,
                },
                interval_days: base * factor,
            }))
        }

        fn optimize(&self, _histories: &[Vec<(Rating, u32)>]) -> Result<Vec<f32>, String> {
            Err("not a real model".into())
        }
    }

    fn scheduler<'a>(settings: &'a SchedulerSettings) -> Scheduler<'a> {
        Scheduler {
            model: &Linear,
            settings,
            desired_retention: 0.9,
            parameters: &[],
        }
    }

    #[test]
    fn a_new_card_goes_through_the_learning_steps_then_to_review() {
        let settings = SchedulerSettings::default();
        let s = scheduler(&settings);
        let t0 = DateTime::UNIX_EPOCH;
        let card = Schedule::new_card(t0);
        let again = s.review(&card, Rating::Again, t0).unwrap();
        assert_eq!(
            (again.state, again.due - t0),
            (CardState::Learning, Duration::minutes(1))
        );
        let hard = s.review(&card, Rating::Hard, t0).unwrap();
        assert_eq!(
            hard.due - t0,
            Duration::seconds(330),
            "halfway between 1 and 10 minutes"
        );
        let good = s.review(&card, Rating::Good, t0).unwrap();
        assert_eq!(
            (good.state, good.step, good.due - t0),
            (CardState::Learning, 1, Duration::minutes(10))
        );
        let graduated = s
            .review(&good, Rating::Good, t0 + Duration::minutes(10))
            .unwrap();
        assert_eq!(graduated.state, CardState::Review);
        assert!(graduated.due - (t0 + Duration::minutes(10)) >= Duration::days(1));
        let easy = s.review(&card, Rating::Easy, t0).unwrap();
        assert_eq!(easy.state, CardState::Review);
        assert_eq!(easy.reps, 1);
    }

    #[test]
    fn forgetting_a_review_card_is_a_lapse_and_relearning() {
        let settings = SchedulerSettings::default();
        let s = scheduler(&settings);
        let t0 = DateTime::UNIX_EPOCH;
        let card = s.review(&Schedule::new_card(t0), Rating::Easy, t0).unwrap();
        let later = card.due;
        let lapsed = s.review(&card, Rating::Again, later).unwrap();
        assert_eq!((lapsed.state, lapsed.lapses), (CardState::Relearning, 1));
        assert_eq!(lapsed.due - later, Duration::minutes(10));
        let back = s
            .review(&lapsed, Rating::Good, later + Duration::minutes(10))
            .unwrap();
        assert_eq!(back.state, CardState::Review);
        assert_eq!(back.lapses, 1);
    }

    #[test]
    fn review_intervals_are_ordered_and_capped() {
        let settings = SchedulerSettings {
            maximum_interval_days: 30,
            ..SchedulerSettings::default()
        };
        let s = scheduler(&settings);
        let t0 = DateTime::UNIX_EPOCH;
        let mut card = s.review(&Schedule::new_card(t0), Rating::Easy, t0).unwrap();
        for _ in 0..10 {
            card = s.review(&card, Rating::Easy, card.due).unwrap();
        }
        // At the cap every rating but `again` lands on the maximum.
        let preview = s.preview(&card, card.due).unwrap();
        assert!(preview[1] <= preview[2] && preview[2] <= preview[3]);
        assert_eq!(preview[3], Duration::days(30));
        assert_eq!(preview[0], Duration::minutes(10));
        // Below it they are strictly ordered, even when the model gives equal intervals.
        let young = s.review(&Schedule::new_card(t0), Rating::Easy, t0).unwrap();
        let preview = s.preview(&young, young.due).unwrap();
        assert!(
            preview[1] < preview[2] && preview[2] < preview[3],
            "{preview:?}"
        );
    }

    /// A review interval that would pass the exam ends the day before it, when that is more
    /// than a day away; otherwise (and after the exam) intervals are left alone.
    #[test]
    fn reviews_land_before_the_exam_when_one_fits() {
        let t0 = DateTime::UNIX_EPOCH;
        let exam = t0 + Duration::days(5);
        let settings = SchedulerSettings {
            learning_steps: Vec::new(),
            exam: Some(exam),
            ..SchedulerSettings::default()
        };
        let s = scheduler(&settings);
        let card = s.review(&Schedule::new_card(t0), Rating::Easy, t0).unwrap();
        // Linear gives 4 days for easy: before the exam, untouched.
        assert_eq!(card.due, t0 + Duration::days(4));
        let later = s.review(&card, Rating::Easy, card.due).unwrap();
        // 16 days would pass the exam; a day before it is still 1 day ahead of the review: no.
        assert_eq!(later.due, card.due + Duration::days(16));
        let early = s
            .review(&card, Rating::Easy, t0 + Duration::hours(12))
            .unwrap();
        assert_eq!(early.due, exam - Duration::days(1), "moved before the exam");
        let after = s
            .review(&card, Rating::Easy, exam + Duration::days(1))
            .unwrap();
        assert_eq!(
            after.due,
            exam + Duration::days(17),
            "after the exam, as usual"
        );
    }

    #[test]
    fn ratings_parse_and_print() {
        for rating in Rating::ALL {
            assert_eq!(Rating::parse(rating.as_str()), Some(rating));
        }
        assert_eq!(Rating::parse("perfect"), None);
    }
}
