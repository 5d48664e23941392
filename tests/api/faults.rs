//! Faults in process. The database's connections are killed while requests run: every failure
//! is a 503 problem (never a 500, never a hang), readiness says the database is down, and the
//! app serves again by itself once the killing stops. A background generation loses its
//! completion after saving its cards: the retry finishes it without saving anything twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flashforge::Hooks;
use parking_lot::Mutex;

use crate::helpers::{Backend, TestDatabase, postgres_or_skip, spawn_app_configured};
use flashforge_domain::accounts::{Principal, SessionId, UserId};
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{
    CardInput, DeckFormat, DeckImport, FlashcardId, GenerateInput, Generated, Generation,
    GenerationId, GenerationRepository, GenerationStatus, IMPORT_BATCH_NOTES, INLINE_IMPORT_NOTES,
    ImportId, ImportRepository, ImportStatus, PackageOutcome,
};
use flashforge_domain::knowledge::NewJob;
use flashforge_domain::pagination::{Limit, PageRequest};
use flashforge_domain::{InfraError, Services};
use flashforge_sql::sea_orm::{ConnectionTrait, Database};
use flashforge_tests::database::admin_url;

/// No request may take longer than this, outage or not.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connections are killed for.
const OUTAGE: Duration = Duration::from_millis(1500);
/// The app must serve again within this time after the killing stops.
const RECOVERY: Duration = Duration::from_secs(5);

/// What one request got.
#[derive(Debug)]
struct Outcome {
    what: &'static str,
    /// When it was sent and when its answer came, since the start of the run.
    sent: Duration,
    at: Duration,
    status: u16,
    content_type: String,
    body: serde_json::Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_postgres_connections_answer_503_and_the_app_recovers_without_a_restart() {
    if !postgres_or_skip().await {
        return;
    }
    // A database of our own, so that only this app's connections are killed. (`Sqlite` only
    // provides the temp folder; the URL override puts the app on this Postgres database.)
    let db = TestDatabase::create().await;
    let name = db
        .url
        .rsplit('/')
        .next()
        .and_then(|tail| tail.split('?').next())
        .unwrap()
        .to_string();
    let app = spawn_app_configured(
        Backend::Sqlite,
        Hooks::default(),
        &[
            ("FLASHFORGE__DATABASE__URL", &db.url),
            ("FLASHFORGE__DATABASE__MAX_CONNECTIONS", "5"),
            ("FLASHFORGE__DATABASE__ACQUIRE_TIMEOUT_SECS", "2"),
            // Nothing here is searched: no index folder to outlive the test.
            ("FLASHFORGE__VECTOR__PROVIDER", "memory"),
        ],
    )
    .await;
    let app = Arc::new(app);
    let token = app.signed_up("faults.pg").await.access;
    let chat = app.create_chat(&token, "outage").await;

    let started = Instant::now();
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    // Eight clients mix reads, writes and readiness; two more only ask for readiness.
    for n in 0..10 {
        let (app, token, chat) = (app.clone(), token.clone(), chat.clone());
        let (outcomes, stop) = (outcomes.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let kind = if n >= 8 { 3 } else { (n + i) % 4 };
                let (what, request) = match kind {
                    0 => (
                        "GET /me",
                        app.authed(reqwest::Method::GET, "/api/v1/me", &token),
                    ),
                    1 => (
                        "GET /chats",
                        app.authed(reqwest::Method::GET, "/api/v1/chats", &token),
                    ),
                    2 => (
                        "POST flashcard",
                        app.authed(
                            reqwest::Method::POST,
                            &format!("/api/v1/chats/{chat}/flashcards"),
                            &token,
                        )
                        .json(
                            &serde_json::json!({"question": format!("Q{n}.{i}?"), "answer": "A."}),
                        ),
                    ),
                    _ => (
                        "GET /health/ready",
                        app.client.get(app.url("/health/ready")),
                    ),
                };
                let sent = started.elapsed();
                let response = request
                    .timeout(REQUEST_TIMEOUT)
                    .send()
                    .await
                    .unwrap_or_else(|e| {
                        panic!(
                            "{what}: no answer after {:?}: {e}",
                            started.elapsed() - sent
                        )
                    });
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let body = response.json().await.unwrap_or(serde_json::Value::Null);
                outcomes.lock().push(Outcome {
                    what,
                    sent,
                    at: started.elapsed(),
                    status,
                    content_type,
                    body,
                });
            }
        }));
    }

    // Let the load settle, then kill every connection of the app's database, again and again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let admin = Database::connect(admin_url()).await.unwrap();
    let outage_start = started.elapsed();
    let mut kills = 0u64;
    let mut terminated = 0u64;
    while started.elapsed() < outage_start + OUTAGE {
        let rows = admin
            .query_all_raw(flashforge_sql::sea_orm::Statement::from_string(
                admin.get_database_backend(),
                format!(
                    "SELECT pg_terminate_backend(pid) AS gone FROM pg_stat_activity \
                     WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                ),
            ))
            .await
            .unwrap();
        kills += 1;
        terminated += rows.len() as u64;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let outage_end = started.elapsed();
    let _ = admin.close().await;

    // Afterwards, without a restart: wait until a round of every kind of request succeeds.
    let recovered_at = loop {
        let now = started.elapsed();
        let round = [
            app.authed(reqwest::Method::GET, "/api/v1/me", &token),
            app.authed(reqwest::Method::GET, "/api/v1/chats", &token),
            app.authed(
                reqwest::Method::POST,
                &format!("/api/v1/chats/{chat}/flashcards"),
                &token,
            )
            .json(&serde_json::json!({"question": "Back?", "answer": "Yes."})),
            app.client.get(app.url("/health/ready")),
        ];
        let mut all_ok = true;
        for request in round {
            let response = request.timeout(REQUEST_TIMEOUT).send().await.unwrap();
            all_ok &= response.status().is_success();
        }
        if all_ok {
            break now;
        }
        assert!(
            now < outage_end + RECOVERY,
            "not serving again {RECOVERY:?} after the outage"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Keep the load on for a moment after recovery: everything succeeds now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let outcomes = outcomes.lock();
    let during = |o: &&Outcome| o.at >= outage_start && o.at <= outage_end;
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.status >= 300).collect();
    let unavailable = failed.iter().filter(|o| o.status == 503).count();
    let ready_down = outcomes
        .iter()
        .filter(|o| o.what == "GET /health/ready" && o.status == 503)
        .count();
    let slowest = outcomes.iter().map(|o| o.at - o.sent).max().unwrap();
    eprintln!(
        "postgres outage: {kills} kill rounds terminated {terminated} connections over {:?}; \
         {} requests ({} answered during the outage, the slowest in {slowest:?}), {} failed \
         ({unavailable} with 503, {ready_down} of them readiness), recovered {:?} after the \
         killing stopped",
        outage_end - outage_start,
        outcomes.len(),
        outcomes.iter().filter(during).count(),
        failed.len(),
        recovered_at.saturating_sub(outage_end),
    );

    assert!(terminated > 0, "no connection was killed");
    for outcome in &failed {
        assert_eq!(
            outcome.status,
            503,
            "{} at {:?} answered {}: {}\n{}",
            outcome.what,
            outcome.at,
            outcome.status,
            outcome.body,
            crate::helpers::captured_log()
                .contents()
                .lines()
                .filter(|l| l.contains("\"ERROR\""))
                .collect::<Vec<_>>()
                .join("\n")
        );
        if outcome.what == "GET /health/ready" {
            // Readiness answers with its checks, naming the database as down.
            let database = outcome.body["checks"]
                .as_array()
                .and_then(|checks| checks.iter().find(|c| c["name"] == "database"))
                .unwrap_or_else(|| panic!("no database check: {}", outcome.body));
            assert_eq!(database["status"], "down", "{}", outcome.body);
            assert_eq!(outcome.body["status"], "unready");
        } else {
            assert_eq!(
                outcome.content_type, "application/problem+json",
                "{outcome:?}"
            );
            assert_eq!(outcome.body["status"], 503, "{outcome:?}");
            assert_eq!(
                outcome.body["code"], "dependency_unavailable",
                "{outcome:?}"
            );
        }
    }
    assert!(
        unavailable > ready_down,
        "no API request failed during the outage: nothing was checked"
    );
    // Readiness checks at most once a second, so between kills it may well find the database
    // answering; when it did not, it named the database (above). That it reports a dependency
    // down at all is tests/api/health.rs's.
    // Once recovered, it stays so: every request after the recovery point succeeded (readiness
    // may repeat its last check's result for up to a second: it checks at most that often).
    let late_failures: Vec<&&Outcome> = failed
        .iter()
        .filter(|o| o.sent > recovered_at)
        .filter(|o| {
            o.what != "GET /health/ready"
                || o.sent > recovered_at + flashforge_domain::health::READINESS_FRESH_FOR
        })
        .collect();
    assert!(
        late_failures.is_empty(),
        "failures after recovery: {late_failures:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// A background generation that fails after its cards were saved

/// A generation store that fails to record the first completion it is given, as a database
/// going away between the cards' insert and the generation's update would.
struct LosesFirstCompletion {
    inner: Arc<dyn GenerationRepository>,
    failed: AtomicBool,
}

#[async_trait::async_trait]
impl GenerationRepository for LosesFirstCompletion {
    async fn create(&self, generation: &Generation, job: NewJob) -> Result<(), InfraError> {
        self.inner.create(generation, job).await
    }
    async fn find(
        &self,
        owner: UserId,
        id: GenerationId,
    ) -> Result<Option<Generation>, InfraError> {
        self.inner.find(owner, id).await
    }
    async fn update(&self, generation: &Generation) -> Result<bool, InfraError> {
        if generation.status == GenerationStatus::Completed
            && !self.failed.swap(true, Ordering::SeqCst)
        {
            return Err(InfraError::unavailable("the database went away"));
        }
        self.inner.update(generation).await
    }
    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        self.inner.delete_chat(owner, chat).await
    }
    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        self.inner.delete_user(owner).await
    }
}

/// The retry of a generation whose cards were saved but whose completion was not recorded
/// completes it with every card, each saved once, without asking the model again.
#[tokio::test]
async fn a_generation_retried_after_its_cards_were_saved_completes_with_every_card_once() {
    let settings = crate::helpers::test_settings(
        "memory://",
        &[("FLASHFORGE__KNOWLEDGE__RETRY_BACKOFF_SECS", "0")],
    );
    let mut backend = flashforge::startup::compose(&settings).await.unwrap();
    let model = Arc::new(flashforge_memory::ScriptedModel::new());
    let cards: Vec<serde_json::Value> = (0..55)
        .map(|i| serde_json::json!({"question": format!("Question number {i} about zygote{i}?"), "answer": format!("Answer {i}"), "source_chunk_id": null}))
        .collect();
    model.push(flashforge_memory::Reply::Text(
        serde_json::json!({"flashcards": cards}).to_string(),
    ));
    backend.ports.language_model = model.clone();
    backend.ports.generations = Arc::new(LosesFirstCompletion {
        inner: backend.ports.generations.clone(),
        failed: AtomicBool::new(false),
    });
    let services = Services::new(
        backend.ports,
        flashforge::startup::service_settings(&settings),
    );
    let who = Principal {
        user_id: UserId::new(),
        session_id: SessionId::new(),
    };
    let chat = services.chats.create(who, "Retried").await.unwrap().id;
    let input = GenerateInput {
        document_id: None,
        chunk_ids: None,
        text: Some("Cells divide by mitosis.".into()),
        topic: None,
        count: Some(55),
        save: true,
    };
    let Generated::Queued(queued) = services
        .flashcards
        .generate(who, chat, input)
        .await
        .unwrap()
    else {
        panic!("55 cards are made in the background");
    };

    let stored = || async {
        let first_page = PageRequest {
            limit: Limit::parse(Some(100)).unwrap(),
            after: None,
        };
        let cards = services
            .flashcards
            .list(who, chat, Default::default(), first_page);
        let items = cards.await.unwrap().items;
        items.into_iter().map(|c| c.card).collect::<Vec<_>>()
    };

    // The first attempt saves the cards, then cannot record its completion: it is retried.
    assert!(services.jobs.work_once("test").await.unwrap());
    let between = services
        .flashcards
        .generation(who, queued.id)
        .await
        .unwrap();
    assert_eq!(between.status, GenerationStatus::Queued, "{between:?}");
    assert_eq!(stored().await.len(), 55, "saved by the first attempt");

    // The retry finds them saved and completes with all 55, pointing at the saved cards.
    assert!(services.jobs.work_once("test").await.unwrap());
    let done = services
        .flashcards
        .generation(who, queued.id)
        .await
        .unwrap();
    assert_eq!(done.status, GenerationStatus::Completed, "{done:?}");
    assert_eq!(done.error, None);
    assert_eq!(done.cards.len(), 55);
    let mut recorded: Vec<FlashcardId> = done.cards.iter().map(|c| c.card_id.unwrap()).collect();
    let mut stored: Vec<FlashcardId> = stored().await.iter().map(|c| c.id).collect();
    recorded.sort();
    stored.sort();
    assert_eq!(recorded, stored, "every card once, under the recorded ids");
    assert_eq!(model.prompts().len(), 1, "the model was asked once");
    assert!(
        !services.jobs.work_once("test").await.unwrap(),
        "nothing left to run"
    );
}

// ---------------------------------------------------------------------------------------------
// A background import that fails after storing a batch

/// An import store that fails to record the first progress it is given, as a database going
/// away between a batch's insert and the import's update would.
struct LosesFirstProgress {
    inner: Arc<dyn ImportRepository>,
    failed: AtomicBool,
}

#[async_trait::async_trait]
impl ImportRepository for LosesFirstProgress {
    async fn create(&self, import: &DeckImport, job: NewJob) -> Result<(), InfraError> {
        self.inner.create(import, job).await
    }
    async fn find(&self, owner: UserId, id: ImportId) -> Result<Option<DeckImport>, InfraError> {
        self.inner.find(owner, id).await
    }
    async fn update(&self, import: &DeckImport) -> Result<bool, InfraError> {
        if import.notes_done > 0 && !self.failed.swap(true, Ordering::SeqCst) {
            return Err(InfraError::unavailable("the database went away"));
        }
        self.inner.update(import).await
    }
    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        self.inner.delete_chat(owner, chat).await
    }
    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        self.inner.delete_user(owner).await
    }
}

/// The retry of a background import whose first batch was stored but whose progress was not
/// recorded finds that batch stored (its cards' ids derive from the import) and completes with
/// every note once.
#[tokio::test]
async fn an_import_retried_after_a_stored_batch_stores_every_note_once() {
    let settings = crate::helpers::test_settings(
        "memory://",
        &[("FLASHFORGE__KNOWLEDGE__RETRY_BACKOFF_SECS", "0")],
    );
    let mut backend = flashforge::startup::compose(&settings).await.unwrap();
    backend.ports.imports = Arc::new(LosesFirstProgress {
        inner: backend.ports.imports.clone(),
        failed: AtomicBool::new(false),
    });
    let services = Services::new(
        backend.ports,
        flashforge::startup::service_settings(&settings),
    );
    let who = Principal {
        user_id: UserId::new(),
        session_id: SessionId::new(),
    };
    let notes = INLINE_IMPORT_NOTES + 40;
    let source = services.chats.create(who, "Source").await.unwrap().id;
    for start in (0..notes).step_by(500) {
        let inputs = (start..notes.min(start + 500))
            .map(|i| CardInput {
                question: format!("Question {i}"),
                answer: format!("Answer {i}"),
                ..CardInput::default()
            })
            .collect();
        services
            .flashcards
            .create(who, source, inputs, true)
            .await
            .unwrap();
    }
    let package = services
        .flashcards
        .export_deck(who, source, DeckFormat::Apkg)
        .await
        .unwrap();
    let chat = services.chats.create(who, "Imported").await.unwrap().id;
    let PackageOutcome::Queued(queued) = services
        .flashcards
        .import_package(who, chat, package.into())
        .await
        .unwrap()
    else {
        panic!("{notes} notes import in the background");
    };
    let stored = || async {
        let cards = services.flashcards.export(who, chat).await.unwrap();
        cards
            .iter()
            .map(|c| c.question.as_str().to_string())
            .collect::<Vec<_>>()
    };

    // The first attempt stores a batch, then cannot record it: it is retried.
    assert!(services.jobs.work_once("test").await.unwrap());
    let between = services
        .flashcards
        .get_import(who, queued.id)
        .await
        .unwrap();
    assert_eq!(between.status, ImportStatus::Queued, "{between:?}");
    assert_eq!(between.notes_done, 0);
    assert_eq!(
        stored().await.len(),
        IMPORT_BATCH_NOTES,
        "the first batch is stored"
    );

    // The retry skips that batch and stores the rest.
    assert!(services.jobs.work_once("test").await.unwrap());
    let done = services
        .flashcards
        .get_import(who, queued.id)
        .await
        .unwrap();
    assert_eq!(done.status, ImportStatus::Completed, "{done:?}");
    assert_eq!(done.notes_done as usize, notes);
    assert_eq!(done.report.cards, notes);
    let mut questions = stored().await;
    assert_eq!(questions.len(), notes, "every note once");
    questions.sort();
    questions.dedup();
    assert_eq!(questions.len(), notes);
    assert!(
        !services.jobs.work_once("test").await.unwrap(),
        "nothing left to run"
    );
}
