//! The `UsageLedger` contract, on the in-memory, SQLite and Postgres adapters.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, SubsecRound, Utc};
use flashforge_domain::accounts::{UserId, UserRepository};
use flashforge_domain::spend::{LedgerEntry, Purpose, UsageLedger};
use flashforge_memory::{InMemoryUsageLedger, InMemoryUserRepository};
use flashforge_sql::{SqlUsageLedger, SqlUserRepository};

use crate::helpers::{Backend, Storage, migrated_database};

struct Fixture {
    _storage: Storage,
    users: Arc<dyn UserRepository>,
    ledger: Arc<dyn UsageLedger>,
}

async fn fixture(backend: Backend) -> Fixture {
    let (storage, db) = migrated_database(backend).await;
    match db {
        None => Fixture {
            _storage: storage,
            users: Arc::new(InMemoryUserRepository::new()),
            ledger: Arc::new(InMemoryUsageLedger::new()),
        },
        Some(db) => Fixture {
            _storage: storage,
            users: Arc::new(SqlUserRepository::new(db.clone())),
            ledger: Arc::new(SqlUsageLedger::new(db)),
        },
    }
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn entry(user: UserId, purpose: Purpose, prompt: u64, completion: u64) -> LedgerEntry {
    LedgerEntry {
        user_id: user,
        purpose,
        model: "m-1".into(),
        prompt_tokens: prompt,
        completion_tokens: completion,
        estimated: false,
        at: Utc::now().trunc_subsecs(6),
    }
}

async fn reservations_stay_within_the_limit_even_when_concurrent(backend: Backend) {
    let f = fixture(backend).await;
    let alice = super::stored_user(&*f.users, "alice").await;
    let bob = super::stored_user(&*f.users, "bob").await;
    let day = today();
    // Twenty requests of 10 tokens at once against a budget of 100: exactly ten fit.
    let granted =
        futures_util::future::join_all((0..20).map(|_| f.ledger.reserve(alice, day, 10, 100)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .filter(|ok| *ok)
            .count();
    assert_eq!(granted, 10);
    assert_eq!(f.ledger.used_on(alice, day).await.unwrap(), 100);
    assert!(!f.ledger.reserve(alice, day, 1, 100).await.unwrap());
    // Other users and other days have their own counts; 0 is no limit.
    assert!(f.ledger.reserve(bob, day, 100, 100).await.unwrap());
    assert!(f.ledger.reserve(bob, day, 101, 0).await.unwrap());
    let tomorrow = day.succ_opt().unwrap();
    assert!(f.ledger.reserve(alice, tomorrow, 100, 100).await.unwrap());
    assert!(!f.ledger.reserve(alice, day, 101, 100).await.unwrap());
    assert_eq!(f.ledger.used_on(bob, day).await.unwrap(), 201);
}

async fn settling_appends_the_entry_and_replaces_the_reservation(backend: Backend) {
    let f = fixture(backend).await;
    let alice = super::stored_user(&*f.users, "alice").await;
    let bob = super::stored_user(&*f.users, "bob").await;
    let day = today();
    let since = Utc::now() - Duration::minutes(1);
    assert!(f.ledger.reserve(alice, day, 1000, 5000).await.unwrap());
    assert!(f.ledger.reserve(alice, day, 1000, 5000).await.unwrap());
    let answer = entry(alice, Purpose::Answer, 120, 30);
    f.ledger.settle(day, &answer, 1000).await.unwrap();
    assert_eq!(f.ledger.used_on(alice, day).await.unwrap(), 1150);
    // A call that never started gives its reservation back, and leaves no entry.
    f.ledger.release(alice, day, 1000).await.unwrap();
    assert_eq!(f.ledger.used_on(alice, day).await.unwrap(), 150);
    let mut cards = entry(alice, Purpose::BackgroundFlashcards, 400, 0);
    cards.estimated = true;
    f.ledger.settle(day, &cards, 0).await.unwrap();
    f.ledger
        .settle(day, &entry(bob, Purpose::Edit, 7, 3), 0)
        .await
        .unwrap();
    assert_eq!(f.ledger.used_on(alice, day).await.unwrap(), 550);
    assert_eq!(f.ledger.used_on(bob, day).await.unwrap(), 10);
    // Never below zero.
    f.ledger.release(bob, day, 1_000_000).await.unwrap();
    assert_eq!(f.ledger.used_on(bob, day).await.unwrap(), 0);

    let entries = f.ledger.entries(alice, since, 10).await.unwrap();
    assert_eq!(entries, [answer.clone(), cards]);
    assert_eq!(f.ledger.entries(alice, since, 1).await.unwrap(), [answer]);
    assert_eq!(f.ledger.entries(bob, since, 10).await.unwrap().len(), 1);
    assert!(
        f.ledger
            .entries(alice, Utc::now() + Duration::minutes(1), 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(f.ledger.delete_user(alice).await.unwrap(), 2);
    assert!(f.ledger.entries(alice, since, 10).await.unwrap().is_empty());
    assert_eq!(f.ledger.used_on(alice, day).await.unwrap(), 0);
    assert_eq!(f.ledger.entries(bob, since, 10).await.unwrap().len(), 1);
}

on_every_backend!(
    reservations_stay_within_the_limit_even_when_concurrent,
    settling_appends_the_entry_and_replaces_the_reservation,
);
