//! The cache port on Redis, shared by every instance. It connects lazily and keeps trying (at
//! most once a second) while Redis is away, so a process starts and serves without it; once
//! connected, the connection manager reconnects by itself. Every call is bounded by a short
//! timeout, and its failure is the caller's cue to go without the cache.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::cache::Cache;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

pub struct RedisCache {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    connection: Mutex<Connection>,
}

#[derive(Default)]
struct Connection {
    manager: Option<ConnectionManager>,
    last_attempt: Option<Instant>,
}

impl RedisCache {
    /// A cache at `url` (`redis://host:6379/1`) under `prefix`; nothing is connected yet.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid Redis URL: {e}"))?;
        Ok(Self {
            client,
            prefix: prefix.to_string(),
            timeout,
            connection: Mutex::new(Connection::default()),
        })
    }

    async fn manager(&self) -> Result<ConnectionManager, InfraError> {
        let mut connection = self.connection.lock().await;
        if let Some(manager) = &connection.manager {
            return Ok(manager.clone());
        }
        if connection
            .last_attempt
            .is_some_and(|at| at.elapsed() < Duration::from_secs(1))
        {
            return Err(InfraError::unavailable("Redis is not connected"));
        }
        connection.last_attempt = Some(Instant::now());
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(
            self.timeout * 4,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        .map_err(|_| InfraError::unavailable("Redis did not answer in time"))?
        .map_err(InfraError::unavailable)?;
        tracing::info!("cache connected to Redis");
        connection.manager = Some(manager.clone());
        Ok(manager)
    }

    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, InfraError> {
        super::bounded(self.timeout, call).await
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, InfraError> {
        let mut manager = self.manager().await?;
        self.bounded(manager.get(self.key(key))).await
    }

    /// One round trip (`MGET`) for all of them: a session check reads the session and its
    /// user's revocation mark together.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, InfraError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut manager = self.manager().await?;
        let mut command = redis::cmd("MGET");
        for key in keys {
            command.arg(self.key(key));
        }
        self.bounded(command.query_async(&mut manager)).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), InfraError> {
        let mut manager = self.manager().await?;
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.bounded(manager.pset_ex::<_, _, ()>(self.key(key), value, millis))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), InfraError> {
        let mut manager = self.manager().await?;
        self.bounded(manager.del::<_, ()>(self.key(key))).await
    }
}
