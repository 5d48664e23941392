//! Chats, the study workspaces. Deleting a user deletes their chats; what a chat owns (messages,
//! documents, cards) references it with ON DELETE CASCADE.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261125_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Chats::Table)
                    .if_not_exists()
                    .col(uuid(Chats::Id).primary_key())
                    .col(uuid(Chats::UserId))
                    .col(string_len(Chats::Name, 1024))
                    .col(boolean(Chats::Archived).default(false))
                    .col(timestamp_with_time_zone(Chats::CreatedAt))
                    .col(timestamp_with_time_zone(Chats::UpdatedAt))
                    .col(timestamp_with_time_zone(Chats::LastActivityAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_chats_user")
                            .from(Chats::Table, Chats::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The list's keyset: newest activity first within one user.
        manager
            .create_index(
                Index::create()
                    .name("idx_chats_user_activity")
                    .table(Chats::Table)
                    .col(Chats::UserId)
                    .col(Chats::LastActivityAt)
                    .col(Chats::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Chats::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Chats {
    Table,
    Id,
    UserId,
    Name,
    Archived,
    CreatedAt,
    UpdatedAt,
    LastActivityAt,
}
