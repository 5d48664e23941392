//! Sessions (one per login) and their refresh tokens, stored as SHA-256 hashes. Deleting a user
//! deletes their sessions; deleting a session deletes its tokens.

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
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(uuid(Sessions::Id).primary_key())
                    .col(uuid(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastUsedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(string_len_null(Sessions::UserAgent, 1024))
                    .col(string_len_null(Sessions::Ip, 64))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_id_id")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .col(Sessions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(string_len(RefreshTokens::Hash, 64).primary_key())
                    .col(uuid(RefreshTokens::SessionId))
                    .col(timestamp_with_time_zone(RefreshTokens::IssuedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_session")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_session_id")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokens::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    UserAgent,
    Ip,
    RevokedAt,
}

#[derive(DeriveIden)]
pub enum RefreshTokens {
    Table,
    Hash,
    SessionId,
    IssuedAt,
    ExpiresAt,
    RotatedAt,
}
