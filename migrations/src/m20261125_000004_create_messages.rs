//! A chat's messages. Citations are a JSON array (they are read whole, never queried into).
//! Deleting a chat deletes its messages.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261125_000003_create_chats::Chats;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .if_not_exists()
                    .col(uuid(Messages::Id).primary_key())
                    .col(uuid(Messages::ChatId))
                    .col(uuid(Messages::UserId))
                    .col(string_len(Messages::Role, 16))
                    .col(text(Messages::Content))
                    .col(text(Messages::Citations))
                    .col(string_len_null(Messages::Model, 200))
                    .col(integer_null(Messages::PromptTokens))
                    .col(integer_null(Messages::CompletionTokens))
                    .col(string_len(Messages::Status, 16))
                    .col(timestamp_with_time_zone(Messages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_messages_chat")
                            .from(Messages::Table, Messages::ChatId)
                            .to(Chats::Table, Chats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_chat_id")
                    .table(Messages::Table)
                    .col(Messages::ChatId)
                    .col(Messages::Id)
                    .to_owned(),
            )
            .await?;
        // The daily token budget sums one user's recent answers.
        manager
            .create_index(
                Index::create()
                    .name("idx_messages_user_created")
                    .table(Messages::Table)
                    .col(Messages::UserId)
                    .col(Messages::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Messages::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Messages {
    Table,
    Id,
    ChatId,
    UserId,
    Role,
    Content,
    Citations,
    Model,
    PromptTokens,
    CompletionTokens,
    Status,
    CreatedAt,
}
