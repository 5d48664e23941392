//! Sessions and refresh tokens behind one lock, so that rotation is atomic.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{
    NewRefreshToken, NewSession, RefreshTokenHash, Rotation, Session, SessionCursor, SessionId,
    SessionRepository, UserId,
};
use flashforge_domain::pagination::{Page, PageRequest};
use parking_lot::Mutex;

struct Token {
    session_id: SessionId,
    expires_at: DateTime<Utc>,
    /// When it was exchanged for its successor.
    rotated_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<SessionId, Session>,
    tokens: HashMap<RefreshTokenHash, Token>,
}

#[derive(Default)]
pub struct InMemorySessionRepository {
    state: Mutex<State>,
}

impl InMemorySessionRepository {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SessionRepository for InMemorySessionRepository {
    async fn create(&self, new: NewSession, token: NewRefreshToken) -> Result<Session, InfraError> {
        let session = Session {
            id: new.id,
            user_id: new.user_id,
            created_at: new.created_at,
            last_used_at: new.created_at,
            expires_at: new.expires_at,
            user_agent: new.client.user_agent,
            ip: new.client.ip.map(|ip| ip.to_string()),
            revoked_at: None,
        };
        let mut state = self.state.lock();
        state.sessions.insert(session.id, session.clone());
        state.tokens.insert(
            token.hash,
            Token {
                session_id: token.session_id,
                expires_at: token.expires_at,
                rotated_at: None,
            },
        );
        Ok(session)
    }

    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: &RefreshTokenHash,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
        grace: std::time::Duration,
    ) -> Result<Rotation, InfraError> {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let successor_unused = state
            .tokens
            .get(next)
            .map(|t| (t.session_id, t.rotated_at.is_none()));
        let Some(token) = state.tokens.get_mut(presented) else {
            return Ok(Rotation::Invalid);
        };
        let Some(session) = state.sessions.get_mut(&token.session_id) else {
            return Ok(Rotation::Invalid);
        };
        if !session.is_active(now) {
            return Ok(Rotation::Invalid);
        }
        if let Some(rotated_at) = token.rotated_at {
            let grace = chrono::Duration::from_std(grace).unwrap_or_default();
            if now - rotated_at <= grace && successor_unused == Some((session.id, true)) {
                return Ok(Rotation::Retried {
                    session: session.clone(),
                    rotated_at,
                });
            }
            session.revoked_at = Some(now);
            return Ok(Rotation::Reused {
                session_id: session.id,
                user_id: session.user_id,
            });
        }
        if token.expires_at <= now {
            return Ok(Rotation::Invalid);
        }
        token.rotated_at = Some(now);
        session.last_used_at = now;
        let session = session.clone();
        state.tokens.insert(
            next.clone(),
            Token {
                session_id: session.id,
                expires_at: next_expires_at,
                rotated_at: None,
            },
        );
        Ok(Rotation::Rotated(session))
    }

    async fn find_active(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, InfraError> {
        Ok(self
            .state
            .lock()
            .sessions
            .get(&id)
            .filter(|s| s.user_id == user && s.is_active(now))
            .cloned())
    }

    async fn list_active(
        &self,
        user: UserId,
        page: PageRequest<SessionCursor>,
        now: DateTime<Utc>,
    ) -> Result<Page<Session>, InfraError> {
        let state = self.state.lock();
        let mut sessions: Vec<Session> = state
            .sessions
            .values()
            .filter(|s| s.user_id == user && s.is_active(now))
            .filter(|s| page.after.is_none_or(|after| s.id.as_uuid() < after))
            .cloned()
            .collect();
        sessions.sort_by_key(|s| std::cmp::Reverse(s.id));
        sessions.truncate(page.limit.fetch_count() as usize);
        Ok(Page::from_overfetch(sessions, page.limit, |s| {
            s.id.as_uuid()
        }))
    }

    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut state = self.state.lock();
        match state.sessions.get_mut(&id) {
            Some(s) if s.user_id == user && s.is_active(now) => {
                s.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke_all(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, InfraError> {
        let mut state = self.state.lock();
        let mut count = 0;
        for s in state.sessions.values_mut() {
            if s.user_id == user && Some(s.id) != keep && s.is_active(now) {
                s.revoked_at = Some(now);
                count += 1;
            }
        }
        Ok(count)
    }

    async fn delete_for_user(&self, user: UserId) -> Result<u64, InfraError> {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let before = state.sessions.len();
        state.sessions.retain(|_, s| s.user_id != user);
        let sessions = &state.sessions;
        state
            .tokens
            .retain(|_, t| sessions.contains_key(&t.session_id));
        Ok((before - state.sessions.len()) as u64)
    }

    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let count = state.sessions.len();
        state.sessions.retain(|_, s| {
            let ended = s.revoked_at.is_some_and(|at| at < before) || s.expires_at < before;
            !ended
        });
        let sessions = &state.sessions;
        state
            .tokens
            .retain(|_, t| sessions.contains_key(&t.session_id) && t.expires_at >= before);
        Ok((count - state.sessions.len()) as u64)
    }
}
