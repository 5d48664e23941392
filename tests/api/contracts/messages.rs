//! The `MessageRepository` contract, on the in-memory, SQLite and Postgres adapters.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use flashforge_domain::accounts::{UserId, UserRepository};
use flashforge_domain::assistant::{
    Citation, Message, MessageId, MessageRepository, MessageStatus, Role, Usage,
};
use flashforge_domain::chats::{ChatId, ChatName, ChatRepository, NewChat};
use flashforge_domain::pagination::{Cursor, Limit, PageRequest};
use flashforge_memory::{
    InMemoryChatRepository, InMemoryMessageRepository, InMemoryUserRepository,
};
use flashforge_sql::{SqlChatRepository, SqlMessageRepository, SqlUserRepository};
use uuid::Uuid;

use crate::helpers::{Backend, Storage, migrated_database};

struct Fixture {
    _storage: Storage,
    users: Arc<dyn UserRepository>,
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
}

async fn fixture(backend: Backend) -> Fixture {
    let (storage, db) = migrated_database(backend).await;
    match db {
        None => Fixture {
            _storage: storage,
            users: Arc::new(InMemoryUserRepository::new()),
            chats: Arc::new(InMemoryChatRepository::new()),
            messages: Arc::new(InMemoryMessageRepository::new()),
        },
        Some(db) => Fixture {
            _storage: storage,
            users: Arc::new(SqlUserRepository::new(db.clone())),
            chats: Arc::new(SqlChatRepository::new(db.clone())),
            messages: Arc::new(SqlMessageRepository::new(db)),
        },
    }
}

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Fixture {
    async fn user(&self, name: &str) -> UserId {
        super::stored_user(&*self.users, name).await
    }

    async fn chat(&self, owner: UserId) -> ChatId {
        self.chats
            .create(NewChat {
                id: ChatId::new(),
                user_id: owner,
                name: ChatName::parse("talk").unwrap(),
                created_at: now(),
            })
            .await
            .unwrap()
            .id
    }

    /// Stores a message; an answer carries a citation and usage, so both round-trip.
    async fn say(&self, owner: UserId, chat: ChatId, role: Role, content: &str) -> Message {
        let answer = role == Role::Assistant;
        self.messages
            .append(message(owner, chat, role, content, now(), answer))
            .await
            .unwrap()
    }

    async fn contents(&self, owner: UserId, chat: ChatId) -> Vec<String> {
        self.messages
            .list(
                owner,
                chat,
                PageRequest::first(Limit::parse(Some(100)).unwrap()),
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|m| m.content)
            .collect()
    }
}

fn message(
    owner: UserId,
    chat: ChatId,
    role: Role,
    content: &str,
    at: DateTime<Utc>,
    answer: bool,
) -> Message {
    Message {
        id: MessageId::new(),
        chat_id: chat,
        user_id: owner,
        role,
        content: content.into(),
        citations: if answer {
            vec![Citation {
                document_id: Uuid::now_v7(),
                file_name: "notes.pdf".into(),
                page: Some(3),
                page_label: Some("slide 3".into()),
                chunk_id: Uuid::now_v7(),
                quote: "a quote".into(),
            }]
        } else {
            Vec::new()
        },
        model: answer.then(|| "mock-model".to_string()),
        usage: answer.then_some(Usage {
            prompt_tokens: 100,
            completion_tokens: 20,
        }),
        status: MessageStatus::Complete,
        created_at: at,
    }
}

async fn messages_are_stored_in_order_and_scoped_by_owner(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, bob) = (f.user("alice").await, f.user("bob").await);
    let chat = f.chat(alice).await;
    let question = f.say(alice, chat, Role::User, "Q1").await;
    let answer = f.say(alice, chat, Role::Assistant, "A1").await;
    f.say(alice, chat, Role::User, "Q2").await;

    assert_eq!(f.contents(alice, chat).await, ["Q1", "A1", "Q2"]);
    assert_eq!(
        f.messages.find(alice, chat, answer.id).await.unwrap(),
        Some(answer.clone()),
        "citations, model, usage and status round-trip"
    );
    let recent = f.messages.recent(alice, chat, 2).await.unwrap();
    let recent: Vec<&str> = recent.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(recent, ["A1", "Q2"], "the last two, oldest first");
    let page = f
        .messages
        .list(
            alice,
            chat,
            PageRequest::first(Limit::parse(Some(2)).unwrap()),
        )
        .await
        .unwrap();
    let rest = f
        .messages
        .list(
            alice,
            chat,
            PageRequest {
                limit: Limit::parse(Some(2)).unwrap(),
                after: Some(Cursor::decode(page.next_cursor.unwrap().as_str()).unwrap()),
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len() + rest.items.len(), 3);
    assert_eq!(rest.items[0].content, "Q2");

    // Bob sees and changes nothing of Alice's.
    assert_eq!(f.messages.find(bob, chat, question.id).await.unwrap(), None);
    assert!(f.messages.recent(bob, chat, 10).await.unwrap().is_empty());
    assert!(f.contents(bob, chat).await.is_empty());
    assert!(
        !f.messages
            .rewrite(bob, chat, question.id, "stolen")
            .await
            .unwrap()
    );
    // A replacement deletes only its own owner's messages (the service never lets Bob write in
    // Alice's chat; the repository keeps the rule regardless).
    let bobs = message(bob, chat, Role::Assistant, "planted", now(), false);
    f.messages.replace_after(question.id, bobs).await.unwrap();
    assert_eq!(f.contents(alice, chat).await, ["Q1", "A1", "Q2"]);
}

async fn a_rewrite_changes_the_message_and_drops_what_followed_in_that_chat(backend: Backend) {
    let f = fixture(backend).await;
    let alice = f.user("alice").await;
    let (chat, other) = (f.chat(alice).await, f.chat(alice).await);
    let question = f.say(alice, chat, Role::User, "Q1").await;
    f.say(alice, chat, Role::Assistant, "A1").await;
    f.say(alice, other, Role::User, "elsewhere").await;
    f.say(alice, chat, Role::User, "Q2").await;

    // An unknown message, or one of another chat: nothing changes.
    assert!(
        !f.messages
            .rewrite(alice, chat, MessageId::new(), "nothing")
            .await
            .unwrap()
    );
    assert!(
        !f.messages
            .rewrite(alice, other, question.id, "wrong chat")
            .await
            .unwrap()
    );
    assert_eq!(f.contents(alice, chat).await, ["Q1", "A1", "Q2"]);

    assert!(
        f.messages
            .rewrite(alice, chat, question.id, "Q1, rephrased")
            .await
            .unwrap()
    );
    assert_eq!(f.contents(alice, chat).await, ["Q1, rephrased"]);
    assert_eq!(f.contents(alice, other).await, ["elsewhere"]);
}

async fn replacing_after_a_message_swaps_what_follows_for_one_new_message(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, bob) = (f.user("alice").await, f.user("bob").await);
    let (chat, other) = (f.chat(alice).await, f.chat(alice).await);
    let bobs = f.chat(bob).await;
    f.say(alice, chat, Role::User, "Q1").await;
    f.say(alice, chat, Role::Assistant, "A1").await;
    let question = f.say(alice, chat, Role::User, "Q2").await;
    f.say(alice, chat, Role::Assistant, "A2, old").await;
    f.say(alice, other, Role::User, "elsewhere").await;
    f.say(bob, bobs, Role::User, "bob's").await;

    let new = message(alice, chat, Role::Assistant, "A2, new", now(), true);
    let stored = f
        .messages
        .replace_after(question.id, new.clone())
        .await
        .unwrap();
    assert_eq!(stored, new);
    assert_eq!(f.contents(alice, chat).await, ["Q1", "A1", "Q2", "A2, new"]);
    assert_eq!(
        f.messages.find(alice, chat, new.id).await.unwrap(),
        Some(new)
    );
    assert_eq!(f.contents(alice, other).await, ["elsewhere"]);
    assert_eq!(f.contents(bob, bobs).await, ["bob's"]);

    // With nothing after the message, it is a plain append.
    let last = f.messages.recent(alice, chat, 1).await.unwrap().remove(0);
    let more = message(alice, chat, Role::User, "Q3", now(), false);
    f.messages.replace_after(last.id, more).await.unwrap();
    assert_eq!(
        f.contents(alice, chat).await,
        ["Q1", "A1", "Q2", "A2, new", "Q3"]
    );
}

on_every_backend!(
    messages_are_stored_in_order_and_scoped_by_owner,
    a_rewrite_changes_the_message_and_drops_what_followed_in_that_chat,
    replacing_after_a_message_swaps_what_follows_for_one_new_message,
);
