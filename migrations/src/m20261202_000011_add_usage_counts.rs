//! What quotas count: a user's cards are kept in a counter on the user's row (changed in the same
//! transaction as every card written or deleted, so the card quota is exact and cheap however
//! large the deck), and a user's passages are counted through an index.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

use super::m20261125_000001_create_users::Users;
use super::m20261126_000005_create_documents::Chunks;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(big_integer(UserCounts::CardCount).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE users SET card_count = \
                 (SELECT COUNT(*) FROM flashcards WHERE flashcards.user_id = users.id)",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_chunks_user_id")
                    .table(Chunks::Table)
                    .col(Chunks::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_chunks_user_id")
                    .table(Chunks::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(UserCounts::CardCount)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum UserCounts {
    CardCount,
}
