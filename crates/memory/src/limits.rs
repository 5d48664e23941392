//! Rate-limit counters in process memory: right for one instance; several instances share
//! limits through the Redis store instead.
//!
//! Many client addresses mean many keys, so the store is built for them: keys are spread over
//! shards with a lock each (requests for different keys rarely wait on each other), a shard
//! sweeps its expired entries at most once a second and only when it has grown (amortised,
//! never per write), and each shard holds at most its share of [`DEFAULT_CAPACITY`] keys: past
//! it, the entries closest to expiring make room.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::limits::{Backoff, RateLimitStore, Reserved};
use parking_lot::Mutex;

/// Keys held at most, over all shards.
pub const DEFAULT_CAPACITY: usize = 200_000;

const SHARDS: usize = 16;

/// A shard sweeps when it holds more than this share of its capacity, at most once a second.
const SWEEP_SHARE: usize = 2;
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One key's state: a counter with its window, and a block or hold.
#[derive(Debug, Clone, Copy)]
struct Entry {
    count: u64,
    count_until: Instant,
    blocked_until: Option<Instant>,
}

impl Entry {
    fn fresh(now: Instant, window: Duration) -> Self {
        Self {
            count: 0,
            count_until: now + window,
            blocked_until: None,
        }
    }

    fn expires(&self) -> Instant {
        self.blocked_until
            .map_or(self.count_until, |b| b.max(self.count_until))
    }

    /// The counter, restarted when its window is over.
    fn counter(&mut self, now: Instant, window: Duration) -> &mut u64 {
        if self.count_until <= now {
            self.count = 0;
            self.count_until = now + window;
        }
        &mut self.count
    }

    fn blocked_for(&self, now: Instant) -> Option<Duration> {
        self.blocked_until.filter(|b| *b > now).map(|b| b - now)
    }
}

struct Shard {
    entries: HashMap<String, Entry>,
    last_sweep: Instant,
}

impl Shard {
    /// Makes room: expired entries go (amortised: when the shard has grown, at most once a
    /// second); past `capacity`, the eighth of the entries closest to expiring go too.
    fn make_room(&mut self, now: Instant, capacity: usize) {
        let grown = self.entries.len() > capacity / SWEEP_SHARE;
        if grown && now.duration_since(self.last_sweep) >= SWEEP_EVERY {
            self.entries.retain(|_, e| e.expires() > now);
            self.last_sweep = now;
        }
        if self.entries.len() >= capacity {
            let mut expiries: Vec<Instant> = self.entries.values().map(Entry::expires).collect();
            let cut = (capacity / 8).max(1).min(expiries.len() - 1);
            let (_, nth, _) = expiries.select_nth_unstable(cut);
            let before = *nth;
            self.entries.retain(|_, e| e.expires() > before);
        }
    }
}

pub struct InMemoryRateLimitStore {
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
    shard_capacity: usize,
}

impl Default for InMemoryRateLimitStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl InMemoryRateLimitStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding at most about `capacity` keys.
    pub fn with_capacity(capacity: usize) -> Self {
        let now = Instant::now();
        Self {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: HashMap::new(),
                        last_sweep: now,
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            shard_capacity: (capacity / SHARDS).max(8),
        }
    }

    /// How many keys it holds (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().entries.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `change` on `key`'s entry (created for a write, with `window`), in its shard's lock.
    fn with<T>(
        &self,
        key: &str,
        window: Duration,
        change: impl FnOnce(&mut Entry, Instant) -> T,
    ) -> T {
        let now = Instant::now();
        let index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        let mut shard = self.shards[index].lock();
        if !shard.entries.contains_key(key) {
            shard.make_room(now, self.shard_capacity);
        }
        let entry = shard
            .entries
            .entry(key.to_string())
            .or_insert_with(|| Entry::fresh(now, window));
        change(entry, now)
    }

    fn read<T>(&self, key: &str, look: impl FnOnce(Option<&Entry>, Instant) -> T) -> T {
        let now = Instant::now();
        let index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        let shard = self.shards[index].lock();
        look(shard.entries.get(key), now)
    }
}

#[async_trait]
impl RateLimitStore for InMemoryRateLimitStore {
    async fn increment(&self, key: &str, window: Duration) -> Result<(u64, Duration), InfraError> {
        Ok(self.with(key, window, |entry, now| {
            let count = entry.counter(now, window);
            *count += 1;
            let count = *count;
            (count, entry.count_until - now)
        }))
    }

    async fn block(&self, key: &str, duration: Duration) -> Result<(), InfraError> {
        self.with(key, duration, |entry, now| {
            let until = now + duration;
            if entry.blocked_until.is_none_or(|b| b < until) {
                entry.blocked_until = Some(until);
            }
        });
        Ok(())
    }

    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, InfraError> {
        Ok(self.read(key, |entry, now| entry.and_then(|e| e.blocked_for(now))))
    }

    async fn reset(&self, key: &str) -> Result<(), InfraError> {
        let index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        self.shards[index].lock().entries.remove(key);
        Ok(())
    }

    async fn reserve(
        &self,
        key: &str,
        backoff: Backoff,
        window: Duration,
        force: bool,
    ) -> Result<Reserved, InfraError> {
        Ok(self.with(key, window, |entry, now| {
            if let Some(retry_after) = entry.blocked_for(now)
                && !force
            {
                return Reserved::Held { retry_after };
            }
            let count = entry.counter(now, window);
            *count += 1;
            let attempts = *count;
            let hold = backoff.hold_after(attempts);
            entry.blocked_until = (!hold.is_zero()).then(|| now + hold);
            Reserved::Granted { attempts }
        }))
    }

    async fn give_back(&self, key: &str, forget: bool) -> Result<(), InfraError> {
        let index = (self.hasher.hash_one(key) as usize) % self.shards.len();
        let mut shard = self.shards[index].lock();
        if forget {
            shard.entries.remove(key);
        } else if let Some(entry) = shard.entries.get_mut(key) {
            entry.count = entry.count.saturating_sub(1);
            entry.blocked_until = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn many_keys_stay_within_the_capacity_and_live_keys_keep_counting() {
        let store = InMemoryRateLimitStore::with_capacity(1_600);
        for n in 0..20_000 {
            store
                .increment(&format!("addr:{n}"), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(store.len() <= 1_600, "{} keys", store.len());
        // A key written again keeps its count (what was evicted was another).
        for _ in 0..3 {
            store
                .increment("hot", Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert_eq!(
            store
                .increment("hot", Duration::from_secs(60))
                .await
                .unwrap()
                .0,
            4
        );
    }

    #[tokio::test]
    async fn expired_entries_are_swept_once_a_shard_has_grown() {
        let store = InMemoryRateLimitStore::with_capacity(1_600);
        for n in 0..1_000 {
            store
                .increment(&format!("short:{n}"), Duration::from_millis(1))
                .await
                .unwrap();
        }
        tokio::time::sleep(SWEEP_EVERY + Duration::from_millis(50)).await;
        for n in 0..1_000 {
            store
                .increment(&format!("long:{n}"), Duration::from_secs(60))
                .await
                .unwrap();
        }
        assert!(
            store.len() < 1_600,
            "the expired keys went: {}",
            store.len()
        );
    }
}
