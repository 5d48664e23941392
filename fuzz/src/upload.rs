//! A whole upload, `POST /api/v1/chats/{id}/documents`, through the real actix app
//! (`flashforge_http::create_app`: every middleware, the auth extractor, the multipart reader,
//! the spool file, type sniffing and the knowledge service) on in-memory adapters.
//!
//! The input's first line is the multipart boundary — the request's `Content-Type` is
//! `multipart/form-data; boundary=<line>`, so the line may also carry quotes or more
//! parameters — and the rest is the body. The invariant: never a 5xx, never a panic.

use std::cell::RefCell;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::rt::SystemRunner;
use actix_web::test::{self, TestRequest};
use actix_web::web::Bytes;
use flashforge_auth::{
    Argon2Hasher, Argon2Settings, JwtKey, JwtSettings, JwtTokens, ZxcvbnStrength,
};
use flashforge_domain::clock::SystemClock;
use flashforge_domain::flashcards::{MemoryModel, MemoryState, NextState, Rating};
use flashforge_domain::knowledge::{Embedder, KnowledgePorts, KnowledgeSettings};
use flashforge_domain::limits::RateLimitPolicy;
use flashforge_domain::{Ports, ServiceSettings, Services};
use flashforge_http::{AppState, HttpSecurity, Limits, create_app, no_extra_routes};
use flashforge_memory::{
    ExactVectorIndex, HashEmbedder, InMemoryBlobStore, InMemoryChatRepository,
    InMemoryDocumentRepository, InMemoryFlashcardRepository, InMemoryGenerationRepository,
    InMemoryJobQueue, InMemoryMessageRepository, InMemoryRateLimitStore, InMemorySessionRepository,
    InMemoryUsageLedger, InMemoryUserRepository, ScriptedModel,
};

/// The largest file the fuzzed app accepts: small, so that streaming past the limit (413) is
/// reachable with fuzz-sized inputs. Everything else is the service's default.
pub const MAX_UPLOAD_BYTES: u64 = 1024;

/// Uploads served before the app (and its in-memory stores, which keep every accepted file)
/// is built anew.
const REBUILD_EVERY: u32 = 5_000;

/// No flashcards are reviewed here.
struct NoMemoryModel;

impl MemoryModel for NoMemoryModel {
    fn next_states(
        &self,
        _: &[f32],
        _: Option<MemoryState>,
        _: f32,
        _: u32,
    ) -> Result<[NextState; 4], String> {
        Err("not used by the fuzzer".into())
    }

    fn optimize(&self, _: &[Vec<(Rating, u32)>]) -> Result<Vec<f32>, String> {
        Err("not used by the fuzzer".into())
    }
}

/// The services on in-memory adapters, as the harness's `memory://` backend composes them.
pub fn services() -> Arc<Services> {
    let jobs = Arc::new(InMemoryJobQueue::new());
    let messages = Arc::new(InMemoryMessageRepository::new());
    let embedder = Arc::new(HashEmbedder::new(16));
    let index = Arc::new(ExactVectorIndex::new(embedder.model().clone()));
    let tokens = JwtTokens::new(
        JwtSettings {
            issuer: "flashforge".into(),
            audience: "flashforge-api".into(),
            lifetime: Duration::from_secs(24 * 3600),
            leeway: Duration::from_secs(5),
        },
        JwtKey::hs256(b"fuzz-only-upload-secret-0123456789abcdef", None),
        vec![],
    )
    .expect("JWT keys");
    let ports = Ports {
        users: Arc::new(InMemoryUserRepository::new()),
        sessions: Arc::new(InMemorySessionRepository::new()),
        chats: Arc::new(InMemoryChatRepository::with_messages(messages.clone())),
        messages,
        knowledge: KnowledgePorts {
            documents: Arc::new(InMemoryDocumentRepository::new(jobs.clone())),
            jobs: jobs.clone(),
            blobs: Arc::new(InMemoryBlobStore::new()),
            embedder,
            index,
            extractor: Arc::new(flashforge_files::IsolatedExtractor::new(
                flashforge_files::Isolation::Thread,
                Duration::from_secs(5),
            )),
        },
        flashcards: Arc::new(InMemoryFlashcardRepository::new()),
        deck_files: Arc::new(flashforge_anki::DeckFileFormats),
        generations: Arc::new(InMemoryGenerationRepository::new(jobs.clone())),
        imports: Arc::new(flashforge_memory::InMemoryImportRepository::new(jobs)),
        memory_model: Arc::new(NoMemoryModel),
        passages: None,
        language_model: Arc::new(ScriptedModel::new()),
        usage_ledger: Arc::new(InMemoryUsageLedger::new()),
        password_hasher: Arc::new(
            Argon2Hasher::new(Argon2Settings {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
                max_concurrent: 1,
            })
            .expect("argon2 settings"),
        ),
        password_strength: Arc::new(ZxcvbnStrength::new(3)),
        access_tokens: Arc::new(tokens),
        rate_limit_store: Arc::new(InMemoryRateLimitStore::new()),
        clock: Arc::new(SystemClock),
        health_checks: Vec::new(),
        shared_cache: None,
    };
    let settings = ServiceSettings {
        knowledge: KnowledgeSettings {
            max_upload_bytes: MAX_UPLOAD_BYTES,
            ..KnowledgeSettings::default()
        },
        // One client sends every request: budgets would turn most of them into 429s.
        rate_limits: RateLimitPolicy {
            enabled: false,
            ..RateLimitPolicy::default()
        },
        ..ServiceSettings::default()
    };
    Arc::new(Services::new(ports, settings))
}

type Answer = Pin<Box<dyn Future<Output = (StatusCode, Bytes)>>>;
type Caller = Box<dyn Fn(actix_http::Request) -> Answer>;

struct Harness {
    runner: SystemRunner,
    call: Caller,
    path: String,
    bearer: HeaderValue,
    uses: u32,
}

fn json(body: &Bytes) -> serde_json::Value {
    serde_json::from_slice(body).expect("a JSON answer")
}

async fn answer<S, B>(app: &S, req: actix_http::Request) -> (StatusCode, Bytes)
where
    S: Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: MessageBody,
{
    match app.call(req).await {
        Ok(response) => {
            let status = response.status();
            (status, test::read_body(response).await)
        }
        // The server turns an error that escapes every middleware into its response.
        Err(error) => {
            let response = error.error_response();
            let status = response.status();
            let body = actix_web::body::to_bytes(response.into_body())
                .await
                .unwrap_or_default();
            (status, body)
        }
    }
}

fn build() -> Harness {
    let runner = actix_web::rt::System::new();
    let (call, path, bearer) = runner.block_on(async {
        let state = AppState {
            services: services(),
            limits: Limits::default(),
            security: HttpSecurity {
                max_header_bytes: 16 * 1024,
                ..HttpSecurity::default()
            },
            metrics: None,
        };
        let app = Rc::new(test::init_service(create_app(state, no_extra_routes)).await);
        let register = TestRequest::post()
            .uri("/api/v1/auth/register")
            .set_json(serde_json::json!({
                "username": "fuzzer",
                "password": "correct horse battery staple"
            }))
            .to_request();
        let (status, body) = answer(&*app, register).await;
        assert_eq!(status, StatusCode::CREATED, "register: {body:?}");
        let token = json(&body)["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).expect("header");
        let chat = TestRequest::post()
            .uri("/api/v1/chats")
            .insert_header((header::AUTHORIZATION, bearer.clone()))
            .set_json(serde_json::json!({ "name": "fuzz" }))
            .to_request();
        let (status, body) = answer(&*app, chat).await;
        assert_eq!(status, StatusCode::CREATED, "create chat: {body:?}");
        let id = json(&body)["id"].as_str().expect("chat id").to_string();
        let call: Caller = Box::new(move |req| {
            let app = app.clone();
            Box::pin(async move { answer(&*app, req).await })
        });
        (call, format!("/api/v1/chats/{id}/documents"), bearer)
    });
    Harness {
        runner,
        call,
        path,
        bearer,
        uses: 0,
    }
}

thread_local! {
    // Never dropped by the thread-local destructors: at exit, the actix system's own
    // thread-locals may be gone already, and dropping it then panics.
    static HARNESS: RefCell<ManuallyDrop<Option<Harness>>> =
        const { RefCell::new(ManuallyDrop::new(None)) };
}

/// The boundary line and the body of an input.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// Posts `data` as an upload and returns the status; panics on a 5xx.
pub fn check(data: &[u8]) -> Option<StatusCode> {
    let (boundary, body) = split(data);
    let mut content_type = b"multipart/form-data; boundary=".to_vec();
    content_type.extend_from_slice(boundary);
    // A value with control characters never gets past the HTTP parser to the app.
    let content_type = HeaderValue::from_bytes(&content_type).ok()?;
    HARNESS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_some_and(|h| h.uses >= REBUILD_EVERY) {
            // Drop the old system before starting a new one.
            drop(ManuallyDrop::into_inner(std::mem::replace(
                &mut *slot,
                ManuallyDrop::new(None),
            )));
        }
        let harness = slot.get_or_insert_with(build);
        harness.uses += 1;
        let request = TestRequest::post()
            .uri(&harness.path)
            .insert_header((header::AUTHORIZATION, harness.bearer.clone()))
            .insert_header((header::CONTENT_TYPE, content_type))
            .set_payload(body.to_vec())
            .to_request();
        let (status, answer) = harness.runner.block_on((harness.call)(request));
        assert!(
            !status.is_server_error(),
            "{status} for an upload: {}",
            String::from_utf8_lossy(&answer)
        );
        Some(status)
    })
}
