//! The usage ledger in process memory: entries and daily counters behind one lock, so a
//! reservation's check and its addition are one step.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::spend::{LedgerEntry, UsageLedger};
use parking_lot::Mutex;

#[derive(Default)]
struct Books {
    entries: Vec<LedgerEntry>,
    days: HashMap<(UserId, NaiveDate), u64>,
}

#[derive(Default)]
pub struct InMemoryUsageLedger {
    books: Mutex<Books>,
}

impl InMemoryUsageLedger {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl UsageLedger for InMemoryUsageLedger {
    async fn reserve(
        &self,
        user: UserId,
        day: NaiveDate,
        tokens: u64,
        limit: u64,
    ) -> Result<bool, InfraError> {
        let mut books = self.books.lock();
        let count = books.days.entry((user, day)).or_insert(0);
        if limit > 0 && count.saturating_add(tokens) > limit {
            return Ok(false);
        }
        *count = count.saturating_add(tokens);
        Ok(true)
    }

    async fn settle(
        &self,
        day: NaiveDate,
        entry: &LedgerEntry,
        reserved: u64,
    ) -> Result<(), InfraError> {
        let mut books = self.books.lock();
        let count = books.days.entry((entry.user_id, day)).or_insert(0);
        *count = count
            .saturating_sub(reserved)
            .saturating_add(entry.tokens());
        books.entries.push(entry.clone());
        Ok(())
    }

    async fn release(&self, user: UserId, day: NaiveDate, reserved: u64) -> Result<(), InfraError> {
        if let Some(count) = self.books.lock().days.get_mut(&(user, day)) {
            *count = count.saturating_sub(reserved);
        }
        Ok(())
    }

    async fn used_on(&self, user: UserId, day: NaiveDate) -> Result<u64, InfraError> {
        Ok(self
            .books
            .lock()
            .days
            .get(&(user, day))
            .copied()
            .unwrap_or(0))
    }

    async fn entries(
        &self,
        user: UserId,
        since: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<LedgerEntry>, InfraError> {
        Ok(self
            .books
            .lock()
            .entries
            .iter()
            .filter(|e| e.user_id == user && e.at >= since)
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn delete_user(&self, user: UserId) -> Result<u64, InfraError> {
        let mut books = self.books.lock();
        let before = books.entries.len();
        books.entries.retain(|e| e.user_id != user);
        books.days.retain(|(owner, _), _| *owner != user);
        Ok((before - books.entries.len()) as u64)
    }
}
