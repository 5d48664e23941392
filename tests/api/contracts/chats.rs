//! The `ChatRepository` contract, on the in-memory, SQLite and Postgres adapters.

use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use flashforge_domain::accounts::{UserId, UserRepository};
use flashforge_domain::chats::{
    ChatChanges, ChatFilter, ChatId, ChatName, ChatRepository, NewChat,
};
use flashforge_domain::pagination::{Cursor, Limit, PageRequest};
use flashforge_memory::{InMemoryChatRepository, InMemoryUserRepository};
use flashforge_sql::{SqlChatRepository, SqlUserRepository};

use crate::helpers::{Backend, Storage, migrated_database};

async fn fixture(backend: Backend) -> (Storage, Arc<dyn UserRepository>, Arc<dyn ChatRepository>) {
    let (storage, db) = migrated_database(backend).await;
    match db {
        None => (
            storage,
            Arc::new(InMemoryUserRepository::new()),
            Arc::new(InMemoryChatRepository::new()),
        ),
        Some(db) => (
            storage,
            Arc::new(SqlUserRepository::new(db.clone())),
            Arc::new(SqlChatRepository::new(db)),
        ),
    }
}

async fn user(users: &Arc<dyn UserRepository>, name: &str) -> UserId {
    super::stored_user(&**users, name).await
}

fn new_chat(owner: UserId, name: &str, at: chrono::DateTime<Utc>) -> NewChat {
    NewChat {
        id: ChatId::new(),
        user_id: owner,
        name: ChatName::parse(name).unwrap(),
        created_at: at,
    }
}

async fn chats_are_scoped_by_owner(backend: Backend) {
    let (_s, users, chats) = fixture(backend).await;
    let (alice, bob) = (user(&users, "alice").await, user(&users, "bob").await);
    let now = Utc::now().trunc_subsecs(6);
    let chat = chats.create(new_chat(alice, "mine", now)).await.unwrap();
    assert_eq!(
        chats.find(alice, chat.id).await.unwrap(),
        Some(chat.clone())
    );
    assert_eq!(chats.find(bob, chat.id).await.unwrap(), None);
    let changes = ChatChanges {
        name: Some(ChatName::parse("stolen").unwrap()),
        archived: None,
        at: now,
    };
    assert_eq!(chats.update(bob, chat.id, changes).await.unwrap(), None);
    assert!(!chats.touch(bob, chat.id, now).await.unwrap());
    assert!(!chats.delete(bob, chat.id).await.unwrap());
    assert_eq!(chats.find(alice, chat.id).await.unwrap(), Some(chat));
}

async fn updates_change_only_what_they_name(backend: Backend) {
    let (_s, users, chats) = fixture(backend).await;
    let alice = user(&users, "alice").await;
    let t0 = Utc::now().trunc_subsecs(6);
    let chat = chats.create(new_chat(alice, "first", t0)).await.unwrap();
    let t1 = t0 + Duration::seconds(5);
    let archived = chats
        .update(
            alice,
            chat.id,
            ChatChanges {
                name: None,
                archived: Some(true),
                at: t1,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(archived.name.as_str(), "first");
    assert!(archived.archived);
    assert_eq!(archived.updated_at, t1);
    assert_eq!(
        archived.last_activity_at, t0,
        "a rename or archive is not activity"
    );
}

async fn the_list_pages_by_activity_and_touch_moves_a_chat_up(backend: Backend) {
    let (_s, users, chats) = fixture(backend).await;
    let alice = user(&users, "alice").await;
    let t0 = Utc::now().trunc_subsecs(6);
    let mut ids = Vec::new();
    for i in 0..5 {
        // Two chats share a timestamp, to exercise the id tie-break.
        let at = t0 + Duration::seconds(i.min(3));
        ids.push(
            chats
                .create(new_chat(alice, &format!("c{i}"), at))
                .await
                .unwrap()
                .id,
        );
    }
    assert!(
        chats
            .touch(alice, ids[0], t0 + Duration::seconds(60))
            .await
            .unwrap()
    );
    // An older touch does not move it back.
    assert!(chats.touch(alice, ids[0], t0).await.unwrap());
    let limit = Limit::parse(Some(2)).unwrap();
    let mut seen = Vec::new();
    let mut page = PageRequest::first(limit);
    loop {
        let got = chats
            .list(alice, ChatFilter::default(), page.clone())
            .await
            .unwrap();
        seen.extend(got.items.iter().map(|c| c.id));
        match got.next_cursor {
            Some(cursor) => {
                page = PageRequest {
                    limit,
                    after: Some(Cursor::decode(cursor.as_str()).unwrap()),
                }
            }
            None => break,
        }
    }
    assert_eq!(seen, [ids[0], ids[4], ids[3], ids[2], ids[1]]);
}

async fn delete_all_removes_every_chat_of_one_owner(backend: Backend) {
    let (_s, users, chats) = fixture(backend).await;
    let (alice, bob) = (user(&users, "alice").await, user(&users, "bob").await);
    let now = Utc::now().trunc_subsecs(6);
    for name in ["a", "b"] {
        chats.create(new_chat(alice, name, now)).await.unwrap();
    }
    let bobs = chats.create(new_chat(bob, "b", now)).await.unwrap();
    assert_eq!(chats.delete_all(alice).await.unwrap(), 2);
    let left = chats
        .list(
            alice,
            ChatFilter::default(),
            PageRequest::first(Limit::default()),
        )
        .await
        .unwrap();
    assert!(left.items.is_empty());
    assert!(chats.find(bob, bobs.id).await.unwrap().is_some());
}

on_every_backend!(
    chats_are_scoped_by_owner,
    updates_change_only_what_they_name,
    the_list_pages_by_activity_and_touch_moves_a_chat_up,
    delete_all_removes_every_chat_of_one_owner,
);
