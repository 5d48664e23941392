//! What only the end-to-end tests use: `spawn_app()` (a [`TestApp`] on a backend's throwaway
//! storage), the captured log, the macro that runs a test on every backend, and helpers that
//! read answers. The shared test kit (`flashforge_tests`: databases, settings, clients) is
//! re-exported here.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use flashforge::settings::{LogFormat, LogSettings};
use flashforge::startup::Hooks;
use flashforge::telemetry;
use flashforge_tests::server::Running;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use flashforge_tests::client::{Api, client, problem};
pub use flashforge_tests::database::{
    Backend, Storage, TestDatabase, local_files, migrated_database, postgres_or_skip, redis_or_skip,
};
pub use flashforge_tests::settings::{PASSWORD, TEST_JWT_SECRET, test_settings};

/// A session's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_body(body: &Value) -> Self {
        Self {
            access: text_of(body, "access_token").to_string(),
            refresh: text_of(body, "refresh_token").to_string(),
        }
    }
}

/// Writes each listed `async fn name(backend: Backend)` as three tests, `memory::name`,
/// `sqlite::name` and `postgres::name`.
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Memory).await;
                }
            )+
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if $crate::helpers::postgres_or_skip().await {
                        super::$name($crate::helpers::Backend::Postgres).await;
                    }
                }
            )+
        }
    };
}

/// [`on_every_backend!`], plus `s3::name`: the test once more on SQLite with the uploaded files
/// in a new bucket of the tests' S3 server (skipped without one, unless `FLASHFORGE_REQUIRE_S3=1`).
#[macro_export]
macro_rules! on_every_backend_and_s3 {
    ($($name:ident),+ $(,)?) => {
        on_every_backend!($($name),+);
        mod s3 {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(bucket) = flashforge_tests::s3::new_bucket_or_skip().await {
                        $crate::helpers::BLOBS_IN_S3
                            .scope(bucket, super::$name($crate::helpers::Backend::Sqlite))
                            .await;
                    }
                }
            )+
        }
    };
}

tokio::task_local! {
    /// Set by [`on_every_backend_and_s3!`]: the apps this test starts keep their blobs in this
    /// bucket.
    pub static BLOBS_IN_S3: flashforge_tests::s3::S3Bucket;
}

// ---------------------------------------------------------------------------------------------
// Logs

/// Every log line of this test process, as JSON, at trace level for every target.
#[derive(Clone, Default)]
pub struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock()).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = std::io::stdout().write_all(buf);
        }
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process-wide log capture, installed on first use.
pub fn captured_log() -> CapturedLog {
    static LOG: OnceLock<CapturedLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = CapturedLog::default();
        let writer = log.clone();
        let settings = LogSettings {
            level: "trace".to_string(),
            format: LogFormat::Json,
            otlp_endpoint: None,
            otlp_service_name: "flashforge".to_string(),
        };
        let subscriber = telemetry::subscriber(&settings, move || writer.clone());
        let _ = tracing::subscriber::set_global_default(subscriber);
        log
    })
    .clone()
}

// ---------------------------------------------------------------------------------------------
// The app

/// A running FlashForge on a free port, with its own storage.
pub struct TestApp {
    pub address: String,
    /// The HTTP→HTTPS redirect listener's port, when TLS is on and one is configured.
    pub redirect_port: Option<u16>,
    /// The metrics listener's port, when `metrics.bind` is set.
    pub metrics_port: Option<u16>,
    pub client: reqwest::Client,
    server: Running,
    storage: Storage,
}

impl TestApp {
    /// Where this app keeps its data, to look behind the API.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/register",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// The kit's API client for this app.
    pub fn api(&self) -> Api {
        Api::at(self.client.clone(), &self.address)
    }

    /// Registers `username` and returns its access and refresh tokens.
    pub async fn signed_up(&self, username: &str) -> Tokens {
        Tokens::from_body(&self.api().register(username).await)
    }

    /// Logs `username` in (with [`PASSWORD`]) and returns the new session's tokens.
    pub async fn logged_in(&self, username: &str) -> Tokens {
        Tokens::from_body(&self.api().session(username).await)
    }

    /// `GET path` with the bearer token, as JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        self.authed(reqwest::Method::GET, path, token)
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON body")
    }

    /// A new chat of the token's user; its id.
    pub async fn create_chat(&self, token: &str, name: &str) -> String {
        self.api().chat(token, name).await
    }

    /// A new card in `chat` made of `body`, which must answer 201; the card.
    pub async fn create_card(&self, token: &str, chat: &str, body: Value) -> Value {
        let response = self
            .authed(
                reqwest::Method::POST,
                &format!("/api/v1/chats/{chat}/flashcards"),
                token,
            )
            .json(&body)
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 201);
        body_of(response).await
    }

    /// A request with the bearer token.
    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.signal_stop();
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Hooks::default()).await
}

/// Starts the app on `backend` with test `hooks` (extra routes, extra readiness checks).
pub async fn spawn_app_with(backend: Backend, hooks: Hooks) -> TestApp {
    spawn_app_configured(backend, hooks, &[]).await
}

/// Starts the app on `backend` with `hooks` and configuration `overrides` (as
/// `FLASHFORGE__…` variables).
pub async fn spawn_app_configured(
    backend: Backend,
    hooks: Hooks,
    overrides: &[(&str, &str)],
) -> TestApp {
    captured_log();
    let (storage, url) = Storage::create(backend).await;
    // The real backends run on the real adapters: the embedded Qdrant engine and blobs in a
    // folder. Memory keeps the in-memory index and blobs of config/test.toml.
    let mut all: Vec<(&str, String)> = storage.files_dir().map(local_files).unwrap_or_default();
    if let Ok(bucket) = BLOBS_IN_S3.try_with(|bucket| bucket.settings()) {
        all.extend(bucket);
    }
    all.extend(overrides.iter().map(|(k, v)| (*k, v.to_string())));
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Running::start(test_settings(&url, &all), hooks).await;
    TestApp {
        address: server.address.clone(),
        redirect_port: server.redirect_port,
        metrics_port: server.metrics_port,
        client: client(None),
        server,
        storage,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading answers

/// The `id` of the resource an answer describes (a card, a chat, a document…).
pub fn id_of(doc: &Value) -> &str {
    text_of(doc, "id")
}

/// The string at `doc[field]`; a test failure when it is missing or not a string.
pub fn text_of<'a>(doc: &'a Value, field: &str) -> &'a str {
    doc[field]
        .as_str()
        .unwrap_or_else(|| panic!("`{field}` is not a string in {doc}"))
}

/// The array at `doc[field]`; a test failure when it is missing or not an array.
pub fn array_of<'a>(doc: &'a Value, field: &str) -> &'a [Value] {
    doc[field]
        .as_array()
        .unwrap_or_else(|| panic!("`{field}` is not an array in {doc}"))
}

/// The `items` of a page.
pub fn items_of(page: &Value) -> &[Value] {
    array_of(page, "items")
}

/// The fields a 422 problem's `errors` name, in order.
pub fn fields_of(problem: &Value) -> Vec<String> {
    array_of(problem, "errors")
        .iter()
        .map(|e| text_of(e, "field").to_string())
        .collect()
}

/// A response's JSON body as `T`.
pub async fn body_of<T: DeserializeOwned>(response: reqwest::Response) -> T {
    response.json().await.expect("JSON body")
}

/// Every item of `path` (a list with `?limit=&cursor=`), following `next_cursor` page by page.
pub async fn every_page(app: &TestApp, token: &str, path: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let separator = if path.contains('?') { '&' } else { '?' };
    loop {
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get_json(&url, token).await;
        let got = items_of(&page);
        assert!(got.len() <= limit as usize, "{url}: {} items", got.len());
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
        assert!(items.len() < 1000, "{path} does not end");
    }
}

/// One operation of the OpenAPI document the app serves.
pub struct Operation {
    pub method: reqwest::Method,
    /// As documented, with `{parameters}`.
    pub path: String,
    pub spec: Value,
}

impl Operation {
    /// Whether the operation needs a bearer token.
    pub fn protected(&self) -> bool {
        self.spec["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()))
    }

    /// The path with each `{parameter}` replaced by `id()`.
    pub fn path_with(&self, mut id: impl FnMut() -> String) -> String {
        self.path
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    id()
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// A request to `path` with this operation's method, `{}` as the body where one is expected.
    pub fn request(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        let request = app.client.request(self.method.clone(), app.url(path));
        if self.spec.get("requestBody").is_some() {
            request.json(&serde_json::json!({}))
        } else {
            request
        }
    }
}

impl TestApp {
    /// Every operation of `/api/v1/openapi.json`.
    pub async fn operations(&self) -> Vec<Operation> {
        let doc: Value = self.get("/api/v1/openapi.json").await.json().await.unwrap();
        let mut all = Vec::new();
        for (path, operations) in doc["paths"].as_object().unwrap() {
            for (method, spec) in operations.as_object().unwrap() {
                all.push(Operation {
                    method: reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    path: path.clone(),
                    spec: spec.clone(),
                });
            }
        }
        all
    }
}
