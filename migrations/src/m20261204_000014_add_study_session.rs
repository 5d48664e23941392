//! The study session: per-chat study options, the user's study day (time zone and the hour it
//! starts), each card's place in a random new-card order, the card as it was before each review
//! (what undo puts back), and each card's note (its id, kind and the card's ordinal in it; a card
//! made before is a basic note of its own).

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261125_000001_create_users::Users;
use super::m20261125_000003_create_chats::Chats;
use super::m20261126_000006_create_flashcards::{Flashcards, Reviews};
use super::m20261126_000007_create_study_settings::StudySettings;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Added {
    Timezone,
    DayStartsAtHour,
    CardBefore,
    Shuffle,
    NoteId,
    Kind,
    Ordinal,
}

#[derive(DeriveIden)]
pub enum StudyOptions {
    Table,
    ChatId,
    UserId,
    NewPerDay,
    ReviewsPerDay,
    LearningSteps,
    RelearningSteps,
    MaximumIntervalDays,
    DesiredRetention,
    NewOrder,
    BurySiblings,
    LeechThreshold,
    LeechAction,
    ExamDate,
    UpdatedAt,
}

/// The columns added, one `ALTER TABLE` each (SQLite adds one column at a time).
fn columns() -> Vec<(DynIden, ColumnDef)> {
    vec![
        (
            StudySettings::Table.into_iden(),
            string_len(Added::Timezone, 64).default("UTC").to_owned(),
        ),
        (
            StudySettings::Table.into_iden(),
            integer(Added::DayStartsAtHour).default(4).to_owned(),
        ),
        (Reviews::Table.into_iden(), text_null(Added::CardBefore)),
        (
            Flashcards::Table.into_iden(),
            integer(Added::Shuffle).default(0).to_owned(),
        ),
        (Flashcards::Table.into_iden(), uuid_null(Added::NoteId)),
        (
            Flashcards::Table.into_iden(),
            string_len(Added::Kind, 16).default("basic").to_owned(),
        ),
        (
            Flashcards::Table.into_iden(),
            integer(Added::Ordinal).default(0).to_owned(),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, mut column) in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Cards made before get a random place in the random order.
        let shuffle = match manager.get_database_backend() {
            sea_orm::DatabaseBackend::Postgres => {
                "UPDATE flashcards SET shuffle = floor(random() * 2147483647)::integer"
            }
            _ => "UPDATE flashcards SET shuffle = abs(random() % 2147483647)",
        };
        manager.get_connection().execute_unprepared(shuffle).await?;
        // Each card made before is a basic note of its own, named by the card's id.
        manager
            .get_connection()
            .execute_unprepared("UPDATE flashcards SET note_id = id")
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_flashcards_user_note")
                    .table(Flashcards::Table)
                    .col(Flashcards::UserId)
                    .col(Added::NoteId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_flashcards_user_state_due")
                    .table(Flashcards::Table)
                    .col(Flashcards::UserId)
                    .col(Flashcards::State)
                    .col(Flashcards::Due)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(StudyOptions::Table)
                    .if_not_exists()
                    .col(uuid(StudyOptions::ChatId).primary_key())
                    .col(uuid(StudyOptions::UserId))
                    .col(integer(StudyOptions::NewPerDay))
                    .col(integer(StudyOptions::ReviewsPerDay))
                    .col(string_len(StudyOptions::LearningSteps, 200))
                    .col(string_len(StudyOptions::RelearningSteps, 200))
                    .col(integer(StudyOptions::MaximumIntervalDays))
                    .col(double_null(StudyOptions::DesiredRetention))
                    .col(string_len(StudyOptions::NewOrder, 16))
                    .col(boolean(StudyOptions::BurySiblings))
                    .col(integer(StudyOptions::LeechThreshold))
                    .col(string_len(StudyOptions::LeechAction, 16))
                    .col(date_null(StudyOptions::ExamDate))
                    .col(timestamp_with_time_zone(StudyOptions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_study_options_chat")
                            .from(StudyOptions::Table, StudyOptions::ChatId)
                            .to(Chats::Table, Chats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_study_options_user")
                            .from(StudyOptions::Table, StudyOptions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_study_options_user")
                    .table(StudyOptions::Table)
                    .col(StudyOptions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StudyOptions::Table).to_owned())
            .await?;
        for index in ["idx_flashcards_user_state_due", "idx_flashcards_user_note"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(Flashcards::Table)
                        .to_owned(),
                )
                .await?;
        }
        for (table, column) in columns().into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .drop_column(column.get_column_name())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
