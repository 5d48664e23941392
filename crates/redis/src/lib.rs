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
use flashforge_domain::limits::RateLimitStore;
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

/// Rate-limit counters in Redis.
#[derive(Clone)]
pub struct RedisRateLimitStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    increment: Script,
    block: Script,
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
        let keys = [self.key("count", key), self.key("block", key)];
        let _: i64 = self.bounded(connection.del(&keys)).await?;
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
