//! [`ChatRepository`] on sea-orm. The list is a keyset over `(last_activity_at, id)`, newest
//! first, served by the `(user_id, last_activity_at, id)` index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::{
    Chat, ChatChanges, ChatCursor, ChatFilter, ChatId, ChatName, ChatRepository, NewChat,
};
use flashforge_domain::pagination::{Page, PageRequest};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::entities::chats;
use crate::errors::{corrupt, infra};

pub struct SqlChatRepository {
    db: DatabaseConnection,
}

impl SqlChatRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_chat(row: chats::Model) -> Result<Chat, InfraError> {
    Ok(Chat {
        id: ChatId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        name: ChatName::parse(&row.name).map_err(|e| corrupt("chats", e.message))?,
        archived: row.archived,
        created_at: row.created_at,
        updated_at: row.updated_at,
        last_activity_at: row.last_activity_at,
    })
}

fn owned(owner: UserId, id: ChatId) -> Condition {
    Condition::all()
        .add(chats::Column::Id.eq(id.as_uuid()))
        .add(chats::Column::UserId.eq(owner.as_uuid()))
}

#[async_trait]
impl ChatRepository for SqlChatRepository {
    async fn create(&self, new: NewChat) -> Result<Chat, InfraError> {
        let row = chats::ActiveModel {
            id: Set(new.id.as_uuid()),
            user_id: Set(new.user_id.as_uuid()),
            name: Set(new.name.as_str().to_string()),
            archived: Set(false),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
            last_activity_at: Set(new.created_at),
        }
        .insert(&self.db)
        .await
        .map_err(infra)?;
        to_chat(row)
    }

    async fn find(&self, owner: UserId, id: ChatId) -> Result<Option<Chat>, InfraError> {
        chats::Entity::find()
            .filter(owned(owner, id))
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_chat)
            .transpose()
    }

    async fn list(
        &self,
        owner: UserId,
        filter: ChatFilter,
        page: PageRequest<ChatCursor>,
    ) -> Result<Page<Chat>, InfraError> {
        let mut query = chats::Entity::find().filter(chats::Column::UserId.eq(owner.as_uuid()));
        if let Some(archived) = filter.archived {
            query = query.filter(chats::Column::Archived.eq(archived));
        }
        if let Some((at, id)) = page.after {
            query = query.filter(
                Condition::any()
                    .add(chats::Column::LastActivityAt.lt(at))
                    .add(
                        Condition::all()
                            .add(chats::Column::LastActivityAt.eq(at))
                            .add(chats::Column::Id.lt(id)),
                    ),
            );
        }
        let rows = query
            .order_by_desc(chats::Column::LastActivityAt)
            .order_by_desc(chats::Column::Id)
            .limit(page.limit.fetch_count())
            .all(&self.db)
            .await
            .map_err(infra)?;
        let chats = rows
            .into_iter()
            .map(to_chat)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(chats, page.limit, |c| {
            (c.last_activity_at, c.id.as_uuid())
        }))
    }

    async fn update(
        &self,
        owner: UserId,
        id: ChatId,
        changes: ChatChanges,
    ) -> Result<Option<Chat>, InfraError> {
        let mut update = chats::Entity::update_many()
            .col_expr(chats::Column::UpdatedAt, Expr::value(changes.at))
            .filter(owned(owner, id));
        if let Some(name) = changes.name {
            update = update.col_expr(chats::Column::Name, Expr::value(name.as_str().to_string()));
        }
        if let Some(archived) = changes.archived {
            update = update.col_expr(chats::Column::Archived, Expr::value(archived));
        }
        if update.exec(&self.db).await.map_err(infra)?.rows_affected == 0 {
            return Ok(None);
        }
        self.find(owner, id).await
    }

    async fn touch(
        &self,
        owner: UserId,
        id: ChatId,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let result = chats::Entity::update_many()
            .col_expr(chats::Column::LastActivityAt, Expr::value(at))
            .filter(owned(owner, id))
            .filter(chats::Column::LastActivityAt.lt(at))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        if result.rows_affected == 1 {
            return Ok(true);
        }
        Ok(self.find(owner, id).await?.is_some())
    }

    async fn delete(&self, owner: UserId, id: ChatId) -> Result<bool, InfraError> {
        let result = chats::Entity::delete_many()
            .filter(owned(owner, id))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected == 1)
    }

    async fn delete_all(&self, owner: UserId) -> Result<u64, InfraError> {
        Ok(chats::Entity::delete_many()
            .filter(chats::Column::UserId.eq(owner.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected)
    }
}
