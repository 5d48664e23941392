//! `[cache]`: the cache of query embeddings, users and model lists, in process or in Redis.

use serde::{Deserialize, Serialize};

use super::problems::{Problems, is_redis_url};
use super::secret::Secret;

/// The cache of query embeddings, the current-user lookup and model lists: in this process by
/// default, shared through Redis when `redis_url` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// `redis://host:6379/1`; unset: an in-process cache.
    #[serde(default)]
    pub redis_url: Option<Secret>,
    pub key_prefix: String,
    /// Entries the in-process cache holds.
    pub max_entries: u64,
    pub redis_timeout_ms: u64,
    pub embedding_ttl_secs: u64,
    pub user_ttl_secs: u64,
    pub models_ttl_secs: u64,
}

impl CacheSettings {
    /// The Redis URL, unless unset or empty.
    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url
            .as_ref()
            .map(Secret::expose)
            .filter(|u| !u.trim().is_empty())
    }

    /// The rules of `cache.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if let Some(url) = self.redis_url()
            && !is_redis_url(url)
        {
            problems.bad("cache.redis_url", "must start with redis:// or rediss://");
        }
        if self.max_entries == 0 {
            problems.bad("cache.max_entries", "must be more than 0");
        }
        for (key, value) in [
            ("cache.redis_timeout_ms", self.redis_timeout_ms),
            ("cache.embedding_ttl_secs", self.embedding_ttl_secs),
            ("cache.user_ttl_secs", self.user_ttl_secs),
            ("cache.models_ttl_secs", self.models_ttl_secs),
        ] {
            if value == 0 {
                problems.bad(key, "must be more than 0");
            }
        }
    }
}
