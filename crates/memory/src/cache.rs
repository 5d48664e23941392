//! The cache port in this process, on moka: bounded by entry count, each entry with its own
//! time to live.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::cache::Cache;
use moka::Expiry;
use moka::future::Cache as Moka;

#[derive(Clone)]
struct Entry {
    value: Vec<u8>,
    ttl: Duration,
}

struct PerEntry;

impl Expiry<String, Entry> for PerEntry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _at: Instant) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

pub struct InProcessCache {
    entries: Moka<String, Entry>,
}

impl InProcessCache {
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: Moka::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntry)
                .build(),
        }
    }
}

#[async_trait]
impl Cache for InProcessCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, InfraError> {
        Ok(self.entries.get(key).await.map(|e| e.value))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), InfraError> {
        self.entries
            .insert(key.to_string(), Entry { value, ttl })
            .await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), InfraError> {
        self.entries.invalidate(key).await;
        Ok(())
    }
}
