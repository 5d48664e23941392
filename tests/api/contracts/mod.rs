//! Contract suites: one per port, run against every adapter of that port. An adapter that
//! passes keeps the promises its port's doc comments make.

mod cache;
mod chats;
mod flashcards;
mod knowledge;
mod ledger;
mod limits;
mod messages;
mod sessions;
mod study;
mod users;

use chrono::{SubsecRound, Utc};
use flashforge_domain::accounts::{NewUser, PasswordHash, UserId, UserRepository, Username};

/// A stored user named `name`, for the suites whose rows must belong to one.
pub async fn stored_user(users: &dyn UserRepository, name: &str) -> UserId {
    users
        .create(NewUser {
            id: UserId::new(),
            username: Username::parse(name).unwrap(),
            email: None,
            password_hash: PasswordHash::new("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into()),
            created_at: Utc::now().trunc_subsecs(6),
        })
        .await
        .unwrap()
        .id
}
