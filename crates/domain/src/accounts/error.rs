//! What can go wrong with accounts and sessions, in the terms of the table of error codes.

use super::ports::{CreateUserError, TokenRejection};
use crate::error::{Code, DomainError, InfraError, ValidationErrors};
use crate::limits::Limited;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("username already taken")]
    UsernameTaken,
    #[error(transparent)]
    Limited(#[from] Limited),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user and wrong password look the same, on purpose.
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error(transparent)]
    Limited(#[from] Limited),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("the refresh token is invalid, expired or revoked; log in again")]
    InvalidToken,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("an access token is required: send `Authorization: Bearer <token>`")]
    MissingToken,
    #[error("the access token is invalid or expired")]
    InvalidToken(TokenRejection),
    #[error("the session of this access token has ended; log in again")]
    SessionEnded,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("username already taken")]
    UsernameTaken,
    #[error(transparent)]
    Limited(#[from] Limited),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl DomainError for RegisterError {
    fn code(&self) -> Code {
        match self {
            Self::UsernameTaken => Code::UsernameTaken,
            Self::Invalid(e) => e.code(),
            Self::Limited(e) => e.code(),
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::UsernameTaken => None,
            Self::Invalid(e) => Some(e),
            Self::Limited(e) => Some(e),
            Self::Infra(e) => Some(e),
        }
    }
}

impl DomainError for LoginError {
    fn code(&self) -> Code {
        match self {
            Self::InvalidCredentials => Code::InvalidCredentials,
            Self::Limited(e) => e.code(),
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::InvalidCredentials => None,
            Self::Limited(e) => Some(e),
            Self::Infra(e) => Some(e),
        }
    }
}

impl DomainError for RefreshError {
    fn code(&self) -> Code {
        match self {
            Self::InvalidToken => Code::InvalidRefreshToken,
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::InvalidToken => None,
            Self::Infra(e) => Some(e),
        }
    }
}

impl DomainError for AuthError {
    fn code(&self) -> Code {
        match self {
            Self::MissingToken => Code::MissingToken,
            Self::InvalidToken(_) | Self::SessionEnded => Code::InvalidToken,
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::Infra(e) => Some(e),
            _ => None,
        }
    }
}

impl DomainError for AccountError {
    fn code(&self) -> Code {
        match self {
            Self::NotFound => Code::NotFound,
            Self::UsernameTaken => Code::UsernameTaken,
            Self::Invalid(e) => e.code(),
            Self::Limited(e) => e.code(),
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Limited(e) => Some(e),
            Self::Infra(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CreateUserError> for AccountError {
    fn from(e: CreateUserError) -> Self {
        match e {
            CreateUserError::Duplicate => Self::UsernameTaken,
            CreateUserError::Infra(e) => Self::Infra(e),
        }
    }
}
