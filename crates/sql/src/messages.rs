//! [`MessageRepository`] on sea-orm.

use async_trait::async_trait;

use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::assistant::{
    Message, MessageCursor, MessageId, MessageRepository, MessageStatus, Role, Usage,
};
use flashforge_domain::chats::ChatId;
use flashforge_domain::pagination::{Page, PageRequest};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use crate::entities::messages;
use crate::errors::{corrupt, infra};

pub struct SqlMessageRepository {
    db: DatabaseConnection,
}

impl SqlMessageRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_message(row: messages::Model) -> Result<Message, InfraError> {
    let usage = match (row.prompt_tokens, row.completion_tokens) {
        (Some(p), Some(c)) => Some(Usage {
            prompt_tokens: u32::try_from(p).unwrap_or_default(),
            completion_tokens: u32::try_from(c).unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(Message {
        id: MessageId::from_uuid(row.id),
        chat_id: ChatId::from_uuid(row.chat_id),
        user_id: UserId::from_uuid(row.user_id),
        role: Role::parse(&row.role).ok_or_else(|| corrupt("messages", "role"))?,
        content: row.content,
        citations: serde_json::from_str(&row.citations).map_err(|e| corrupt("messages", e))?,
        model: row.model,
        usage,
        status: MessageStatus::parse(&row.status).ok_or_else(|| corrupt("messages", "status"))?,
        created_at: row.created_at,
    })
}

/// The row of `message`.
fn row(message: &Message) -> Result<messages::ActiveModel, InfraError> {
    let citations = serde_json::to_string(&message.citations).map_err(InfraError::internal)?;
    Ok(messages::ActiveModel {
        id: Set(message.id.as_uuid()),
        chat_id: Set(message.chat_id.as_uuid()),
        user_id: Set(message.user_id.as_uuid()),
        role: Set(message.role.as_str().to_string()),
        content: Set(message.content.clone()),
        citations: Set(citations),
        model: Set(message.model.clone()),
        prompt_tokens: Set(message
            .usage
            .map(|u| i32::try_from(u.prompt_tokens).unwrap_or(i32::MAX))),
        completion_tokens: Set(message
            .usage
            .map(|u| i32::try_from(u.completion_tokens).unwrap_or(i32::MAX))),
        status: Set(message.status.as_str().to_string()),
        created_at: Set(message.created_at),
    })
}

/// Deletes `owner`'s messages of `chat` that came after message `id`.
fn delete_after(
    owner: UserId,
    chat: ChatId,
    id: MessageId,
) -> sea_orm::DeleteMany<messages::Entity> {
    messages::Entity::delete_many()
        .filter(messages::Column::ChatId.eq(chat.as_uuid()))
        .filter(messages::Column::UserId.eq(owner.as_uuid()))
        .filter(messages::Column::Id.gt(id.as_uuid()))
}

#[async_trait]
impl MessageRepository for SqlMessageRepository {
    async fn append(&self, message: Message) -> Result<Message, InfraError> {
        row(&message)?.insert(&self.db).await.map_err(infra)?;
        Ok(message)
    }

    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        page: PageRequest<MessageCursor>,
    ) -> Result<Page<Message>, InfraError> {
        let mut query = messages::Entity::find()
            .filter(messages::Column::ChatId.eq(chat.as_uuid()))
            .filter(messages::Column::UserId.eq(owner.as_uuid()));
        if let Some(after) = page.after {
            query = query.filter(messages::Column::Id.gt(after));
        }
        let rows = query
            .order_by_asc(messages::Column::Id)
            .limit(page.limit.fetch_count())
            .all(&self.db)
            .await
            .map_err(infra)?;
        let items = rows
            .into_iter()
            .map(to_message)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |m| m.id.as_uuid()))
    }

    async fn recent(
        &self,
        owner: UserId,
        chat: ChatId,
        limit: u64,
    ) -> Result<Vec<Message>, InfraError> {
        let rows = messages::Entity::find()
            .filter(messages::Column::ChatId.eq(chat.as_uuid()))
            .filter(messages::Column::UserId.eq(owner.as_uuid()))
            .order_by_desc(messages::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(infra)?;
        let mut items = rows
            .into_iter()
            .map(to_message)
            .collect::<Result<Vec<_>, _>>()?;
        items.reverse();
        Ok(items)
    }

    async fn find(
        &self,
        owner: UserId,
        chat: ChatId,
        id: MessageId,
    ) -> Result<Option<Message>, InfraError> {
        messages::Entity::find_by_id(id.as_uuid())
            .filter(messages::Column::ChatId.eq(chat.as_uuid()))
            .filter(messages::Column::UserId.eq(owner.as_uuid()))
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_message)
            .transpose()
    }

    async fn rewrite(
        &self,
        owner: UserId,
        chat: ChatId,
        id: MessageId,
        content: &str,
    ) -> Result<bool, InfraError> {
        let txn = self.db.begin().await.map_err(infra)?;
        let updated = messages::Entity::update_many()
            .col_expr(messages::Column::Content, Expr::value(content.to_string()))
            .filter(messages::Column::Id.eq(id.as_uuid()))
            .filter(messages::Column::ChatId.eq(chat.as_uuid()))
            .filter(messages::Column::UserId.eq(owner.as_uuid()))
            .exec(&txn)
            .await
            .map_err(infra)?;
        if updated.rows_affected != 1 {
            return Ok(false);
        }
        delete_after(owner, chat, id)
            .exec(&txn)
            .await
            .map_err(infra)?;
        txn.commit().await.map_err(infra)?;
        Ok(true)
    }

    async fn replace_after(
        &self,
        after: MessageId,
        message: Message,
    ) -> Result<Message, InfraError> {
        let txn = self.db.begin().await.map_err(infra)?;
        delete_after(message.user_id, message.chat_id, after)
            .exec(&txn)
            .await
            .map_err(infra)?;
        row(&message)?.insert(&txn).await.map_err(infra)?;
        txn.commit().await.map_err(infra)?;
        Ok(message)
    }
}
