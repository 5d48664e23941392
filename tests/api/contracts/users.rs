//! The `UserRepository` contract, on the in-memory, SQLite and Postgres adapters.

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use flashforge_domain::accounts::{
    CreateUserError, Email, NewUser, PasswordHash, UserId, UserRepository, Username,
};
use flashforge_memory::InMemoryUserRepository;
use flashforge_sql::SqlUserRepository;

use crate::helpers::{Backend, Storage, migrated_database};

async fn repository(backend: Backend) -> (Storage, Arc<dyn UserRepository>) {
    let (storage, db) = migrated_database(backend).await;
    let repo: Arc<dyn UserRepository> = match db {
        None => Arc::new(InMemoryUserRepository::new()),
        Some(db) => Arc::new(SqlUserRepository::new(db)),
    };
    (storage, repo)
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        username: Username::parse(name).unwrap(),
        email: Some(Email::parse(&format!("{name}@example.com")).unwrap()),
        password_hash: PasswordHash::new(format!("$argon2id$v=19$m=64,t=1,p=1$salt${name}")),
        created_at: Utc::now().trunc_subsecs(6),
    }
}

async fn create_returns_the_stored_user_and_find_by_id_reads_it_back(backend: Backend) {
    let (_storage, repo) = repository(backend).await;
    let new = new_user("Ada");
    let created = repo.create(new.clone()).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.username.as_str(), "Ada");
    assert_eq!(created.email, new.email);
    assert_eq!(created.created_at, new.created_at);
    assert_eq!(created.updated_at, new.created_at);
    assert_eq!(created.last_login_at, None);
    assert_eq!(repo.find_by_id(new.id).await.unwrap(), Some(created));
}

async fn find_by_id_of_a_missing_user_is_none(backend: Backend) {
    let (_storage, repo) = repository(backend).await;
    assert_eq!(repo.find_by_id(UserId::new()).await.unwrap(), None);
}

async fn find_by_username_ignores_case_and_returns_the_hash(backend: Backend) {
    let (_storage, repo) = repository(backend).await;
    let new = new_user("Grace");
    repo.create(new.clone()).await.unwrap();
    let found = repo
        .find_by_username(&Username::parse("gRaCe").unwrap())
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.user.id, new.id);
    assert_eq!(found.password_hash, new.password_hash);
    assert!(
        repo.find_by_username(&Username::parse("nobody").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_duplicate_username_in_any_case_is_duplicate(backend: Backend) {
    let (_storage, repo) = repository(backend).await;
    repo.create(new_user("Linus")).await.unwrap();
    let err = repo.create(new_user("lINUS")).await.unwrap_err();
    assert!(matches!(err, CreateUserError::Duplicate), "{err:?}");
}

async fn racing_creates_of_one_username_let_exactly_one_win(backend: Backend) {
    let (_storage, repo) = repository(backend).await;
    let attempts = (0..8).map(|i| {
        let repo = repo.clone();
        let name = if i % 2 == 0 { "Racer" } else { "racer" };
        tokio::spawn(async move { repo.create(new_user(name)).await })
    });
    let mut won = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => won += 1,
            Err(CreateUserError::Duplicate) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(won, 1);
}

on_every_backend!(
    create_returns_the_stored_user_and_find_by_id_reads_it_back,
    find_by_id_of_a_missing_user_is_none,
    find_by_username_ignores_case_and_returns_the_hash,
    a_duplicate_username_in_any_case_is_duplicate,
    racing_creates_of_one_username_let_exactly_one_win,
);
