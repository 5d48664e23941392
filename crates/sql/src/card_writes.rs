//! New cards, written together. A transaction that stores cards takes the row of their owner's
//! card count last (so the quota is exact under simultaneous writes), and holds its lock until
//! the commit is on disk: one user's writes take turns at that row, one flush each, which
//! capped one user at about one commit per flush (~1,200 per second on the benchmark machine,
//! against ~11,000 single-row inserts from as many clients).
//!
//! So a user's writes that arrive while one of theirs is being stored wait, and the next
//! transaction stores all of them and takes the row once: they share one lock and one flush.
//! Each write keeps its own answer: when the writes together would pass the quota, or the
//! combined transaction fails, each is stored again on its own, in arrival order, and answered
//! by that. A write arriving when none of its owner's is under way starts at once.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, PoisonError};

use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::flashcards::CardsStored;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use tokio::sync::oneshot;

use crate::entities::{flashcards, reviews, users};
use crate::errors::infra;

/// Writes stored together at most: a larger backlog waits for the next transaction.
const MAX_TOGETHER: usize = 64;

/// One write: an owner's new cards, with their past reviews, within `max_cards` (0: no limit).
pub(crate) struct NewCards {
    pub cards: Vec<flashcards::ActiveModel>,
    pub reviews: Vec<reviews::ActiveModel>,
    pub max_cards: u64,
}

struct Waiting {
    write: NewCards,
    answer: oneshot::Sender<Result<CardsStored, InfraError>>,
}

/// The writes waiting, per owner; an owner is present while one of their writes is stored.
pub(crate) struct CardWrites {
    db: DatabaseConnection,
    waiting: Mutex<HashMap<UserId, Vec<Waiting>>>,
}

impl CardWrites {
    pub(crate) fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            waiting: Mutex::new(HashMap::new()),
        }
    }

    /// Stores `write`, alone or with the owner's other writes waiting at the same time.
    pub(crate) async fn store(
        self: &Arc<Self>,
        owner: UserId,
        write: NewCards,
    ) -> Result<CardsStored, InfraError> {
        let (answer, answered) = oneshot::channel();
        let waiting = Waiting { write, answer };
        let first = match self.queues().entry(owner) {
            Entry::Occupied(mut queue) => {
                queue.get_mut().push(waiting);
                None
            }
            Entry::Vacant(queue) => {
                queue.insert(Vec::new());
                Some(waiting)
            }
        };
        if let Some(first) = first {
            // Its own task: the writes waiting behind it must not depend on this request's
            // future being polled to the end.
            let writes = Arc::clone(self);
            tokio::spawn(async move { writes.drain(owner, first).await });
        }
        answered
            .await
            .unwrap_or_else(|_| Err(InfraError::internal("the card write was interrupted")))
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Vec<Waiting>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `first`, then what waited meanwhile, until nothing of `owner`'s waits.
    async fn drain(&self, owner: UserId, first: Waiting) {
        let mut batch = vec![first];
        loop {
            self.write(owner, batch).await;
            let mut queues = self.queues();
            let Some(queue) = queues.get_mut(&owner) else {
                return;
            };
            if queue.is_empty() {
                queues.remove(&owner);
                return;
            }
            batch = queue.drain(..queue.len().min(MAX_TOGETHER)).collect();
        }
    }

    async fn write(&self, owner: UserId, batch: Vec<Waiting>) {
        if batch.len() > 1 {
            match self.together(owner, &batch).await {
                Ok(true) => {
                    for waiting in batch {
                        let _ = waiting.answer.send(Ok(CardsStored::Stored));
                    }
                    return;
                }
                // Over the quota together, or failed: each write on its own decides.
                Ok(false) => {}
                Err(error) => {
                    tracing::debug!(error = %error, "combined card write failed; writing one by one");
                }
            }
        }
        for waiting in batch {
            let Waiting { write, answer } = waiting;
            let stored = self.alone(owner, write).await;
            let _ = answer.send(stored);
        }
    }

    /// Every write of `batch` in one transaction; `Ok(false)` (nothing stored) when together
    /// they would pass the strictest of their limits.
    async fn together(&self, owner: UserId, batch: &[Waiting]) -> Result<bool, InfraError> {
        let cards: Vec<_> = batch
            .iter()
            .flat_map(|w| w.write.cards.iter().cloned())
            .collect();
        let reviews: Vec<_> = batch
            .iter()
            .flat_map(|w| w.write.reviews.iter().cloned())
            .collect();
        let limit = batch
            .iter()
            .map(|w| w.write.max_cards)
            .filter(|&max| max > 0)
            .min()
            .unwrap_or(0);
        let txn = self.db.begin().await.map_err(infra)?;
        let adding = cards.len() as i64;
        insert(&txn, cards, reviews).await?;
        if !count(&txn, owner, adding, limit).await? {
            let _ = txn.rollback().await;
            return Ok(false);
        }
        txn.commit().await.map_err(infra)?;
        Ok(true)
    }

    /// One write in its own transaction.
    async fn alone(&self, owner: UserId, write: NewCards) -> Result<CardsStored, InfraError> {
        let adding = write.cards.len() as i64;
        let txn = self.db.begin().await.map_err(infra)?;
        insert(&txn, write.cards, write.reviews).await?;
        if !count(&txn, owner, adding, write.max_cards).await? {
            let _ = txn.rollback().await;
            return Ok(CardsStored::OverQuota {
                cards: card_count(&self.db, owner).await?,
            });
        }
        txn.commit().await.map_err(infra)?;
        Ok(CardsStored::Stored)
    }
}

async fn insert(
    txn: &DatabaseTransaction,
    cards: Vec<flashcards::ActiveModel>,
    reviews: Vec<reviews::ActiveModel>,
) -> Result<(), InfraError> {
    let mut cards = cards.into_iter().peekable();
    while cards.peek().is_some() {
        let batch: Vec<_> = cards.by_ref().take(200).collect();
        flashcards::Entity::insert_many(batch)
            .exec(txn)
            .await
            .map_err(infra)?;
    }
    let mut reviews = reviews.into_iter().peekable();
    while reviews.peek().is_some() {
        let batch: Vec<_> = reviews.by_ref().take(500).collect();
        reviews::Entity::insert_many(batch)
            .exec(txn)
            .await
            .map_err(infra)?;
    }
    Ok(())
}

/// Adds `adding` to the owner's count if it stays within `max_cards` (0: no limit); whether it
/// did. Last in the transaction: the row's lock (on Postgres) is held from here to the commit.
async fn count(
    txn: &DatabaseTransaction,
    owner: UserId,
    adding: i64,
    max_cards: u64,
) -> Result<bool, InfraError> {
    use sea_orm::sea_query::ExprTrait as _;
    let mut count = users::Entity::update_many()
        .filter(users::Column::Id.eq(owner.as_uuid()))
        .col_expr(
            users::Column::CardCount,
            Expr::col(users::Column::CardCount).add(adding),
        );
    if max_cards > 0 {
        count = count.filter(
            Expr::col(users::Column::CardCount)
                .add(adding)
                .lte(i64::try_from(max_cards).unwrap_or(i64::MAX)),
        );
    }
    Ok(count.exec(txn).await.map_err(infra)?.rows_affected > 0)
}

/// How many cards `owner` has.
pub(crate) async fn card_count(db: &DatabaseConnection, owner: UserId) -> Result<u64, InfraError> {
    let count = users::Entity::find_by_id(owner.as_uuid())
        .select_only()
        .column(users::Column::CardCount)
        .into_tuple::<i64>()
        .one(db)
        .await
        .map_err(infra)?;
    Ok(u64::try_from(count.unwrap_or(0)).unwrap_or(0))
}
