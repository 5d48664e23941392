//! Each user's study settings: the desired retention and the FSRS parameters the optimizer fit
//! to their reviews. Deleting the user deletes them.

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
                    .table(StudySettings::Table)
                    .if_not_exists()
                    .col(uuid(StudySettings::UserId).primary_key())
                    .col(double(StudySettings::DesiredRetention))
                    .col(text(StudySettings::Parameters))
                    .col(timestamp_with_time_zone(StudySettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_study_settings_user")
                            .from(StudySettings::Table, StudySettings::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StudySettings::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum StudySettings {
    Table,
    UserId,
    DesiredRetention,
    Parameters,
    UpdatedAt,
}
