//! Jobs name the user they work for, so that workers can be shared fairly among users and one
//! user's running jobs can be counted.

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

use super::m20261126_000005_create_documents::Jobs;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .add_column(uuid_null(JobOwner::UserId))
                    .to_owned(),
            )
            .await?;
        // Every payload so far names its user.
        let db = manager.get_connection();
        let backfill = match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                "UPDATE jobs SET user_id = (payload::json ->> 'user_id')::uuid WHERE user_id IS NULL"
            }
            // sea-orm keeps SQLite UUIDs as 16-byte blobs; the payload has the text form.
            _ => {
                "UPDATE jobs SET user_id = unhex(replace(json_extract(payload, '$.user_id'), '-', '')) \
                 WHERE user_id IS NULL AND json_extract(payload, '$.user_id') IS NOT NULL"
            }
        };
        db.execute_unprepared(backfill).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_user_status")
                    .table(Jobs::Table)
                    .col(JobOwner::UserId)
                    .col(Jobs::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_jobs_user_status")
                    .table(Jobs::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Jobs::Table)
                    .drop_column(JobOwner::UserId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum JobOwner {
    UserId,
}
