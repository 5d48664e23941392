//! Caching: a port ([`Cache`], bytes under string keys with a time to live) and the decorators
//! that use it where it pays — the session lookup behind every authenticated request, query
//! embeddings, and model lists. A cache never decides an answer: when it fails, the call goes to
//! the real port (logged, counted as `cache_requests_total{result="error"}`), and every write
//! through a decorator removes what it changed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::accounts::{
    NewRefreshToken, NewSession, RefreshTokenHash, Rotation, Session, SessionCursor, SessionId,
    SessionRepository, UserId,
};
use crate::assistant::{Completion, LanguageModel, LlmError, Prompt, StreamEvent, Usage};
use crate::error::InfraError;
use crate::knowledge::{Embedder, EmbeddingModel, TokenCounter};
use crate::pagination::{Page, PageRequest};

/// A key-value cache with expiry. Implementations: in-process, Redis.
#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, InfraError>;
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), InfraError>;
    async fn delete(&self, key: &str) -> Result<(), InfraError>;

    /// The values of `keys`, in order (one round trip where the store can).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, InfraError> {
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            values.push(self.get(key).await?);
        }
        Ok(values)
    }
}

/// A cache used fail-open, with hits, misses and errors counted per use.
#[derive(Clone)]
pub struct CacheLayer {
    cache: Arc<dyn Cache>,
}

impl CacheLayer {
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self { cache }
    }

    fn count(name: &'static str, result: &'static str) {
        metrics::counter!("cache_requests_total", "cache" => name, "result" => result).increment(1);
    }

    /// The bytes under `key`, or `None` on a miss or a failing cache.
    pub async fn get_bytes(&self, name: &'static str, key: &str) -> Option<Vec<u8>> {
        match self.cache.get(key).await {
            Ok(Some(bytes)) => {
                Self::count(name, "hit");
                Some(bytes)
            }
            Ok(None) => {
                Self::count(name, "miss");
                None
            }
            Err(error) => {
                Self::count(name, "error");
                tracing::warn!(cache = name, error = %crate::error::chain(&error), "cache unavailable; going without");
                None
            }
        }
    }

    /// The values under `keys`, in order; all `None` on a failing cache.
    pub async fn get_many_bytes(
        &self,
        name: &'static str,
        keys: &[String],
    ) -> Vec<Option<Vec<u8>>> {
        match self.cache.get_many(keys).await {
            Ok(values) => {
                let hit = values.first().is_some_and(Option::is_some);
                Self::count(name, if hit { "hit" } else { "miss" });
                values
            }
            Err(error) => {
                Self::count(name, "error");
                tracing::warn!(cache = name, error = %crate::error::chain(&error), "cache unavailable; going without");
                vec![None; keys.len()]
            }
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, name: &'static str, key: &str) -> Option<T> {
        let bytes = self.get_bytes(name, key).await?;
        serde_json::from_slice(&bytes).ok()
    }

    pub async fn put_bytes(&self, name: &'static str, key: &str, value: Vec<u8>, ttl: Duration) {
        if let Err(error) = self.cache.set(key, value, ttl).await {
            Self::count(name, "error");
            tracing::warn!(cache = name, error = %crate::error::chain(&error), "cache unavailable; value not stored");
        }
    }

    pub async fn put<T: Serialize>(&self, name: &'static str, key: &str, value: &T, ttl: Duration) {
        if let Ok(bytes) = serde_json::to_vec(value) {
            self.put_bytes(name, key, bytes, ttl).await;
        }
    }

    /// Removes `key`. A failure is logged: the entry then lives out its (short) time to live.
    pub async fn invalidate(&self, name: &'static str, key: &str) {
        if let Err(error) = self.cache.delete(key).await {
            Self::count(name, "error");
            tracing::warn!(cache = name, error = %crate::error::chain(&error), "cache unavailable; entry not removed");
        }
    }
}

/// The session lookup behind authentication, cached by session id.
///
/// Revocation is immediate: every revoking write (logout, logout-all, a password change, an
/// account deletion, a refresh token used twice) marks the user's sessions revoked *after* the
/// database has the change — in the shared cache (other instances) and in this process (where
/// no cache eviction can lose it) — and a cached session read before the mark is not believed:
/// it is read again from the database. So no request that starts after a revocation returned
/// is accepted on the revoked session, whatever raced with it.
pub struct CachedSessions {
    inner: Arc<dyn SessionRepository>,
    cache: CacheLayer,
    ttl: Duration,
    /// Users' last revocations seen by this process, kept as long as a cached entry can live.
    revoked: parking_lot::Mutex<std::collections::HashMap<UserId, DateTime<Utc>>>,
}

/// A cached session, with when its row was read.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedSession {
    session: Session,
    read_at: DateTime<Utc>,
}

/// Clocks of instances may differ by this much: an entry read this close to a revocation is
/// read again.
const REVOCATION_SKEW: chrono::Duration = chrono::Duration::seconds(2);

impl CachedSessions {
    pub fn new(inner: Arc<dyn SessionRepository>, cache: CacheLayer, ttl: Duration) -> Self {
        Self {
            inner,
            cache,
            ttl,
            revoked: parking_lot::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn key(id: SessionId) -> String {
        format!("session:{id}")
    }

    fn revoked_key(user: UserId) -> String {
        format!("sessions-revoked:{user}")
    }

    /// Marks `user`'s sessions revoked as of now (called after the database changed).
    async fn mark_revoked(&self, user: UserId) {
        let now = Utc::now();
        let keep = to_chrono(self.ttl) + REVOCATION_SKEW * 2;
        {
            let mut revoked = self.revoked.lock();
            revoked.retain(|_, at| now - *at < keep);
            revoked.insert(user, now);
        }
        self.cache
            .put(
                "session",
                &Self::revoked_key(user),
                &now,
                self.ttl + Duration::from_secs(5),
            )
            .await;
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[async_trait]
impl SessionRepository for CachedSessions {
    async fn create(
        &self,
        session: NewSession,
        token: NewRefreshToken,
    ) -> Result<Session, InfraError> {
        self.inner.create(session, token).await
    }

    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: &RefreshTokenHash,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
        grace: Duration,
    ) -> Result<Rotation, InfraError> {
        let rotation = self
            .inner
            .rotate(presented, next, now, next_expires_at, grace)
            .await?;
        if let Rotation::Reused { user_id, .. } = &rotation {
            self.mark_revoked(*user_id).await;
        }
        Ok(rotation)
    }

    async fn find_active(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, InfraError> {
        let key = Self::key(id);
        let [entry, mark] = <[Option<Vec<u8>>; 2]>::try_from(
            self.cache
                .get_many_bytes("session", &[key.clone(), Self::revoked_key(user)])
                .await,
        )
        .unwrap_or_default();
        let shared_mark: Option<DateTime<Utc>> =
            mark.and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let local_mark = self.revoked.lock().get(&user).copied();
        let revoked_at = shared_mark.max(local_mark);
        if let Some(cached) = entry.and_then(|b| serde_json::from_slice::<CachedSession>(&b).ok())
            && revoked_at.is_none_or(|at| cached.read_at > at + REVOCATION_SKEW)
        {
            let session = cached.session;
            return Ok((session.user_id == user && session.is_active(now)).then_some(session));
        }
        // Taken before the read: a revocation after it makes the entry stale.
        let read_at = Utc::now();
        let found = self.inner.find_active(user, id, now).await?;
        if let Some(session) = &found {
            // Never longer than the session itself has to live.
            let left = (session.expires_at - now).to_std().unwrap_or_default();
            let ttl = self.ttl.min(left);
            if !ttl.is_zero() {
                let cached = CachedSession {
                    session: session.clone(),
                    read_at,
                };
                self.cache.put("session", &key, &cached, ttl).await;
            }
        }
        Ok(found)
    }

    async fn list_active(
        &self,
        user: UserId,
        page: PageRequest<SessionCursor>,
        now: DateTime<Utc>,
    ) -> Result<Page<Session>, InfraError> {
        self.inner.list_active(user, page, now).await
    }

    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let revoked = self.inner.revoke(user, id, now).await?;
        if revoked {
            self.mark_revoked(user).await;
            self.cache.invalidate("session", &Self::key(id)).await;
        }
        Ok(revoked)
    }

    async fn revoke_all(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, InfraError> {
        let ended = self.inner.revoke_all(user, keep, now).await?;
        self.mark_revoked(user).await;
        Ok(ended)
    }

    async fn delete_for_user(&self, user: UserId) -> Result<u64, InfraError> {
        let deleted = self.inner.delete_for_user(user).await?;
        self.mark_revoked(user).await;
        Ok(deleted)
    }

    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        self.inner.purge_ended(before).await
    }
}

/// Query embeddings, cached by model and the text's SHA-256: a repeated search skips the model.
/// Only single texts are cached (queries); ingestion's batches go straight to the model.
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    cache: CacheLayer,
    ttl: Duration,
}

impl CachedEmbedder {
    pub fn new(inner: Arc<dyn Embedder>, cache: CacheLayer, ttl: Duration) -> Self {
        Self { inner, cache, ttl }
    }

    fn key(&self, text: &str) -> String {
        let digest = Sha256::digest(text.as_bytes());
        format!(
            "embedding:{}:{}",
            self.inner.model().name,
            crate::knowledge::hex(&digest)
        )
    }
}

fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8], dimension: usize) -> Option<Vec<f32>> {
    if bytes.len() != dimension * 4 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    )
}

#[async_trait]
impl Embedder for CachedEmbedder {
    fn model(&self) -> &EmbeddingModel {
        self.inner.model()
    }

    fn token_counter(&self) -> Arc<dyn TokenCounter> {
        self.inner.token_counter()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, InfraError> {
        let [text] = texts else {
            return self.inner.embed(texts).await;
        };
        let key = self.key(text);
        let dimension = self.inner.model().dimension;
        if let Some(vector) = self
            .cache
            .get_bytes("embedding", &key)
            .await
            .and_then(|b| from_bytes(&b, dimension))
        {
            return Ok(vec![vector]);
        }
        let vectors = self.inner.embed(texts).await?;
        if let Some(vector) = vectors.first() {
            self.cache
                .put_bytes("embedding", &key, to_bytes(vector), self.ttl)
                .await;
        }
        Ok(vectors)
    }
}

/// The model list, cached; everything else goes to the model.
pub struct CachedModels {
    inner: Arc<dyn LanguageModel>,
    cache: CacheLayer,
    ttl: Duration,
}

impl CachedModels {
    pub fn new(inner: Arc<dyn LanguageModel>, cache: CacheLayer, ttl: Duration) -> Self {
        Self { inner, cache, ttl }
    }
}

#[async_trait]
impl LanguageModel for CachedModels {
    fn default_model(&self) -> &str {
        self.inner.default_model()
    }

    async fn check(&self) -> Result<(), LlmError> {
        self.inner.check().await
    }

    async fn models(&self) -> Result<Vec<String>, LlmError> {
        let key = format!("models:{}", self.inner.default_model());
        if let Some(models) = self.cache.get::<Vec<String>>("models", &key).await {
            return Ok(models);
        }
        let models = self.inner.models().await?;
        self.cache.put("models", &key, &models, self.ttl).await;
        Ok(models)
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, LlmError> {
        self.inner.complete(prompt).await
    }

    async fn stream(
        &self,
        prompt: &Prompt,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        self.inner.stream(prompt).await
    }

    async fn complete_structured(
        &self,
        prompt: &Prompt,
        schema_name: &str,
        schema: &serde_json::Value,
    ) -> Result<(serde_json::Value, Usage), LlmError> {
        self.inner
            .complete_structured(prompt, schema_name, schema)
            .await
    }
}
