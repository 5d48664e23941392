//! The `JobQueue` and `DocumentRepository` contracts on the in-memory, SQLite and Postgres
//! adapters, and the `BlobStore` contract on memory, a local folder and object_store's memory.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use flashforge_domain::accounts::{UserId, UserRepository};
use flashforge_domain::chats::{ChatId, ChatName, ChatRepository, NewChat};
use flashforge_domain::knowledge::{
    BlobStore, Chunk, ChunkId, Created, DocumentId, DocumentRepository, DocumentStatus, FileName,
    JobId, JobPayload, JobQueue, MediaType, NewDocument, NewJob,
};
use flashforge_domain::pagination::{Limit, PageRequest};
use flashforge_memory::{
    InMemoryBlobStore, InMemoryChatRepository, InMemoryDocumentRepository, InMemoryJobQueue,
    InMemoryUserRepository,
};
use flashforge_sql::{SqlChatRepository, SqlDocumentRepository, SqlJobQueue, SqlUserRepository};

use crate::helpers::{Backend, Storage, migrated_database};

struct Fixture {
    _storage: Storage,
    users: Arc<dyn UserRepository>,
    chats: Arc<dyn ChatRepository>,
    documents: Arc<dyn DocumentRepository>,
    jobs: Arc<dyn JobQueue>,
}

async fn fixture(backend: Backend) -> Fixture {
    let (storage, db) = migrated_database(backend).await;
    match db {
        None => {
            let jobs = Arc::new(InMemoryJobQueue::new());
            Fixture {
                _storage: storage,
                users: Arc::new(InMemoryUserRepository::new()),
                chats: Arc::new(InMemoryChatRepository::new()),
                documents: Arc::new(InMemoryDocumentRepository::new(jobs.clone())),
                jobs,
            }
        }
        Some(db) => Fixture {
            _storage: storage,
            users: Arc::new(SqlUserRepository::new(db.clone())),
            chats: Arc::new(SqlChatRepository::new(db.clone())),
            documents: Arc::new(SqlDocumentRepository::new(db.clone())),
            jobs: Arc::new(SqlJobQueue::new(db)),
        },
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Fixture {
    async fn user_and_chat(&self, name: &str) -> (UserId, ChatId) {
        let user = super::stored_user(&*self.users, name).await;
        let chat = self
            .chats
            .create(NewChat {
                id: ChatId::new(),
                user_id: user,
                name: ChatName::parse("material").unwrap(),
                created_at: now(),
            })
            .await
            .unwrap()
            .id;
        (user, chat)
    }
}

fn new_document(user: UserId, chat: ChatId, sha: &str, key: Option<&str>) -> NewDocument {
    NewDocument {
        id: DocumentId::new(),
        user_id: user,
        chat_id: chat,
        file_name: FileName::sanitize(Some("notes.md")),
        media_type: MediaType::Markdown,
        size_bytes: 42,
        sha256: sha.repeat(64 / sha.len()),
        idempotency_key: key.map(str::to_string),
        created_at: now(),
    }
}

fn job_for(user: UserId, document: DocumentId) -> NewJob {
    NewJob {
        id: JobId::new(),
        payload: JobPayload::IngestDocument {
            user_id: user,
            document_id: document,
        },
        max_attempts: 3,
        run_at: now(),
        request_id: Some("req-contract".into()),
    }
}

fn chunk(user: UserId, chat: ChatId, document: DocumentId, index: u32, text: &str) -> Chunk {
    Chunk {
        id: ChunkId::derive(document, index),
        document_id: document,
        user_id: user,
        chat_id: chat,
        index,
        page: index / 2 + 1,
        char_start: 0,
        char_end: text.chars().count() as u32,
        text: text.into(),
    }
}

async fn a_document_and_its_job_are_stored_together_and_duplicates_are_refused(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, chat) = f.user_and_chat("alice").await;
    let new = new_document(alice, chat, "ab", Some("key-1"));
    let id = new.id;
    let Created::New(doc) = f.documents.create(new, job_for(alice, id)).await.unwrap() else {
        panic!("a new document");
    };
    assert_eq!(doc.status, DocumentStatus::Pending);
    // Its job is queued.
    let claimed = f
        .jobs
        .claim("w1", now(), now() + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        claimed.payload,
        JobPayload::IngestDocument {
            user_id: alice,
            document_id: id
        }
    );
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.request_id.as_deref(), Some("req-contract"));

    // Same bytes in the same chat: the existing one, and no second job.
    let twin = new_document(alice, chat, "ab", None);
    let twin_id = twin.id;
    assert_eq!(
        f.documents
            .create(twin, job_for(alice, twin_id))
            .await
            .unwrap(),
        Created::Existing(doc.clone())
    );
    // Same idempotency key, other bytes: the existing one too.
    let keyed = new_document(alice, chat, "cd", Some("key-1"));
    let keyed_id = keyed.id;
    assert!(matches!(
        f.documents.create(keyed, job_for(alice, keyed_id)).await.unwrap(),
        Created::Existing(d) if d.id == id
    ));
    assert!(
        f.jobs
            .claim("w2", now(), now() + Duration::seconds(30))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(f.documents.find(alice, twin_id).await.unwrap(), None);
    assert_eq!(
        f.documents
            .find_by_sha256(alice, chat, &"ab".repeat(32))
            .await
            .unwrap(),
        Some(doc.clone())
    );
    assert_eq!(
        f.documents
            .find_by_idempotency_key(alice, "key-1")
            .await
            .unwrap(),
        Some(doc)
    );
}

async fn documents_and_chunks_are_scoped_by_owner(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, chat) = f.user_and_chat("alice").await;
    let (bob, _) = f.user_and_chat("bob").await;
    let new = new_document(alice, chat, "ef", None);
    let id = new.id;
    f.documents.create(new, job_for(alice, id)).await.unwrap();
    let chunks: Vec<Chunk> = (0..5)
        .map(|i| chunk(alice, chat, id, i, &format!("text {i}")))
        .collect();
    assert!(
        f.documents
            .replace_chunks(alice, id, chunks.clone())
            .await
            .unwrap()
    );
    assert!(
        !f.documents
            .replace_chunks(bob, id, chunks.clone())
            .await
            .unwrap()
    );
    assert_eq!(f.documents.find(bob, id).await.unwrap(), None);
    assert!(
        !f.documents
            .set_status(bob, id, DocumentStatus::Failed, Some("x"), now())
            .await
            .unwrap()
    );
    assert!(!f.documents.complete(bob, id, 1, 1, now()).await.unwrap());
    assert!(!f.documents.delete(bob, id).await.unwrap());
    let ids: Vec<ChunkId> = chunks.iter().map(|c| c.id).collect();
    assert!(
        f.documents
            .chunks_by_ids(bob, &ids)
            .await
            .unwrap()
            .is_empty()
    );
    let mine = f.documents.chunks_by_ids(alice, &ids).await.unwrap();
    assert_eq!(mine.len(), 5);
    assert!(mine.iter().all(|(_, name)| name.as_str() == "notes.md"));
    let page = f
        .documents
        .chunks(bob, id, PageRequest::first(Limit::parse(Some(10)).unwrap()))
        .await
        .unwrap();
    assert!(page.items.is_empty());

    // Replacing chunks again (a re-run) leaves exactly the new set.
    let fewer: Vec<Chunk> = (0..3)
        .map(|i| chunk(alice, chat, id, i, &format!("again {i}")))
        .collect();
    assert!(f.documents.replace_chunks(alice, id, fewer).await.unwrap());
    let page = f
        .documents
        .chunks(
            alice,
            id,
            PageRequest::first(Limit::parse(Some(2)).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].text, "again 0");
    let rest = f
        .documents
        .chunks(
            alice,
            id,
            PageRequest {
                limit: Limit::parse(Some(10)).unwrap(),
                after: Some(1),
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_cursor, None);
    assert_eq!(f.documents.scan_chunks(None, 100).await.unwrap().len(), 3);

    assert!(f.documents.complete(alice, id, 2, 3, now()).await.unwrap());
    let doc = f.documents.find(alice, id).await.unwrap().unwrap();
    assert_eq!(
        (doc.status, doc.pages_total, doc.pages_done, doc.chunk_count),
        (DocumentStatus::Completed, Some(2), 2, 3)
    );
    assert_eq!(f.documents.delete_chat(alice, chat).await.unwrap(), 1);
    assert!(
        f.documents.scan_chunks(None, 100).await.unwrap().is_empty(),
        "chunks go with their document"
    );
}

async fn documents_are_found_together_each_once_and_only_the_owners(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, chat) = f.user_and_chat("alice").await;
    let (bob, bobs_chat) = f.user_and_chat("bob").await;
    let mut alices = Vec::new();
    for sha in ["a1", "b2", "c3"] {
        let new = new_document(alice, chat, sha, None);
        let id = new.id;
        f.documents.create(new, job_for(alice, id)).await.unwrap();
        alices.push(id);
    }
    let new = new_document(bob, bobs_chat, "d4", None);
    let bobs = new.id;
    f.documents.create(new, job_for(bob, bobs)).await.unwrap();

    let asked = [alices[0], alices[2], alices[0], bobs, DocumentId::new()];
    let mut found: Vec<(DocumentId, ChatId)> = f
        .documents
        .find_many(alice, &asked)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.chat_id))
        .collect();
    found.sort();
    let mut expected = vec![(alices[0], chat), (alices[2], chat)];
    expected.sort();
    assert_eq!(found, expected, "each once, never another user's");
    assert!(
        f.documents
            .find_many(bob, &alices)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(f.documents.find_many(alice, &[]).await.unwrap().is_empty());
}

async fn concurrent_workers_never_take_the_same_job(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, _) = f.user_and_chat("alice").await;
    for _ in 0..20 {
        f.jobs
            .enqueue(job_for(alice, DocumentId::new()))
            .await
            .unwrap();
    }
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let jobs = f.jobs.clone();
        workers.spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = jobs
                .claim(&format!("w{w}"), now(), now() + Duration::seconds(60))
                .await
                .unwrap()
            {
                mine.push(job.id);
                assert!(jobs.complete(job.id, &format!("w{w}")).await.unwrap());
            }
            mine
        });
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    while let Some(claimed) = workers.join_next().await {
        for id in claimed.unwrap() {
            total += 1;
            assert!(seen.insert(id), "job {id} was claimed twice");
        }
    }
    assert_eq!(total, 20);
    let stats = f.jobs.stats(now()).await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 0));
}

async fn leases_expire_failures_back_off_and_dead_jobs_stay_dead(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, _) = f.user_and_chat("alice").await;
    f.jobs
        .enqueue(job_for(alice, DocumentId::new()))
        .await
        .unwrap();
    let t0 = now();
    let job = f
        .jobs
        .claim("w1", t0, t0 + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    // Held: nobody else gets it while the lease runs, and the holder can renew it.
    assert!(
        f.jobs
            .claim("w2", t0 + Duration::seconds(10), t0 + Duration::seconds(40))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.jobs
            .heartbeat(job.id, "w1", t0 + Duration::seconds(60))
            .await
            .unwrap()
    );
    assert!(
        !f.jobs
            .heartbeat(job.id, "w2", t0 + Duration::seconds(60))
            .await
            .unwrap()
    );
    assert!(
        f.jobs
            .claim("w2", t0 + Duration::seconds(45), t0 + Duration::seconds(90))
            .await
            .unwrap()
            .is_none()
    );
    // Its worker died: after the lease, another takes it over, as a second attempt.
    let taken = f
        .jobs
        .claim(
            "w2",
            t0 + Duration::seconds(61),
            t0 + Duration::seconds(120),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.id, taken.attempts), (job.id, 2));
    assert!(
        !f.jobs.complete(job.id, "w1").await.unwrap(),
        "the old holder lost it"
    );
    // A failure with a retry time waits until then.
    let retry_at = t0 + Duration::seconds(200);
    assert!(
        f.jobs
            .fail(job.id, "w2", "embedder down", Some(retry_at))
            .await
            .unwrap()
    );
    let stats = f.jobs.stats(t0).await.unwrap();
    assert_eq!((stats.queued, stats.running), (1, 0));
    assert!(
        f.jobs
            .claim(
                "w3",
                t0 + Duration::seconds(199),
                t0 + Duration::seconds(300)
            )
            .await
            .unwrap()
            .is_none()
    );
    let third = f
        .jobs
        .claim("w3", retry_at, retry_at + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(third.attempts, 3);
    // Failing for good: dead, never claimed again.
    assert!(f.jobs.fail(third.id, "w3", "gave up", None).await.unwrap());
    assert!(
        f.jobs
            .claim(
                "w4",
                retry_at + Duration::days(1),
                retry_at + Duration::days(2)
            )
            .await
            .unwrap()
            .is_none()
    );
    let stats = f.jobs.stats(t0).await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 1));
}

async fn requeue_resets_a_document_and_queues_a_job_atomically(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, chat) = f.user_and_chat("alice").await;
    let (bob, _) = f.user_and_chat("bob").await;
    let new = new_document(alice, chat, "12", None);
    let id = new.id;
    f.documents.create(new, job_for(alice, id)).await.unwrap();
    let first = f
        .jobs
        .claim("w", now(), now() + Duration::seconds(30))
        .await
        .unwrap()
        .unwrap();
    f.jobs.fail(first.id, "w", "bad", None).await.unwrap();
    f.documents
        .set_status(alice, id, DocumentStatus::Failed, Some("bad"), now())
        .await
        .unwrap();
    assert!(
        !f.documents
            .requeue(bob, id, job_for(bob, id), now())
            .await
            .unwrap()
    );
    assert!(
        f.jobs
            .claim("w", now(), now() + Duration::seconds(30))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.documents
            .requeue(alice, id, job_for(alice, id), now())
            .await
            .unwrap()
    );
    let doc = f.documents.find(alice, id).await.unwrap().unwrap();
    assert_eq!((doc.status, doc.error), (DocumentStatus::Pending, None));
    assert!(
        f.jobs
            .claim("w", now(), now() + Duration::seconds(30))
            .await
            .unwrap()
            .is_some()
    );
}

on_every_backend!(
    a_document_and_its_job_are_stored_together_and_duplicates_are_refused,
    documents_and_chunks_are_scoped_by_owner,
    documents_are_found_together_each_once_and_only_the_owners,
    concurrent_workers_never_take_the_same_job,
    leases_expire_failures_back_off_and_dead_jobs_stay_dead,
    requeue_resets_a_document_and_queues_a_job_atomically,
);

/// The blob store contract, on every adapter.
mod blobs {
    use super::*;

    async fn contract(store: Arc<dyn BlobStore>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &body).unwrap();
        store.put_file("users/u1/chats/c1/d1", &path).await.unwrap();
        store.put_file("users/u1/chats/c2/d2", &path).await.unwrap();
        store.put_file("users/u2/chats/c3/d3", &path).await.unwrap();
        assert_eq!(
            store.get("users/u1/chats/c1/d1").await.unwrap().unwrap(),
            body
        );
        assert_eq!(store.get("users/u1/chats/c1/missing").await.unwrap(), None);
        use futures_util::TryStreamExt;
        let streamed: Vec<u8> = store
            .open("users/u1/chats/c1/d1")
            .await
            .unwrap()
            .unwrap()
            .try_fold(Vec::new(), |mut all, piece| async move {
                all.extend_from_slice(&piece);
                Ok(all)
            })
            .await
            .unwrap();
        assert_eq!(streamed, body);
        store.delete("users/u1/chats/c1/d1").await.unwrap();
        store.delete("users/u1/chats/c1/d1").await.unwrap(); // twice is fine
        assert_eq!(store.get("users/u1/chats/c1/d1").await.unwrap(), None);
        assert_eq!(store.delete_prefix("users/u1/").await.unwrap(), 1);
        assert_eq!(store.get("users/u1/chats/c2/d2").await.unwrap(), None);
        assert!(
            store.get("users/u2/chats/c3/d3").await.unwrap().is_some(),
            "other prefixes stay"
        );
    }

    #[tokio::test]
    async fn in_memory() {
        contract(Arc::new(InMemoryBlobStore::new())).await;
    }

    #[tokio::test]
    async fn local_folder() {
        let root = tempfile::tempdir().unwrap();
        let store = flashforge_files::ObjectStoreBlobs::open_store(
            &flashforge_files::BlobSettings::Local {
                root: root.path().join("blobs"),
            },
        )
        .unwrap();
        contract(Arc::new(store)).await;
    }

    #[tokio::test]
    async fn object_store_memory() {
        contract(Arc::new(flashforge_files::ObjectStoreBlobs::in_memory())).await;
    }
}
