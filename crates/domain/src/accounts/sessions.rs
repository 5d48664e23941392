//! Sessions: one per login, each holding a family of rotating refresh tokens (RFC 9700).
//!
//! A refresh token is an opaque random string; only its SHA-256 is stored. Every use rotates
//! it: the presented token is retired and a new one issued. Presenting a retired token again
//! means it was copied, so the whole session (the family) is revoked.

use std::fmt;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::models::UserId;
use crate::error::InfraError;

crate::ids::uuid_id!(
    /// A session's id.
    SessionId
);

/// Who is calling, as far as the transport can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// User agents are stored for the sessions list; longer ones are cut.
    pub const MAX_USER_AGENT_CHARS: usize = 256;

    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(Self::MAX_USER_AGENT_CHARS)
                    .collect()
            }),
        }
    }
}

/// A login, as its owner sees it in the sessions list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    /// The absolute end of the session, however often it is refreshed.
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A session about to be stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub client: ClientInfo,
}

/// An opaque refresh token, as handed to the client. Never logged.
#[derive(Clone)]
pub struct RefreshToken(SecretString);

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([REDACTED])")
    }
}

impl RefreshToken {
    /// 256 random bits, URL-safe base64.
    pub fn generate() -> Result<Self, InfraError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| InfraError::internal(e.to_string()))?;
        Ok(Self(SecretString::from(URL_SAFE_NO_PAD.encode(bytes))))
    }

    /// A token as a client presented it (unchecked: lookup by hash decides).
    pub fn from_client(raw: &str) -> Self {
        Self(SecretString::from(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What is stored: the hex SHA-256. The token has 256 bits of entropy, so a fast hash is
    /// enough; nothing can be learned from a stolen table.
    pub fn hash(&self) -> RefreshTokenHash {
        let digest = Sha256::digest(self.0.expose_secret().as_bytes());
        RefreshTokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

/// The stored form of a refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefreshTokenHash(String);

impl RefreshTokenHash {
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A refresh token about to be stored.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub hash: RefreshTokenHash,
    pub session_id: SessionId,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is retired, the new one stored, and the session touched.
    Rotated(Session),
    /// The token was rotated a moment ago (within the grace window) and its successor is still
    /// unused: a client retrying a refresh whose answer it lost. Nothing changed; the answer is
    /// the successor again, as issued at `rotated_at`.
    Retried {
        session: Session,
        rotated_at: DateTime<Utc>,
    },
    /// The token had already been rotated: its session is now revoked.
    Reused {
        session_id: SessionId,
        user_id: UserId,
    },
    /// Unknown, expired, or its session is revoked or over.
    Invalid,
}

/// The key of the sessions list: newest first, by id.
pub type SessionCursor = Uuid;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_are_random_and_hash_stably() {
        let a = RefreshToken::generate().unwrap();
        let b = RefreshToken::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert_eq!(a.hash(), RefreshToken::from_client(a.expose()).hash());
        assert_eq!(a.hash().as_str().len(), 64);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn client_info_cuts_long_and_control_laden_user_agents() {
        let info = ClientInfo::new(None, Some(&format!("evil\n{}", "x".repeat(1000))));
        let ua = info.user_agent.unwrap();
        assert_eq!(ua.chars().count(), ClientInfo::MAX_USER_AGENT_CHARS);
        assert!(!ua.contains('\n'));
    }
}
