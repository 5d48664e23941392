//! Background deck imports: the status a client polls, progress by note and what the import did
//! so far (JSON). Deleting the chat or the user deletes them.

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
                    .table(DeckImports::Table)
                    .if_not_exists()
                    .col(uuid(DeckImports::Id).primary_key())
                    .col(uuid(DeckImports::UserId))
                    .col(uuid(DeckImports::ChatId))
                    .col(string_len(DeckImports::Status, 16))
                    .col(integer(DeckImports::NotesTotal))
                    .col(integer(DeckImports::NotesDone))
                    .col(text(DeckImports::Report))
                    .col(text_null(DeckImports::Error))
                    .col(timestamp_with_time_zone(DeckImports::CreatedAt))
                    .col(timestamp_with_time_zone(DeckImports::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deck_imports_user")
                            .from(DeckImports::Table, DeckImports::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_deck_imports_chat")
                            .from(DeckImports::Table, DeckImports::ChatId)
                            .to(Chats::Table, Chats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Deleting a chat's imports finds them by owner and chat.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_deck_imports_user_chat")
                    .table(DeckImports::Table)
                    .col(DeckImports::UserId)
                    .col(DeckImports::ChatId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeckImports::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum DeckImports {
    Table,
    Id,
    UserId,
    ChatId,
    Status,
    NotesTotal,
    NotesDone,
    Report,
    Error,
    CreatedAt,
    UpdatedAt,
}
