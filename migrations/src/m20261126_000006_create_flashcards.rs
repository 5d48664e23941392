//! Flashcards with their FSRS schedule, and the review log the optimizer learns from. Deleting a
//! chat or a user deletes their cards; deleting a card deletes its reviews. A card's source
//! document is not a foreign key: the card outlives it (its source then shows as missing).

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
                    .table(Flashcards::Table)
                    .if_not_exists()
                    .col(uuid(Flashcards::Id).primary_key())
                    .col(uuid(Flashcards::UserId))
                    .col(uuid(Flashcards::ChatId))
                    .col(text(Flashcards::Question))
                    .col(text(Flashcards::Answer))
                    .col(text(Flashcards::Tags))
                    .col(boolean(Flashcards::Suspended))
                    .col(uuid_null(Flashcards::SourceDocumentId))
                    .col(uuid_null(Flashcards::SourceChunkId))
                    .col(integer_null(Flashcards::SourcePage))
                    .col(text_null(Flashcards::SourceQuote))
                    .col(string_len(Flashcards::State, 16))
                    .col(double_null(Flashcards::Stability))
                    .col(double_null(Flashcards::Difficulty))
                    .col(timestamp_with_time_zone(Flashcards::Due))
                    .col(integer(Flashcards::Reps))
                    .col(integer(Flashcards::Lapses))
                    .col(integer(Flashcards::Step))
                    .col(timestamp_with_time_zone_null(Flashcards::LastReviewedAt))
                    .col(timestamp_with_time_zone(Flashcards::CreatedAt))
                    .col(timestamp_with_time_zone(Flashcards::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_flashcards_user")
                            .from(Flashcards::Table, Flashcards::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_flashcards_chat")
                            .from(Flashcards::Table, Flashcards::ChatId)
                            .to(Chats::Table, Chats::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A chat's cards, newest first (the list's keyset).
        manager
            .create_index(
                Index::create()
                    .name("idx_flashcards_chat_id")
                    .table(Flashcards::Table)
                    .col(Flashcards::ChatId)
                    .col(Flashcards::Id)
                    .to_owned(),
            )
            .await?;
        // The due queue across chats: a user's cards by due time.
        manager
            .create_index(
                Index::create()
                    .name("idx_flashcards_user_due")
                    .table(Flashcards::Table)
                    .col(Flashcards::UserId)
                    .col(Flashcards::Due)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reviews::Table)
                    .if_not_exists()
                    .col(uuid(Reviews::Id).primary_key())
                    .col(uuid(Reviews::CardId))
                    .col(uuid(Reviews::UserId))
                    .col(string_len(Reviews::Rating, 8))
                    .col(string_len(Reviews::StateBefore, 16))
                    .col(timestamp_with_time_zone(Reviews::ReviewedAt))
                    .col(integer(Reviews::ElapsedDays))
                    .col(integer_null(Reviews::DurationMs))
                    .col(double(Reviews::Stability))
                    .col(double(Reviews::Difficulty))
                    .col(string_len_null(Reviews::IdempotencyKey, 255))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_reviews_card")
                            .from(Reviews::Table, Reviews::CardId)
                            .to(Flashcards::Table, Flashcards::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_reviews_user_idempotency_key")
                    .table(Reviews::Table)
                    .col(Reviews::UserId)
                    .col(Reviews::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_reviews_user_reviewed_at")
                    .table(Reviews::Table)
                    .col(Reviews::UserId)
                    .col(Reviews::ReviewedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Reviews::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Flashcards::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Flashcards {
    Table,
    Id,
    UserId,
    ChatId,
    Question,
    Answer,
    Tags,
    Suspended,
    SourceDocumentId,
    SourceChunkId,
    SourcePage,
    SourceQuote,
    State,
    Stability,
    Difficulty,
    Due,
    Reps,
    Lapses,
    Step,
    LastReviewedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub enum Reviews {
    Table,
    Id,
    CardId,
    UserId,
    Rating,
    StateBefore,
    ReviewedAt,
    ElapsedDays,
    DurationMs,
    Stability,
    Difficulty,
    IdempotencyKey,
}
