//! The ports the accounts service needs. Every adapter of a port passes the same contract suite
//! (`tests/api/contracts`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::models::{Email, NewUser, Password, PasswordHash, StoredUser, User, UserId, Username};
use super::sessions::{
    NewRefreshToken, NewSession, RefreshTokenHash, Rotation, Session, SessionCursor, SessionId,
};
use crate::error::InfraError;
use crate::pagination::{Page, PageRequest};

/// Why a user could not be created or changed.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another account already has this username (compared by [`Username::canonical`]).
    #[error("username already taken")]
    Duplicate,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Changes to an account's profile; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct UserChanges {
    pub username: Option<Username>,
    /// `Some(None)` clears the e-mail address.
    pub email: Option<Option<Email>>,
    pub at: DateTime<Utc>,
}

/// Stores accounts.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores a new user and returns it as stored.
    ///
    /// MUST return [`CreateUserError::Duplicate`] when another user's username has the same
    /// canonical form, even when two creates race.
    async fn create(&self, user: NewUser) -> Result<User, CreateUserError>;

    /// The user with this id, or `Ok(None)` when there is none.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, InfraError>;

    /// The user whose username has the same canonical form, with their password hash, or
    /// `Ok(None)` when there is none.
    async fn find_by_username(&self, username: &Username)
    -> Result<Option<StoredUser>, InfraError>;

    /// The user with this id and their password hash, or `Ok(None)`.
    async fn find_credentials(&self, id: UserId) -> Result<Option<StoredUser>, InfraError>;

    /// Records a login at `at` (and the new hash, when the password was re-hashed).
    /// `Ok(false)` when there is no such user.
    async fn record_login(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        rehashed: Option<PasswordHash>,
    ) -> Result<bool, InfraError>;

    /// Applies `changes` and returns the user as stored, or `Ok(None)` when there is no such
    /// user. MUST return [`CreateUserError::Duplicate`] when the new username's canonical form
    /// belongs to another user.
    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
    ) -> Result<Option<User>, CreateUserError>;

    /// Replaces the password hash. `Ok(false)` when there is no such user.
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: PasswordHash,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Deletes the user and everything stored under them. `Ok(false)` when there was none.
    async fn delete(&self, id: UserId) -> Result<bool, InfraError>;
}

/// Something stored under a user that must go when the account goes (chats and all they own,
/// blobs, vectors…). Account deletion calls every one before deleting the user.
#[async_trait]
pub trait UserData: Send + Sync {
    fn name(&self) -> &str;
    /// Deletes everything of `owner` held here; returns how many top-level items.
    async fn delete_user_data(&self, owner: UserId) -> Result<u64, InfraError>;
}

/// Stores sessions and their refresh tokens. Every method is scoped by the owner where it names
/// a session, so one user can never see or end another's.
#[async_trait]
pub trait SessionRepository: Send + Sync {
    /// Stores a new session with its first refresh token.
    async fn create(
        &self,
        session: NewSession,
        token: NewRefreshToken,
    ) -> Result<Session, InfraError>;

    /// Exchanges the token whose hash is `presented` for `next`, atomically. `next` is derived
    /// from the presented token (the same on every retry of it).
    ///
    /// MUST return [`Rotation::Rotated`] at most once per token, even when calls race. A token
    /// presented again no later than `grace` after its rotation, whose successor `next` is still
    /// the session's unused token, MUST give [`Rotation::Retried`] and change nothing (a client
    /// retrying a refresh whose answer it lost, RFC 9700 §4.14.2). Any other later call with the
    /// same token MUST get [`Rotation::Reused`], and the session MUST then be revoked. Unknown
    /// or expired tokens, and tokens of a revoked or expired session, MUST give
    /// [`Rotation::Invalid`]. `next` expires at `next_expires_at`.
    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: &RefreshTokenHash,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
        grace: std::time::Duration,
    ) -> Result<Rotation, InfraError>;

    /// The session if it is `user`'s and active at `now`, else `Ok(None)`.
    async fn find_active(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, InfraError>;

    /// `user`'s active sessions, newest first.
    async fn list_active(
        &self,
        user: UserId,
        page: PageRequest<SessionCursor>,
        now: DateTime<Utc>,
    ) -> Result<Page<Session>, InfraError>;

    /// Revokes one of `user`'s active sessions. `Ok(false)` when `user` has no such active
    /// session (another user's session included).
    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError>;

    /// Revokes every active session of `user` except `keep`; returns how many.
    async fn revoke_all(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, InfraError>;

    /// Deletes every session (and token) of `user`; returns how many sessions.
    async fn delete_for_user(&self, user: UserId) -> Result<u64, InfraError>;

    /// Deletes sessions that ended (expired or revoked) before `before`, with their tokens.
    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, InfraError>;
}

/// Hashes and verifies passwords. Implementations run the (deliberately slow) work off the async
/// executor and bound how much of it runs at once.
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// A fresh salted hash of the password in PHC format.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, InfraError>;

    /// Whether the password matches the hash. A malformed hash is `Ok(false)`, never an error
    /// the caller could tell apart from a wrong password.
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> Result<bool, InfraError>;

    /// Whether the hash was made with other parameters than today's and should be replaced.
    fn needs_rehash(&self, hash: &PasswordHash) -> bool;
}

/// Judges how guessable a password is.
pub trait PasswordStrength: Send + Sync {
    /// `Err` with advice when the password is too easy to guess. `context` holds words the
    /// password must not lean on (the username, the e-mail address).
    fn assess(&self, password: &str, context: &[&str]) -> Result<(), String>;
}

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub user_id: UserId,
    pub session_id: SessionId,
    pub token_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Why an access token was refused. Clients see one 401; the log sees which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    WrongAlgorithm,
    #[error("signature does not verify")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("wrong issuer or audience")]
    WrongAudience,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("required claim missing or invalid")]
    BadClaims,
}

/// Issues and verifies signed access tokens.
pub trait AccessTokens: Send + Sync {
    /// A signed token for `claims`.
    fn issue(&self, claims: &AccessClaims) -> Result<String, InfraError>;

    /// The claims of a token this issuer (or a configured previous key) signed, if it is valid
    /// now. MUST refuse `alg: none`, any algorithm other than the configured one, a token
    /// without `exp`, a foreign issuer or audience, and a bad signature.
    fn verify(&self, token: &str) -> Result<AccessClaims, TokenRejection>;

    /// How long a new token is valid.
    fn lifetime(&self) -> Duration;
}
