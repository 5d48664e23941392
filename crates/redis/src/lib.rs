//! Redis adapters. Rate-limit counters live here when `rate_limit.redis_url` is set, so that every
//! API instance counts against the same budgets; the cache when `cache.redis_url` is set.
//!
//! The connection manager reconnects by itself; while Redis is away each call fails fast (a
//! short timeout) and the domain lets requests through (limits fail open).

mod cache;

use std::time::Duration;

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::health::HealthCheck;
use flashforge_domain::limits::{Backoff, RateLimitStore, Reserved};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

pub use cache::RedisCache;

/// Adds one and starts the window on the first hit; answers the count and the time left.
const INCREMENT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
";

/// Sets a block unless a longer one is in place.
const BLOCK: &str = r"
local ttl = redis.call('PTTL', KEYS[1])
if ttl < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
";

/// Reserves an attempt: refuses while the hold (`h`, ms since the epoch, Redis's clock) is in
/// force; otherwise counts the attempt (`c`, living for the window from the first) and sets the
/// hold the new count earns: none below ARGV[1] attempts, then ARGV[2] ms doubling up to
/// ARGV[3]; ARGV[5] = 1 counts the attempt even while held. Answers {1, count} or {0, ms left}.
const RESERVE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local hold = tonumber(redis.call('HGET', KEYS[1], 'h') or '0')
if hold > now and ARGV[5] ~= '1' then return {0, hold - now} end
local count = redis.call('HINCRBY', KEYS[1], 'c', 1)
local window = tonumber(ARGV[4])
if count == 1 then redis.call('PEXPIRE', KEYS[1], window) end
local free = math.max(tonumber(ARGV[1]), 1)
local wait = 0
if count >= free then
  wait = math.min(tonumber(ARGV[2]) * (2 ^ math.min(count - free, 30)), tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[1], 'h', now + wait)
if redis.call('PTTL', KEYS[1]) < wait then redis.call('PEXPIRE', KEYS[1], wait) end
return {1, count}
";

/// Gives an attempt back (ARGV[1] = 1: forgets the key).
const GIVE_BACK: &str = r"
if ARGV[1] == '1' then return redis.call('DEL', KEYS[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local count = redis.call('HINCRBY', KEYS[1], 'c', -1)
if count < 0 then redis.call('HSET', KEYS[1], 'c', 0) end
redis.call('HSET', KEYS[1], 'h', 0)
return 1
";

/// Rate-limit counters in Redis.
#[derive(Clone)]
pub struct RedisRateLimitStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    increment: Script,
    block: Script,
    reserve: Script,
    give_back: Script,
}

impl RedisRateLimitStore {
    /// Connects to `url` (`redis://host:6379/0`). Keys are written under `prefix`.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = tokio::time::timeout(
            timeout * 4,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| "Redis did not answer in time".to_string())?
        .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        Ok(Self {
            connection,
            prefix: prefix.to_string(),
            timeout,
            increment: Script::new(INCREMENT),
            block: Script::new(BLOCK),
            reserve: Script::new(RESERVE),
            give_back: Script::new(GIVE_BACK),
        })
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.prefix)
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, InfraError> {
        bounded(self.timeout, call).await
    }
}

/// `call`, cut off after `timeout`; either failure means Redis is unavailable.
async fn bounded<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, InfraError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(InfraError::unavailable(e)),
        Err(_) => Err(InfraError::unavailable("Redis timed out")),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl RateLimitStore for RedisRateLimitStore {
    async fn increment(&self, key: &str, window: Duration) -> Result<(u64, Duration), InfraError> {
        let mut connection = self.connection.clone();
        let key = self.key("count", key);
        let mut invocation = self.increment.key(key);
        invocation.arg(millis(window));
        let (count, ttl): (u64, i64) = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        Ok((count, Duration::from_millis(ttl.max(0) as u64)))
    }

    async fn block(&self, key: &str, duration: Duration) -> Result<(), InfraError> {
        let mut connection = self.connection.clone();
        let key = self.key("block", key);
        let mut invocation = self.block.key(key);
        invocation.arg(millis(duration));
        let _: i64 = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        Ok(())
    }

    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, InfraError> {
        let mut connection = self.connection.clone();
        let key = self.key("block", key);
        let ttl: i64 = self.bounded(connection.pttl(key)).await?;
        Ok((ttl > 0).then(|| Duration::from_millis(ttl as u64)))
    }

    async fn reset(&self, key: &str) -> Result<(), InfraError> {
        let mut connection = self.connection.clone();
        let keys = [
            self.key("count", key),
            self.key("block", key),
            self.key("attempts", key),
        ];
        let _: i64 = self.bounded(connection.del(&keys)).await?;
        Ok(())
    }

    async fn reserve(
        &self,
        key: &str,
        backoff: Backoff,
        window: Duration,
        force: bool,
    ) -> Result<Reserved, InfraError> {
        let mut connection = self.connection.clone();
        let mut invocation = self.reserve.key(self.key("attempts", key));
        invocation
            .arg(backoff.free)
            .arg(millis(backoff.base))
            .arg(millis(backoff.max))
            .arg(millis(window))
            .arg(if force { "1" } else { "0" });
        let (granted, value): (i64, i64) = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        Ok(if granted == 1 {
            Reserved::Granted {
                attempts: value.max(0) as u64,
            }
        } else {
            Reserved::Held {
                retry_after: Duration::from_millis(value.max(0) as u64),
            }
        })
    }

    async fn give_back(&self, key: &str, forget: bool) -> Result<(), InfraError> {
        let mut connection = self.connection.clone();
        let mut invocation = self.give_back.key(self.key("attempts", key));
        invocation.arg(if forget { "1" } else { "0" });
        let _: i64 = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        Ok(())
    }
}

/// Readiness of Redis. Not required: limits fail open while it is down.
pub struct RedisHealthCheck {
    store: RedisRateLimitStore,
}

impl RedisHealthCheck {
    pub fn new(store: RedisRateLimitStore) -> Self {
        Self { store }
    }
}

#[async_trait]
impl HealthCheck for RedisHealthCheck {
    fn name(&self) -> &str {
        "redis"
    }

    fn required(&self) -> bool {
        false
    }

    async fn check(&self) -> Result<(), String> {
        let mut connection = self.store.connection.clone();
        let pong: String = self
            .store
            .bounded(redis::cmd("PING").query_async(&mut connection))
            .await
            .map_err(|e| flashforge_domain::error::chain(&e))?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(format!("unexpected answer to PING: {pong}"))
        }
    }
}
