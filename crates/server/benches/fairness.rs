//! Fairness benchmark (`make bench-fairness`, part of `make bench`): does one user's backlog
//! delay another user's upload?
//!
//! On SQLite and on Postgres (when it answers), through the whole service with the real
//! embedding model, the embedded index and the default worker settings (two job loops, one
//! running job per user):
//! 1. one document alone on an idle server — the median of three, each by a user of its own;
//! 2. user A queues 50 documents of the same size, then user B uploads one: B's time from upload
//!    to `completed` (the median of five such users, one after the other, while A's backlog
//!    is still long).
//!
//! Ingestion jobs take turns at the embedder batch by batch, the user with the least work
//! waiting first (`knowledge.embed_concurrency`), so B waits at most for the batch of A's that
//! is being embedded when B's turn comes.
//!
//! Printed: both times and their ratio (goal ≤ 2). With one FIFO queue B's document would
//! wait behind all 50 of A's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use flashforge_tests::client::Api;
use flashforge_tests::database::{TestDatabase, local_files, postgres_answers, sqlite_url};
use flashforge_tests::settings::model_dir;
use serde_json::Value;

/// A's backlog.
const BACKLOG: usize = 50;

/// A text document of about ten passages, different for every `n` (no two are duplicates).
fn document(n: usize) -> Vec<u8> {
    (0..60)
        .map(|s| {
            format!(
                "Document {n}, sentence {s}: the cell membrane controls what enters and leaves \
                 the cell, and its proteins carry signals across it.\n"
            )
        })
        .collect::<String>()
        .into_bytes()
}

/// The calls the benchmark makes, through the kit's API client.
struct Client(Api);

impl Client {
    /// A new user with a chat: their token and the chat's id.
    async fn user(&self, name: &str) -> (String, String) {
        let token = self.0.sign_up(name).await;
        let chat = self.0.chat(&token, "material").await;
        (token, chat)
    }

    /// Uploads; the document's path.
    async fn upload(&self, token: &str, chat: &str, bytes: Vec<u8>) -> String {
        let response = self.0.upload(token, chat, "notes.txt", bytes).await;
        assert_eq!(response.status(), 202, "upload");
        let doc: Value = response.json().await.unwrap();
        format!("/chats/{chat}/documents/{}", doc["id"].as_str().unwrap())
    }

    async fn completed(&self, token: &str, path: &str) {
        let every = Duration::from_millis(10);
        let doc = self.0.settled(token, path, every, Duration::MAX).await;
        assert_eq!(doc["status"], "completed", "the document failed: {doc}");
    }
}

/// Both times on one database.
async fn measure(database_url: &str, data: &std::path::Path) -> (Duration, Duration) {
    let files = local_files(data);
    let model = model_dir().display().to_string();
    let mut vars: Vec<(&str, &str)> = vec![("FLASHFORGE__DATABASE__URL", database_url)];
    vars.extend(files.iter().map(|(k, v)| (*k, v.as_str())));
    vars.extend([
        ("FLASHFORGE__EMBEDDING__PROVIDER", "local"),
        ("FLASHFORGE__EMBEDDING__MODEL_DIR", &model),
        // The defaults of config/default.toml, said here so that the numbers name them.
        ("FLASHFORGE__WORKER__CONCURRENCY", "2"),
        ("FLASHFORGE__WORKER__MAX_RUNNING_PER_USER", "1"),
        ("FLASHFORGE__WORKER__POLL_INTERVAL_MS", "1000"),
    ]);
    let server = common::start(&vars).await;
    let client = Client(Api::at(reqwest::Client::new(), &server.address));
    // Warm the model up, as a running server is.
    let (token, chat) = client.user("warm").await;
    let path = client.upload(&token, &chat, document(10_000)).await;
    client.completed(&token, &path).await;

    let mut alone = Vec::new();
    for n in 0..3 {
        let (token, chat) = client.user(&format!("alone{n}")).await;
        let started = Instant::now();
        let path = client.upload(&token, &chat, document(20_000 + n)).await;
        client.completed(&token, &path).await;
        alone.push(started.elapsed());
    }
    alone.sort();

    let (a, a_chat) = client.user("busy").await;
    for n in 0..BACKLOG {
        client.upload(&a, &a_chat, document(n)).await;
    }
    // Five users in turn, each uploading one while A's backlog is still long (it takes about a
    // minute to drain): the median of their times. Each arrives after a pause of its own, so
    // that arrivals do not line up with A's batches (real users' uploads do not wait for them).
    let mut behind = Vec::new();
    for (n, pause_ms) in [0u64, 730, 310, 1090, 520].into_iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        let (b, b_chat) = client.user(&format!("patient{n}")).await;
        let started = Instant::now();
        let path = client.upload(&b, &b_chat, document(30_000 + n)).await;
        client.completed(&b, &path).await;
        behind.push(started.elapsed());
    }
    behind.sort();
    let behind = behind[2];
    // A's backlog is left unfinished: stop, so the next measurement has the machine.
    server.stop().await;
    (alone[1], behind)
}

fn report(backend: &str, (alone, behind): (Duration, Duration)) {
    println!(
        "{backend:<9} one document alone {:>6.2} s | B's one behind A's {BACKLOG} {:>6.2} s | ratio {:.2} (goal <= 2)",
        alone.as_secs_f64(),
        behind.as_secs_f64(),
        behind.as_secs_f64() / alone.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    println!("fairness: B's upload behind A's backlog of {BACKLOG} documents (~10 passages each)");
    let data = tempfile::tempdir().unwrap();
    let sqlite = sqlite_url(&data.path().join("bench.db"));
    report("sqlite", measure(&sqlite, data.path()).await);
    if postgres_answers().await {
        let db = TestDatabase::create_prefixed("ff_bench_fair").await;
        let data = tempfile::tempdir().unwrap();
        report("postgres", measure(&db.url, data.path()).await);
    } else {
        println!("postgres  skipped: it does not answer at FLASHFORGE_TEST_POSTGRES_URL");
    }
}
