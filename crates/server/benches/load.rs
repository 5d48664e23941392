//! The load benchmark (`make bench`): the release binary serving Postgres, driven by wrk at a
//! fixed concurrency, scenario by scenario, with the ratios that say where time goes.
//!
//! Set-up: a fresh Postgres database; a user whose chat holds 100k chunks (synthetic text, BM25
//! and clustered 384-dim vectors in the embedded index) and 100k flashcards; the real
//! all-MiniLM-L6-v2 for query embeddings; a mock OpenAI-compatible provider answering after a
//! fixed 100 ms. The server runs as its own process (`flashforge serve`), so its resident memory
//! is its own.
//!
//! Printed: requests/s, p50, p99 and errors for each scenario; `GET card` against pgbench's
//! single-row select at the same connection count; the page 90 % deep against the first page;
//! search through HTTP against the query embedding plus the raw index queries; ingestion of the
//! 100-page PDF against extraction plus embedding alone; resident memory idle and under load.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deck;
mod synthetic;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    Chunk, ChunkId, ChunkSettings, Document, DocumentId, DocumentRepository, DocumentStatus,
    Embedder, FileName, JobId, JobPayload, MediaType, NewDocument, NewJob, Scope, VectorIndex,
    VectorPoint, VectorQuery, chunk_pages, sparse,
};
use flashforge_domain::pagination::Cursor;
use flashforge_embed::MiniLmEmbedder;
use flashforge_sql::sea_orm::{ConnectionTrait, DbBackend, Statement};
use flashforge_sql::{SqlDocumentRepository, SqlFlashcardRepository};
use flashforge_vector::EdgeVectorIndex;
use serde_json::{Value, json};
use synthetic::{Rng, normalized};

const BIN: &str = env!("CARGO_BIN_EXE_flashforge");
const SECRET: &str = "bench-Only_9fQ2xLmZ8rVb4Nw7Kc1Hd6Jp0Sg5Ye";
const PASSWORD: &str = "correct horse battery staple";
const CHUNKS: usize = 100_000;
const CARDS: usize = 100_000;
const CONNECTIONS: u32 = 16;
const SECONDS: u32 = 8;
const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/pdf/long-100.pdf"
);

fn model_dir() -> PathBuf {
    std::env::var_os("FLASHFORGE_MODEL_DIR")
        .map(Into::into)
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/all-MiniLM-L6-v2").into()
        })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The server as a child process; killed if the benchmark fails.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(vars: &[(String, String)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(BIN);
        for (key, _) in std::env::vars() {
            if key.starts_with("FLASHFORGE") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command
            .arg("serve")
            .env("FLASHFORGE_ENV", "test")
            .env(
                "FLASHFORGE_CONFIG_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../../config"),
            )
            .env("FLASHFORGE__SERVER__PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in vars {
            command.env(k, v);
        }
        let child = command.spawn().unwrap();
        let mut server = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited: {status}");
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Resident memory in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What wrk measured.
#[derive(Debug, Default, Clone)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    errors: u64,
}

fn duration_ms(text: &str) -> f64 {
    let text = text.trim();
    let (number, unit) =
        text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1e3,
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        _ => f64::NAN,
    }
}

fn parse_wrk(out: &str) -> Run {
    let mut run = Run::default();
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("50%") {
            run.p50_ms = duration_ms(v);
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_ms = duration_ms(v);
        } else if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse().unwrap_or(0.0);
        } else if line.contains(" requests in ") {
            run.requests = line.split_whitespace().next().unwrap().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.errors += v
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    run
}

/// Runs wrk on `url` with `script` (Lua: method, body, headers) while sampling the server's
/// memory; returns the run and the highest resident memory seen.
fn wrk(server: &Server, scripts: &Path, name: &str, script: &str, url: &str) -> (Run, f64) {
    let path = scripts.join(format!("{name}.lua"));
    std::fs::write(&path, script).unwrap();
    let child = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        let pid = server.child.id();
        std::thread::spawn(move || {
            for _ in 0..(SECONDS * 10 + 20) {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                if let Some(kb) = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    let _ = sampler.join();
    let text = String::from_utf8_lossy(&out.stdout);
    (
        parse_wrk(&text),
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
    )
}

fn lua(method: &str, token: Option<&str>, body: Option<&str>) -> String {
    let mut s = format!(
        "wrk.method = \"{method}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    );
    if let Some(token) = token {
        s.push_str(&format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ));
    }
    if let Some(body) = body {
        s.push_str(&format!("wrk.body = [[{body}]]\n"));
    }
    s
}

/// pgbench running `sql` at the bench's connection count; transactions per second.
fn pgbench(url: &str, sql: &str, scripts: &Path) -> f64 {
    let path = scripts.join("select.sql");
    std::fs::write(&path, sql).unwrap();
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &CONNECTIONS.to_string(),
            "-j",
            "2",
            "-T",
            &SECONDS.to_string(),
            "-M",
            "prepared",
            "-f",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("tps = ")
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or_else(|| {
            panic!(
                "pgbench said: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// The same `sql` through sea-orm's pool (sqlx) from this process at the bench's connection
/// count: the driver's share of a request, without HTTP or the app; queries per second.
async fn driver_qps(url: &str, sql: &str) -> f64 {
    let options = flashforge_sql::DatabaseOptions {
        max_connections: CONNECTIONS,
        ..Default::default()
    };
    let db = flashforge_sql::connect(url, &options).await.unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(SECONDS.into());
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (db, done, sql) = (db.clone(), done.clone(), sql.to_string());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let statement = Statement::from_string(DbBackend::Postgres, sql.clone());
                    assert!(db.query_one_raw(statement).await.unwrap().is_some());
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let qps = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    db.close().await.unwrap();
    qps
}

fn ensure_tools() {
    for (tool, package) in [("wrk", "wrk"), ("pgbench", "postgresql-contrib")] {
        if !Command::new("which")
            .arg(tool)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            eprintln!("{tool} is missing: installing {package} from Debian");
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-q", package])
                .status();
        }
    }
}

/// Vocabulary of the synthetic chunks: Zipf-ish over a few thousand words.
fn synthetic_text(rng: &mut Rng, words: &[String]) -> String {
    (0..60)
        .map(|_| {
            let rank = ((1.0 / (rng.unit() + 1e-3)) as usize) % words.len();
            words[rank].as_str()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    ensure_tools();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let scripts = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();

    // A fresh database.
    let admin_url = std::env::var("FLASHFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("ff_bench_load_{}", std::process::id());
    let admin = flashforge_sql::connect(&admin_url, &Default::default())
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);

    // The provider: a mock OpenAI-compatible API answering after 100 ms.
    let provider = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_delay(Duration::from_millis(100))
                .set_body_json(json!({
                    "model": "mock-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "An answer from the material [1]."}}],
                    "usage": {"prompt_tokens": 200, "completion_tokens": 10}
                })),
        )
        .mount(&provider)
        .await;
    // The model list (cached by the server): `GET /models` is an authenticated answer that
    // touches neither the database nor, after the first, the provider.
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/v1/models"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(
            json!({"object": "list", "data": [{"id": "mock-model", "object": "model"}]}),
        ))
        .mount(&provider)
        .await;

    let model = model_dir();
    let vars: Vec<(String, String)> = [
        ("FLASHFORGE__DATABASE__URL", url.clone()),
        ("FLASHFORGE__DATABASE__MAX_CONNECTIONS", "20".into()),
        ("FLASHFORGE__AUTH__JWT_SECRET", SECRET.into()),
        // Production password hashing, not the test suite's cheap one.
        ("FLASHFORGE__AUTH__ARGON2_MEMORY_KIB", "19456".into()),
        ("FLASHFORGE__AUTH__ARGON2_ITERATIONS", "2".into()),
        ("FLASHFORGE__AUTH__ARGON2_MAX_CONCURRENT", "0".into()),
        ("FLASHFORGE__RATE_LIMIT__ENABLED", "false".into()),
        ("FLASHFORGE__LOG__LEVEL", "error".into()),
        ("FLASHFORGE__SERVER__WORKERS", cores.to_string()),
        ("FLASHFORGE__VECTOR__PROVIDER", "embedded".into()),
        (
            "FLASHFORGE__VECTOR__DIR",
            data.path().join("index").display().to_string(),
        ),
        ("FLASHFORGE__STORAGE__BLOBS", "local".into()),
        (
            "FLASHFORGE__STORAGE__BLOB_DIR",
            data.path().join("blobs").display().to_string(),
        ),
        ("FLASHFORGE__EMBEDDING__PROVIDER", "local".into()),
        (
            "FLASHFORGE__EMBEDDING__MODEL_DIR",
            model.display().to_string(),
        ),
        ("FLASHFORGE__KNOWLEDGE__PDF_ISOLATION", "process".into()),
        ("FLASHFORGE__WORKER__CONCURRENCY", "1".into()),
        ("FLASHFORGE__LLM__PROVIDER", "openai".into()),
        (
            "FLASHFORGE__LLM__BASE_URL",
            format!("{}/v1", provider.uri()),
        ),
        ("FLASHFORGE__LLM__MODEL", "mock-model".into()),
        ("FLASHFORGE__LLM__MAX_RETRIES", "0".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    // First start: the schema, the user and their chats.
    let server = Server::start(&vars);
    let client = reqwest::Client::new();
    let registered = json(
        client
            .post(server.url("/api/v1/auth/register"))
            .json(&json!({"username": "student", "password": PASSWORD})),
    )
    .await;
    let token = registered["access_token"].as_str().unwrap().to_string();
    let user = UserId::from_uuid(registered["user"]["id"].as_str().unwrap().parse().unwrap());
    let new_chat = |name: &'static str| {
        let request = client
            .post(server.url("/api/v1/chats"))
            .bearer_auth(&token)
            .json(&json!({ "name": name }));
        async move { json(request).await["id"].as_str().unwrap().to_string() }
    };
    let material_chat = new_chat("material").await;
    let cards_chat = new_chat("cards").await;
    let talk_chat = new_chat("talk").await;
    let pdf_chat = new_chat("pdf").await;
    server.stop();

    // 100k chunks (rows and index points) and 100k cards, written straight through the adapters.
    let embedder = MiniLmEmbedder::load(&model).expect("run `make models` first");
    let db = flashforge_sql::connect(&url, &Default::default())
        .await
        .unwrap();
    let documents = SqlDocumentRepository::new(db.clone());
    let index = EdgeVectorIndex::open(&data.path().join("index"), embedder.model()).unwrap();
    let chat = ChatId::from_uuid(material_chat.parse().unwrap());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let words: Vec<String> = (0..5000).map(|i| format!("term{i}")).collect();
    let centers: Vec<Vec<f32>> = (0..300)
        .map(|_| normalized((0..384).map(|_| rng.gauss()).collect()))
        .collect();
    let seeded = Instant::now();
    let now = chrono::Utc::now();
    for d in 0..CHUNKS / 1000 {
        let id = DocumentId::new();
        documents
            .create(
                NewDocument {
                    id,
                    user_id: user,
                    chat_id: chat,
                    file_name: FileName::sanitize(Some(&format!("part-{d}.txt"))),
                    media_type: MediaType::Text,
                    size_bytes: 1,
                    sha256: format!("{d:064}"),
                    idempotency_key: None,
                    created_at: now,
                },
                NewJob {
                    id: JobId::new(),
                    payload: JobPayload::IngestDocument {
                        user_id: user,
                        document_id: id,
                    },
                    max_attempts: 1,
                    run_at: now,
                    request_id: None,
                },
            )
            .await
            .unwrap();
        let chunks: Vec<Chunk> = (0..1000u32)
            .map(|i| {
                let text = synthetic_text(&mut rng, &words);
                Chunk {
                    id: ChunkId::derive(id, i),
                    document_id: id,
                    user_id: user,
                    chat_id: chat,
                    index: i,
                    page: 1,
                    char_start: 0,
                    char_end: text.chars().count() as u32,
                    text,
                }
            })
            .collect();
        let points = chunks
            .iter()
            .map(|c| {
                let center = &centers[(rng.next() % centers.len() as u64) as usize];
                VectorPoint {
                    chunk_id: c.id,
                    user_id: user,
                    chat_id: chat,
                    document_id: id,
                    dense: normalized(center.iter().map(|x| x + 0.04 * rng.gauss()).collect()),
                    sparse: sparse::encode_document(&c.text),
                }
            })
            .collect();
        documents.replace_chunks(user, id, chunks).await.unwrap();
        documents.complete(user, id, 1, 1000, now).await.unwrap();
        index.upsert(points).await.unwrap();
    }
    // The seeding jobs are done (their documents are complete).
    db.execute_unprepared("UPDATE jobs SET status = 'done'")
        .await
        .unwrap();
    index.optimize().await.unwrap();
    let cards = SqlFlashcardRepository::new(db.clone());
    let card_chat = ChatId::from_uuid(cards_chat.parse().unwrap());
    let deep_after = deck::seed(&cards, user, card_chat, now, CARDS).await;
    db.execute_unprepared("ANALYZE").await.unwrap();
    let seeded = seeded.elapsed();

    // Raw baselines, in this process: the query embedding plus the index queries the service
    // makes (dense for semantic; dense and BM25 for hybrid), one query at a time.
    let queries: Vec<String> = (0..60)
        .map(|i| {
            format!(
                "{} {} {}",
                words[i * 7],
                words[i * 13 + 1],
                words[i * 3 + 2]
            )
        })
        .collect();
    embedder
        .embed(std::slice::from_ref(&queries[0]))
        .await
        .unwrap();
    let scope = Scope::chat(user, chat);
    let (mut raw_semantic, mut raw_hybrid) = (Vec::new(), Vec::new());
    for query in &queries {
        let started = Instant::now();
        let dense = embedder
            .embed(std::slice::from_ref(query))
            .await
            .unwrap()
            .remove(0);
        index
            .search(scope, VectorQuery::Dense(dense.clone()), 10)
            .await
            .unwrap();
        raw_semantic.push(started.elapsed());
        let started = Instant::now();
        let dense = embedder
            .embed(std::slice::from_ref(query))
            .await
            .unwrap()
            .remove(0);
        index
            .search(scope, VectorQuery::Dense(dense), 10)
            .await
            .unwrap();
        index
            .search(scope, VectorQuery::Sparse(sparse::encode_query(query)), 10)
            .await
            .unwrap();
        raw_hybrid.push(started.elapsed());
    }
    drop(index);

    // Extraction plus embedding of the 100-page PDF alone (what ingestion cannot avoid).
    let pdf = std::fs::read(PDF).unwrap();
    let started = Instant::now();
    let pages = flashforge_files::extract_pages(&pdf, &Default::default()).unwrap();
    let document = Document {
        id: DocumentId::new(),
        user_id: user,
        chat_id: chat,
        file_name: FileName::sanitize(Some("long.pdf")),
        media_type: MediaType::Pdf,
        size_bytes: pdf.len() as u64,
        sha256: String::new(),
        status: DocumentStatus::Processing,
        error: None,
        pages_total: None,
        pages_done: 0,
        chunk_count: 0,
        created_at: now,
        updated_at: now,
    };
    let pdf_chunks = chunk_pages(
        &document,
        &pages,
        embedder.token_counter(),
        ChunkSettings::default(),
        u32::MAX,
    )
    .unwrap();
    for batch in pdf_chunks.chunks(32) {
        let texts: Vec<String> = batch.iter().map(|c| c.text.clone()).collect();
        embedder.embed(&texts).await.unwrap();
    }
    let extract_embed = started.elapsed();
    drop(embedder);

    // Second start: the measured server.
    let server = Server::start(&vars);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server.rss_mib();
    let login = json(
        client
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"username": "student", "password": PASSWORD})),
    )
    .await;
    let token = login["access_token"].as_str().unwrap().to_string();

    // Ingestion of the 100-page PDF through the service.
    let started = Instant::now();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf).file_name("long.pdf"),
    );
    let doc = json(
        client
            .post(server.url(&format!("/api/v1/chats/{pdf_chat}/documents")))
            .bearer_auth(&token)
            .multipart(form),
    )
    .await;
    let doc_path = format!(
        "/api/v1/chats/{pdf_chat}/documents/{}",
        doc["id"].as_str().unwrap()
    );
    loop {
        let doc = json(client.get(server.url(&doc_path)).bearer_auth(&token)).await;
        if doc["status"] == "completed" {
            break;
        }
        assert_ne!(doc["status"], "failed", "{doc}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ingestion = started.elapsed();

    // Search through HTTP, one query at a time, each query new (no cached embedding).
    let http = |mode: &'static str| {
        let client = client.clone();
        let token = token.clone();
        let queries: Vec<String> = queries.iter().map(|q| format!("{q} {mode}")).collect();
        let base = server.url(&format!("/api/v1/chats/{material_chat}/search"));
        async move {
            let mut times = Vec::new();
            for q in &queries {
                let started = Instant::now();
                let response = client
                    .get(&base)
                    .query(&[("q", q.as_str()), ("mode", mode)])
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                response.bytes().await.unwrap();
                times.push(started.elapsed());
            }
            times
        }
    };
    let http_semantic = median(http("semantic").await);
    let http_hybrid = median(http("hybrid").await);

    // The load scenarios.
    let card = json(
        client
            .post(server.url(&format!("/api/v1/chats/{cards_chat}/flashcards")))
            .bearer_auth(&token)
            .json(&json!({"question": "What is measured?", "answer": "Latency"})),
    )
    .await;
    let card_id = card["id"].as_str().unwrap().to_string();
    let deep_cursor = Cursor::encode(&deep_after.as_uuid());
    let list = format!("/api/v1/chats/{cards_chat}/flashcards?limit=50");
    // Each wrk thread has its own Lua state: the address of a fresh table tells them apart.
    let register_script = "counter = 0\nprefix = string.gsub(tostring({}), \"table: 0x\", \"\")\nrequest = function()\n  counter = counter + 1\n  local name = \"load-\" .. prefix .. \"-\" .. counter\n  return wrk.format(\"POST\", nil, {[\"Content-Type\"] = \"application/json\"}, '{\"username\":\"' .. name .. '\",\"password\":\"correct horse battery staple\"}')\nend\n".to_string();
    let login_body = format!(r#"{{"username":"student","password":"{PASSWORD}"}}"#);
    // Reads before writes: new cards would set autovacuum off under the reads that follow.
    let scenarios: Vec<(&str, String, String)> = vec![
        (
            "register",
            register_script,
            server.url("/api/v1/auth/register"),
        ),
        (
            "login",
            lua("POST", None, Some(&login_body)),
            server.url("/api/v1/auth/login"),
        ),
        (
            "GET /me",
            lua("GET", Some(&token), None),
            server.url("/api/v1/me"),
        ),
        (
            "GET /models (no database)",
            lua("GET", Some(&token), None),
            server.url("/api/v1/models"),
        ),
        (
            "get card",
            lua("GET", Some(&token), None),
            server.url(&format!("/api/v1/flashcards/{card_id}")),
        ),
        (
            "list cards, first page",
            lua("GET", Some(&token), None),
            server.url(&list),
        ),
        (
            "list cards, 90% deep",
            lua("GET", Some(&token), None),
            server.url(&format!("{list}&cursor={}", deep_cursor.as_str())),
        ),
        (
            "search semantic (100k)",
            lua("GET", Some(&token), None),
            server.url(&format!(
                "/api/v1/chats/{material_chat}/search?q=term1+term20+term300&mode=semantic"
            )),
        ),
        (
            "search hybrid (100k)",
            lua("GET", Some(&token), None),
            server.url(&format!(
                "/api/v1/chats/{material_chat}/search?q=term1+term20+term300&mode=hybrid"
            )),
        ),
        (
            "create card",
            lua(
                "POST",
                Some(&token),
                Some(r#"{"question":"Load?","answer":"Yes"}"#),
            ),
            server.url(&format!("/api/v1/chats/{talk_chat}/flashcards")),
        ),
        (
            "chat message (LLM 100 ms)",
            lua(
                "POST",
                Some(&token),
                Some(r#"{"content":"What does the material say?"}"#),
            ),
            server.url(&format!("/api/v1/chats/{talk_chat}/messages")),
        ),
    ];
    let mut results = Vec::new();
    let mut peak_rss: f64 = 0.0;
    for (name, script, url) in &scenarios {
        let (run, peak) = wrk(
            &server,
            scripts.path(),
            &name.replace([' ', '/', '%', '(', ')', ','], "_"),
            script,
            url,
        );
        peak_rss = peak_rss.max(peak);
        results.push((*name, run));
    }
    let busy_rss = server.rss_mib();

    // pgbench: the equivalent of GET card by id (the same row, the same columns).
    let card_uuid = card_id.clone();
    let user_uuid = user.as_uuid();
    let select =
        format!("SELECT * FROM flashcards WHERE id = '{card_uuid}' AND user_id = '{user_uuid}'");
    let tps = pgbench(&url, &format!("{select};\n"), scripts.path());
    let driver = driver_qps(&url, &select).await;
    server.stop();
    drop(db);
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();

    // The table.
    println!(
        "Load: release `flashforge serve` on Postgres 15, {cores} cores shared with wrk (2 threads, {CONNECTIONS} connections, {SECONDS} s per scenario)"
    );
    println!(
        "seeded {CHUNKS} chunks and {CARDS} cards in {:.0} s",
        seeded.as_secs_f64()
    );
    println!(
        "{:<28} {:>10} {:>10} {:>10} {:>8}",
        "scenario", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, run) in &results {
        println!(
            "{:<28} {:>10.0} {:>10.2} {:>10.2} {:>8}",
            name, run.rps, run.p50_ms, run.p99_ms, run.errors
        );
    }
    println!(
        "{:<28} {:>10} {:>10.0} s",
        "upload + ingest 100-page PDF",
        "",
        ingestion.as_secs_f64()
    );
    let get = |n: &str| {
        results
            .iter()
            .find(|(name, _)| *name == n)
            .unwrap()
            .1
            .clone()
    };
    println!("ratios (same run):");
    println!(
        "  GET card {:.0} req/s / pgbench select by id {:.0} tps = {:.2} (target >= 0.5)",
        get("get card").rps,
        tps,
        get("get card").rps / tps
    );
    println!(
        "    where it goes: the same select through sea-orm/sqlx alone (no HTTP) {driver:.0} q/s = {:.2} of pgbench; an authenticated answer without the database (GET /models) {:.0} req/s",
        driver / tps,
        get("GET /models (no database)").rps
    );
    println!(
        "  list 90% deep p50 / first page p50 = {:.2} (target <= 1.2)",
        get("list cards, 90% deep").p50_ms / get("list cards, first page").p50_ms
    );
    println!(
        "  search semantic through HTTP p50 {:.2} ms / embedding + index query {:.2} ms = {:.2} (target <= 2.0)",
        ms(http_semantic),
        ms(median(raw_semantic.clone())),
        ms(http_semantic) / ms(median(raw_semantic))
    );
    println!(
        "  search hybrid through HTTP p50 {:.2} ms / embedding + dense + BM25 queries {:.2} ms = {:.2} (target <= 2.0)",
        ms(http_hybrid),
        ms(median(raw_hybrid.clone())),
        ms(http_hybrid) / ms(median(raw_hybrid))
    );
    println!(
        "  ingestion {:.1} s / extraction + embedding alone {:.1} s = {:.2} (target <= 1.2)",
        ingestion.as_secs_f64(),
        extract_embed.as_secs_f64(),
        ingestion.as_secs_f64() / extract_embed.as_secs_f64()
    );
    println!(
        "resident memory: idle {idle_rss:.0} MiB (after start-up, index of {CHUNKS} chunks open), peak under load {peak_rss:.0} MiB, after load {busy_rss:.0} MiB"
    );
    println!(
        "(wrk repeats one search query, so its embedding comes from the cache; the search ratios use 60 new queries, one at a time)"
    );
}
