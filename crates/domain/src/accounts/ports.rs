//! The ports the accounts service needs. Every adapter of a port passes the same contract suite
//! (`tests/api/contracts`).

use async_trait::async_trait;

use super::models::{NewUser, Password, PasswordHash, StoredUser, User, UserId, Username};
use crate::error::InfraError;

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another account already has this username (compared by [`Username::canonical`]).
    #[error("username already taken")]
    Duplicate,
    #[error(transparent)]
    Infra(#[from] InfraError),
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
}
