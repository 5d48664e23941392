//! [`FlashcardRepository`] on sea-orm. A review updates the card only if it still has the
//! number of reviews the service read (optimistic concurrency) and appends to the log in the
//! same transaction; the log's unique `(user_id, idempotency_key)` makes a retry apply once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardCursor, CardFilter, CardKind, CardSource, CardState, CardText, CardsStored, Flashcard,
    FlashcardId, FlashcardRepository, MemoryState, NoteId, NoteRef, Rating, Recorded, Review,
    ReviewId, Schedule, StudyContext, StudyDay, StudySettings, Tag,
};
use flashforge_domain::knowledge::{ChunkId, DocumentId};
use flashforge_domain::pagination::{Page, PageRequest};
use sea_orm::sea_query::{Expr, Func, Query, SelectStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, IdenStatic, Iterable, PaginatorTrait, QueryFilter, QueryOrder, QueryResult,
    QuerySelect, QueryTrait, Select, TransactionTrait,
};

use std::sync::Arc;

use crate::card_writes::{CardWrites, NewCards, card_count};
use crate::entities::{flashcards, reviews, study_options, study_settings, users};
use crate::errors::{corrupt, infra, is_unique_violation};

pub struct SqlFlashcardRepository {
    pub(crate) db: DatabaseConnection,
    writes: Arc<CardWrites>,
}

impl SqlFlashcardRepository {
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            writes: Arc::new(CardWrites::new(db.clone())),
            db,
        }
    }

    /// Deletes `owner`'s cards matching `which` and takes them off the owner's count, in one
    /// transaction; how many went.
    async fn delete_counted(
        &self,
        owner: UserId,
        which: impl sea_orm::sea_query::IntoCondition + Send,
    ) -> Result<u64, InfraError> {
        use sea_orm::sea_query::ExprTrait;
        let txn = self.db.begin().await.map_err(infra)?;
        let deleted = flashcards::Entity::delete_many()
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()))
            .filter(which)
            .exec(&txn)
            .await
            .map_err(infra)?
            .rows_affected;
        if deleted > 0 {
            users::Entity::update_many()
                .filter(users::Column::Id.eq(owner.as_uuid()))
                .col_expr(
                    users::Column::CardCount,
                    Expr::col(users::Column::CardCount).sub(deleted as i64),
                )
                .exec(&txn)
                .await
                .map_err(infra)?;
        }
        txn.commit().await.map_err(infra)?;
        Ok(deleted)
    }
}

fn to_settings(row: study_settings::Model) -> Result<StudySettings, InfraError> {
    Ok(StudySettings {
        desired_retention: row.desired_retention as f32,
        parameters: serde_json::from_str(&row.parameters)
            .map_err(|e| corrupt("study_settings", e))?,
        day: StudyDay {
            timezone: StudyDay::parse_timezone(&row.timezone)
                .map_err(|_| corrupt("study_settings", "timezone"))?,
            starts_at_hour: u8::try_from(row.day_starts_at_hour)
                .ok()
                .filter(|h| *h < 24)
                .ok_or_else(|| corrupt("study_settings", "day_starts_at_hour"))?,
        },
        updated_at: Some(row.updated_at),
    })
}

/// Stores what a review (or its undoing) changes on `card`: its schedule, suspension, tags and
/// update time, if it still has `reps_before` reviews. Whether it did.
pub(crate) async fn store_review_state(
    txn: &sea_orm::DatabaseTransaction,
    card: &Flashcard,
    reps_before: u32,
) -> Result<bool, InfraError> {
    let s = &card.schedule;
    Ok(flashcards::Entity::update_many()
        .filter(flashcards::Column::Id.eq(card.id.as_uuid()))
        .filter(flashcards::Column::UserId.eq(card.user_id.as_uuid()))
        .filter(flashcards::Column::Reps.eq(int(reps_before)))
        .col_expr(flashcards::Column::State, Expr::value(s.state.as_str()))
        .col_expr(
            flashcards::Column::Stability,
            Expr::value(s.memory.map(|m| f64::from(m.stability))),
        )
        .col_expr(
            flashcards::Column::Difficulty,
            Expr::value(s.memory.map(|m| f64::from(m.difficulty))),
        )
        .col_expr(flashcards::Column::Due, Expr::value(s.due))
        .col_expr(flashcards::Column::Reps, Expr::value(int(s.reps)))
        .col_expr(flashcards::Column::Lapses, Expr::value(int(s.lapses)))
        .col_expr(flashcards::Column::Step, Expr::value(int(s.step)))
        .col_expr(
            flashcards::Column::LastReviewedAt,
            Expr::value(s.last_reviewed_at),
        )
        .col_expr(flashcards::Column::Suspended, Expr::value(card.suspended))
        .col_expr(flashcards::Column::Tags, Expr::value(tags_json(card)?))
        .col_expr(flashcards::Column::UpdatedAt, Expr::value(card.updated_at))
        .exec(txn)
        .await
        .map_err(infra)?
        .rows_affected
        == 1)
}

pub(crate) fn to_card(row: flashcards::Model) -> Result<Flashcard, InfraError> {
    let tags: Vec<String> =
        serde_json::from_str(&row.tags).map_err(|e| corrupt("flashcards", e))?;
    let memory = match (row.stability, row.difficulty) {
        (Some(s), Some(d)) => Some(MemoryState {
            stability: s as f32,
            difficulty: d as f32,
        }),
        _ => None,
    };
    Ok(Flashcard {
        id: FlashcardId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        chat_id: ChatId::from_uuid(row.chat_id),
        question: CardText::from_stored(row.question),
        answer: CardText::from_stored(row.answer),
        tags: tags.into_iter().map(Tag::from_stored).collect(),
        suspended: row.suspended,
        source: row.source_document_id.map(|document| CardSource {
            document_id: DocumentId::from_uuid(document),
            chunk_id: row.source_chunk_id.map(ChunkId::from_uuid),
            page: row.source_page.map(|p| p.max(0) as u32),
            page_label: row.source_page_label.clone(),
            quote: row.source_quote,
        }),
        note: NoteRef {
            id: NoteId::from_uuid(row.note_id.unwrap_or(row.id)),
            kind: CardKind::parse(&row.kind).ok_or_else(|| corrupt("flashcards", "kind"))?,
            ordinal: u32::try_from(row.ordinal).map_err(|_| corrupt("flashcards", "ordinal"))?,
        },
        schedule: Schedule {
            state: CardState::parse(&row.state).ok_or_else(|| corrupt("flashcards", "state"))?,
            memory,
            due: row.due,
            reps: row.reps.max(0) as u32,
            lapses: row.lapses.max(0) as u32,
            step: row.step.max(0) as u32,
            last_reviewed_at: row.last_reviewed_at,
        },
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// The row of a review.
fn review_row(review: &Review) -> Result<reviews::ActiveModel, InfraError> {
    Ok(reviews::ActiveModel {
        id: Set(review.id.as_uuid()),
        card_id: Set(review.card_id.as_uuid()),
        user_id: Set(review.user_id.as_uuid()),
        rating: Set(review.rating.as_str().to_string()),
        state_before: Set(review.state_before.as_str().to_string()),
        reviewed_at: Set(review.reviewed_at),
        elapsed_days: Set(int(review.elapsed_days)),
        duration_ms: Set(review.duration_ms.map(int)),
        stability: Set(f64::from(review.stability)),
        difficulty: Set(f64::from(review.difficulty)),
        idempotency_key: Set(review.idempotency_key.clone()),
        card_before: Set(review
            .card_before
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(InfraError::internal)?),
    })
}

pub(crate) fn to_review(row: reviews::Model) -> Result<Review, InfraError> {
    Ok(Review {
        id: ReviewId::from_uuid(row.id),
        card_id: FlashcardId::from_uuid(row.card_id),
        user_id: UserId::from_uuid(row.user_id),
        rating: Rating::parse(&row.rating).ok_or_else(|| corrupt("reviews", "rating"))?,
        state_before: CardState::parse(&row.state_before)
            .ok_or_else(|| corrupt("reviews", "state_before"))?,
        reviewed_at: row.reviewed_at,
        elapsed_days: row.elapsed_days.max(0) as u32,
        duration_ms: row.duration_ms.map(|d| d.max(0) as u32),
        stability: row.stability as f32,
        difficulty: row.difficulty as f32,
        idempotency_key: row.idempotency_key,
        card_before: row
            .card_before
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| corrupt("reviews", e))?,
    })
}

pub(crate) fn int(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub(crate) fn tags_json(card: &Flashcard) -> Result<String, InfraError> {
    let tags: Vec<&str> = card.tags.iter().map(Tag::as_str).collect();
    serde_json::to_string(&tags).map_err(InfraError::internal)
}

fn row(card: &Flashcard) -> Result<flashcards::ActiveModel, InfraError> {
    let source = card.source.as_ref();
    Ok(flashcards::ActiveModel {
        id: Set(card.id.as_uuid()),
        user_id: Set(card.user_id.as_uuid()),
        chat_id: Set(card.chat_id.as_uuid()),
        question: Set(card.question.as_str().to_string()),
        answer: Set(card.answer.as_str().to_string()),
        tags: Set(tags_json(card)?),
        suspended: Set(card.suspended),
        source_document_id: Set(source.map(|s| s.document_id.as_uuid())),
        source_chunk_id: Set(source.and_then(|s| s.chunk_id.map(|c| c.as_uuid()))),
        source_page: Set(source.and_then(|s| s.page.map(int))),
        source_page_label: Set(source.and_then(|s| s.page_label.clone())),
        source_quote: Set(source.and_then(|s| s.quote.clone())),
        state: Set(card.schedule.state.as_str().to_string()),
        stability: Set(card.schedule.memory.map(|m| f64::from(m.stability))),
        difficulty: Set(card.schedule.memory.map(|m| f64::from(m.difficulty))),
        due: Set(card.schedule.due),
        reps: Set(int(card.schedule.reps)),
        lapses: Set(int(card.schedule.lapses)),
        step: Set(int(card.schedule.step)),
        last_reviewed_at: Set(card.schedule.last_reviewed_at),
        created_at: Set(card.created_at),
        updated_at: Set(card.updated_at),
        shuffle: Set(card.shuffle_key()),
        note_id: Set(Some(card.note.id.as_uuid())),
        kind: Set(card.note.kind.as_str().to_string()),
        ordinal: Set(int(card.note.ordinal)),
    })
}

/// `%` and `_` of a user's search text match themselves.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// `owner`'s cards of `chat` matching `filter`, newest first: one page (and one more to tell
/// whether another follows).
fn list_query(
    owner: UserId,
    chat: ChatId,
    filter: &CardFilter,
    page: &PageRequest<CardCursor>,
) -> Select<flashcards::Entity> {
    let mut query = flashcards::Entity::find()
        .filter(flashcards::Column::ChatId.eq(chat.as_uuid()))
        .filter(flashcards::Column::UserId.eq(owner.as_uuid()));
    if let Some(tag) = &filter.tag {
        // Tags are stored as a JSON array of quoted, validated strings (no `"` inside).
        query = query.filter(flashcards::Column::Tags.contains(format!("\"{}\"", tag.as_str())));
    }
    if let Some(state) = filter.state {
        query = query.filter(flashcards::Column::State.eq(state.as_str()));
    }
    if let Some(note) = filter.note {
        query = query.filter(flashcards::Column::NoteId.eq(note.as_uuid()));
    }
    if let Some(due) = filter.due_before {
        query = query.filter(flashcards::Column::Due.lte(due));
    }
    if let Some(text) = &filter.text {
        use sea_orm::sea_query::ExprTrait as _;
        let pattern = like_pattern(text);
        let lower = |column: flashcards::Column| Func::lower(Expr::col(column));
        query = query.filter(
            Condition::any()
                .add(
                    Expr::expr(lower(flashcards::Column::Question))
                        .like(sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(
                    Expr::expr(lower(flashcards::Column::Answer))
                        .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
                ),
        );
    }
    if let Some(after) = page.after {
        query = query.filter(flashcards::Column::Id.lt(after));
    }
    query
        .order_by_desc(flashcards::Column::Id)
        .limit(page.limit.fetch_count())
}

/// Joins to `query` the settings of the user `owner` names and the options of the chat `chat`
/// names (the chat's only if it is that user's), as columns prefixed `s_` and `o_`.
fn join_context(query: &mut SelectStatement, owner: Expr, chat: Expr) {
    use sea_orm::sea_query::ExprTrait as _;
    for column in study_settings::Column::iter() {
        query.expr_as(
            Expr::col((study_settings::Entity, column)),
            format!("{SETTINGS}{}", column.as_str()),
        );
    }
    for column in study_options::Column::iter() {
        query.expr_as(
            Expr::col((study_options::Entity, column)),
            format!("{OPTIONS}{}", column.as_str()),
        );
    }
    query
        .left_join(
            study_settings::Entity,
            Expr::col((study_settings::Entity, study_settings::Column::UserId)).eq(owner.clone()),
        )
        .left_join(
            study_options::Entity,
            Condition::all()
                .add(Expr::col((study_options::Entity, study_options::Column::ChatId)).eq(chat))
                .add(Expr::col((study_options::Entity, study_options::Column::UserId)).eq(owner)),
        );
}

/// The column prefixes [`join_context`] gives the settings and the options.
const SETTINGS: &str = "s_";
const OPTIONS: &str = "o_";

/// The settings and options [`join_context`] joined to `row`.
fn context_of(row: &QueryResult) -> Result<StudyContext, InfraError> {
    let settings =
        study_settings::Model::from_query_result_optional(row, SETTINGS).map_err(infra)?;
    let options = study_options::Model::from_query_result_optional(row, OPTIONS).map_err(infra)?;
    Ok(StudyContext {
        settings: settings.map(to_settings).transpose()?,
        options: options.map(crate::study::to_options).transpose()?,
    })
}

impl SqlFlashcardRepository {
    /// Runs `cards` with each card's owner's settings and chat's options joined: the cards, and
    /// the context (read from the first row: the cards of one chat share it).
    async fn cards_in_context(
        &self,
        cards: Select<flashcards::Entity>,
    ) -> Result<(Vec<Flashcard>, StudyContext), InfraError> {
        let mut query = cards.into_query();
        join_context(
            &mut query,
            Expr::col((flashcards::Entity, flashcards::Column::UserId)),
            Expr::col((flashcards::Entity, flashcards::Column::ChatId)),
        );
        let rows = self.db.query_all(&query).await.map_err(infra)?;
        let context = rows
            .first()
            .map_or(Ok(StudyContext::default()), context_of)?;
        let cards = rows
            .iter()
            .map(|row| to_card(flashcards::Model::from_query_result(row, "").map_err(infra)?))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((cards, context))
    }
}

#[async_trait]
impl FlashcardRepository for SqlFlashcardRepository {
    async fn create_with_history(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        reviews: Vec<Review>,
        max_cards: u64,
    ) -> Result<CardsStored, InfraError> {
        if cards.iter().any(|c| c.user_id != owner) {
            return Err(InfraError::internal("create_many got another user's card"));
        }
        let ids: std::collections::HashSet<FlashcardId> = cards.iter().map(|c| c.id).collect();
        if reviews
            .iter()
            .any(|r| r.user_id != owner || !ids.contains(&r.card_id))
        {
            return Err(InfraError::internal(
                "create_with_history got a review of another card",
            ));
        }
        let rows = cards.iter().map(row).collect::<Result<Vec<_>, _>>()?;
        let review_rows = reviews
            .iter()
            .map(review_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.writes
            .store(
                owner,
                NewCards {
                    cards: rows,
                    reviews: review_rows,
                    max_cards,
                },
            )
            .await
    }

    async fn card_count(&self, owner: UserId) -> Result<u64, InfraError> {
        card_count(&self.db, owner).await
    }

    async fn find(&self, owner: UserId, id: FlashcardId) -> Result<Option<Flashcard>, InfraError> {
        flashcards::Entity::find_by_id(id.as_uuid())
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()))
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_card)
            .transpose()
    }

    /// One statement: the card, with its owner's settings and its chat's options joined.
    async fn find_in_context(
        &self,
        owner: UserId,
        id: FlashcardId,
    ) -> Result<Option<(Flashcard, StudyContext)>, InfraError> {
        let query = flashcards::Entity::find_by_id(id.as_uuid())
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()));
        let (mut cards, context) = self.cards_in_context(query).await?;
        Ok(cards.pop().map(|card| (card, context)))
    }

    /// One statement: the owner's row, with their settings and the chat's options joined.
    async fn study_context(&self, owner: UserId, chat: ChatId) -> Result<StudyContext, InfraError> {
        use sea_orm::sea_query::ExprTrait as _;
        let mut query = Query::select();
        query
            .from(users::Entity)
            .and_where(Expr::col((users::Entity, users::Column::Id)).eq(owner.as_uuid()));
        join_context(
            &mut query,
            Expr::col((users::Entity, users::Column::Id)),
            Expr::val(chat.as_uuid()),
        );
        let row = self.db.query_one(&query).await.map_err(infra)?;
        row.map_or(Ok(StudyContext::default()), |row| context_of(&row))
    }

    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        filter: &CardFilter,
        page: PageRequest<CardCursor>,
    ) -> Result<Page<Flashcard>, InfraError> {
        let items = list_query(owner, chat, filter, &page)
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(to_card)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |c| c.id.as_uuid()))
    }

    /// One statement: the page, each row with the settings and options joined.
    async fn list_in_context(
        &self,
        owner: UserId,
        chat: ChatId,
        filter: &CardFilter,
        page: PageRequest<CardCursor>,
    ) -> Result<(Page<Flashcard>, StudyContext), InfraError> {
        let (items, context) = self
            .cards_in_context(list_query(owner, chat, filter, &page))
            .await?;
        Ok((
            Page::from_overfetch(items, page.limit, |c| c.id.as_uuid()),
            context,
        ))
    }

    async fn update(&self, card: &Flashcard) -> Result<bool, InfraError> {
        let source = card.source.as_ref();
        let result = flashcards::Entity::update_many()
            .filter(flashcards::Column::Id.eq(card.id.as_uuid()))
            .filter(flashcards::Column::UserId.eq(card.user_id.as_uuid()))
            .col_expr(
                flashcards::Column::Question,
                Expr::value(card.question.as_str()),
            )
            .col_expr(
                flashcards::Column::Answer,
                Expr::value(card.answer.as_str()),
            )
            .col_expr(flashcards::Column::Tags, Expr::value(tags_json(card)?))
            .col_expr(flashcards::Column::Suspended, Expr::value(card.suspended))
            .col_expr(
                flashcards::Column::SourceDocumentId,
                Expr::value(source.map(|s| s.document_id.as_uuid())),
            )
            .col_expr(
                flashcards::Column::SourceChunkId,
                Expr::value(source.and_then(|s| s.chunk_id.map(|c| c.as_uuid()))),
            )
            .col_expr(
                flashcards::Column::SourcePage,
                Expr::value(source.and_then(|s| s.page.map(int))),
            )
            .col_expr(
                flashcards::Column::SourceQuote,
                Expr::value(source.and_then(|s| s.quote.clone())),
            )
            .col_expr(flashcards::Column::UpdatedAt, Expr::value(card.updated_at))
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(result.rows_affected == 1)
    }

    async fn delete(&self, owner: UserId, id: FlashcardId) -> Result<bool, InfraError> {
        Ok(self
            .delete_counted(owner, flashcards::Column::Id.eq(id.as_uuid()))
            .await?
            == 1)
    }

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        self.delete_counted(owner, flashcards::Column::ChatId.eq(chat.as_uuid()))
            .await
    }

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        self.delete_counted(owner, Condition::all()).await
    }

    async fn record_review(
        &self,
        card: &Flashcard,
        reps_before: u32,
        review: Review,
    ) -> Result<Recorded, InfraError> {
        if let Some(key) = &review.idempotency_key
            && let Some(previous) = reviews::Entity::find()
                .filter(reviews::Column::UserId.eq(review.user_id.as_uuid()))
                .filter(reviews::Column::IdempotencyKey.eq(key.as_str()))
                .one(&self.db)
                .await
                .map_err(infra)?
        {
            return Ok(Recorded::Replayed(Box::new(to_review(previous)?)));
        }
        let txn = self.db.begin().await.map_err(infra)?;
        let updated = store_review_state(&txn, card, reps_before).await?;
        if !updated {
            let _ = txn.rollback().await;
            return Ok(Recorded::Stale);
        }
        let key = review.idempotency_key.clone();
        let inserted = review_row(&review)?;
        match reviews::Entity::insert(inserted).exec(&txn).await {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                // A concurrent retry with the same key won: ours changes nothing.
                let _ = txn.rollback().await;
                let previous = reviews::Entity::find()
                    .filter(reviews::Column::UserId.eq(card.user_id.as_uuid()))
                    .filter(reviews::Column::IdempotencyKey.eq(key))
                    .one(&self.db)
                    .await
                    .map_err(infra)?
                    .ok_or_else(|| InfraError::internal(e))?;
                return Ok(Recorded::Replayed(Box::new(to_review(previous)?)));
            }
            Err(e) => return Err(infra(e)),
        }
        txn.commit().await.map_err(infra)?;
        Ok(Recorded::Applied)
    }

    async fn due(
        &self,
        owner: UserId,
        chat: Option<ChatId>,
        now: DateTime<Utc>,
        limit: u64,
    ) -> Result<Vec<Flashcard>, InfraError> {
        let mut query = flashcards::Entity::find()
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()))
            .filter(flashcards::Column::Suspended.eq(false))
            .filter(flashcards::Column::Due.lte(now));
        if let Some(chat) = chat {
            query = query.filter(flashcards::Column::ChatId.eq(chat.as_uuid()));
        }
        query
            .order_by_asc(flashcards::Column::Due)
            .order_by_asc(flashcards::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(to_card)
            .collect()
    }

    async fn count_due(&self, owner: UserId, before: DateTime<Utc>) -> Result<u64, InfraError> {
        flashcards::Entity::find()
            .filter(flashcards::Column::UserId.eq(owner.as_uuid()))
            .filter(flashcards::Column::Suspended.eq(false))
            .filter(flashcards::Column::Due.lte(before))
            .count(&self.db)
            .await
            .map_err(infra)
    }

    async fn count_cards(&self, owner: UserId) -> Result<(u64, u64), InfraError> {
        let mine =
            || flashcards::Entity::find().filter(flashcards::Column::UserId.eq(owner.as_uuid()));
        let total = mine().count(&self.db).await.map_err(infra)?;
        let new = mine()
            .filter(flashcards::Column::State.eq(CardState::New.as_str()))
            .count(&self.db)
            .await
            .map_err(infra)?;
        Ok((total, new))
    }

    async fn reviews_since(
        &self,
        owner: UserId,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Review>, InfraError> {
        let mut query = reviews::Entity::find().filter(reviews::Column::UserId.eq(owner.as_uuid()));
        if let Some(since) = since {
            query = query.filter(reviews::Column::ReviewedAt.gte(since));
        }
        query
            .order_by_asc(reviews::Column::ReviewedAt)
            .order_by_asc(reviews::Column::Id)
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(to_review)
            .collect()
    }

    async fn recent_reviews(&self, owner: UserId, limit: u64) -> Result<Vec<Review>, InfraError> {
        let mut recent = reviews::Entity::find()
            .filter(reviews::Column::UserId.eq(owner.as_uuid()))
            .order_by_desc(reviews::Column::ReviewedAt)
            .order_by_desc(reviews::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await
            .map_err(infra)?
            .into_iter()
            .map(to_review)
            .collect::<Result<Vec<_>, _>>()?;
        recent.reverse();
        Ok(recent)
    }

    async fn settings(&self, owner: UserId) -> Result<Option<StudySettings>, InfraError> {
        study_settings::Entity::find_by_id(owner.as_uuid())
            .one(&self.db)
            .await
            .map_err(infra)?
            .map(to_settings)
            .transpose()
    }

    async fn save_settings(
        &self,
        owner: UserId,
        settings: &StudySettings,
    ) -> Result<(), InfraError> {
        let row = study_settings::ActiveModel {
            user_id: Set(owner.as_uuid()),
            desired_retention: Set(f64::from(settings.desired_retention)),
            parameters: Set(
                serde_json::to_string(&settings.parameters).map_err(InfraError::internal)?
            ),
            timezone: Set(settings.day.timezone.name().to_string()),
            day_starts_at_hour: Set(i32::from(settings.day.starts_at_hour)),
            updated_at: Set(settings.updated_at.unwrap_or_else(Utc::now)),
        };
        study_settings::Entity::insert(row)
            .on_conflict(
                sea_orm::sea_query::OnConflict::column(study_settings::Column::UserId)
                    .update_columns([
                        study_settings::Column::DesiredRetention,
                        study_settings::Column::Parameters,
                        study_settings::Column::Timezone,
                        study_settings::Column::DayStartsAtHour,
                        study_settings::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&self.db)
            .await
            .map_err(infra)?;
        Ok(())
    }
}
