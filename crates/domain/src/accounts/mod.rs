//! Accounts: who a user is, how they prove it, and the sessions they hold.

mod models;
mod ports;
mod service;
mod sessions;

pub use models::{
    Email, NewUser, Password, PasswordHash, PasswordPolicy, StoredUser, User, UserId, Username,
};
pub use ports::{
    AccessClaims, AccessTokens, CreateUserError, PasswordHasher, PasswordStrength,
    SessionRepository, TokenRejection, UserChanges, UserData, UserRepository,
};
pub use service::{
    AccountError, AccountSettings, Accounts, AuthError, LoginCommand, LoginError, PasswordChange,
    Principal, ProfileChanges, RefreshError, RegisterCommand, RegisterError, RotationKey,
    TokenPair,
};
pub use sessions::{
    ClientInfo, NewRefreshToken, NewSession, RefreshToken, RefreshTokenHash, Rotation, Session,
    SessionCursor, SessionId,
};
