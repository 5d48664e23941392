//! [`SessionRepository`] on sea-orm. Rotation starts with a conditional write, so that the
//! first statement of its transaction takes the write lock (SQLite) or the row lock (Postgres):
//! of two racing rotations of one token, exactly one changes a row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::{
    NewRefreshToken, NewSession, RefreshTokenHash, Rotation, Session, SessionCursor, SessionId,
    SessionRepository, UserId,
};
use flashforge_domain::pagination::{Page, PageRequest};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use crate::entities::{refresh_tokens, sessions};
use crate::errors::infra;

pub struct SqlSessionRepository {
    db: DatabaseConnection,
}

impl SqlSessionRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_session(row: sessions::Model) -> Session {
    Session {
        id: SessionId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        user_agent: row.user_agent,
        ip: row.ip,
        revoked_at: row.revoked_at,
    }
}

fn active_at(now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(sessions::Column::RevokedAt.is_null())
        .add(sessions::Column::ExpiresAt.gt(now))
}

async fn revoke_in(
    txn: &DatabaseTransaction,
    id: uuid::Uuid,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(now))
        .filter(sessions::Column::Id.eq(id))
        .filter(sessions::Column::RevokedAt.is_null())
        .exec(txn)
        .await
        .map_err(infra)?;
    Ok(())
}

#[async_trait]
impl SessionRepository for SqlSessionRepository {
    async fn create(&self, new: NewSession, token: NewRefreshToken) -> Result<Session, InfraError> {
        let txn = self.db.begin().await.map_err(infra)?;
        let row = sessions::ActiveModel {
            id: Set(new.id.as_uuid()),
            user_id: Set(new.user_id.as_uuid()),
            created_at: Set(new.created_at),
            last_used_at: Set(new.created_at),
            expires_at: Set(new.expires_at),
            user_agent: Set(new.client.user_agent),
            ip: Set(new.client.ip.map(|ip| ip.to_string())),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(infra)?;
        refresh_tokens::ActiveModel {
            hash: Set(token.hash.as_str().to_string()),
            session_id: Set(token.session_id.as_uuid()),
            issued_at: Set(token.issued_at),
            expires_at: Set(token.expires_at),
            rotated_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(infra)?;
        txn.commit().await.map_err(infra)?;
        Ok(to_session(row))
    }

    async fn rotate(
        &self,
        presented: &RefreshTokenHash,
        next: &RefreshTokenHash,
        now: DateTime<Utc>,
        next_expires_at: DateTime<Utc>,
        grace: std::time::Duration,
    ) -> Result<Rotation, InfraError> {
        let txn = self.db.begin().await.map_err(infra)?;
        let active_sessions = Query::select()
            .column(sessions::Column::Id)
            .from(sessions::Entity)
            .cond_where(active_at(now))
            .to_owned();
        let won = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RotatedAt, Expr::value(now))
            .filter(refresh_tokens::Column::Hash.eq(presented.as_str()))
            .filter(refresh_tokens::Column::RotatedAt.is_null())
            .filter(refresh_tokens::Column::ExpiresAt.gt(now))
            .filter(refresh_tokens::Column::SessionId.in_subquery(active_sessions))
            .exec(&txn)
            .await
            .map_err(infra)?
            .rows_affected
            == 1;

        let Some(token) = refresh_tokens::Entity::find_by_id(presented.as_str().to_string())
            .one(&txn)
            .await
            .map_err(infra)?
        else {
            txn.commit().await.map_err(infra)?;
            return Ok(Rotation::Invalid);
        };
        let Some(session) = sessions::Entity::find_by_id(token.session_id)
            .one(&txn)
            .await
            .map_err(infra)?
        else {
            txn.commit().await.map_err(infra)?;
            return Ok(Rotation::Invalid);
        };

        let outcome = if won {
            refresh_tokens::ActiveModel {
                hash: Set(next.as_str().to_string()),
                session_id: Set(session.id),
                issued_at: Set(now),
                expires_at: Set(next_expires_at),
                rotated_at: Set(None),
            }
            .insert(&txn)
            .await
            .map_err(infra)?;
            let mut touched: sessions::ActiveModel = session.into();
            touched.last_used_at = Set(now);
            let session = touched.update(&txn).await.map_err(infra)?;
            Rotation::Rotated(to_session(session))
        } else {
            let session = to_session(session);
            let grace = chrono::Duration::from_std(grace).unwrap_or_default();
            let retry = match token.rotated_at {
                Some(rotated_at) if session.is_active(now) && now - rotated_at <= grace => {
                    // The successor must still be the session's unused token.
                    refresh_tokens::Entity::find_by_id(next.as_str().to_string())
                        .one(&txn)
                        .await
                        .map_err(infra)?
                        .filter(|t| t.session_id == token.session_id && t.rotated_at.is_none())
                        .map(|_| rotated_at)
                }
                _ => None,
            };
            if let Some(rotated_at) = retry {
                Rotation::Retried {
                    session,
                    rotated_at,
                }
            } else if session.is_active(now) && token.rotated_at.is_some() {
                revoke_in(&txn, session.id.as_uuid(), now).await?;
                Rotation::Reused {
                    session_id: session.id,
                    user_id: session.user_id,
                }
            } else {
                Rotation::Invalid
            }
        };
        txn.commit().await.map_err(infra)?;
        Ok(outcome)
    }

    async fn find_active(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, InfraError> {
        Ok(sessions::Entity::find_by_id(id.as_uuid())
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .filter(active_at(now))
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_session))
    }

    async fn list_active(
        &self,
        user: UserId,
        page: PageRequest<SessionCursor>,
        now: DateTime<Utc>,
    ) -> Result<Page<Session>, InfraError> {
        let mut query = sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .filter(active_at(now));
        if let Some(after) = page.after {
            query = query.filter(sessions::Column::Id.lt(after));
        }
        let rows = query
            .order_by_desc(sessions::Column::Id)
            .limit(page.limit.fetch_count())
            .all(&self.db)
            .await
            .map_err(infra)?;
        let sessions = rows.into_iter().map(to_session).collect();
        Ok(Page::from_overfetch(sessions, page.limit, |s| {
            s.id.as_uuid()
        }))
    }

    async fn revoke(
        &self,
        user: UserId,
        id: SessionId,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let result = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .filter(sessions::Column::Id.eq(id.as_uuid()))
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .filter(active_at(now))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected == 1)
    }

    async fn revoke_all(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, InfraError> {
        let mut update = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(now))
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .filter(active_at(now));
        if let Some(keep) = keep {
            update = update.filter(sessions::Column::Id.ne(keep.as_uuid()));
        }
        Ok(update.exec(&self.db).await.map_err(infra)?.rows_affected)
    }

    async fn delete_for_user(&self, user: UserId) -> Result<u64, InfraError> {
        Ok(sessions::Entity::delete_many()
            .filter(sessions::Column::UserId.eq(user.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected)
    }

    async fn purge_ended(&self, before: DateTime<Utc>) -> Result<u64, InfraError> {
        let ended = sessions::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(sessions::Column::RevokedAt.lt(before))
                    .add(sessions::Column::ExpiresAt.lt(before)),
            )
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected;
        refresh_tokens::Entity::delete_many()
            .filter(refresh_tokens::Column::ExpiresAt.lt(before))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(ended)
    }
}
