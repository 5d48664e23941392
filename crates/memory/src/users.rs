//! Accounts in a map guarded by one lock, so a duplicate check and an insert are atomic.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{
    CreateUserError, NewUser, PasswordHash, StoredUser, User, UserChanges, UserId, UserRepository,
    Username,
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

    async fn find_credentials(&self, id: UserId) -> Result<Option<StoredUser>, InfraError> {
        Ok(self.users.read().get(&id).cloned())
    }

    async fn record_login(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        rehashed: Option<PasswordHash>,
    ) -> Result<bool, InfraError> {
        let mut users = self.users.write();
        let Some(stored) = users.get_mut(&id) else {
            return Ok(false);
        };
        stored.user.last_login_at = Some(at);
        if let Some(hash) = rehashed {
            stored.password_hash = hash;
        }
        Ok(true)
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
    ) -> Result<Option<User>, CreateUserError> {
        let mut users = self.users.write();
        if let Some(username) = &changes.username {
            let canonical = username.canonical();
            if users
                .values()
                .any(|u| u.user.id != id && u.user.username.canonical() == canonical)
            {
                return Err(CreateUserError::Duplicate);
            }
        }
        let Some(stored) = users.get_mut(&id) else {
            return Ok(None);
        };
        if let Some(username) = changes.username {
            stored.user.username = username;
        }
        if let Some(email) = changes.email {
            stored.user.email = email;
        }
        stored.user.updated_at = changes.at;
        Ok(Some(stored.user.clone()))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: PasswordHash,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut users = self.users.write();
        let Some(stored) = users.get_mut(&id) else {
            return Ok(false);
        };
        stored.password_hash = hash;
        stored.user.updated_at = at;
        Ok(true)
    }

    async fn delete(&self, id: UserId) -> Result<bool, InfraError> {
        Ok(self.users.write().remove(&id).is_some())
    }
}
