//! The knowledge base: documents (uploaded files of a chat), their chunks, and the durable job
//! queue that ingests them. Deleting a chat or a user deletes their documents; deleting a
//! document deletes its chunks. Jobs name what they work on in their payload and outlive it
//! (a job whose document is gone completes as a no-op).

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261125_000001_create_users::Users;
use super::m20261125_000003_create_chats::Chats;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_documents(manager).await?;
        create_chunks(manager).await?;
        create_jobs(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Chunks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Documents::Table).to_owned())
            .await
    }
}

/// `documents`, with its two unique indexes and the index listing a chat's documents.
async fn create_documents(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Documents::Table)
                .if_not_exists()
                .col(uuid(Documents::Id).primary_key())
                .col(uuid(Documents::UserId))
                .col(uuid(Documents::ChatId))
                .col(string_len(Documents::FileName, 255))
                .col(string_len(Documents::MediaType, 16))
                .col(big_integer(Documents::SizeBytes))
                .col(string_len(Documents::Sha256, 64))
                .col(string_len_null(Documents::IdempotencyKey, 255))
                .col(string_len(Documents::Status, 16))
                .col(text_null(Documents::Error))
                .col(integer_null(Documents::PagesTotal))
                .col(integer(Documents::PagesDone))
                .col(integer(Documents::ChunkCount))
                .col(timestamp_with_time_zone(Documents::CreatedAt))
                .col(timestamp_with_time_zone(Documents::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_documents_user")
                        .from(Documents::Table, Documents::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_documents_chat")
                        .from(Documents::Table, Documents::ChatId)
                        .to(Chats::Table, Chats::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    // The same bytes once per chat: concurrent duplicate uploads cannot both win.
    manager
        .create_index(
            Index::create()
                .name("uq_documents_chat_sha256")
                .table(Documents::Table)
                .col(Documents::ChatId)
                .col(Documents::Sha256)
                .unique()
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("uq_documents_user_idempotency_key")
                .table(Documents::Table)
                .col(Documents::UserId)
                .col(Documents::IdempotencyKey)
                .unique()
                .to_owned(),
        )
        .await?;
    // A chat's documents, newest first.
    manager
        .create_index(
            Index::create()
                .name("idx_documents_chat_id")
                .table(Documents::Table)
                .col(Documents::ChatId)
                .col(Documents::Id)
                .to_owned(),
        )
        .await
}

/// `chunks`, unique by document and position.
async fn create_chunks(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Chunks::Table)
                .if_not_exists()
                .col(uuid(Chunks::Id).primary_key())
                .col(uuid(Chunks::DocumentId))
                .col(uuid(Chunks::UserId))
                .col(uuid(Chunks::ChatId))
                .col(integer(Chunks::Position))
                .col(integer(Chunks::Page))
                .col(integer(Chunks::CharStart))
                .col(integer(Chunks::CharEnd))
                .col(text(Chunks::Text))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_chunks_document")
                        .from(Chunks::Table, Chunks::DocumentId)
                        .to(Documents::Table, Documents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("uq_chunks_document_position")
                .table(Chunks::Table)
                .col(Chunks::DocumentId)
                .col(Chunks::Position)
                .unique()
                .to_owned(),
        )
        .await
}

/// `jobs`, with the index that claiming scans.
async fn create_jobs(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Jobs::Table)
                .if_not_exists()
                .col(uuid(Jobs::Id).primary_key())
                .col(string_len(Jobs::Kind, 64))
                .col(text(Jobs::Payload))
                .col(string_len(Jobs::Status, 16))
                .col(integer(Jobs::Attempts))
                .col(integer(Jobs::MaxAttempts))
                .col(timestamp_with_time_zone(Jobs::RunAt))
                .col(string_len_null(Jobs::LockedBy, 128))
                .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                .col(text_null(Jobs::LastError))
                .col(timestamp_with_time_zone(Jobs::CreatedAt))
                .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                .to_owned(),
        )
        .await?;
    // Claiming scans runnable jobs by status and due time.
    manager
        .create_index(
            Index::create()
                .name("idx_jobs_status_run_at")
                .table(Jobs::Table)
                .col(Jobs::Status)
                .col(Jobs::RunAt)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
pub enum Documents {
    Table,
    Id,
    UserId,
    ChatId,
    FileName,
    MediaType,
    SizeBytes,
    Sha256,
    IdempotencyKey,
    Status,
    Error,
    PagesTotal,
    PagesDone,
    ChunkCount,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Chunks {
    Table,
    Id,
    DocumentId,
    UserId,
    ChatId,
    Position,
    Page,
    CharStart,
    CharEnd,
    Text,
}

#[derive(DeriveIden)]
pub enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    Attempts,
    MaxAttempts,
    RunAt,
    LockedBy,
    LeaseUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}
