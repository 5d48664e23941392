//! Workload planning: what studying at a given pace would cost and keep, day by day, simulated
//! by the memory model (fsrs's simulator) from the caller's cards and parameters.

use chrono::{Duration, NaiveDate};

use super::error::FlashcardError;
use super::scheduling::CardState;
use super::service::Flashcards;
use crate::accounts::Principal;
use crate::chats::ChatId;
use crate::error::{FieldError, ValidationErrors};

/// The longest simulation.
pub const MAX_SIMULATION_DAYS: u32 = 365;
/// The most cards a simulation starts from.
const MAX_SIMULATED_CARDS: u64 = 100_000;

/// A card as the simulator sees it: its memory, when it was last reviewed and when it is due,
/// in days from today.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulatedCard {
    pub stability: f32,
    pub difficulty: f32,
    /// Days since its last review (0 or more).
    pub days_since_review: f32,
    /// Days until it is due (0: today or overdue).
    pub due_in_days: f32,
}

/// What a simulation is asked: the student's cards, their pace and their aim.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub days: u32,
    /// New cards introduced per day, while any are left.
    pub new_per_day: u32,
    /// The most study time per day; `None`: no limit.
    pub max_seconds_per_day: Option<f32>,
    pub desired_retention: f32,
    pub maximum_interval_days: u32,
    /// Cards already studied (with a memory state).
    pub cards: Vec<SimulatedCard>,
    /// Cards not yet studied.
    pub new_cards: u32,
}

/// One simulated day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimulatedDay {
    pub reviews: u32,
    /// New cards studied for the first time.
    pub new: u32,
    /// Study time, seconds.
    pub seconds: f32,
    /// Cards the student would recall if tested on all of them that day (expected).
    pub memorized: f32,
    /// Cards introduced by then (studied before, or new up to that day).
    pub introduced: u32,
}

/// What the caller asks to simulate.
#[derive(Debug, Clone, Default)]
pub struct SimulateInput {
    /// 1–365; default 30.
    pub days: Option<u32>,
    /// 0–9999; default the chat's (or the default) daily limit.
    pub new_per_day: Option<u32>,
    /// 1–1440; default no limit.
    pub minutes_per_day: Option<u32>,
    /// 0.70–0.99; default the chat's or the account's.
    pub desired_retention: Option<f32>,
    /// One chat's cards; default all.
    pub chat: Option<ChatId>,
}

/// A simulation's answer: each day from today.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadPlan {
    pub desired_retention: f32,
    pub new_per_day: u32,
    pub days: Vec<(NaiveDate, SimulatedDay)>,
}

impl Flashcards {
    /// Simulates the caller's next days of study at the pace asked.
    pub async fn simulate(
        &self,
        who: Principal,
        input: SimulateInput,
    ) -> Result<WorkloadPlan, FlashcardError> {
        let owner = who.user_id;
        let mut errors = ValidationErrors::new();
        let days = input.days.unwrap_or(30);
        if !(1..=MAX_SIMULATION_DAYS).contains(&days) {
            errors.push(FieldError::new(
                "days",
                format!("must be between 1 and {MAX_SIMULATION_DAYS}"),
            ));
        }
        if input
            .new_per_day
            .is_some_and(|n| n > super::options::MAX_DAILY_LIMIT)
        {
            errors.push(FieldError::new("new_per_day", "must be between 0 and 9999"));
        }
        if input
            .minutes_per_day
            .is_some_and(|m| !(1..=1440).contains(&m))
        {
            errors.push(FieldError::new(
                "minutes_per_day",
                "must be between 1 and 1440",
            ));
        }
        if input
            .desired_retention
            .is_some_and(|r| !(0.70..=0.99).contains(&r))
        {
            errors.push(FieldError::new(
                "desired_retention",
                "must be between 0.70 and 0.99",
            ));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let options = match input.chat {
            Some(chat) => {
                self.own_chat(who, chat).await?;
                self.cards.options(owner, chat).await?.unwrap_or_default()
            }
            None => super::options::StudyOptions::default(),
        };
        let settings = self.study_settings(owner).await?;
        let now = self.clock.now();
        let today = settings.day.date_of(now);
        let desired_retention = input
            .desired_retention
            .or(options.desired_retention)
            .unwrap_or(settings.desired_retention);
        let new_per_day = input.new_per_day.unwrap_or(options.new_per_day);
        let mut simulation = Simulation {
            days,
            new_per_day,
            max_seconds_per_day: input.minutes_per_day.map(|m| m as f32 * 60.0),
            desired_retention,
            maximum_interval_days: options.maximum_interval_days,
            cards: Vec::new(),
            new_cards: 0,
        };
        let cards = self
            .cards
            .due(
                owner,
                input.chat,
                now + Duration::days(2 * 36_500),
                MAX_SIMULATED_CARDS,
            )
            .await?;
        for card in cards {
            let s = &card.schedule;
            match (s.state, s.memory, s.last_reviewed_at) {
                (CardState::New, _, _) | (_, None, _) | (_, _, None) => simulation.new_cards += 1,
                (_, Some(memory), Some(last)) => simulation.cards.push(SimulatedCard {
                    stability: memory.stability,
                    difficulty: memory.difficulty,
                    days_since_review: (now - last).num_seconds().max(0) as f32 / 86_400.0,
                    due_in_days: ((s.due - now).num_seconds().max(0) as f32 / 86_400.0).floor(),
                }),
            }
        }
        let planned = if simulation.cards.is_empty() && simulation.new_cards == 0 {
            // Nothing to study: every day is free.
            vec![
                SimulatedDay {
                    reviews: 0,
                    new: 0,
                    seconds: 0.0,
                    memorized: 0.0,
                    introduced: 0,
                };
                days as usize
            ]
        } else {
            let model = self.model.clone();
            let parameters = settings.parameters.clone();
            tokio::task::spawn_blocking(move || model.simulate(&parameters, &simulation))
                .await
                .map_err(|e| FlashcardError::Scheduling(e.to_string()))?
                .map_err(FlashcardError::Scheduling)?
        };
        Ok(WorkloadPlan {
            desired_retention,
            new_per_day,
            days: planned
                .into_iter()
                .enumerate()
                .map(|(i, day)| (today + Duration::days(i as i64), day))
                .collect(),
        })
    }
}

/// What a chat's exam should look like if the student keeps to the schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ExamForecast {
    pub exam_date: NaiveDate,
    /// Study days from today to the exam day (0: today).
    pub days_left: i64,
    /// The desired retention the chat's cards are scheduled with today.
    pub desired_retention: f32,
    /// The simulated days from today to the exam day.
    pub plan: WorkloadPlan,
    /// On the exam day, the expected share of the chat's cards recalled (of those studied by
    /// then); `None` when nothing will have been studied, or the exam is more than a year away.
    pub expected_retention: Option<f32>,
    /// Cards studied by the exam day.
    pub cards_by_exam: u32,
}

impl Flashcards {
    /// The chat's exam as the schedule leads to it: the simulated workload until the exam day
    /// at the chat's pace and today's desired retention, and the expected retention on the day.
    pub async fn exam_forecast(
        &self,
        who: Principal,
        chat: ChatId,
    ) -> Result<ExamForecast, FlashcardError> {
        self.own_chat(who, chat).await?;
        let owner = who.user_id;
        let options = self.cards.options(owner, chat).await?.unwrap_or_default();
        let Some(exam_date) = options.exam_date else {
            return Err(ValidationErrors::single(
                "chat_id",
                "the chat has no exam date: set `exam_date` in its study options",
            )
            .into());
        };
        let settings = self.study_settings(owner).await?;
        let now = self.clock.now();
        let days_left = (exam_date - settings.day.date_of(now)).num_days();
        let desired_retention =
            options.desired_retention_at(settings.desired_retention, &settings.day, now);
        let horizon = u32::try_from(days_left + 1)
            .unwrap_or(0)
            .clamp(1, MAX_SIMULATION_DAYS);
        let plan = self
            .simulate(
                who,
                SimulateInput {
                    days: Some(horizon),
                    desired_retention: Some(desired_retention.clamp(0.70, 0.99)),
                    chat: Some(chat),
                    ..SimulateInput::default()
                },
            )
            .await?;
        let on_exam = plan
            .days
            .iter()
            .find(|(date, _)| *date == exam_date)
            .map(|(_, day)| *day);
        Ok(ExamForecast {
            exam_date,
            days_left,
            desired_retention,
            expected_retention: on_exam
                .filter(|day| day.introduced > 0)
                .map(|day| day.memorized / day.introduced as f32),
            cards_by_exam: on_exam.map_or(0, |day| day.introduced),
            plan,
        })
    }
}
