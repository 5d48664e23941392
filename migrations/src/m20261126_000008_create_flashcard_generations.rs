//! Background flashcard generations: the request, the status a client polls, progress by batch
//! and the cards made (JSON). Deleting the chat or the user deletes them.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261125_000001_create_users::Users;
use super::m20261125_000003_create_chats::Chats;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FlashcardGenerations::Table)
                    .if_not_exists()
                    .col(uuid(FlashcardGenerations::Id).primary_key())
                    .col(uuid(FlashcardGenerations::UserId))
                    .col(uuid(FlashcardGenerations::ChatId))
                    .col(text(FlashcardGenerations::Request))
                    .col(string_len(FlashcardGenerations::Status, 16))
                    .col(string_len_null(FlashcardGenerations::Generator, 32))
                    .col(integer(FlashcardGenerations::BatchesDone))
                    .col(integer(FlashcardGenerations::BatchesTotal))
                    .col(text(FlashcardGenerations::Cards))
                    .col(text_null(FlashcardGenerations::Error))
                    .col(timestamp_with_time_zone(FlashcardGenerations::CreatedAt))
                    .col(timestamp_with_time_zone(FlashcardGenerations::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_flashcard_generations_user")
                            .from(FlashcardGenerations::Table, FlashcardGenerations::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_flashcard_generations_chat")
                            .from(FlashcardGenerations::Table, FlashcardGenerations::ChatId)
                            .to(Chats::Table, Chats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Deleting a chat's generations finds them by owner and chat.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_flashcard_generations_user_chat")
                    .table(FlashcardGenerations::Table)
                    .col(FlashcardGenerations::UserId)
                    .col(FlashcardGenerations::ChatId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FlashcardGenerations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum FlashcardGenerations {
    Table,
    Id,
    UserId,
    ChatId,
    Request,
    Status,
    Generator,
    BatchesDone,
    BatchesTotal,
    Cards,
    Error,
    CreatedAt,
    UpdatedAt,
}
