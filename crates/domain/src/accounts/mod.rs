//! Accounts: who a user is and how they prove it.

mod models;
mod ports;
mod service;

pub use models::{
    Email, NewUser, Password, PasswordHash, PasswordPolicy, StoredUser, User, UserId, Username,
};
pub use ports::{CreateUserError, PasswordHasher, UserRepository};
pub use service::{Accounts, RegisterCommand, RegisterError};
