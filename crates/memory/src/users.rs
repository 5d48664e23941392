//! Accounts in a map guarded by one lock, so a duplicate check and an insert are atomic.

use std::collections::HashMap;

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{
    CreateUserError, NewUser, StoredUser, User, UserId, UserRepository, Username,
};
use parking_lot::RwLock;

#[derive(Default)]
pub struct InMemoryUserRepository {
    users: RwLock<HashMap<UserId, StoredUser>>,
}

impl InMemoryUserRepository {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl UserRepository for InMemoryUserRepository {
    async fn create(&self, new: NewUser) -> Result<User, CreateUserError> {
        let mut users = self.users.write();
        let canonical = new.username.canonical();
        if users
            .values()
            .any(|u| u.user.username.canonical() == canonical)
        {
            return Err(CreateUserError::Duplicate);
        }
        let user = User {
            id: new.id,
            username: new.username,
            email: new.email,
            created_at: new.created_at,
            updated_at: new.created_at,
            last_login_at: None,
        };
        users.insert(
            user.id,
            StoredUser {
                user: user.clone(),
                password_hash: new.password_hash,
            },
        );
        Ok(user)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, InfraError> {
        Ok(self.users.read().get(&id).map(|u| u.user.clone()))
    }

    async fn find_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<StoredUser>, InfraError> {
        let canonical = username.canonical();
        Ok(self
            .users
            .read()
            .values()
            .find(|u| u.user.username.canonical() == canonical)
            .cloned())
    }
}
