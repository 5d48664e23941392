//! [`GenerationRepository`] on sea-orm. A generation and the job that runs it are inserted in
//! one transaction; the request and the cards are stored as JSON.

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    Generation, GenerationId, GenerationRepository, GenerationStatus,
};
use flashforge_domain::knowledge::NewJob;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::entities::flashcard_generations as rows;
use crate::errors::{corrupt, infra};
use crate::jobs::job_row;

pub struct SqlGenerationRepository {
    db: DatabaseConnection,
}

impl SqlGenerationRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_generation(row: rows::Model) -> Result<Generation, InfraError> {
    const TABLE: &str = "flashcard_generations";
    Ok(Generation {
        id: GenerationId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        chat_id: ChatId::from_uuid(row.chat_id),
        request: serde_json::from_str(&row.request).map_err(|e| corrupt(TABLE, e))?,
        status: GenerationStatus::parse(&row.status)
            .ok_or_else(|| corrupt(TABLE, format!("status {}", row.status)))?,
        generator: row.generator,
        batches_done: u32::try_from(row.batches_done).map_err(|e| corrupt(TABLE, e))?,
        batches_total: u32::try_from(row.batches_total).map_err(|e| corrupt(TABLE, e))?,
        cards: serde_json::from_str(&row.cards).map_err(|e| corrupt(TABLE, e))?,
        error: row.error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[async_trait]
impl GenerationRepository for SqlGenerationRepository {
    async fn create(&self, generation: &Generation, job: NewJob) -> Result<(), InfraError> {
        let row = rows::ActiveModel {
            id: Set(generation.id.as_uuid()),
            user_id: Set(generation.user_id.as_uuid()),
            chat_id: Set(generation.chat_id.as_uuid()),
            request: Set(serde_json::to_string(&generation.request).map_err(InfraError::internal)?),
            status: Set(generation.status.as_str().to_string()),
            generator: Set(generation.generator.clone()),
            batches_done: Set(count(generation.batches_done)),
            batches_total: Set(count(generation.batches_total)),
            cards: Set(serde_json::to_string(&generation.cards).map_err(InfraError::internal)?),
            error: Set(generation.error.clone()),
            created_at: Set(generation.created_at),
            updated_at: Set(generation.updated_at),
        };
        let txn = self.db.begin().await.map_err(infra)?;
        row.insert(&txn).await.map_err(infra)?;
        job_row(&job, generation.created_at)?
            .insert(&txn)
            .await
            .map_err(infra)?;
        txn.commit().await.map_err(infra)
    }

    async fn find(
        &self,
        owner: UserId,
        id: GenerationId,
    ) -> Result<Option<Generation>, InfraError> {
        rows::Entity::find_by_id(id.as_uuid())
            .filter(rows::Column::UserId.eq(owner.as_uuid()))
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_generation)
            .transpose()
    }

    async fn update(&self, generation: &Generation) -> Result<bool, InfraError> {
        let cards = serde_json::to_string(&generation.cards).map_err(InfraError::internal)?;
        let result = rows::Entity::update_many()
            .col_expr(
                rows::Column::Status,
                Expr::value(generation.status.as_str().to_string()),
            )
            .col_expr(
                rows::Column::Generator,
                Expr::value(generation.generator.clone()),
            )
            .col_expr(
                rows::Column::BatchesDone,
                Expr::value(count(generation.batches_done)),
            )
            .col_expr(
                rows::Column::BatchesTotal,
                Expr::value(count(generation.batches_total)),
            )
            .col_expr(rows::Column::Cards, Expr::value(cards))
            .col_expr(rows::Column::Error, Expr::value(generation.error.clone()))
            .col_expr(rows::Column::UpdatedAt, Expr::value(generation.updated_at))
            .filter(rows::Column::Id.eq(generation.id.as_uuid()))
            .filter(rows::Column::UserId.eq(generation.user_id.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected > 0)
    }

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        let result = rows::Entity::delete_many()
            .filter(rows::Column::UserId.eq(owner.as_uuid()))
            .filter(rows::Column::ChatId.eq(chat.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected)
    }

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        let result = rows::Entity::delete_many()
            .filter(rows::Column::UserId.eq(owner.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected)
    }
}
