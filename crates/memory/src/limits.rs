//! Rate-limit counters in process memory: right for one instance; several instances share
//! limits through the Redis store instead.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::limits::RateLimitStore;
use parking_lot::Mutex;

/// Past this many live keys, expired ones are swept on the next write.
const SWEEP_AT: usize = 10_000;

#[derive(Default)]
struct Entries {
    counters: HashMap<String, (u64, Instant)>,
    blocks: HashMap<String, Instant>,
}

#[derive(Default)]
pub struct InMemoryRateLimitStore {
    entries: Mutex<Entries>,
}

impl InMemoryRateLimitStore {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Entries {
    fn sweep(&mut self, now: Instant) {
        if self.counters.len() + self.blocks.len() > SWEEP_AT {
            self.counters.retain(|_, (_, until)| *until > now);
            self.blocks.retain(|_, until| *until > now);
        }
    }
}

#[async_trait]
impl RateLimitStore for InMemoryRateLimitStore {
    async fn increment(&self, key: &str, window: Duration) -> Result<(u64, Duration), InfraError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        entries.sweep(now);
        let entry = entries
            .counters
            .entry(key.to_string())
            .or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 += 1;
        Ok((entry.0, entry.1 - now))
    }

    async fn block(&self, key: &str, duration: Duration) -> Result<(), InfraError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        entries.sweep(now);
        let until = now + duration;
        let entry = entries.blocks.entry(key.to_string()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
        Ok(())
    }

    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, InfraError> {
        let now = Instant::now();
        Ok(self
            .entries
            .lock()
            .blocks
            .get(key)
            .filter(|until| **until > now)
            .map(|until| *until - now))
    }

    async fn reset(&self, key: &str) -> Result<(), InfraError> {
        let mut entries = self.entries.lock();
        entries.counters.remove(key);
        entries.blocks.remove(key);
        Ok(())
    }
}
