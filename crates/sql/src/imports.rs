//! [`ImportRepository`] on sea-orm. An import and the job that runs it are inserted in one
//! transaction; the report is stored as JSON.

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{DeckImport, ImportId, ImportRepository, ImportStatus};
use flashforge_domain::knowledge::NewJob;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    TransactionTrait,
};

use crate::entities::deck_imports as rows;
use crate::errors::{corrupt, infra};
use crate::jobs::job_row;

pub struct SqlImportRepository {
    db: DatabaseConnection,
}

impl SqlImportRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

const TABLE: &str = "deck_imports";

fn to_import(row: rows::Model) -> Result<DeckImport, InfraError> {
    Ok(DeckImport {
        id: ImportId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        chat_id: ChatId::from_uuid(row.chat_id),
        status: ImportStatus::parse(&row.status)
            .ok_or_else(|| corrupt(TABLE, format!("status {}", row.status)))?,
        notes_total: u32::try_from(row.notes_total).map_err(|e| corrupt(TABLE, e))?,
        notes_done: u32::try_from(row.notes_done).map_err(|e| corrupt(TABLE, e))?,
        report: serde_json::from_str(&row.report).map_err(|e| corrupt(TABLE, e))?,
        error: row.error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[async_trait]
impl ImportRepository for SqlImportRepository {
    async fn create(&self, import: &DeckImport, job: NewJob) -> Result<(), InfraError> {
        let row = rows::ActiveModel {
            id: Set(import.id.as_uuid()),
            user_id: Set(import.user_id.as_uuid()),
            chat_id: Set(import.chat_id.as_uuid()),
            status: Set(import.status.as_str().to_string()),
            notes_total: Set(count(import.notes_total)),
            notes_done: Set(count(import.notes_done)),
            report: Set(serde_json::to_string(&import.report).map_err(InfraError::internal)?),
            error: Set(import.error.clone()),
            created_at: Set(import.created_at),
            updated_at: Set(import.updated_at),
        };
        let txn = self.db.begin().await.map_err(infra)?;
        row.insert(&txn).await.map_err(infra)?;
        job_row(&job, import.created_at)?
            .insert(&txn)
            .await
            .map_err(infra)?;
        txn.commit().await.map_err(infra)
    }

    async fn find(&self, owner: UserId, id: ImportId) -> Result<Option<DeckImport>, InfraError> {
        rows::Entity::find_by_id(id.as_uuid())
            .filter(rows::Column::UserId.eq(owner.as_uuid()))
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_import)
            .transpose()
    }

    async fn update(&self, import: &DeckImport) -> Result<bool, InfraError> {
        let report = serde_json::to_string(&import.report).map_err(InfraError::internal)?;
        let result = rows::Entity::update_many()
            .col_expr(
                rows::Column::Status,
                Expr::value(import.status.as_str().to_string()),
            )
            .col_expr(
                rows::Column::NotesDone,
                Expr::value(count(import.notes_done)),
            )
            .col_expr(rows::Column::Report, Expr::value(report))
            .col_expr(rows::Column::Error, Expr::value(import.error.clone()))
            .col_expr(rows::Column::UpdatedAt, Expr::value(import.updated_at))
            .filter(rows::Column::Id.eq(import.id.as_uuid()))
            .filter(rows::Column::UserId.eq(import.user_id.as_uuid()))
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
