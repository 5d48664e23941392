//! Accounts: who a user is, how they prove it, and the sessions they hold.

mod error;
mod models;
mod ports;
mod service;
mod sessions;

pub use error::{AccountError, AuthError, LoginError, RefreshError, RegisterError};
pub use models::{
    Email, NewUser, Password, PasswordHash, PasswordPolicy, StoredUser, User, UserId, Username,
};
pub use ports::{
    AccessClaims, AccessTokens, CreateUserError, PasswordHasher, PasswordStrength,
    SessionRepository, TokenRejection, UserChanges, UserData, UserRepository,
};
pub use service::{
    AccountPorts, AccountSettings, Accounts, LoginCommand, PasswordChange, Principal,
    ProfileChanges, RegisterCommand, RotationKey, TokenPair,
};
pub use sessions::{
    ClientInfo, NewRefreshToken, NewSession, RefreshToken, RefreshTokenHash, Rotation, Session,
    SessionCursor, SessionId,
};
