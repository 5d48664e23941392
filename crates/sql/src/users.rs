//! [`UserRepository`] on sea-orm.

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{
    CreateUserError, Email, NewUser, PasswordHash, StoredUser, User, UserId, UserRepository,
    Username,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    SqlErr,
};

use crate::entities::users;
use crate::errors::{corrupt, infra};

pub struct SqlUserRepository {
    db: DatabaseConnection,
}

impl SqlUserRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_user(row: &users::Model) -> Result<User, InfraError> {
    Ok(User {
        id: UserId::from_uuid(row.id),
        username: Username::parse(&row.username).map_err(|e| corrupt("users", e.message))?,
        email: row
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(|e| corrupt("users", e.message))?,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_login_at: row.last_login_at,
    })
}

#[async_trait]
impl UserRepository for SqlUserRepository {
    async fn create(&self, new: NewUser) -> Result<User, CreateUserError> {
        let row = users::ActiveModel {
            id: Set(new.id.as_uuid()),
            username: Set(new.username.as_str().to_string()),
            username_canonical: Set(new.username.canonical()),
            email: Set(new.email.as_ref().map(|e| e.as_str().to_string())),
            password_hash: Set(new.password_hash.as_str().to_string()),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
            last_login_at: Set(None),
        };
        match row.insert(&self.db).await {
            Ok(row) => Ok(to_user(&row)?),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Err(CreateUserError::Duplicate)
            }
            Err(e) => Err(infra(e).into()),
        }
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, InfraError> {
        users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(infra)?
            .as_ref()
            .map(to_user)
            .transpose()
    }

    async fn find_by_username(
        &self,
        username: &Username,
    ) -> Result<Option<StoredUser>, InfraError> {
        let Some(row) = users::Entity::find()
            .filter(users::Column::UsernameCanonical.eq(username.canonical()))
            .one(&self.db)
            .await
            .map_err(infra)?
        else {
            return Ok(None);
        };
        Ok(Some(StoredUser {
            user: to_user(&row)?,
            password_hash: PasswordHash::new(row.password_hash),
        }))
    }
}
