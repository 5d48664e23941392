//! The `SessionRepository` contract, on the in-memory, SQLite and Postgres adapters.

use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use flashforge_domain::accounts::{
    ClientInfo, Email, NewRefreshToken, NewSession, NewUser, PasswordHash, RefreshToken,
    RefreshTokenHash, Rotation, SessionId, SessionRepository, UserId, UserRepository, Username,
};
use flashforge_domain::pagination::{Limit, PageRequest};
use flashforge_memory::{InMemorySessionRepository, InMemoryUserRepository};
use flashforge_sql::{SqlSessionRepository, SqlUserRepository};

use crate::helpers::{Backend, Storage, migrated_database};

struct Fixture {
    _storage: Storage,
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
}

async fn fixture(backend: Backend) -> Fixture {
    let (storage, db) = migrated_database(backend).await;
    let (users, sessions): (Arc<dyn UserRepository>, Arc<dyn SessionRepository>) = match db {
        None => (
            Arc::new(InMemoryUserRepository::new()),
            Arc::new(InMemorySessionRepository::new()),
        ),
        Some(db) => (
            Arc::new(SqlUserRepository::new(db.clone())),
            Arc::new(SqlSessionRepository::new(db)),
        ),
    };
    Fixture {
        _storage: storage,
        users,
        sessions,
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Fixture {
    async fn user(&self, name: &str) -> UserId {
        self.users
            .create(NewUser {
                id: UserId::new(),
                username: Username::parse(name).unwrap(),
                email: Some(Email::parse("x@example.com").unwrap()),
                password_hash: PasswordHash::new(
                    "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA".into(),
                ),
                created_at: now(),
            })
            .await
            .unwrap()
            .id
    }

    /// A session of `user` and its first refresh token's hash.
    async fn login(&self, user: UserId, max_age: Duration) -> (SessionId, RefreshTokenHash) {
        let id = SessionId::new();
        let token = RefreshToken::generate().unwrap().hash();
        self.sessions
            .create(
                NewSession {
                    id,
                    user_id: user,
                    created_at: now(),
                    expires_at: now() + max_age,
                    client: ClientInfo::new("192.0.2.7".parse().ok(), Some("Agent/1")),
                },
                NewRefreshToken {
                    hash: token.clone(),
                    session_id: id,
                    issued_at: now(),
                    expires_at: now() + Duration::days(14),
                },
            )
            .await
            .unwrap();
        (id, token)
    }
}

/// No grace window: a token presented again is reuse, at once.
const NO_GRACE: std::time::Duration = std::time::Duration::ZERO;

fn fresh() -> RefreshTokenHash {
    RefreshToken::generate().unwrap().hash()
}

async fn a_created_session_is_active_for_its_owner_only(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, bob) = (f.user("alice").await, f.user("bob").await);
    let (id, _) = f.login(alice, Duration::days(30)).await;
    let found = f
        .sessions
        .find_active(alice, id, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_agent.as_deref(), Some("Agent/1"));
    assert_eq!(found.ip.as_deref(), Some("192.0.2.7"));
    assert!(
        f.sessions
            .find_active(bob, id, now())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !f.sessions.revoke(bob, id, now()).await.unwrap(),
        "bob cannot end alice's session"
    );
    assert!(
        f.sessions
            .find_active(alice, id, now())
            .await
            .unwrap()
            .is_some()
    );
}

async fn rotation_happens_once_and_reuse_revokes_the_session(backend: Backend) {
    let f = fixture(backend).await;
    let alice = f.user("alice").await;
    let (id, first) = f.login(alice, Duration::days(30)).await;
    let second = fresh();
    match f
        .sessions
        .rotate(&first, &second, now(), now() + Duration::days(14), NO_GRACE)
        .await
        .unwrap()
    {
        Rotation::Rotated(session) => assert_eq!(session.id, id),
        other => panic!("expected Rotated, got {other:?}"),
    }
    let third = fresh();
    assert_eq!(
        f.sessions
            .rotate(&first, &third, now(), now() + Duration::days(14), NO_GRACE)
            .await
            .unwrap(),
        Rotation::Reused {
            session_id: id,
            user_id: alice
        }
    );
    assert!(
        f.sessions
            .find_active(alice, id, now())
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );
    assert_eq!(
        f.sessions
            .rotate(
                &second,
                &fresh(),
                now(),
                now() + Duration::days(14),
                NO_GRACE
            )
            .await
            .unwrap(),
        Rotation::Invalid,
        "the family is dead"
    );
}

async fn racing_rotations_of_one_token_let_exactly_one_win(backend: Backend) {
    let f = fixture(backend).await;
    let alice = f.user("alice").await;
    let (_, token) = f.login(alice, Duration::days(30)).await;
    let attempts: Vec<_> = (0..6)
        .map(|_| {
            let sessions = f.sessions.clone();
            let token = token.clone();
            tokio::spawn(async move {
                sessions
                    .rotate(
                        &token,
                        &fresh(),
                        now(),
                        now() + Duration::days(14),
                        NO_GRACE,
                    )
                    .await
            })
        })
        .collect();
    let mut rotated = 0;
    for attempt in attempts {
        match attempt.await.unwrap().unwrap() {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused { .. } | Rotation::Invalid | Rotation::Retried { .. } => {}
        }
    }
    assert_eq!(rotated, 1);
}

async fn unknown_expired_and_revoked_tokens_are_invalid(backend: Backend) {
    let f = fixture(backend).await;
    let alice = f.user("alice").await;
    assert_eq!(
        f.sessions
            .rotate(
                &fresh(),
                &fresh(),
                now(),
                now() + Duration::days(1),
                NO_GRACE
            )
            .await
            .unwrap(),
        Rotation::Invalid
    );
    let (id, token) = f.login(alice, Duration::days(30)).await;
    // Presented after its expiry.
    assert_eq!(
        f.sessions
            .rotate(
                &token,
                &fresh(),
                now() + Duration::days(15),
                now() + Duration::days(16),
                NO_GRACE
            )
            .await
            .unwrap(),
        Rotation::Invalid
    );
    assert!(f.sessions.revoke(alice, id, now()).await.unwrap());
    assert_eq!(
        f.sessions
            .rotate(&token, &fresh(), now(), now() + Duration::days(1), NO_GRACE)
            .await
            .unwrap(),
        Rotation::Invalid
    );
    // A session past its absolute age is over too.
    let (short, short_token) = f.login(alice, Duration::seconds(1)).await;
    let later = now() + Duration::seconds(5);
    assert!(
        f.sessions
            .find_active(alice, short, later)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        f.sessions
            .rotate(
                &short_token,
                &fresh(),
                later,
                later + Duration::days(1),
                NO_GRACE
            )
            .await
            .unwrap(),
        Rotation::Invalid
    );
}

async fn listing_pages_newest_first_and_revoke_all_keeps_one(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, bob) = (f.user("alice").await, f.user("bob").await);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(f.login(alice, Duration::days(30)).await.0);
    }
    f.login(bob, Duration::days(30)).await;
    let limit = Limit::parse(Some(2)).unwrap();
    let first = f
        .sessions
        .list_active(alice, PageRequest::first(limit), now())
        .await
        .unwrap();
    assert_eq!(
        first.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[4], ids[3]]
    );
    let after =
        flashforge_domain::pagination::Cursor::decode(first.next_cursor.unwrap().as_str()).unwrap();
    let second = f
        .sessions
        .list_active(
            alice,
            PageRequest {
                limit,
                after: Some(after),
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        second.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[2], ids[1]]
    );

    assert_eq!(
        f.sessions
            .revoke_all(alice, Some(ids[0]), now())
            .await
            .unwrap(),
        4
    );
    let left = f
        .sessions
        .list_active(alice, PageRequest::first(Limit::default()), now())
        .await
        .unwrap();
    assert_eq!(
        left.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        [ids[0]]
    );
    let bobs = f
        .sessions
        .list_active(bob, PageRequest::first(Limit::default()), now())
        .await
        .unwrap();
    assert_eq!(bobs.items.len(), 1, "bob's sessions are untouched");
}

async fn purging_removes_only_sessions_that_ended_before_the_cutoff(backend: Backend) {
    let f = fixture(backend).await;
    let alice = f.user("alice").await;
    let (ended, _) = f.login(alice, Duration::days(30)).await;
    let (live, _) = f.login(alice, Duration::days(30)).await;
    f.sessions.revoke(alice, ended, now()).await.unwrap();
    assert_eq!(
        f.sessions
            .purge_ended(now() - Duration::days(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        f.sessions
            .purge_ended(now() + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert!(
        f.sessions
            .find_active(alice, live, now())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(f.sessions.delete_for_user(alice).await.unwrap(), 1);
    assert!(
        f.sessions
            .find_active(alice, live, now())
            .await
            .unwrap()
            .is_none()
    );
}

/// A retry within the grace window (the client lost the answer): the same successor, nothing
/// revoked — while the successor is unused. Past the window, or after the successor was used,
/// the old token is reuse and the session ends.
async fn a_retry_within_the_grace_window_gets_the_same_successor(backend: Backend) {
    let grace = std::time::Duration::from_secs(10);
    let f = fixture(backend).await;
    let alice = f.user("alice").await;
    let (id, first) = f.login(alice, Duration::days(30)).await;
    let second = fresh();
    let t0 = now();
    let Rotation::Rotated(_) = f
        .sessions
        .rotate(&first, &second, t0, t0 + Duration::days(14), grace)
        .await
        .unwrap()
    else {
        panic!("the first use rotates");
    };
    match f
        .sessions
        .rotate(
            &first,
            &second,
            t0 + Duration::seconds(3),
            t0 + Duration::days(14),
            grace,
        )
        .await
        .unwrap()
    {
        Rotation::Retried {
            session,
            rotated_at,
        } => {
            assert_eq!(session.id, id);
            assert_eq!(rotated_at, t0);
        }
        other => panic!("expected Retried, got {other:?}"),
    }
    // The session lives on and the successor works.
    assert!(
        f.sessions
            .find_active(alice, id, now())
            .await
            .unwrap()
            .is_some()
    );
    let third = fresh();
    let Rotation::Rotated(_) = f
        .sessions
        .rotate(
            &second,
            &third,
            t0 + Duration::seconds(4),
            t0 + Duration::days(14),
            grace,
        )
        .await
        .unwrap()
    else {
        panic!("the successor rotates");
    };
    // The successor was used: the old token again is reuse, even within the window.
    assert!(matches!(
        f.sessions
            .rotate(
                &first,
                &second,
                t0 + Duration::seconds(5),
                t0 + Duration::days(14),
                grace
            )
            .await
            .unwrap(),
        Rotation::Reused { .. }
    ));
    assert!(
        f.sessions
            .find_active(alice, id, now())
            .await
            .unwrap()
            .is_none()
    );

    // Past the window: reuse.
    let (id, first) = f.login(alice, Duration::days(30)).await;
    let second = fresh();
    let t1 = now();
    f.sessions
        .rotate(&first, &second, t1, t1 + Duration::days(14), grace)
        .await
        .unwrap();
    assert!(matches!(
        f.sessions
            .rotate(
                &first,
                &second,
                t1 + Duration::seconds(11),
                t1 + Duration::days(14),
                grace
            )
            .await
            .unwrap(),
        Rotation::Reused { .. }
    ));
    assert!(
        f.sessions
            .find_active(alice, id, now())
            .await
            .unwrap()
            .is_none()
    );
}

on_every_backend!(
    a_retry_within_the_grace_window_gets_the_same_successor,
    a_created_session_is_active_for_its_owner_only,
    rotation_happens_once_and_reuse_revokes_the_session,
    racing_rotations_of_one_token_let_exactly_one_win,
    unknown_expired_and_revoked_tokens_are_invalid,
    listing_pages_newest_first_and_revoke_all_keeps_one,
    purging_removes_only_sessions_that_ended_before_the_cutoff,
);
