//! The usage ledger of language-model calls (append-only: one row per call, never updated) and
//! the daily token counter per user beside it, which reservations and settlements change in
//! one conditional statement. Deleting a user deletes both.

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
                    .table(ModelUsage::Table)
                    .if_not_exists()
                    .col(uuid(ModelUsage::Id).primary_key())
                    .col(uuid(ModelUsage::UserId))
                    .col(string_len(ModelUsage::Purpose, 32))
                    .col(string_len(ModelUsage::Model, 200))
                    .col(big_integer(ModelUsage::PromptTokens))
                    .col(big_integer(ModelUsage::CompletionTokens))
                    .col(boolean(ModelUsage::Estimated))
                    .col(timestamp_with_time_zone(ModelUsage::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_model_usage_user")
                            .from(ModelUsage::Table, ModelUsage::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_model_usage_user_id_created_at")
                    .table(ModelUsage::Table)
                    .col(ModelUsage::UserId)
                    .col(ModelUsage::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ModelUsageDays::Table)
                    .if_not_exists()
                    .col(uuid(ModelUsageDays::UserId))
                    .col(string_len(ModelUsageDays::Day, 10))
                    .col(big_integer(ModelUsageDays::Tokens))
                    .primary_key(
                        Index::create()
                            .col(ModelUsageDays::UserId)
                            .col(ModelUsageDays::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_model_usage_days_user")
                            .from(ModelUsageDays::Table, ModelUsageDays::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ModelUsageDays::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ModelUsage::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum ModelUsage {
    Table,
    Id,
    UserId,
    Purpose,
    Model,
    PromptTokens,
    CompletionTokens,
    Estimated,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum ModelUsageDays {
    Table,
    UserId,
    Day,
    Tokens,
}
