//! The accounts service: registration today; login, tokens and sessions build on it.

use std::sync::Arc;

use secrecy::SecretString;

use super::models::{Email, NewUser, PasswordPolicy, User, UserId, Username};
use super::ports::{CreateUserError, PasswordHasher, UserRepository};
use crate::clock::Clock;
use crate::error::{DomainError, ErrorKind, FieldError, InfraError, ValidationErrors};

/// A request to open an account, as it arrives from a client (unvalidated).
#[derive(Debug)]
pub struct RegisterCommand {
    pub username: String,
    pub password: SecretString,
    pub email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("username already taken")]
    UsernameTaken,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl DomainError for RegisterError {
    fn kind(&self) -> ErrorKind {
        match self {
            RegisterError::Invalid(e) => e.kind(),
            RegisterError::UsernameTaken => ErrorKind::Conflict,
            RegisterError::Infra(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            RegisterError::Invalid(e) => e.code(),
            RegisterError::UsernameTaken => "username_taken",
            RegisterError::Infra(e) => e.code(),
        }
    }
    fn field_errors(&self) -> &[FieldError] {
        match self {
            RegisterError::Invalid(e) => e.fields(),
            _ => &[],
        }
    }
}

/// Opens and looks up accounts.
pub struct Accounts {
    users: Arc<dyn UserRepository>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    policy: PasswordPolicy,
}

impl Accounts {
    pub fn new(
        users: Arc<dyn UserRepository>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        policy: PasswordPolicy,
    ) -> Self {
        Self {
            users,
            hasher,
            clock,
            policy,
        }
    }

    /// Validates every field (naming each bad one), hashes the password and stores the account.
    pub async fn register(&self, command: RegisterCommand) -> Result<User, RegisterError> {
        let mut errors = ValidationErrors::new();
        let username = errors.check(Username::parse(&command.username));
        let password = errors.check(self.policy.parse(command.password));
        let email = match command.email.as_deref() {
            None | Some("") => Some(None),
            Some(raw) => errors.check(Email::parse(raw)).map(Some),
        };
        let (Some(username), Some(password), Some(email)) = (username, password, email) else {
            return Err(errors.into());
        };

        let password_hash = self.hasher.hash(&password).await?;
        let new_user = NewUser {
            id: UserId::new(),
            username,
            email,
            password_hash,
            created_at: self.clock.now(),
        };
        self.users.create(new_user).await.map_err(|e| match e {
            CreateUserError::Duplicate => RegisterError::UsernameTaken,
            CreateUserError::Infra(e) => RegisterError::Infra(e),
        })
    }

    /// The user with this id, if any.
    pub async fn find(&self, id: UserId) -> Result<Option<User>, InfraError> {
        self.users.find_by_id(id).await
    }
}
