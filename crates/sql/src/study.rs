//! The study queue on sea-orm: counts and cards of each part of the queue, what was studied
//! since the day began, the chats' study options, and undo.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardState, Flashcard, LeechAction, NewOrder, NoteId, QueueCounts, QueueKind, Review, ReviewId,
    Studied, StudyOptions, StudyRepository, format_step, parse_steps,
};
use sea_orm::sea_query::{Expr, Func, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, EntityTrait, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationDef, TransactionTrait,
};

use crate::entities::{flashcards, reviews, study_options};
use crate::errors::{corrupt, infra};
use crate::flashcards::{SqlFlashcardRepository, store_review_state, to_card, to_review};

fn steps_text(steps: &[chrono::Duration]) -> String {
    steps
        .iter()
        .map(|s| format_step(*s))
        .collect::<Vec<_>>()
        .join(" ")
}

fn steps_of(text: &str) -> Result<Vec<chrono::Duration>, InfraError> {
    let raw: Vec<String> = text.split_whitespace().map(str::to_string).collect();
    parse_steps("steps", &raw).map_err(|_| corrupt("study_options", "steps"))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

pub(crate) fn to_options(row: study_options::Model) -> Result<StudyOptions, InfraError> {
    Ok(StudyOptions {
        new_per_day: count(row.new_per_day),
        reviews_per_day: count(row.reviews_per_day),
        learning_steps: steps_of(&row.learning_steps)?,
        relearning_steps: steps_of(&row.relearning_steps)?,
        maximum_interval_days: count(row.maximum_interval_days).max(1),
        desired_retention: row.desired_retention.map(|r| r as f32),
        new_order: NewOrder::parse(&row.new_order)
            .ok_or_else(|| corrupt("study_options", "new_order"))?,
        bury_siblings: row.bury_siblings,
        leech_threshold: count(row.leech_threshold),
        leech_action: LeechAction::parse(&row.leech_action)
            .ok_or_else(|| corrupt("study_options", "leech_action"))?,
        exam_date: row.exam_date,
        updated_at: Some(row.updated_at),
    })
}

fn signed(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The states of a part of the queue, as stored.
fn states(kind: QueueKind) -> Vec<&'static str> {
    match kind {
        QueueKind::New => vec![CardState::New.as_str()],
        QueueKind::Learning => vec![CardState::Learning.as_str(), CardState::Relearning.as_str()],
        QueueKind::Review => vec![CardState::Review.as_str()],
    }
}

/// Cards of none of the `buried` notes.
fn not_buried(buried: &[NoteId]) -> Condition {
    let mut condition = Condition::all();
    if !buried.is_empty() {
        condition = condition.add(
            Condition::any()
                .add(flashcards::Column::NoteId.is_null())
                .add(flashcards::Column::NoteId.is_not_in(buried.iter().map(|n| n.as_uuid()))),
        );
    }
    condition
}

fn review_card() -> RelationDef {
    reviews::Entity::belongs_to(flashcards::Entity)
        .from(reviews::Column::CardId)
        .to(flashcards::Column::Id)
        .into()
}

#[async_trait]
impl StudyRepository for SqlFlashcardRepository {
    async fn options(
        &self,
        owner: UserId,
        chat: ChatId,
    ) -> Result<Option<StudyOptions>, InfraError> {
        study_options::Entity::find_by_id(chat.as_uuid())
            .filter(study_options::Column::UserId.eq(owner.as_uuid()))
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_options)
            .transpose()
    }

    async fn all_options(&self, owner: UserId) -> Result<Vec<(ChatId, StudyOptions)>, InfraError> {
        study_options::Entity::find()
            .filter(study_options::Column::UserId.eq(owner.as_uuid()))
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(|row| Ok((ChatId::from_uuid(row.chat_id), to_options(row)?)))
            .collect()
    }

    async fn save_options(
        &self,
        owner: UserId,
        chat: ChatId,
        options: &StudyOptions,
    ) -> Result<(), InfraError> {
        use study_options::Column as C;
        let row = study_options::ActiveModel {
            chat_id: Set(chat.as_uuid()),
            user_id: Set(owner.as_uuid()),
            new_per_day: Set(signed(options.new_per_day)),
            reviews_per_day: Set(signed(options.reviews_per_day)),
            learning_steps: Set(steps_text(&options.learning_steps)),
            relearning_steps: Set(steps_text(&options.relearning_steps)),
            maximum_interval_days: Set(signed(options.maximum_interval_days)),
            desired_retention: Set(options.desired_retention.map(f64::from)),
            new_order: Set(options.new_order.as_str().to_string()),
            bury_siblings: Set(options.bury_siblings),
            leech_threshold: Set(signed(options.leech_threshold)),
            leech_action: Set(options.leech_action.as_str().to_string()),
            exam_date: Set(options.exam_date),
            updated_at: Set(options.updated_at.unwrap_or_else(Utc::now)),
        };
        // The chat is the owner's (the service checked); the owner is never changed.
        study_options::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::ChatId)
                    .update_columns([
                        C::NewPerDay,
                        C::ReviewsPerDay,
                        C::LearningSteps,
                        C::RelearningSteps,
                        C::MaximumIntervalDays,
                        C::DesiredRetention,
                        C::NewOrder,
                        C::BurySiblings,
                        C::LeechThreshold,
                        C::LeechAction,
                        C::ExamDate,
                        C::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(())
    }

    async fn queue_counts(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        (learning_until, review_until): (DateTime<Utc>, DateTime<Utc>),
        buried: &[NoteId],
    ) -> Result<Vec<QueueCounts>, InfraError> {
        use flashcards::Column as C;
        let due = Condition::any()
            .add(
                Condition::all()
                    .add(C::State.eq(CardState::New.as_str()))
                    .add(not_buried(buried)),
            )
            .add(
                Condition::all()
                    .add(C::State.is_in(states(QueueKind::Learning)))
                    .add(C::Due.lte(learning_until)),
            )
            .add(
                Condition::all()
                    .add(C::State.eq(CardState::Review.as_str()))
                    .add(C::Due.lt(review_until))
                    .add(not_buried(buried)),
            );
        let mut query = flashcards::Entity::find()
            .select_only()
            .column(C::ChatId)
            .column(C::State)
            .column_as(Expr::from(Func::count(Expr::col(C::Id))), "n")
            .filter(C::UserId.eq(owner.as_uuid()))
            .filter(C::Suspended.eq(false))
            .filter(due);
        if let Some(chat) = chat {
            query = query.filter(C::ChatId.eq(chat.as_uuid()));
        }
        let rows: Vec<(uuid::Uuid, String, i64)> = query
            .group_by(C::ChatId)
            .group_by(C::State)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(infra)?;
        let mut out: BTreeMap<uuid::Uuid, QueueCounts> = BTreeMap::new();
        for (chat, state, n) in rows {
            let entry = out.entry(chat).or_insert(QueueCounts {
                chat: ChatId::from_uuid(chat),
                new: 0,
                learning: 0,
                review: 0,
            });
            let n = n.max(0) as u64;
            match CardState::parse(&state).ok_or_else(|| corrupt("flashcards", "state"))? {
                CardState::New => entry.new += n,
                CardState::Learning | CardState::Relearning => entry.learning += n,
                CardState::Review => entry.review += n,
            }
        }
        Ok(out.into_values().collect())
    }

    async fn studied_since(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        since: DateTime<Utc>,
    ) -> Result<Vec<(ChatId, Studied)>, InfraError> {
        let mut query = reviews::Entity::find()
            .select_only()
            .column(flashcards::Column::ChatId)
            .column(reviews::Column::StateBefore)
            .column_as(
                Expr::from(Func::count(Expr::col((
                    reviews::Entity,
                    reviews::Column::Id,
                )))),
                "n",
            )
            .column_as(
                Expr::from(Func::sum(Expr::col((
                    reviews::Entity,
                    reviews::Column::DurationMs,
                )))),
                "ms",
            )
            .join(JoinType::InnerJoin, review_card())
            .filter(reviews::Column::UserId.eq(owner.as_uuid()))
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()))
            .filter(reviews::Column::ReviewedAt.gte(since));
        if let Some(chat) = chat {
            query = query.filter(flashcards::Column::ChatId.eq(chat.as_uuid()));
        }
        let rows: Vec<(uuid::Uuid, String, i64, Option<i64>)> = query
            .group_by(flashcards::Column::ChatId)
            .group_by(reviews::Column::StateBefore)
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(infra)?;
        let mut out: BTreeMap<uuid::Uuid, Studied> = BTreeMap::new();
        for (chat, state, n, ms) in rows {
            let entry = out.entry(chat).or_default();
            let n = n.max(0) as u64;
            match CardState::parse(&state).ok_or_else(|| corrupt("reviews", "state_before"))? {
                CardState::New => entry.new += n,
                CardState::Review => entry.review += n,
                CardState::Learning | CardState::Relearning => entry.learning += n,
            }
            entry.duration_ms += ms.unwrap_or(0).max(0) as u64;
        }
        Ok(out
            .into_iter()
            .map(|(chat, studied)| (ChatId::from_uuid(chat), studied))
            .collect())
    }

    async fn queue(
        &self,
        owner: UserId,
        chats: &[ChatId],
        (kind, order): (QueueKind, NewOrder),
        due_until: DateTime<Utc>,
        buried: &[NoteId],
        limit: u64,
    ) -> Result<Vec<Flashcard>, InfraError> {
        use flashcards::Column as C;
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = flashcards::Entity::find()
            .filter(C::UserId.eq(owner.as_uuid()))
            .filter(C::ChatId.is_in(chats.iter().map(|c| c.as_uuid())))
            .filter(C::Suspended.eq(false))
            .filter(C::State.is_in(states(kind)));
        if kind != QueueKind::Learning {
            query = query.filter(not_buried(buried));
        }
        query = match (kind, order) {
            (QueueKind::New, NewOrder::Created) => query.order_by_asc(C::CreatedAt),
            (QueueKind::New, NewOrder::Random) => query.order_by_asc(C::Shuffle),
            _ => query.filter(C::Due.lte(due_until)).order_by_asc(C::Due),
        };
        query
            .order_by_asc(C::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(to_card)
            .collect()
    }

    async fn note_cards(&self, owner: UserId, note: NoteId) -> Result<Vec<Flashcard>, InfraError> {
        flashcards::Entity::find()
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()))
            .filter(flashcards::Column::NoteId.eq(note.as_uuid()))
            .order_by_asc(flashcards::Column::Ordinal)
            .order_by_asc(flashcards::Column::Id)
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(to_card)
            .collect()
    }

    async fn notes_studied_since(
        &self,
        owner: UserId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(ChatId, NoteId)>, InfraError> {
        let rows: Vec<(uuid::Uuid, Option<uuid::Uuid>, uuid::Uuid)> = reviews::Entity::find()
            .select_only()
            .column(flashcards::Column::ChatId)
            .column(flashcards::Column::NoteId)
            .column(flashcards::Column::Id)
            .distinct()
            .join(JoinType::InnerJoin, review_card())
            .filter(reviews::Column::UserId.eq(owner.as_uuid()))
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()))
            .filter(reviews::Column::ReviewedAt.gte(since))
            .into_tuple()
            .all(&self.db)
            .await
            .map_err(infra)?;
        let mut notes: Vec<(ChatId, NoteId)> = rows
            .into_iter()
            .map(|(chat, note, card)| {
                (
                    ChatId::from_uuid(chat),
                    NoteId::from_uuid(note.unwrap_or(card)),
                )
            })
            .collect();
        notes.sort();
        notes.dedup();
        Ok(notes)
    }

    async fn last_review(
        &self,
        owner: UserId,
        since: DateTime<Utc>,
    ) -> Result<Option<Review>, InfraError> {
        reviews::Entity::find()
            .filter(reviews::Column::UserId.eq(owner.as_uuid()))
            .filter(reviews::Column::ReviewedAt.gte(since))
            .order_by_desc(reviews::Column::ReviewedAt)
            .order_by_desc(reviews::Column::Id)
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_review)
            .transpose()
    }

    async fn undo_review(
        &self,
        owner: UserId,
        review: ReviewId,
        restored: &Flashcard,
        reps_now: u32,
    ) -> Result<bool, InfraError> {
        if restored.user_id != owner {
            return Err(InfraError::internal("undo_review got another user's card"));
        }
        let txn = self.db.begin().await.map_err(infra)?;
        let removed = reviews::Entity::delete_many()
            .filter(reviews::Column::Id.eq(review.as_uuid()))
            .filter(reviews::Column::UserId.eq(owner.as_uuid()))
            .filter(reviews::Column::CardId.eq(restored.id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(infra)?
            .rows_affected
            == 1;
        if !removed || !store_review_state(&txn, restored, reps_now).await? {
            let _ = txn.rollback().await;
            return Ok(false);
        }
        txn.commit().await.map_err(infra)?;
        Ok(true)
    }
}
