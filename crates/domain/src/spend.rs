//! What language models cost, and who pays: an append-only ledger of every model call (answers,
//! streamed answers, regenerations, edits, flashcard generations inline and in the background),
//! a daily token budget per user reserved before each call and settled after it, and a limit on
//! the model calls one user runs at once.
//!
//! The budget is kept per user and UTC day as one counter next to the ledger: a call reserves
//! its worst case (the prompt's estimate plus `max_tokens` of answer) with one conditional
//! update, so concurrent requests cannot all pass a check that only one of them fits; settling
//! appends the ledger entry and replaces the reservation by what the call used, in one step.
//! A process that dies between the two leaves the reservation counted: a budget errs on the side
//! of the person paying for the model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::accounts::UserId;
use crate::assistant::{Prompt, Usage};
use crate::clock::Clock;
use crate::error::InfraError;
use crate::limits::Limited;

/// Why a model was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// An answer to a new message, whole or streamed.
    Answer,
    /// The last answer written again.
    Regeneration,
    /// An answer to an edited message.
    Edit,
    /// Flashcards written while the client waits.
    Flashcards,
    /// A batch of a background flashcard generation.
    BackgroundFlashcards,
    /// A card explained from its source.
    Explanation,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [
        Self::Answer,
        Self::Regeneration,
        Self::Edit,
        Self::Flashcards,
        Self::BackgroundFlashcards,
        Self::Explanation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Regeneration => "regeneration",
            Self::Edit => "edit",
            Self::Flashcards => "flashcards",
            Self::BackgroundFlashcards => "background_flashcards",
            Self::Explanation => "explanation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// One model call, as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub user_id: UserId,
    pub purpose: Purpose,
    /// The model that answered (or was asked, when it did not answer).
    pub model: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// The provider reported no usage (or the call was cut off): the tokens are estimated from
    /// the text, about four characters a token.
    pub estimated: bool,
    pub at: DateTime<Utc>,
}

impl LedgerEntry {
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// The ledger of model calls and the daily counters kept beside it.
#[async_trait]
pub trait UsageLedger: Send + Sync {
    /// Adds `tokens` to `user`'s count for `day` when the count stays within `limit` (0: no
    /// limit), atomically; `Ok(false)` (and nothing changes) when it would not.
    async fn reserve(
        &self,
        user: UserId,
        day: NaiveDate,
        tokens: u64,
        limit: u64,
    ) -> Result<bool, InfraError>;

    /// Appends `entry` and, in the same step, replaces `reserved` tokens of `user`'s count for
    /// `day` with the entry's tokens (the count never goes below zero).
    async fn settle(
        &self,
        day: NaiveDate,
        entry: &LedgerEntry,
        reserved: u64,
    ) -> Result<(), InfraError>;

    /// Gives `reserved` tokens of `user`'s count for `day` back, for a call that never started
    /// (the count never goes below zero).
    async fn release(&self, user: UserId, day: NaiveDate, reserved: u64) -> Result<(), InfraError>;

    /// `user`'s count for `day`: settled calls plus reservations of calls under way.
    async fn used_on(&self, user: UserId, day: NaiveDate) -> Result<u64, InfraError>;

    /// `user`'s entries from `since` on, oldest first, `limit` at most.
    async fn entries(
        &self,
        user: UserId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<LedgerEntry>, InfraError>;

    /// Deletes `user`'s entries and counters (the account is being deleted); returns how many
    /// entries.
    async fn delete_user(&self, user: UserId) -> Result<u64, InfraError>;
}

/// The spending limits, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendSettings {
    /// Tokens a user's model calls may use per UTC day; 0 for no limit.
    pub daily_tokens: u64,
    /// The longest answer asked of a model (`max_tokens` of every request): the most a call can
    /// cost beyond its prompt.
    pub max_completion_tokens: u32,
    /// Model calls one user may have under way at once in a process; 0 for no limit.
    pub max_concurrent_calls: u32,
}

impl Default for SpendSettings {
    fn default() -> Self {
        Self {
            daily_tokens: 0,
            max_completion_tokens: 1024,
            max_concurrent_calls: 2,
        }
    }
}

/// Why a model call may not start.
#[derive(Debug, thiserror::Error)]
pub enum SpendError {
    #[error("today's model token budget is spent")]
    BudgetSpent(Limited),
    #[error("too many model calls of yours are under way; try again when one ends")]
    Busy(Limited),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// A user's model tokens today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokensToday {
    pub used: u64,
    /// 0 for no limit.
    pub limit: u64,
    /// When the day's count starts again (midnight UTC).
    pub resets_at: DateTime<Utc>,
}

/// Tokens in `chars` characters of text, about four characters a token (rounded up).
pub fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// The tokens of everything a prompt sends, estimated.
pub fn prompt_tokens(prompt: &Prompt) -> u64 {
    let chars = prompt.system_text().chars().count()
        + prompt.question.chars().count()
        + prompt
            .history
            .iter()
            .map(|t| t.content.chars().count())
            .sum::<usize>();
    // Each message carries a few tokens of framing.
    estimate_tokens(chars) + 4 * (prompt.history.len() as u64 + 2)
}

/// Budgets, concurrency and the ledger of model calls.
pub struct ModelSpend {
    ledger: Arc<dyn UsageLedger>,
    clock: Arc<dyn Clock>,
    settings: SpendSettings,
    calls: Mutex<HashMap<UserId, u32>>,
}

impl ModelSpend {
    pub fn new(
        ledger: Arc<dyn UsageLedger>,
        clock: Arc<dyn Clock>,
        settings: SpendSettings,
    ) -> Self {
        Self {
            ledger,
            clock,
            settings,
            calls: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> SpendSettings {
        self.settings
    }

    /// Takes one of `user`'s call slots and reserves the most `prompt` can cost from today's
    /// budget. The reservation must be settled with what the call used; one dropped unsettled
    /// counts its prompt if the call started, and nothing if it did not.
    pub async fn reserve(
        self: &Arc<Self>,
        user: UserId,
        purpose: Purpose,
        prompt: &Prompt,
    ) -> Result<Reservation, SpendError> {
        let slot = self.take_slot(user)?;
        let now = self.clock.now();
        let day = now.date_naive();
        let prompt_estimate = prompt_tokens(prompt);
        let reserved = prompt_estimate + u64::from(self.settings.max_completion_tokens);
        if !self
            .ledger
            .reserve(user, day, reserved, self.settings.daily_tokens)
            .await?
        {
            let retry_after = (next_day(now) - now)
                .to_std()
                .unwrap_or(Duration::from_secs(60));
            return Err(SpendError::BudgetSpent(Limited { retry_after }));
        }
        Ok(Reservation {
            spend: self.clone(),
            _slot: slot,
            user,
            purpose,
            day,
            reserved,
            prompt_estimate,
            model: None,
            state: State::Reserved,
        })
    }

    fn take_slot(self: &Arc<Self>, user: UserId) -> Result<Slot, SpendError> {
        let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let running = calls.entry(user).or_insert(0);
        let max = self.settings.max_concurrent_calls;
        if max > 0 && *running >= max {
            return Err(SpendError::Busy(Limited {
                retry_after: Duration::from_secs(1),
            }));
        }
        *running += 1;
        Ok(Slot {
            spend: self.clone(),
            user,
        })
    }

    /// `user`'s tokens today and the budget.
    pub async fn today(&self, user: UserId) -> Result<TokensToday, InfraError> {
        let now = self.clock.now();
        Ok(TokensToday {
            used: self.ledger.used_on(user, now.date_naive()).await?,
            limit: self.settings.daily_tokens,
            resets_at: next_day(now),
        })
    }

    /// `user`'s ledger entries from `since` on, oldest first.
    pub async fn entries(
        &self,
        user: UserId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<LedgerEntry>, InfraError> {
        self.ledger.entries(user, since, limit).await
    }
}

#[async_trait]
impl crate::accounts::UserData for ModelSpend {
    fn name(&self) -> &str {
        "model usage"
    }

    async fn delete_user_data(&self, owner: UserId) -> Result<u64, InfraError> {
        self.ledger.delete_user(owner).await
    }
}

fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    midnight.checked_add_days(Days::new(1)).unwrap_or(midnight)
}

/// One of a user's concurrent-call slots; given back when dropped.
struct Slot {
    spend: Arc<ModelSpend>,
    user: UserId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut calls = self.spend.calls.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = calls.get_mut(&self.user) {
            *running = running.saturating_sub(1);
            if *running == 0 {
                calls.remove(&self.user);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reserved,
    Started,
    Done,
}

/// What a call used, for [`Reservation::settle`].
#[derive(Debug, Clone)]
pub struct Spent {
    /// The model that answered; the one asked when it did not.
    pub model: String,
    /// What the provider reported; `None` (or nothing counted) to estimate.
    pub usage: Option<Usage>,
    /// The answer's length in characters, for the estimate.
    pub completion_chars: usize,
    /// The provider refused the request before it ran (nothing was used).
    pub refused: bool,
}

/// Part of a user's budget held for one model call.
pub struct Reservation {
    spend: Arc<ModelSpend>,
    _slot: Slot,
    user: UserId,
    purpose: Purpose,
    day: NaiveDate,
    reserved: u64,
    prompt_estimate: u64,
    model: Option<String>,
    state: State,
}

impl Reservation {
    /// Marks the call as sent to `model`: from now on a dropped reservation counts the prompt.
    pub fn started(&mut self, model: &str) {
        self.state = State::Started;
        self.model = Some(model.to_string());
    }

    /// Records the call in the ledger and gives back what it did not use.
    pub async fn settle(mut self, spent: Spent) -> Result<LedgerEntry, InfraError> {
        self.state = State::Done;
        let reported = spent.usage.filter(|u| u.total() > 0);
        let (prompt_tokens, completion_tokens, estimated) = match reported {
            Some(usage) => (
                u64::from(usage.prompt_tokens),
                u64::from(usage.completion_tokens),
                false,
            ),
            None if spent.refused => (0, 0, false),
            None => (
                self.prompt_estimate,
                estimate_tokens(spent.completion_chars),
                true,
            ),
        };
        let entry = LedgerEntry {
            user_id: self.user,
            purpose: self.purpose,
            model: spent.model,
            prompt_tokens,
            completion_tokens,
            estimated,
            at: self.spend.clock.now(),
        };
        self.spend
            .ledger
            .settle(self.day, &entry, self.reserved)
            .await?;
        Ok(entry)
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.state == State::Done {
            return;
        }
        // Dropped unsettled: the request went away. A call that started is counted at its
        // prompt's estimate (the provider may well have charged for it); one that did not start
        // gives its reservation back.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let started = self.state == State::Started;
        let entry = LedgerEntry {
            user_id: self.user,
            purpose: self.purpose,
            model: self.model.clone().unwrap_or_default(),
            prompt_tokens: if started { self.prompt_estimate } else { 0 },
            completion_tokens: 0,
            estimated: true,
            at: self.spend.clock.now(),
        };
        let (ledger, day, reserved) = (self.spend.ledger.clone(), self.day, self.reserved);
        runtime.spawn(async move {
            let outcome = if started {
                ledger.settle(day, &entry, reserved).await
            } else {
                // Nothing was called: no entry, the reservation goes back.
                ledger.release(entry.user_id, day, reserved).await
            };
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "cannot settle an abandoned model call");
            }
        });
    }
}
