//! `spawn_app()`, test databases, the captured log, and the macro that runs a test on every
//! backend.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use flashforge::settings::{Environment, LogFormat, LogSettings, Settings};
use flashforge::startup::{Application, Hooks};
use flashforge::telemetry;
use flashforge_sql::DatabaseConnection;
use parking_lot::Mutex;
use sea_orm_shim::{ConnectionTrait, Database};
use tokio::sync::OnceCell;

/// sea-orm through the sql adapter crate, so the harness needs no extra dependency.
mod sea_orm_shim {
    pub use flashforge_sql::sea_orm::{ConnectionTrait, Database};
}

/// The JWT secret of every test process; the log test proves it never reaches the log.
pub const TEST_JWT_SECRET: &str = "t3st-Only_9fQ2xLmZ8rVb4Nw7Kc1Hd6Jp0Sg5Ye";

/// The password every test account uses: long, and not guessable by zxcvbn.
pub const PASSWORD: &str = "correct horse battery staple";

/// A session's tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
}

impl Tokens {
    pub fn from_body(body: &serde_json::Value) -> Self {
        Self {
            access: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_string(),
            refresh: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_string(),
        }
    }
}

/// The adapters a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    Sqlite,
    Postgres,
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

// ---------------------------------------------------------------------------------------------
// Postgres

fn admin_url() -> String {
    std::env::var("FLASHFORGE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Whether Postgres cases run. Without a server they are skipped with a notice on stderr
/// (written past the test harness's capture), or fail when `FLASHFORGE_REQUIRE_POSTGRES=1`.
pub async fn postgres_or_skip() -> bool {
    static AVAILABLE: OnceCell<bool> = OnceCell::const_new();
    let available = *AVAILABLE
        .get_or_init(|| async {
            let connect = Database::connect(admin_url());
            matches!(
                tokio::time::timeout(Duration::from_secs(5), connect).await,
                Ok(Ok(_))
            )
        })
        .await;
    if available {
        return true;
    }
    if std::env::var("FLASHFORGE_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        panic!(
            "FLASHFORGE_REQUIRE_POSTGRES=1 but Postgres does not answer at {}",
            admin_url()
        );
    }
    static NOTICE: OnceLock<()> = OnceLock::new();
    NOTICE.get_or_init(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! POSTGRES IS NOT ANSWERING at {}: every postgres::* test is SKIPPED (passes without running). Set FLASHFORGE_REQUIRE_POSTGRES=1 to make this an error. !!!!!!!!\n",
            admin_url()
        );
    });
    false
}

/// The Redis URL for tests that need one, or `None` (with a notice) when it does not answer,
/// unless `FLASHFORGE_REQUIRE_REDIS=1`, which makes that a failure.
pub async fn redis_or_skip() -> Option<String> {
    let url = std::env::var("FLASHFORGE_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_string());
    let store = flashforge_redis::RedisRateLimitStore::connect(
        &url,
        "ff:probe:",
        Duration::from_millis(500),
    )
    .await;
    if store.is_ok() {
        return Some(url);
    }
    if std::env::var("FLASHFORGE_REQUIRE_REDIS").as_deref() == Ok("1") {
        panic!("FLASHFORGE_REQUIRE_REDIS=1 but Redis does not answer at {url}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! REDIS IS NOT ANSWERING at {url}: this Redis test is SKIPPED. Set FLASHFORGE_REQUIRE_REDIS=1 to make this an error. !!!!!!!!\n"
    );
    None
}

/// A uniquely named Postgres database, dropped when the test ends.
pub struct TestDatabase {
    name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!("ff_test_{}", uuid::Uuid::now_v7().simple());
        let admin = Database::connect(admin_url())
            .await
            .expect("connect to Postgres as admin");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let _ = admin.close().await;
        let admin = admin_url();
        let (base, query) = match admin.split_once('?') {
            Some((base, query)) => (base.to_string(), format!("?{query}")),
            None => (admin.clone(), String::new()),
        };
        let (server, _) = base.rsplit_once('/').expect("admin URL names a database");
        let url = format!("{server}/{name}{query}");
        Self { name, url }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop can't await: do it on a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                if let Ok(admin) = Database::connect(admin_url()).await {
                    let _ = admin
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Keeps a test's storage alive (dropping it removes it): a Postgres database or a SQLite
/// folder, each with a folder for the vector index and blobs.
pub enum Storage {
    None,
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase, tempfile::TempDir),
}

impl Storage {
    /// Fresh storage for `backend` and the URL to reach it.
    pub async fn create(backend: Backend) -> (Self, String) {
        match backend {
            Backend::Memory => (Storage::None, "memory://".to_string()),
            Backend::Sqlite => {
                let storage = Storage::Sqlite(tempfile::tempdir().expect("temp dir"));
                let url = storage.database_url().expect("a SQLite file");
                (storage, url)
            }
            Backend::Postgres => {
                let db = TestDatabase::create().await;
                let url = db.url.clone();
                (
                    Storage::Postgres(db, tempfile::tempdir().expect("temp dir")),
                    url,
                )
            }
        }
    }

    /// The database of the real backends.
    pub fn database_url(&self) -> Option<String> {
        match self {
            Storage::None => None,
            Storage::Sqlite(dir) => Some(format!(
                "sqlite://{}/flashforge.db?mode=rwc",
                dir.path().display()
            )),
            Storage::Postgres(db, _) => Some(db.url.clone()),
        }
    }

    /// Where the real backends keep their vector index and blobs.
    pub fn files_dir(&self) -> Option<&std::path::Path> {
        match self {
            Storage::None => None,
            Storage::Sqlite(dir) | Storage::Postgres(_, dir) => Some(dir.path()),
        }
    }
}

/// An open, migrated database for adapter tests, or `None` for the memory backend.
pub async fn migrated_database(backend: Backend) -> (Storage, Option<DatabaseConnection>) {
    let (storage, url) = Storage::create(backend).await;
    if backend == Backend::Memory {
        return (storage, None);
    }
    let db = flashforge_sql::connect(&url, &Default::default())
        .await
        .expect("connect");
    flashforge_sql::migrate(&db, flashforge_sql::Migration::Up)
        .await
        .expect("migrate");
    (storage, Some(db))
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

use std::io::Write;

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

pub fn config_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"))
}

/// The test configuration for `database_url`, with `overrides` as `FLASHFORGE__…` variables.
pub fn test_settings(database_url: &str, overrides: &[(&str, &str)]) -> Settings {
    let mut vars = vec![
        (
            "FLASHFORGE__AUTH__JWT_SECRET".to_string(),
            TEST_JWT_SECRET.to_string(),
        ),
        (
            "FLASHFORGE__DATABASE__URL".to_string(),
            database_url.to_string(),
        ),
        (
            "FLASHFORGE__DATABASE__MAX_CONNECTIONS".to_string(),
            "5".to_string(),
        ),
        ("FLASHFORGE__SERVER__PORT".to_string(), "0".to_string()),
        ("FLASHFORGE__SERVER__WORKERS".to_string(), "1".to_string()),
        (
            "FLASHFORGE__SERVER__SHUTDOWN_TIMEOUT_SECS".to_string(),
            "5".to_string(),
        ),
    ];
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    Settings::load_from(Environment::Test, &config_dir(), vars)
        .expect("test settings are valid")
        .0
}

/// A running FlashForge on a free port, with its own storage.
pub struct TestApp {
    pub address: String,
    /// The HTTP→HTTPS redirect listener's port, when TLS is on and one is configured.
    pub redirect_port: Option<u16>,
    /// The metrics listener's port, when `metrics.bind` is set.
    pub metrics_port: Option<u16>,
    pub client: reqwest::Client,
    handle: ServerHandle,
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

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
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

    /// Registers `username` and returns its access and refresh tokens.
    pub async fn signed_up(&self, username: &str) -> Tokens {
        let response = self.register(username, PASSWORD).await;
        assert_eq!(response.status(), 201, "register {username}");
        Tokens::from_body(&response.json().await.expect("JSON"))
    }

    /// Logs `username` in (with [`PASSWORD`]) and returns the new session's tokens.
    pub async fn logged_in(&self, username: &str) -> Tokens {
        let response = self.login(username, PASSWORD).await;
        assert_eq!(response.status(), 200, "login {username}");
        Tokens::from_body(&response.json().await.expect("JSON"))
    }

    /// `GET path` with the bearer token, as JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> serde_json::Value {
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
        let chat = self
            .authed(reqwest::Method::POST, "/api/v1/chats", token)
            .json(&serde_json::json!({ "name": name }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(chat.status(), 201, "create chat {name}");
        let chat: serde_json::Value = chat.json().await.expect("JSON body");
        chat["id"].as_str().expect("chat id").to_string()
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
        // Sends the stop command at once; the returned future only waits for completion.
        let _stopping = self.handle.stop(false);
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
    let mut all: Vec<(String, String)> = Vec::new();
    if let Some(dir) = storage.files_dir() {
        all.push(("FLASHFORGE__VECTOR__PROVIDER".into(), "embedded".into()));
        all.push((
            "FLASHFORGE__VECTOR__DIR".into(),
            dir.join("index").display().to_string(),
        ));
        all.push(("FLASHFORGE__STORAGE__BLOBS".into(), "local".into()));
        all.push((
            "FLASHFORGE__STORAGE__BLOB_DIR".into(),
            dir.join("blobs").display().to_string(),
        ));
    }
    all.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let settings = test_settings(&url, &all);
    let hooks = Hooks {
        handle_signals: false,
        ..hooks
    };
    let settings_tls = settings.server.tls_enabled();
    let app = Application::build_with(settings, hooks)
        .await
        .expect("the app starts");
    let scheme = if settings_tls { "https" } else { "http" };
    let address = format!("{scheme}://127.0.0.1:{}", app.port());
    let redirect_port = app.redirect_port();
    let metrics_port = app.metrics_port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        redirect_port,
        metrics_port,
        client: client(None),
        handle,
        storage,
    }
}

/// An HTTP client that follows no redirects; with `root`, it trusts that certificate (PEM).
pub fn client(root: Option<&str>) -> reqwest::Client {
    // reqwest is built without a bundled crypto provider; the process uses ring, like the server.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = root {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        for der in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(der.expect("PEM certificate")).expect("root");
        }
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_root_certificates(roots)
            .with_no_client_auth();
        builder = builder.use_preconfigured_tls(tls);
    }
    builder.build().expect("client")
}

/// Reads a problem+json answer, checking the parts every problem has.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("every answer has a request id");
    let body: serde_json::Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["status"], status);
    assert_eq!(body["request_id"], request_id.as_str());
    for field in ["type", "title", "detail", "instance", "code"] {
        assert!(body[field].is_string(), "problem lacks `{field}`: {body}");
    }
    body
}

/// Every item of `path` (a list with `?limit=&cursor=`), following `next_cursor` page by page.
pub async fn every_page(
    app: &TestApp,
    token: &str,
    path: &str,
    limit: u32,
) -> Vec<serde_json::Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let separator = if path.contains('?') { '&' } else { '?' };
    loop {
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get_json(&url, token).await;
        let got = page["items"].as_array().unwrap();
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
    pub spec: serde_json::Value,
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
        let doc: serde_json::Value = self.get("/api/v1/openapi.json").await.json().await.unwrap();
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
