//! The `JobQueue` and `DocumentRepository` contracts on the in-memory, SQLite and Postgres
//! adapters, and the `BlobStore` contract on memory, a local folder and object_store's memory.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use flashforge_domain::accounts::{UserId, UserRepository};
use flashforge_domain::chats::{ChatId, ChatName, ChatRepository, NewChat};
use flashforge_domain::knowledge::{
    BlobStore, Chunk, ChunkId, Created, DocumentId, DocumentRepository, DocumentStatus, Fairness,
    FileName, JobId, JobPayload, JobQueue, MediaType, NewDocument, NewJob,
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
        page_label: Some(format!("p. {}", index / 2 + 1)),
        heading: None,
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
        .claim(
            "w1",
            now(),
            now() + Duration::seconds(30),
            Fairness::default(),
        )
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
            .claim(
                "w2",
                now(),
                now() + Duration::seconds(30),
                Fairness::default()
            )
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
    assert!(
        !f.documents
            .complete(bob, id, completion(1, 1), now())
            .await
            .unwrap()
    );
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

    assert!(
        f.documents
            .complete(alice, id, completion(2, 3), now())
            .await
            .unwrap()
    );
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

/// Chunks arrive batch by batch: each batch is added whole or (for another owner's or a deleted
/// document) not at all, a stored id is refused, and clearing starts again from nothing.
async fn chunks_are_added_batch_by_batch_and_cleared(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, chat) = f.user_and_chat("alice").await;
    let (bob, _) = f.user_and_chat("bob").await;
    let new = new_document(alice, chat, "a1", None);
    let id = new.id;
    f.documents.create(new, job_for(alice, id)).await.unwrap();
    let all: Vec<Chunk> = (0..7)
        .map(|i| chunk(alice, chat, id, i, &format!("part {i}")))
        .collect();
    assert!(f.documents.clear_chunks(alice, id).await.unwrap());
    assert!(
        f.documents
            .add_chunks(alice, id, all[..4].to_vec())
            .await
            .unwrap()
    );
    assert!(
        !f.documents
            .add_chunks(bob, id, all[4..].to_vec())
            .await
            .unwrap(),
        "not bob's document"
    );
    assert!(!f.documents.clear_chunks(bob, id).await.unwrap());
    assert!(
        f.documents
            .add_chunks(alice, id, all[3..5].to_vec())
            .await
            .is_err(),
        "chunk 3 is stored already"
    );
    assert!(
        f.documents
            .add_chunks(alice, id, all[4..].to_vec())
            .await
            .unwrap()
    );
    let stored = f
        .documents
        .chunks(
            alice,
            id,
            PageRequest::first(Limit::parse(Some(50)).unwrap()),
        )
        .await
        .unwrap();
    let texts: Vec<&str> = stored.items.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "part 0", "part 1", "part 2", "part 3", "part 4", "part 5", "part 6"
        ]
    );

    assert!(f.documents.clear_chunks(alice, id).await.unwrap());
    assert!(f.documents.scan_chunks(None, 100).await.unwrap().is_empty());
    assert!(f.documents.delete(alice, id).await.unwrap());
    assert!(
        !f.documents
            .add_chunks(alice, id, all[..1].to_vec())
            .await
            .unwrap(),
        "a deleted document takes no chunks"
    );
    assert!(f.documents.scan_chunks(None, 100).await.unwrap().is_empty());
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
                .claim(
                    &format!("w{w}"),
                    now(),
                    now() + Duration::seconds(60),
                    Fairness::default(),
                )
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
        .claim("w1", t0, t0 + Duration::seconds(30), Fairness::default())
        .await
        .unwrap()
        .unwrap();
    // Held: nobody else gets it while the lease runs, and the holder can renew it.
    assert!(
        f.jobs
            .claim(
                "w2",
                t0 + Duration::seconds(10),
                t0 + Duration::seconds(40),
                Fairness::default()
            )
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
            .claim(
                "w2",
                t0 + Duration::seconds(45),
                t0 + Duration::seconds(90),
                Fairness::default()
            )
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
            Fairness::default(),
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
                t0 + Duration::seconds(300),
                Fairness::default(),
            )
            .await
            .unwrap()
            .is_none()
    );
    let third = f
        .jobs
        .claim(
            "w3",
            retry_at,
            retry_at + Duration::seconds(30),
            Fairness::default(),
        )
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
                retry_at + Duration::days(2),
                Fairness::default(),
            )
            .await
            .unwrap()
            .is_none()
    );
    let stats = f.jobs.stats(t0).await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 1));
}

/// A job whose worker dies on every attempt: each claim counts an attempt, so after the last
/// one's lease expires it is never claimed to run again — only once more, to be buried.
async fn a_job_whose_worker_dies_every_time_is_claimed_only_to_be_buried(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, _) = f.user_and_chat("alice").await;
    f.jobs
        .enqueue(job_for(alice, DocumentId::new()))
        .await
        .unwrap();
    let t0 = now();
    let at = |s: i64| t0 + Duration::seconds(s);
    for attempt in 1..=3 {
        let start = (attempt as i64 - 1) * 100;
        assert!(
            f.jobs
                .claim_exhausted("reaper", at(start), at(start + 30))
                .await
                .unwrap()
                .is_none(),
            "attempt {attempt} is not exhausted"
        );
        let job = f
            .jobs
            .claim("w", at(start), at(start + 30), Fairness::default())
            .await
            .unwrap()
            .expect("runnable");
        assert_eq!(job.attempts, attempt);
        // ...and the worker dies: no heartbeat, no outcome.
    }
    // Attempts used up: never run again, even long after.
    assert!(
        f.jobs
            .claim("w", at(1000), at(1030), Fairness::default())
            .await
            .unwrap()
            .is_none()
    );
    let stats = f.jobs.stats(at(1000)).await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 1, 0));
    let buried = f
        .jobs
        .claim_exhausted("reaper", at(1000), at(1030))
        .await
        .unwrap()
        .expect("the exhausted job");
    assert_eq!((buried.attempts, buried.max_attempts), (3, 3));
    // Held by the reaper now: nobody else takes it meanwhile.
    assert!(
        f.jobs
            .claim_exhausted("other", at(1010), at(1040))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.jobs
            .fail(buried.id, "reaper", "worker died on every attempt", None)
            .await
            .unwrap()
    );
    assert!(
        f.jobs
            .claim_exhausted("reaper", at(5000), at(5030))
            .await
            .unwrap()
            .is_none()
    );
    let stats = f.jobs.stats(at(5000)).await.unwrap();
    assert_eq!((stats.queued, stats.running, stats.dead), (0, 0, 1));
}

/// Workers are shared: the next job comes from the user with the fewest running, so Bob's one
/// upload goes before Alice's backlog, and a per-user limit holds Alice to her share.
async fn claims_share_the_workers_fairly_among_users(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, _) = f.user_and_chat("alice").await;
    let (bob, _) = f.user_and_chat("bob").await;
    let t0 = now();
    let at = |s: i64| t0 + Duration::seconds(s);
    let mut alices = Vec::new();
    for i in 0..5 {
        let job = NewJob {
            run_at: at(i),
            ..job_for(alice, DocumentId::new())
        };
        alices.push(job.id);
        f.jobs.enqueue(job).await.unwrap();
    }
    let bobs = NewJob {
        run_at: at(10),
        ..job_for(bob, DocumentId::new())
    };
    f.jobs.enqueue(bobs.clone()).await.unwrap();
    let one_each = Fairness {
        max_running_per_user: 1,
    };
    let claim = |worker: &'static str, fairness: Fairness| {
        let jobs = f.jobs.clone();
        async move {
            jobs.claim(worker, at(20), at(80), fairness)
                .await
                .unwrap()
                .map(|j| j.id)
        }
    };
    // Both have nothing running: the oldest runnable job, Alice's first.
    assert_eq!(claim("w1", one_each).await, Some(alices[0]));
    // Alice has one running: Bob's, although Alice's others are older.
    assert_eq!(claim("w2", one_each).await, Some(bobs.id));
    // Each has one running, at the limit: nothing, though Alice has four waiting.
    assert_eq!(claim("w3", one_each).await, None);
    // Without a limit the tie (one running each) goes to the oldest waiting job.
    assert_eq!(
        claim("w3", Fairness::default()).await,
        Some(alices[1]),
        "no limit: Alice's next"
    );
    assert!(f.jobs.complete(alices[0], "w1").await.unwrap());
    assert!(f.jobs.complete(alices[1], "w3").await.unwrap());
    assert_eq!(claim("w1", one_each).await, Some(alices[2]));
    // A running job whose lease expired counts as not running: it is runnable again.
    let later = f
        .jobs
        .claim("w4", at(81), at(140), one_each)
        .await
        .unwrap()
        .map(|j| (j.id, j.attempts));
    assert!(
        matches!(later, Some((id, 2)) if id == alices[2] || id == bobs.id),
        "{later:?}"
    );
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
        .claim(
            "w",
            now(),
            now() + Duration::seconds(30),
            Fairness::default(),
        )
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
            .claim(
                "w",
                now(),
                now() + Duration::seconds(30),
                Fairness::default()
            )
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
            .claim(
                "w",
                now(),
                now() + Duration::seconds(30),
                Fairness::default()
            )
            .await
            .unwrap()
            .is_some()
    );
}

on_every_backend!(
    usage_counts_each_owners_documents_chunks_and_pending_jobs,
    chunks_are_added_batch_by_batch_and_cleared,
    a_job_whose_worker_dies_every_time_is_claimed_only_to_be_buried,
    claims_share_the_workers_fairly_among_users,
    a_document_and_its_job_are_stored_together_and_duplicates_are_refused,
    documents_and_chunks_are_scoped_by_owner,
    documents_are_found_together_each_once_and_only_the_owners,
    concurrent_workers_never_take_the_same_job,
    leases_expire_failures_back_off_and_dead_jobs_stay_dead,
    requeue_resets_a_document_and_queues_a_job_atomically,
);

/// What quotas count: each owner's documents, their bytes and chunks, and their jobs waiting
/// or running — nobody else's.
async fn usage_counts_each_owners_documents_chunks_and_pending_jobs(backend: Backend) {
    let f = fixture(backend).await;
    let (alice, chat) = f.user_and_chat("alice").await;
    let (bob, bobs_chat) = f.user_and_chat("bob").await;
    let empty = f.documents.usage(alice).await.unwrap();
    assert_eq!(
        (empty.documents, empty.storage_bytes, empty.chunks),
        (0, 0, 0)
    );
    assert_eq!(f.jobs.pending(alice).await.unwrap(), 0);
    let first = new_document(alice, chat, "u1", None);
    let second = NewDocument {
        size_bytes: 5_000_000_000,
        ..new_document(alice, chat, "u2", None)
    };
    let (a, b) = (first.id, second.id);
    f.documents.create(first, job_for(alice, a)).await.unwrap();
    f.documents.create(second, job_for(alice, b)).await.unwrap();
    let bobs = new_document(bob, bobs_chat, "u3", None);
    let bobs_id = bobs.id;
    f.documents
        .create(bobs, job_for(bob, bobs_id))
        .await
        .unwrap();
    let chunks: Vec<Chunk> = (0..4).map(|i| chunk(alice, chat, a, i, "x")).collect();
    assert!(f.documents.replace_chunks(alice, a, chunks).await.unwrap());
    let usage = f.documents.usage(alice).await.unwrap();
    let one = new_document(alice, chat, "zz", None).size_bytes;
    assert_eq!(
        (usage.documents, usage.storage_bytes, usage.chunks),
        (2, one + 5_000_000_000, 4)
    );
    assert_eq!(f.jobs.pending(alice).await.unwrap(), 2);
    assert_eq!(f.jobs.pending(bob).await.unwrap(), 1);
    // Running still counts; done does not.
    let job = f
        .jobs
        .claim(
            "w",
            now(),
            now() + Duration::seconds(30),
            Fairness::default(),
        )
        .await
        .unwrap()
        .unwrap();
    let owner = job.payload.owner();
    let before = f.jobs.pending(owner).await.unwrap();
    assert!(f.jobs.complete(job.id, "w").await.unwrap());
    assert_eq!(f.jobs.pending(owner).await.unwrap(), before - 1);
    assert!(f.documents.delete(alice, a).await.unwrap());
    let usage = f.documents.usage(alice).await.unwrap();
    assert_eq!(
        (usage.documents, usage.storage_bytes, usage.chunks),
        (1, 5_000_000_000, 0)
    );
}

/// Jobs queued before jobs named their owner get one from their payload when the schema is
/// upgraded, so fair claiming counts them.
mod job_owner_migration {
    use flashforge_migration::{Migrator, MigratorTrait};
    use flashforge_sql::sea_orm::{ConnectionTrait, Statement};

    use super::*;

    async fn backfills_the_owner_from_the_payload(backend: Backend) {
        let (_storage, url) = Storage::create(backend).await;
        let db = flashforge_sql::connect(&url, &Default::default())
            .await
            .unwrap();
        Migrator::up(&db, Some(9)).await.unwrap();
        let user = UserId::new();
        let payload = serde_json::to_string(&JobPayload::IngestDocument {
            user_id: user,
            document_id: DocumentId::new(),
        })
        .unwrap();
        let kind = db.get_database_backend();
        db.execute_raw(Statement::from_sql_and_values(
            kind,
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, \
             created_at, updated_at) VALUES ($1, 'ingest_document', $2, 'queued', 0, 3, $3, $3, $3)",
            [uuid::Uuid::now_v7().into(), payload.into(), now().into()],
        ))
        .await
        .unwrap();
        Migrator::up(&db, None).await.unwrap();
        let row = db
            .query_one_raw(Statement::from_string(kind, "SELECT user_id FROM jobs"))
            .await
            .unwrap()
            .unwrap();
        let owner: Option<uuid::Uuid> = row.try_get("", "user_id").unwrap();
        assert_eq!(owner, Some(user.as_uuid()));
    }

    #[tokio::test]
    async fn sqlite() {
        backfills_the_owner_from_the_payload(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        if crate::helpers::postgres_or_skip().await {
            backfills_the_owner_from_the_payload(Backend::Postgres).await;
        }
    }
}

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
        // A file already in memory, stored as it is; stored again, replaced.
        store
            .put("imports/u3/i1.apkg", bytes::Bytes::from(body.clone()))
            .await
            .unwrap();
        assert_eq!(
            store.get("imports/u3/i1.apkg").await.unwrap().unwrap(),
            body
        );
        store
            .put("imports/u3/i1.apkg", bytes::Bytes::from_static(b"again"))
            .await
            .unwrap();
        assert_eq!(
            store.get("imports/u3/i1.apkg").await.unwrap().unwrap(),
            &b"again"[..]
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

/// A completion of `pages` pages and `chunks` chunks with a title and a language.
fn completion(pages: u32, chunks: u32) -> flashforge_domain::knowledge::Completion {
    flashforge_domain::knowledge::Completion {
        pages_total: pages,
        chunk_count: chunks,
        title: Some("Cell Biology — Lecture 3".into()),
        language: Some("eng".into()),
    }
}
