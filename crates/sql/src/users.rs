//! [`UserRepository`] on sea-orm.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{
    CreateUserError, Email, NewUser, PasswordHash, StoredUser, User, UserChanges, UserId,
    UserRepository, Username,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter,
};

use crate::entities::users;
use crate::errors::{corrupt, infra, is_unique_violation};

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
            card_count: Set(0),
        };
        match row.insert(&self.db).await {
            Ok(row) => Ok(to_user(&row)?),
            Err(e) if is_unique_violation(&e) => Err(CreateUserError::Duplicate),
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
        Ok(Some(to_stored(row)?))
    }

    async fn find_credentials(&self, id: UserId) -> Result<Option<StoredUser>, InfraError> {
        users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_stored)
            .transpose()
    }

    async fn record_login(
        &self,
        id: UserId,
        at: DateTime<Utc>,
        rehashed: Option<PasswordHash>,
    ) -> Result<bool, InfraError> {
        let mut update = users::Entity::update_many()
            .col_expr(users::Column::LastLoginAt, Expr::value(Some(at)))
            .filter(users::Column::Id.eq(id.as_uuid()));
        if let Some(hash) = rehashed {
            update = update.col_expr(
                users::Column::PasswordHash,
                Expr::value(hash.as_str().to_string()),
            );
        }
        Ok(update.exec(&self.db).await.map_err(infra)?.rows_affected == 1)
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
    ) -> Result<Option<User>, CreateUserError> {
        let Some(row) = users::Entity::find_by_id(id.as_uuid())
            .one(&self.db)
            .await
            .map_err(infra)?
        else {
            return Ok(None);
        };
        let mut row: users::ActiveModel = row.into();
        if let Some(username) = changes.username {
            row.username = Set(username.as_str().to_string());
            row.username_canonical = Set(username.canonical());
        }
        if let Some(email) = changes.email {
            row.email = Set(email.map(|e| e.as_str().to_string()));
        }
        row.updated_at = Set(changes.at);
        match row.update(&self.db).await {
            Ok(row) => Ok(Some(to_user(&row)?)),
            Err(e) if is_unique_violation(&e) => Err(CreateUserError::Duplicate),
            Err(DbErr::RecordNotUpdated) => Ok(None),
            Err(e) => Err(infra(e).into()),
        }
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: PasswordHash,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let result = users::Entity::update_many()
            .col_expr(
                users::Column::PasswordHash,
                Expr::value(hash.as_str().to_string()),
            )
            .col_expr(users::Column::UpdatedAt, Expr::value(at))
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected == 1)
    }

    async fn delete(&self, id: UserId) -> Result<bool, InfraError> {
        // Sessions and tokens go with the row (ON DELETE CASCADE).
        let result = users::Entity::delete_by_id(id.as_uuid())
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected == 1)
    }
}

fn to_stored(row: users::Model) -> Result<StoredUser, InfraError> {
    Ok(StoredUser {
        user: to_user(&row)?,
        password_hash: PasswordHash::new(row.password_hash),
    })
}
