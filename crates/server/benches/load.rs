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
//! single-row select and `create card` against pgbench's single-row insert at the same
//! connection count; a list page of 50 against a GET; the page 90 % deep against the first page;
//! search through HTTP against the query embedding plus the raw index queries; ingestion of the
//! 100-page PDF against extraction plus embedding alone; resident memory idle and under load.
//!
//! `LOAD_CRUD_ONLY=1` (`make bench-crud`) seeds the cards alone and runs the CRUD scenarios.
//! `PEER_URL` (the FastAPI full-stack template's API, e.g. `http://127.0.0.1:8900/api/v1`, run
//! by hand beside this) adds the peer's analogues — GET one item, GET /users/me, a list of 50
//! items, create an item — measured the same way, and the ratios between the two.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod crud;
mod deck;
mod report;
mod synthetic;
mod tools;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crud::{CRUD, peer_runs, round_trips};
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::FlashcardId;
use flashforge_domain::knowledge::{
    Chunk, ChunkId, ChunkSettings, Completion, Document, DocumentId, DocumentRepository,
    DocumentStatus, Embedder, FileName, JobId, JobPayload, MediaType, NewDocument, NewJob, Scope,
    VectorIndex, VectorPoint, VectorQuery, chunk_pages, sparse,
};
use flashforge_domain::pagination::Cursor;
use flashforge_embed::MiniLmEmbedder;
use flashforge_sql::sea_orm::ConnectionTrait;
use flashforge_sql::{DatabaseConnection, SqlDocumentRepository, SqlFlashcardRepository};
use flashforge_tests::client::Api;
use flashforge_tests::database::TestDatabase;
use flashforge_tests::process::{Process, command, free_port, kill, wait_until_live_within};
use flashforge_tests::settings::{PASSWORD, model_dir};
use flashforge_vector::EdgeVectorIndex;
use report::{Measured, Rest, report};
use serde_json::json;
use synthetic::{Rng, normalized};
use tools::{Run, driver_qps, ensure_tools, lua, pgbench, rss_kib, wrk};

const BIN: &str = env!("CARGO_BIN_EXE_flashforge");
const CHUNKS: usize = 100_000;
const CARDS: usize = 100_000;
const PDF: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/pdf/long-100.pdf"
);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The server as a child process; killed if the benchmark fails.
struct Server {
    process: Process,
    port: u16,
}

impl Server {
    fn start(vars: &[(String, String)]) -> Self {
        let port = free_port();
        let port_text = port.to_string();
        let mut vars: Vec<(&str, &str)> =
            vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        vars.push(("FLASHFORGE__SERVER__PORT", &port_text));
        let mut process = Process(
            command(BIN, "test", &vars)
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        // The index of 100k chunks takes a while to open.
        wait_until_live_within(port, &mut process, Duration::from_secs(60));
        Self { process, port }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Resident memory in MiB.
    fn rss_mib(&self) -> f64 {
        rss_kib(self.process.id()).map_or(0.0, |kb| kb as f64 / 1024.0)
    }

    fn stop(mut self) {
        kill(&self.process, "-TERM");
        let _ = self.process.wait();
    }
}

/// The synthetic material: Zipf-ish text over a few thousand words, and vectors clustered
/// around a few hundred topics.
struct Corpus {
    rng: Rng,
    words: Vec<String>,
    centers: Vec<Vec<f32>>,
}

impl Corpus {
    fn new() -> Self {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let words: Vec<String> = (0..5000).map(|i| format!("term{i}")).collect();
        let centers: Vec<Vec<f32>> = (0..300)
            .map(|_| normalized((0..384).map(|_| rng.gauss()).collect()))
            .collect();
        Self {
            rng,
            words,
            centers,
        }
    }

    /// Vocabulary of the synthetic chunks: Zipf-ish over a few thousand words.
    fn text(&mut self) -> String {
        (0..60)
            .map(|_| {
                let rank = ((1.0 / (self.rng.unit() + 1e-3)) as usize) % self.words.len();
                self.words[rank].as_str()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A unit vector close to one of the topics.
    fn dense(&mut self) -> Vec<f32> {
        let center = &self.centers[(self.rng.next() % self.centers.len() as u64) as usize];
        normalized(center.iter().map(|x| x + 0.04 * self.rng.gauss()).collect())
    }

    /// The queries the search measurements ask, three words each.
    fn queries(&self) -> Vec<String> {
        let words = &self.words;
        (0..60)
            .map(|i| {
                format!(
                    "{} {} {}",
                    words[i * 7],
                    words[i * 13 + 1],
                    words[i * 3 + 2]
                )
            })
            .collect()
    }
}

/// The benchmark user's chats.
struct Chats {
    material: String,
    cards: String,
    talk: String,
    pdf: String,
}

/// The provider: a mock OpenAI-compatible API answering after 100 ms.
async fn mock_provider() -> wiremock::MockServer {
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
    provider
}

/// The server's configuration: Postgres at `url`, the index and blobs in `data`, the real model,
/// the mock `provider`, one HTTP worker per core.
fn server_vars(
    url: &str,
    data: &Path,
    provider: &wiremock::MockServer,
    cores: usize,
) -> Vec<(String, String)> {
    let mut vars: Vec<(&str, String)> = vec![
        ("FLASHFORGE__DATABASE__URL", url.into()),
        ("FLASHFORGE__DATABASE__MAX_CONNECTIONS", "20".into()),
        ("FLASHFORGE__AUTH__JWT_SECRET", common::BENCH_SECRET.into()),
        // Production password hashing, not the test suite's cheap one.
        ("FLASHFORGE__AUTH__ARGON2_MEMORY_KIB", "19456".into()),
        ("FLASHFORGE__AUTH__ARGON2_ITERATIONS", "2".into()),
        ("FLASHFORGE__AUTH__ARGON2_MAX_CONCURRENT", "0".into()),
        ("FLASHFORGE__RATE_LIMIT__ENABLED", "false".into()),
        // The seeded deck fills the default card quota; the scenarios add cards to it.
        ("FLASHFORGE__QUOTAS__CARDS", "0".into()),
        ("FLASHFORGE__LOG__LEVEL", "error".into()),
        ("FLASHFORGE__SERVER__WORKERS", cores.to_string()),
    ];
    vars.extend(flashforge_tests::database::local_files(data));
    vars.extend([
        ("FLASHFORGE__EMBEDDING__PROVIDER", "local".into()),
        (
            "FLASHFORGE__EMBEDDING__MODEL_DIR",
            model_dir().display().to_string(),
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
    ]);
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// First start: the schema, the user and their chats.
async fn first_start(vars: &[(String, String)], client: &reqwest::Client) -> (UserId, Chats) {
    let server = Server::start(vars);
    let api = Api::at(client.clone(), &server.url(""));
    let registered = api.register("student").await;
    let token = registered["access_token"].as_str().unwrap().to_string();
    let user = UserId::from_uuid(registered["user"]["id"].as_str().unwrap().parse().unwrap());
    let chats = Chats {
        material: api.chat(&token, "material").await,
        cards: api.chat(&token, "cards").await,
        talk: api.chat(&token, "talk").await,
        pdf: api.chat(&token, "pdf").await,
    };
    server.stop();
    (user, chats)
}

/// One document of 1,000 synthetic chunks in `chat`: its rows, completed, and its index points.
async fn seed_document(
    documents: &SqlDocumentRepository,
    index: &EdgeVectorIndex,
    (user, chat): (UserId, ChatId),
    d: usize,
    corpus: &mut Corpus,
) {
    let id = DocumentId::new();
    let now = chrono::Utc::now();
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
            let text = corpus.text();
            Chunk {
                id: ChunkId::derive(id, i),
                document_id: id,
                user_id: user,
                chat_id: chat,
                index: i,
                page: 1,
                page_label: None,
                heading: None,
                char_start: 0,
                char_end: text.chars().count() as u32,
                text,
            }
        })
        .collect();
    let points = chunks
        .iter()
        .map(|c| VectorPoint {
            chunk_id: c.id,
            user_id: user,
            chat_id: chat,
            document_id: id,
            dense: corpus.dense(),
            sparse: sparse::encode_document(&c.text),
        })
        .collect();
    documents.replace_chunks(user, id, chunks).await.unwrap();
    let completion = Completion {
        pages_total: 1,
        chunk_count: 1000,
        ..Completion::default()
    };
    documents.complete(user, id, completion, now).await.unwrap();
    index.upsert(points).await.unwrap();
}

/// 100k chunks (rows and index points) in `material` and 100k cards in `cards`, written
/// straight through the adapters; the card a page 90 % deep starts after.
async fn seed(
    db: &DatabaseConnection,
    index: &EdgeVectorIndex,
    user: UserId,
    (material, cards): (ChatId, ChatId),
    corpus: &mut Corpus,
) -> FlashcardId {
    let documents = SqlDocumentRepository::new(db.clone());
    for d in 0..CHUNKS / 1000 {
        seed_document(&documents, index, (user, material), d, corpus).await;
    }
    // The seeding jobs are done (their documents are complete).
    db.execute_unprepared("UPDATE jobs SET status = 'done'")
        .await
        .unwrap();
    index.optimize().await.unwrap();
    let repository = SqlFlashcardRepository::new(db.clone());
    let deep_after = deck::seed(&repository, user, cards, chrono::Utc::now(), CARDS).await;
    db.execute_unprepared("ANALYZE").await.unwrap();
    deep_after
}

/// Raw baselines, in this process: the query embedding plus the index queries the service
/// makes (dense for semantic; dense and BM25 for hybrid), one query at a time.
async fn raw_search(
    embedder: &MiniLmEmbedder,
    index: &EdgeVectorIndex,
    scope: Scope,
    queries: &[String],
) -> (Vec<Duration>, Vec<Duration>) {
    embedder
        .embed(std::slice::from_ref(&queries[0]))
        .await
        .unwrap();
    let (mut raw_semantic, mut raw_hybrid) = (Vec::new(), Vec::new());
    for query in queries {
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
    (raw_semantic, raw_hybrid)
}

/// Extraction plus embedding of the 100-page PDF alone (what ingestion cannot avoid).
async fn extract_and_embed(
    embedder: &MiniLmEmbedder,
    pdf: &[u8],
    (user, chat): (UserId, ChatId),
) -> Duration {
    let now = chrono::Utc::now();
    let started = Instant::now();
    let pages = flashforge_files::extract_pages(pdf, &Default::default()).unwrap();
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
        title: None,
        language: None,
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
    started.elapsed()
}

/// p50 and p99 of `count` `GET /me`, one at a time, one every 10 ms: a light user's view.
async fn probe_me(api: &Api, token: &str, count: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        times.push(common::timed_ok(api.client.get(api.url("/me")).bearer_auth(token)).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    times.sort();
    (
        times[count / 2],
        times[((count as f64 - 1.0) * 0.99).round() as usize],
    )
}

/// Ingestion of the 100-page PDF through the service, from the upload to `completed`.
async fn ingest(api: &Api, token: &str, chat: &str, pdf: Vec<u8>) -> Duration {
    let started = Instant::now();
    let doc = api.upload(token, chat, "long.pdf", pdf).await;
    let doc: serde_json::Value = doc.json().await.unwrap();
    let path = format!("/chats/{chat}/documents/{}", doc["id"].as_str().unwrap());
    let every = Duration::from_millis(5);
    let doc = api.settled(token, &path, every, Duration::MAX).await;
    let ingestion = started.elapsed();
    assert_eq!(doc["status"], "completed", "{doc}");
    ingestion
}

/// Search through HTTP in `mode`, one query at a time, each query new (no cached embedding).
async fn http_search(
    api: &Api,
    token: &str,
    chat: &str,
    queries: &[String],
    mode: &str,
) -> Vec<Duration> {
    let base = api.url(&format!("/chats/{chat}/search"));
    let mut times = Vec::new();
    for q in queries.iter().map(|q| format!("{q} {mode}")) {
        let request = api
            .client
            .get(&base)
            .query(&[("q", q.as_str()), ("mode", mode)])
            .bearer_auth(token);
        times.push(common::timed_ok(request).await);
    }
    times
}

/// The wrk scenarios: name, Lua script, URL. Reads before writes: new cards would set
/// autovacuum off under the reads that follow.
fn scenarios(
    server: &Server,
    token: &str,
    chats: &Chats,
    card_id: &str,
    deep_after: FlashcardId,
) -> Vec<(&'static str, String, String)> {
    let (material, cards, talk) = (&chats.material, &chats.cards, &chats.talk);
    let deep_cursor = Cursor::encode(&deep_after.as_uuid());
    let list = format!("/api/v1/chats/{cards}/flashcards?limit=50");
    // Each wrk thread has its own Lua state: the address of a fresh table tells them apart.
    let register_script = "counter = 0\nprefix = string.gsub(tostring({}), \"table: 0x\", \"\")\nrequest = function()\n  counter = counter + 1\n  local name = \"load-\" .. prefix .. \"-\" .. counter\n  return wrk.format(\"POST\", nil, {[\"Content-Type\"] = \"application/json\"}, '{\"username\":\"' .. name .. '\",\"password\":\"correct horse battery staple\"}')\nend\n".to_string();
    let login_body = format!(r#"{{"username":"student","password":"{PASSWORD}"}}"#);
    let get = || lua("GET", Some(token), None);
    let search = |mode: &str| {
        server.url(&format!(
            "/api/v1/chats/{material}/search?q=term1+term20+term300&mode={mode}"
        ))
    };
    vec![
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
        ("GET /me", get(), server.url("/api/v1/me")),
        (
            "GET /models (no database)",
            get(),
            server.url("/api/v1/models"),
        ),
        (
            "get card",
            get(),
            server.url(&format!("/api/v1/flashcards/{card_id}")),
        ),
        ("list cards, first page", get(), server.url(&list)),
        (
            "list cards, 90% deep",
            get(),
            server.url(&format!("{list}&cursor={}", deep_cursor.as_str())),
        ),
        ("search semantic (100k)", get(), search("semantic")),
        ("search hybrid (100k)", get(), search("hybrid")),
        (
            "create card",
            lua(
                "POST",
                Some(token),
                Some(r#"{"question":"Load?","answer":"Yes"}"#),
            ),
            server.url(&format!("/api/v1/chats/{talk}/flashcards")),
        ),
        (
            "chat message (LLM 100 ms)",
            lua(
                "POST",
                Some(token),
                Some(r#"{"content":"What does the material say?"}"#),
            ),
            server.url(&format!("/api/v1/chats/{talk}/messages")),
        ),
    ]
}

/// Each scenario under wrk in turn; the runs and the highest resident memory seen.
fn run_scenarios(
    server: &Server,
    scripts: &Path,
    scenarios: &[(&'static str, String, String)],
) -> (Vec<(&'static str, Run)>, f64) {
    let mut results = Vec::new();
    let mut peak_rss: f64 = 0.0;
    // Warm-up, not counted: the pool opens its connections (each a TLS handshake and a login
    // to Postgres) under the first load, which would land in the first scenario's p99.
    if let Some((_, script, url)) = scenarios.iter().find(|(name, _, _)| *name == "GET /me") {
        wrk(server.process.id(), scripts, "warm_up", script, url);
    }
    for (name, script, url) in scenarios {
        let (run, peak) = wrk(
            server.process.id(),
            scripts,
            &name.replace([' ', '/', '%', '(', ')', ','], "_"),
            script,
            url,
        );
        peak_rss = peak_rss.max(peak);
        results.push((*name, run));
    }
    (results, peak_rss)
}

/// The knowledge-base part before the load scenarios: search one query at a time through HTTP
/// and the PDF's ingestion with the `GET /me` probe beside it.
async fn knowledge_part(
    api: &Api,
    token: &str,
    chats: &Chats,
    queries: &[String],
    raw: (Vec<Duration>, Vec<Duration>, Duration),
) -> Rest {
    let pdf = std::fs::read(PDF).unwrap();
    let me_idle = probe_me(api, token, 300).await;
    // The same probe while the PDF is ingested (it starts once the upload is in).
    let (ingestion, me_ingesting) = tokio::join!(ingest(api, token, &chats.pdf, pdf), async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        probe_me(api, token, 300).await
    });
    let http_semantic = median(http_search(api, token, &chats.material, queries, "semantic").await);
    let http_hybrid = median(http_search(api, token, &chats.material, queries, "hybrid").await);
    let (raw_semantic, raw_hybrid, extract_embed) = raw;
    Rest {
        ingestion,
        http_semantic,
        http_hybrid,
        raw_semantic,
        raw_hybrid,
        extract_embed,
        me: (me_idle, me_ingesting),
    }
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    ensure_tools();
    let crud_only = std::env::var_os("LOAD_CRUD_ONLY").is_some_and(|v| !v.is_empty() && v != "0");
    let peer_url = std::env::var("PEER_URL").ok().filter(|u| !u.is_empty());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let scripts = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let database = TestDatabase::create_prefixed("ff_bench_load").await;
    let url = database.url.clone();
    let provider = mock_provider().await;
    let vars = server_vars(&url, data.path(), &provider, cores);
    let client = reqwest::Client::new();
    let (user, chats) = first_start(&vars, &client).await;
    let material = ChatId::from_uuid(chats.material.parse().unwrap());
    let cards_chat = ChatId::from_uuid(chats.cards.parse().unwrap());

    let db = flashforge_sql::connect(&url, &Default::default())
        .await
        .unwrap();
    let mut corpus = Corpus::new();
    let queries = corpus.queries();
    let started = Instant::now();
    let (deep_after, raw) = if crud_only {
        let repository = SqlFlashcardRepository::new(db.clone());
        let deep_after = deck::seed(&repository, user, cards_chat, chrono::Utc::now(), CARDS).await;
        db.execute_unprepared("ANALYZE").await.unwrap();
        (deep_after, None)
    } else {
        let embedder = MiniLmEmbedder::load(&model_dir()).expect("run `make models` first");
        let index = EdgeVectorIndex::open(&data.path().join("index"), embedder.model()).unwrap();
        let deep_after = seed(&db, &index, user, (material, cards_chat), &mut corpus).await;
        let scope = Scope::chat(user, material);
        let (raw_semantic, raw_hybrid) = raw_search(&embedder, &index, scope, &queries).await;
        drop(index);
        let pdf = std::fs::read(PDF).unwrap();
        let extract_embed = extract_and_embed(&embedder, &pdf, (user, material)).await;
        (deep_after, Some((raw_semantic, raw_hybrid, extract_embed)))
    };
    let seeded = started.elapsed();

    // Second start: the measured server.
    let server = Server::start(&vars);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = server.rss_mib();
    let api = Api::at(client, &server.url(""));
    let token = api.login("student").await;
    let rest = match raw {
        Some(raw) => Some(knowledge_part(&api, &token, &chats, &queries, raw).await),
        None => None,
    };

    // The load scenarios.
    let card = api
        .json(
            api.client
                .post(api.url(&format!("/chats/{}/flashcards", chats.cards)))
                .bearer_auth(&token)
                .json(&json!({"question": "What is measured?", "answer": "Latency"})),
        )
        .await;
    let card_id = card["id"]
        .as_str()
        .unwrap_or_else(|| panic!("creating a card answered {card}"))
        .to_string();
    let mut scenarios = scenarios(&server, &token, &chats, &card_id, deep_after);
    if crud_only {
        scenarios.retain(|(name, _, _)| CRUD.contains(name));
    }
    let (results, peak_rss) = run_scenarios(&server, scripts.path(), &scenarios);
    let busy_rss = server.rss_mib();
    server.stop();
    let trips = round_trips(&vars, &url, &chats).await;

    // pgbench: the equivalent of GET card by id (the same row, the same columns), and of the
    // insert a create makes (a new card of the same user and chat).
    let user_uuid = user.as_uuid();
    let select =
        format!("SELECT * FROM flashcards WHERE id = '{card_id}' AND user_id = '{user_uuid}'");
    let tps = pgbench(&url, &format!("{select};\n"), scripts.path());
    let driver = driver_qps(&url, &select).await;
    let insert = format!(
        "INSERT INTO flashcards (id, user_id, chat_id, question, answer, tags, suspended, state, due, reps, lapses, step, created_at, updated_at, shuffle, note_id, kind, ordinal) VALUES (gen_random_uuid(), '{user_uuid}', '{}', 'Load?', 'Yes', '[]', false, 'new', now(), 0, 0, 0, now(), now(), 0, gen_random_uuid(), 'basic', 0);\n",
        chats.talk
    );
    let insert_tps = pgbench(&url, &insert, scripts.path());
    let peer = match &peer_url {
        Some(base) => peer_runs(base, scripts.path()).await,
        None => Vec::new(),
    };
    drop(db);
    drop(database);

    report(&Measured {
        cores,
        seeded,
        results,
        tps,
        driver,
        insert_tps,
        peer,
        trips,
        rss: (idle_rss, peak_rss, busy_rss),
        rest,
    });
}
