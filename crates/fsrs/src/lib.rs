//! The FSRS-6 memory model on the `fsrs` crate (the scheduler Anki uses), behind the domain's
//! [`MemoryModel`] port.

use flashforge_domain::flashcards::{
    MemoryModel, MemoryState, NextState, Rating, SimulatedDay, Simulation,
};

/// FSRS-6. Each call takes the user's parameters (building the model from 21 numbers costs
/// less than a microsecond); the defaults are kept ready.
pub struct FsrsModel {
    fsrs: fsrs::FSRS,
}

impl FsrsModel {
    /// The model with FSRS-6's default parameters.
    pub fn new() -> Result<Self, String> {
        Self::with_parameters(&[])
    }

    /// The model with `parameters`; an empty slice means FSRS-6's defaults.
    pub fn with_parameters(parameters: &[f32]) -> Result<Self, String> {
        fsrs::FSRS::new(parameters)
            .map(|fsrs| Self { fsrs })
            .map_err(|e| format!("invalid FSRS parameters: {e}"))
    }

    /// FSRS-6's default parameters.
    pub fn default_parameters() -> Vec<f32> {
        fsrs::DEFAULT_PARAMETERS.to_vec()
    }

    /// Runs `f` on the model with `parameters` (this one for the defaults, an empty slice).
    fn with_model<T>(
        &self,
        parameters: &[f32],
        f: impl FnOnce(&fsrs::FSRS) -> Result<T, String>,
    ) -> Result<T, String> {
        if parameters.is_empty() {
            f(&self.fsrs)
        } else {
            f(&Self::with_parameters(parameters)?.fsrs)
        }
    }
}

fn to_fsrs(memory: MemoryState) -> fsrs::MemoryState {
    fsrs::MemoryState {
        stability: memory.stability,
        difficulty: memory.difficulty,
    }
}

fn from_fsrs(state: &fsrs::ItemState) -> NextState {
    NextState {
        memory: MemoryState {
            stability: state.memory.stability,
            difficulty: state.memory.difficulty,
        },
        interval_days: state.interval,
    }
}

/// The training items of histories: every prefix of a card's reviews that ends in a review on a
/// later day (what FSRS learns to predict).
pub fn training_items(histories: &[Vec<(Rating, u32)>]) -> Vec<fsrs::FSRSItem> {
    let mut items = Vec::new();
    for history in histories {
        let reviews: Vec<fsrs::FSRSReview> = history
            .iter()
            .map(|(rating, days)| fsrs::FSRSReview {
                rating: rating.number(),
                delta_t: *days,
            })
            .collect();
        for end in 1..reviews.len() {
            if reviews[end].delta_t > 0 {
                items.push(fsrs::FSRSItem {
                    reviews: reviews[..=end].to_vec(),
                });
            }
        }
    }
    items
}

impl MemoryModel for FsrsModel {
    fn optimize(&self, histories: &[Vec<(Rating, u32)>]) -> Result<Vec<f32>, String> {
        let train_set = training_items(histories);
        fsrs::compute_parameters(fsrs::ComputeParametersInput {
            train_set,
            ..fsrs::ComputeParametersInput::default()
        })
        .map_err(|e| format!("the FSRS optimizer failed: {e}"))
    }

    fn memory_states(
        &self,
        parameters: &[f32],
        history: &[(Rating, u32)],
    ) -> Result<Vec<MemoryState>, String> {
        let item = fsrs::FSRSItem {
            reviews: history
                .iter()
                .map(|(rating, days)| fsrs::FSRSReview {
                    rating: rating.number(),
                    delta_t: *days,
                })
                .collect(),
        };
        let states = self.with_model(parameters, |fsrs| {
            fsrs.historical_memory_states(item, None)
                .map_err(|e| format!("FSRS could not replay this history: {e}"))
        })?;
        Ok(states
            .into_iter()
            .map(|m| MemoryState {
                stability: m.stability,
                difficulty: m.difficulty,
            })
            .collect())
    }

    fn memory_from_interval(
        &self,
        parameters: &[f32],
        interval_days: u32,
        ease_permille: u32,
        retention: f32,
    ) -> Result<MemoryState, String> {
        // Anki's default ease (250%) for a card that has none.
        let ease = if ease_permille == 0 {
            2.5
        } else {
            ease_permille as f32 / 1000.0
        };
        let m = self.with_model(parameters, |fsrs| {
            fsrs.memory_state_from_sm2(ease, interval_days.max(1) as f32, retention)
                .map_err(|e| format!("FSRS could not estimate this card's memory: {e}"))
        })?;
        Ok(MemoryState {
            stability: m.stability,
            difficulty: m.difficulty,
        })
    }

    fn next_states(
        &self,
        parameters: &[f32],
        memory: Option<MemoryState>,
        desired_retention: f32,
        days_elapsed: u32,
    ) -> Result<[NextState; 4], String> {
        let custom;
        let fsrs = if parameters.is_empty() {
            &self.fsrs
        } else {
            custom = Self::with_parameters(parameters)?;
            &custom.fsrs
        };
        let next = fsrs
            .next_states(memory.map(to_fsrs), desired_retention, days_elapsed)
            .map_err(|e| format!("FSRS could not schedule this card: {e}"))?;
        Ok([
            from_fsrs(&next.again),
            from_fsrs(&next.hard),
            from_fsrs(&next.good),
            from_fsrs(&next.easy),
        ])
    }

    fn simulate(
        &self,
        parameters: &[f32],
        simulation: &Simulation,
    ) -> Result<Vec<SimulatedDay>, String> {
        let parameters = if parameters.is_empty() {
            Self::default_parameters()
        } else {
            parameters.to_vec()
        };
        let filled = std::sync::Arc::new(
            fsrs::check_and_fill_parameters(&parameters)
                .map_err(|e| format!("invalid FSRS parameters: {e}"))?,
        );
        let existing: Vec<fsrs::Card> = simulation
            .cards
            .iter()
            .enumerate()
            .map(|(i, card)| fsrs::Card {
                id: i as i64 + 1,
                difficulty: card.difficulty,
                stability: card.stability,
                last_date: -card.days_since_review,
                due: card.due_in_days,
                interval: card.due_in_days + card.days_since_review,
                lapses: 0,
                desired_retention: simulation.desired_retention,
                parameters: filled.clone(),
            })
            .collect();
        let deck_size = existing.len() + simulation.new_cards as usize;
        let config = fsrs::SimulatorConfig {
            deck_size,
            learn_span: simulation.days as usize,
            max_cost_perday: simulation.max_seconds_per_day.unwrap_or(f32::MAX),
            max_ivl: simulation.maximum_interval_days as f32,
            learn_limit: simulation.new_per_day as usize,
            review_limit: usize::MAX,
            ..fsrs::SimulatorConfig::default()
        };
        let result = fsrs::simulate(
            &config,
            &parameters,
            simulation.desired_retention,
            Some(42),
            Some(existing),
        )
        .map_err(|e| format!("the FSRS simulator failed: {e}"))?;
        Ok((0..simulation.days as usize)
            .map(|day| SimulatedDay {
                reviews: result.review_cnt_per_day.get(day).copied().unwrap_or(0) as u32,
                new: result.learn_cnt_per_day.get(day).copied().unwrap_or(0) as u32,
                seconds: result.cost_per_day.get(day).copied().unwrap_or(0.0),
                memorized: result
                    .memorized_cnt_per_day
                    .get(day)
                    .copied()
                    .unwrap_or(0.0),
                introduced: result.introduced_cnt_per_day.get(day).copied().unwrap_or(0) as u32,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulation(new_cards: u32, minutes: Option<u32>) -> Simulation {
        Simulation {
            days: 30,
            new_per_day: 10,
            max_seconds_per_day: minutes.map(|m| m as f32 * 60.0),
            desired_retention: 0.9,
            maximum_interval_days: 36_500,
            cards: vec![flashforge_domain::flashcards::SimulatedCard {
                stability: 5.0,
                difficulty: 5.0,
                days_since_review: 5.0,
                due_in_days: 0.0,
            }],
            new_cards,
        }
    }

    /// New cards come at the daily pace until none are left; a time budget slows them; the same
    /// simulation gives the same days.
    #[test]
    fn the_simulator_paces_new_cards_and_is_repeatable() {
        let model = FsrsModel::new().unwrap();
        let days = model.simulate(&[], &simulation(55, None)).unwrap();
        assert_eq!(days.len(), 30);
        let new: Vec<u32> = days.iter().map(|d| d.new).collect();
        assert_eq!(&new[..7], [10, 10, 10, 10, 10, 5, 0]);
        assert_eq!(days[29].introduced, 56, "55 new and the one studied before");
        assert!(
            days.iter()
                .all(|d| d.memorized <= d.introduced as f32 + 1e-3)
        );
        assert!(days[0].reviews >= 1, "the card due today is reviewed");
        assert_eq!(days, model.simulate(&[], &simulation(55, None)).unwrap());
        let tight = model.simulate(&[], &simulation(55, Some(2))).unwrap();
        let learned = |days: &[SimulatedDay]| days.iter().take(3).map(|d| d.new).sum::<u32>();
        assert!(learned(&tight) < learned(&days), "{tight:?}");
    }
    use chrono::{DateTime, Duration};
    use flashforge_domain::flashcards::{Rating, Schedule, Scheduler, SchedulerSettings};

    /// The scheduler driven by this model reaches, for a fixed review sequence, exactly the
    /// memory state the fsrs crate computes from the whole history at once.
    #[test]
    fn a_fixed_review_sequence_matches_the_fsrs_crate() {
        let model = FsrsModel::new().unwrap();
        let settings = SchedulerSettings::default();
        let scheduler = Scheduler {
            model: &model,
            settings: &settings,
            desired_retention: 0.9,
            parameters: &[],
        };
        // (days after the previous review, rating): learning steps the first day, then reviews
        // with a lapse and its relearning.
        let sequence = [
            (0, Rating::Good),
            (0, Rating::Good),
            (3, Rating::Good),
            (8, Rating::Hard),
            (20, Rating::Again),
            (0, Rating::Good),
            (4, Rating::Easy),
            (15, Rating::Good),
        ];
        let mut at = DateTime::UNIX_EPOCH;
        let mut card = Schedule::new_card(at);
        let mut history = Vec::new();
        for (days, rating) in sequence {
            at += Duration::days(days) + Duration::minutes(10);
            card = scheduler.review(&card, rating, at).unwrap();
            history.push(fsrs::FSRSReview {
                rating: rating.number(),
                delta_t: days as u32,
            });
        }
        let expected = model
            .fsrs
            .memory_state(fsrs::FSRSItem { reviews: history }, None)
            .unwrap();
        let memory = card.memory.unwrap();
        assert!(
            (memory.stability - expected.stability).abs() < 1e-3,
            "{memory:?} vs {expected:?}"
        );
        assert!((memory.difficulty - expected.difficulty).abs() < 1e-3);
        assert_eq!((card.reps, card.lapses), (8, 1));

        // The next intervals are the crate's own, rounded to whole days (and `good` at least a
        // day longer than `hard`).
        let next = model.fsrs.next_states(Some(expected), 0.9, 0).unwrap();
        let preview = scheduler.preview(&card, at).unwrap();
        let hard = next.hard.interval.round() as i64;
        assert_eq!(preview[1], Duration::days(hard));
        let good = (next.good.interval.round() as i64).max(hard + 1);
        assert_eq!(preview[2], Duration::days(good));
    }

    /// A simulated student who forgets on a schedule unlike the defaults' assumptions: the
    /// optimizer returns valid parameters that differ from the defaults and schedule cards.
    #[test]
    fn the_optimizer_fits_parameters_to_a_review_log() {
        let mut state: u64 = 7;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 1000) as f32 / 1000.0
        };
        let histories: Vec<Vec<(Rating, u32)>> = (0..150)
            .map(|_| {
                let mut history = vec![(Rating::Good, 0)];
                let mut interval = 1u32;
                for _ in 0..5 {
                    // Recall falls off faster than FSRS's defaults expect.
                    let recalled = next() < 0.95f32.powf(interval as f32);
                    let rating = if recalled {
                        Rating::Good
                    } else {
                        Rating::Again
                    };
                    history.push((rating, interval));
                    interval = if recalled { interval * 3 } else { 1 };
                }
                history
            })
            .collect();
        assert!(training_items(&histories).len() >= 700);
        let model = FsrsModel::new().unwrap();
        let fitted = model.optimize(&histories).unwrap();
        assert_eq!(fitted.len(), FsrsModel::default_parameters().len());
        assert_ne!(fitted, FsrsModel::default_parameters());
        assert!(model.next_states(&fitted, None, 0.9, 0).is_ok());
    }

    #[test]
    fn a_first_good_answer_matches_the_documented_default_state() {
        let model = FsrsModel::new().unwrap();
        let next = model.next_states(&[], None, 0.9, 0).unwrap();
        let direct = model.fsrs.next_states(None, 0.9, 0).unwrap();
        assert_eq!(next[2].memory.stability, direct.good.memory.stability);
        assert!(next[0].memory.stability < next[3].memory.stability);
        assert_eq!(
            FsrsModel::default_parameters().len(),
            fsrs::DEFAULT_PARAMETERS.len()
        );
        assert!(FsrsModel::with_parameters(&[1.0, 2.0]).is_err());
        assert!(model.next_states(&[1.0, 2.0], None, 0.9, 0).is_err());
        // Other parameters give other states.
        let mut other = FsrsModel::default_parameters();
        other[2] *= 2.0;
        let custom = model.next_states(&other, None, 0.9, 0).unwrap();
        assert_ne!(custom[2].memory.stability, next[2].memory.stability);
    }
}
