//! [`DocumentRepository`] on sea-orm: documents and their chunks; a new document's ingestion
//! job is inserted in the same transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    Chunk, ChunkCursor, ChunkId, Completion, Created, Document, DocumentCursor, DocumentId,
    DocumentRepository, DocumentStatus, FileName, MediaType, NewDocument, NewJob,
};
use flashforge_domain::pagination::{Page, PageRequest};
use flashforge_domain::quotas::DocumentUsage;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};

use crate::entities::{chunks, documents};
use crate::errors::{corrupt, infra, is_unique_violation};
use crate::jobs::job_row;

pub struct SqlDocumentRepository {
    db: DatabaseConnection,
}

impl SqlDocumentRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn to_document(row: documents::Model) -> Result<Document, InfraError> {
    Ok(Document {
        id: DocumentId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        chat_id: ChatId::from_uuid(row.chat_id),
        file_name: FileName::from_stored(row.file_name),
        media_type: MediaType::parse(&row.media_type)
            .ok_or_else(|| corrupt("documents", "media_type"))?,
        size_bytes: u64::try_from(row.size_bytes).map_err(|e| corrupt("documents", e))?,
        sha256: row.sha256,
        status: DocumentStatus::parse(&row.status).ok_or_else(|| corrupt("documents", "status"))?,
        error: row.error,
        pages_total: row.pages_total.map(|p| p.max(0) as u32),
        pages_done: row.pages_done.max(0) as u32,
        chunk_count: row.chunk_count.max(0) as u32,
        title: row.title,
        language: row.language,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_chunk(row: chunks::Model) -> Chunk {
    Chunk {
        id: ChunkId::from_uuid(row.id),
        document_id: DocumentId::from_uuid(row.document_id),
        user_id: UserId::from_uuid(row.user_id),
        chat_id: ChatId::from_uuid(row.chat_id),
        index: row.position.max(0) as u32,
        page: row.page.max(0) as u32,
        page_label: row.page_label,
        heading: row.heading,
        char_start: row.char_start.max(0) as u32,
        char_end: row.char_end.max(0) as u32,
        text: row.text,
    }
}

fn chunk_row(chunk: Chunk) -> chunks::ActiveModel {
    let int = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    chunks::ActiveModel {
        id: Set(chunk.id.as_uuid()),
        document_id: Set(chunk.document_id.as_uuid()),
        user_id: Set(chunk.user_id.as_uuid()),
        chat_id: Set(chunk.chat_id.as_uuid()),
        position: Set(int(chunk.index)),
        page: Set(int(chunk.page)),
        page_label: Set(chunk.page_label),
        heading: Set(chunk.heading),
        char_start: Set(int(chunk.char_start)),
        char_end: Set(int(chunk.char_end)),
        text: Set(chunk.text),
    }
}

/// Rows per multi-row insert: well under SQLite's and Postgres's bind-parameter limits.
const INSERT_BATCH: usize = 500;

impl SqlDocumentRepository {
    async fn find_one(
        &self,
        query: sea_orm::Select<documents::Entity>,
    ) -> Result<Option<Document>, InfraError> {
        query
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_document)
            .transpose()
    }

    /// Writes to `owner`'s document row inside `txn` (which locks it on Postgres, so a
    /// concurrent delete waits); `false` when there is no such document.
    async fn hold(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        owner: UserId,
        id: DocumentId,
    ) -> Result<bool, InfraError> {
        Ok(documents::Entity::update_many()
            .filter(documents::Column::Id.eq(id.as_uuid()))
            .filter(documents::Column::UserId.eq(owner.as_uuid()))
            .col_expr(
                documents::Column::ChunkCount,
                Expr::col(documents::Column::ChunkCount),
            )
            .exec(txn)
            .await
            .map_err(infra)?
            .rows_affected
            == 1)
    }

    async fn update(
        &self,
        owner: UserId,
        id: DocumentId,
        values: Vec<(documents::Column, Expr)>,
    ) -> Result<bool, InfraError> {
        let mut update = documents::Entity::update_many()
            .filter(documents::Column::Id.eq(id.as_uuid()))
            .filter(documents::Column::UserId.eq(owner.as_uuid()));
        for (column, value) in values {
            update = update.col_expr(column, value);
        }
        Ok(update.exec(&self.db).await.map_err(infra)?.rows_affected == 1)
    }
}

#[async_trait]
impl DocumentRepository for SqlDocumentRepository {
    async fn create(&self, new: NewDocument, job: NewJob) -> Result<Created, InfraError> {
        let (owner, chat, sha256, key) = (
            new.user_id,
            new.chat_id,
            new.sha256.clone(),
            new.idempotency_key.clone(),
        );
        let txn = self.db.begin().await.map_err(infra)?;
        let row = documents::ActiveModel {
            id: Set(new.id.as_uuid()),
            user_id: Set(new.user_id.as_uuid()),
            chat_id: Set(new.chat_id.as_uuid()),
            file_name: Set(new.file_name.as_str().to_string()),
            media_type: Set(new.media_type.as_str().to_string()),
            size_bytes: Set(i64::try_from(new.size_bytes).unwrap_or(i64::MAX)),
            sha256: Set(new.sha256),
            idempotency_key: Set(new.idempotency_key),
            status: Set(DocumentStatus::Pending.as_str().to_string()),
            error: Set(None),
            pages_total: Set(None),
            pages_done: Set(0),
            chunk_count: Set(0),
            title: Set(None),
            language: Set(None),
            created_at: Set(new.created_at),
            updated_at: Set(new.created_at),
        };
        let inserted = match row.insert(&txn).await {
            Ok(row) => row,
            Err(e) if is_unique_violation(&e) => {
                let _ = txn.rollback().await;
                let existing = match &key {
                    Some(key) => self.find_by_idempotency_key(owner, key).await?,
                    None => None,
                };
                let existing = match existing {
                    Some(doc) => Some(doc),
                    None => self.find_by_sha256(owner, chat, &sha256).await?,
                };
                return existing
                    .map(Created::Existing)
                    .ok_or_else(|| InfraError::internal(e));
            }
            Err(e) => return Err(infra(e)),
        };
        job_row(&job, new.created_at)?
            .insert(&txn)
            .await
            .map_err(infra)?;
        txn.commit().await.map_err(infra)?;
        Ok(Created::New(to_document(inserted)?))
    }

    async fn find(&self, owner: UserId, id: DocumentId) -> Result<Option<Document>, InfraError> {
        self.find_one(
            documents::Entity::find_by_id(id.as_uuid())
                .filter(documents::Column::UserId.eq(owner.as_uuid())),
        )
        .await
    }

    async fn find_many(
        &self,
        owner: UserId,
        ids: &[DocumentId],
    ) -> Result<Vec<Document>, InfraError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        documents::Entity::find()
            .filter(documents::Column::UserId.eq(owner.as_uuid()))
            .filter(documents::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(to_document)
            .collect()
    }

    async fn find_by_sha256(
        &self,
        owner: UserId,
        chat: ChatId,
        sha256: &str,
    ) -> Result<Option<Document>, InfraError> {
        self.find_one(
            documents::Entity::find()
                .filter(documents::Column::UserId.eq(owner.as_uuid()))
                .filter(documents::Column::ChatId.eq(chat.as_uuid()))
                .filter(documents::Column::Sha256.eq(sha256)),
        )
        .await
    }

    async fn find_by_idempotency_key(
        &self,
        owner: UserId,
        key: &str,
    ) -> Result<Option<Document>, InfraError> {
        self.find_one(
            documents::Entity::find()
                .filter(documents::Column::UserId.eq(owner.as_uuid()))
                .filter(documents::Column::IdempotencyKey.eq(key)),
        )
        .await
    }

    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        status: Option<DocumentStatus>,
        page: PageRequest<DocumentCursor>,
    ) -> Result<Page<Document>, InfraError> {
        let mut query = documents::Entity::find()
            .filter(documents::Column::ChatId.eq(chat.as_uuid()))
            .filter(documents::Column::UserId.eq(owner.as_uuid()));
        if let Some(status) = status {
            query = query.filter(documents::Column::Status.eq(status.as_str()));
        }
        if let Some(after) = page.after {
            query = query.filter(documents::Column::Id.lt(after));
        }
        let rows = query
            .order_by_desc(documents::Column::Id)
            .limit(page.limit.fetch_count())
            .all(&self.db)
            .await
            .map_err(infra)?;
        let items = rows
            .into_iter()
            .map(to_document)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |d| d.id.as_uuid()))
    }

    async fn set_status(
        &self,
        owner: UserId,
        id: DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        self.update(
            owner,
            id,
            vec![
                (documents::Column::Status, Expr::value(status.as_str())),
                (
                    documents::Column::Error,
                    Expr::value(error.map(str::to_string)),
                ),
                (documents::Column::UpdatedAt, Expr::value(at)),
            ],
        )
        .await
    }

    async fn set_progress(
        &self,
        owner: UserId,
        id: DocumentId,
        pages_done: u32,
        pages_total: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        self.update(
            owner,
            id,
            vec![
                (documents::Column::PagesDone, Expr::value(pages_done as i32)),
                (
                    documents::Column::PagesTotal,
                    Expr::value(Some(pages_total as i32)),
                ),
                (documents::Column::UpdatedAt, Expr::value(at)),
            ],
        )
        .await
    }

    async fn clear_chunks(&self, owner: UserId, id: DocumentId) -> Result<bool, InfraError> {
        let txn = self.db.begin().await.map_err(infra)?;
        // Locks the document row (on Postgres) so a concurrent delete waits for us.
        if !self.hold(&txn, owner, id).await? {
            let _ = txn.rollback().await;
            return Ok(false);
        }
        chunks::Entity::delete_many()
            .filter(chunks::Column::DocumentId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(infra)?;
        documents::Entity::update_many()
            .filter(documents::Column::Id.eq(id.as_uuid()))
            .col_expr(documents::Column::ChunkCount, Expr::value(0))
            .exec(&txn)
            .await
            .map_err(infra)?;
        txn.commit().await.map_err(infra)?;
        Ok(true)
    }

    async fn add_chunks(
        &self,
        owner: UserId,
        id: DocumentId,
        chunks: Vec<Chunk>,
    ) -> Result<bool, InfraError> {
        let txn = self.db.begin().await.map_err(infra)?;
        if !self.hold(&txn, owner, id).await? {
            let _ = txn.rollback().await;
            return Ok(false);
        }
        let mut rows = chunks.into_iter().map(chunk_row).peekable();
        while rows.peek().is_some() {
            let batch: Vec<chunks::ActiveModel> = rows.by_ref().take(INSERT_BATCH).collect();
            chunks::Entity::insert_many(batch)
                .exec(&txn)
                .await
                .map_err(infra)?;
        }
        txn.commit().await.map_err(infra)?;
        Ok(true)
    }

    async fn complete(
        &self,
        owner: UserId,
        id: DocumentId,
        completion: Completion,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let Completion {
            pages_total,
            chunk_count,
            title,
            language,
        } = completion;
        self.update(
            owner,
            id,
            vec![
                (
                    documents::Column::Status,
                    Expr::value(DocumentStatus::Completed.as_str()),
                ),
                (
                    documents::Column::Error,
                    Expr::value(Option::<String>::None),
                ),
                (
                    documents::Column::PagesTotal,
                    Expr::value(Some(pages_total as i32)),
                ),
                (
                    documents::Column::PagesDone,
                    Expr::value(pages_total as i32),
                ),
                (
                    documents::Column::ChunkCount,
                    Expr::value(chunk_count as i32),
                ),
                (documents::Column::Title, Expr::value(title)),
                (documents::Column::Language, Expr::value(language)),
                (documents::Column::UpdatedAt, Expr::value(at)),
            ],
        )
        .await
    }

    async fn requeue(
        &self,
        owner: UserId,
        id: DocumentId,
        job: NewJob,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let txn = self.db.begin().await.map_err(infra)?;
        let updated = documents::Entity::update_many()
            .filter(documents::Column::Id.eq(id.as_uuid()))
            .filter(documents::Column::UserId.eq(owner.as_uuid()))
            .col_expr(
                documents::Column::Status,
                Expr::value(DocumentStatus::Pending.as_str()),
            )
            .col_expr(
                documents::Column::Error,
                Expr::value(Option::<String>::None),
            )
            .col_expr(documents::Column::PagesDone, Expr::value(0))
            .col_expr(documents::Column::UpdatedAt, Expr::value(at))
            .exec(&txn)
            .await
            .map_err(infra)?
            .rows_affected
            == 1;
        if !updated {
            let _ = txn.rollback().await;
            return Ok(false);
        }
        job_row(&job, at)?.insert(&txn).await.map_err(infra)?;
        txn.commit().await.map_err(infra)?;
        Ok(true)
    }

    async fn delete(&self, owner: UserId, id: DocumentId) -> Result<bool, InfraError> {
        Ok(documents::Entity::delete_many()
            .filter(documents::Column::Id.eq(id.as_uuid()))
            .filter(documents::Column::UserId.eq(owner.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected
            == 1)
    }

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        Ok(documents::Entity::delete_many()
            .filter(documents::Column::ChatId.eq(chat.as_uuid()))
            .filter(documents::Column::UserId.eq(owner.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected)
    }

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        Ok(documents::Entity::delete_many()
            .filter(documents::Column::UserId.eq(owner.as_uuid()))
            .exec(&self.db)
            .await
            .map_err(infra)?
            .rows_affected)
    }

    async fn chunks(
        &self,
        owner: UserId,
        document: DocumentId,
        page: PageRequest<ChunkCursor>,
    ) -> Result<Page<Chunk>, InfraError> {
        let mut query = chunks::Entity::find()
            .filter(chunks::Column::DocumentId.eq(document.as_uuid()))
            .filter(chunks::Column::UserId.eq(owner.as_uuid()));
        if let Some(after) = page.after {
            query = query.filter(chunks::Column::Position.gt(after as i64));
        }
        let rows = query
            .order_by_asc(chunks::Column::Position)
            .limit(page.limit.fetch_count())
            .all(&self.db)
            .await
            .map_err(infra)?;
        let items: Vec<Chunk> = rows.into_iter().map(to_chunk).collect();
        Ok(Page::from_overfetch(items, page.limit, |c| c.index))
    }

    async fn chunks_by_ids(
        &self,
        owner: UserId,
        ids: &[ChunkId],
    ) -> Result<Vec<(Chunk, FileName)>, InfraError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = chunks::Entity::find()
            .filter(chunks::Column::UserId.eq(owner.as_uuid()))
            .filter(chunks::Column::Id.is_in(ids.iter().map(|id| id.as_uuid())))
            .all(&self.db)
            .await
            .map_err(infra)?;
        let document_ids: Vec<uuid::Uuid> = {
            let mut ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.document_id).collect();
            ids.sort();
            ids.dedup();
            ids
        };
        let names: HashMap<uuid::Uuid, String> = if document_ids.is_empty() {
            HashMap::new()
        } else {
            documents::Entity::find()
                .select_only()
                .column(documents::Column::Id)
                .column(documents::Column::FileName)
                .filter(documents::Column::UserId.eq(owner.as_uuid()))
                .filter(documents::Column::Id.is_in(document_ids))
                .into_tuple::<(uuid::Uuid, String)>()
                .all(&self.db)
                .await
                .map_err(infra)?
                .into_iter()
                .collect()
        };
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let name = names.get(&row.document_id)?.clone();
                Some((to_chunk(row), FileName::from_stored(name)))
            })
            .collect())
    }

    async fn usage(&self, owner: UserId) -> Result<DocumentUsage, InfraError> {
        use sea_orm::{FromQueryResult, PaginatorTrait};
        #[derive(FromQueryResult)]
        struct Totals {
            documents: i64,
            bytes: i64,
        }
        let backend = self.db.get_database_backend();
        let totals = Totals::find_by_statement(sea_orm::Statement::from_sql_and_values(
            backend,
            "SELECT COUNT(*) AS documents, CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT) AS bytes \
             FROM documents WHERE user_id = $1",
            [owner.as_uuid().into()],
        ))
        .one(&self.db)
        .await
        .map_err(infra)?;
        let chunks = chunks::Entity::find()
            .filter(chunks::Column::UserId.eq(owner.as_uuid()))
            .count(&self.db)
            .await
            .map_err(infra)?;
        Ok(DocumentUsage {
            documents: totals.as_ref().map_or(0, |t| t.documents.max(0) as u64),
            storage_bytes: totals.as_ref().map_or(0, |t| t.bytes.max(0) as u64),
            chunks,
        })
    }

    async fn scan_chunks(
        &self,
        after: Option<ChunkId>,
        limit: u64,
    ) -> Result<Vec<Chunk>, InfraError> {
        let mut query = chunks::Entity::find();
        if let Some(after) = after {
            query = query.filter(chunks::Column::Id.gt(after.as_uuid()));
        }
        let rows = query
            .order_by_asc(chunks::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(infra)?;
        Ok(rows.into_iter().map(to_chunk).collect())
    }
}
