//! Liveness, readiness and the prototype's health answer.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flashforge::Hooks;
use flashforge_domain::health::{HealthCheck, READINESS_FRESH_FOR};

use crate::helpers::{
    Backend, TestApp, array_of, spawn_app, spawn_app_configured, spawn_app_with, text_of,
};

async fn live_answers_alive(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/health/live").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "alive");
}

async fn ready_reports_each_dependency_with_its_latency(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    let checks = array_of(&body, "checks");
    let names: Vec<&str> = checks.iter().map(|c| text_of(c, "name")).collect();
    if backend == Backend::Memory {
        assert_eq!(
            names,
            ["ocr", "vector_index", "language_model"],
            "the in-memory index is the only required dependency"
        );
    } else {
        assert_eq!(
            names,
            [
                "database",
                "blob_store",
                "ocr",
                "vector_index",
                "language_model"
            ]
        );
    }
    // The offline assistant runs in this process: up, and optional like any model provider.
    let model = checks
        .iter()
        .find(|c| c["name"] == "language_model")
        .unwrap();
    assert_eq!(model["status"], "up", "{model}");
    assert_eq!(model["required"], false);
    // OCR is optional: up where Tesseract is installed (CI), down elsewhere, ready either way.
    let ocr = checks.iter().find(|c| c["name"] == "ocr").unwrap();
    assert_eq!(ocr["required"], false);
    let installed = std::path::Path::new("/usr/bin/tesseract").exists()
        && std::path::Path::new("/usr/bin/pdftoppm").exists();
    assert_eq!(
        ocr["status"],
        if installed { "up" } else { "down" },
        "{ocr}"
    );
    for check in checks
        .iter()
        .filter(|c| c["name"] != "ocr" && c["name"] != "language_model")
    {
        assert_eq!(check["status"], "up");
        assert_eq!(check["required"], true);
        assert!(check["latency_ms"].as_f64().unwrap() >= 0.0);
    }
}

struct Down;

#[async_trait]
impl HealthCheck for Down {
    fn name(&self) -> &str {
        "model_server"
    }
    async fn check(&self) -> Result<(), String> {
        Err("connection refused".into())
    }
}

async fn ready_answers_503_when_a_required_dependency_is_down(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Hooks {
            extra_health_checks: vec![Arc::new(Down)],
            ..Hooks::default()
        },
    )
    .await;
    let response = app.get("/health/ready").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unready");
    let down = array_of(&body, "checks")
        .iter()
        .find(|c| c["name"] == "model_server")
        .expect("the failing dependency is listed");
    assert_eq!(down["status"], "down");
    // Causes stay in the log.
    assert!(!body.to_string().contains("connection refused"));
    // Liveness does not depend on dependencies.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

/// The check named `name` in a readiness answer, and the answer's status code.
async fn readiness(app: &TestApp, name: &str) -> (u16, serde_json::Value) {
    let response = app.get("/health/ready").await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    let check = array_of(&body, "checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .clone();
    (status, check)
}

/// Waits out the time a readiness answer is reused for.
async fn next_readiness_check() {
    tokio::time::sleep(READINESS_FRESH_FOR + Duration::from_millis(100)).await;
}

async fn a_blob_folder_that_takes_no_files_makes_the_app_unready(backend: Backend) {
    let app = spawn_app(backend).await;
    let Some(dir) = app.storage().files_dir().map(|d| d.join("blobs")) else {
        return; // Memory keeps its blobs in memory: nothing to check.
    };
    let (status, check) = readiness(&app, "blob_store").await;
    assert_eq!((status, &check["status"]), (200, &"up".into()), "{check}");
    assert_eq!(check["required"], true);
    // No probe is left behind.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);

    // The folder gone, a file in its place: no upload could be stored.
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a folder").unwrap();
    next_readiness_check().await;
    let (status, check) = readiness(&app, "blob_store").await;
    assert_eq!((status, &check["status"]), (503, &"down".into()), "{check}");

    std::fs::remove_file(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    next_readiness_check().await;
    let (status, check) = readiness(&app, "blob_store").await;
    assert_eq!((status, &check["status"]), (200, &"up".into()), "{check}");
}

/// The app with the OpenAI-compatible provider at `base`.
async fn app_with_provider(backend: Backend, base: &str) -> TestApp {
    spawn_app_configured(
        backend,
        Hooks::default(),
        &[
            ("FLASHFORGE__LLM__PROVIDER", "openai"),
            ("FLASHFORGE__LLM__BASE_URL", base),
            ("FLASHFORGE__LLM__MAX_RETRIES", "0"),
        ],
    )
    .await
}

async fn the_model_provider_is_reported_and_never_required(backend: Backend) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // A provider that answers its model list: up.
    let provider = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "object": "list",
            "data": [{"id": "gpt-4o-mini", "object": "model"}]
        })))
        .mount(&provider)
        .await;
    let app = app_with_provider(backend, &format!("{}/v1", provider.uri())).await;
    let (status, check) = readiness(&app, "language_model").await;
    assert_eq!((status, &check["status"]), (200, &"up".into()), "{check}");
    assert_eq!(check["required"], false);
    // Each check asks again: the answer is not cached like the model list.
    let asked = provider.received_requests().await.unwrap().len();
    next_readiness_check().await;
    readiness(&app, "language_model").await;
    let asked_again = provider.received_requests().await.unwrap().len();
    assert_eq!(asked_again, asked + 1);

    // One nobody listens for: down, and the app stays ready.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app_with_provider(backend, &format!("http://127.0.0.1:{port}/v1")).await;
    let (status, check) = readiness(&app, "language_model").await;
    assert_eq!(status, 200, "the model is optional: {check}");
    assert_eq!(check["status"], "down", "{check}");
    assert_eq!(check["required"], false);
}

async fn the_prototype_health_route_keeps_its_shape(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    let timestamp = text_of(&body, "timestamp");
    assert!(chrono::DateTime::parse_from_rfc3339(timestamp).is_ok());
}

on_every_backend!(
    live_answers_alive,
    ready_reports_each_dependency_with_its_latency,
    ready_answers_503_when_a_required_dependency_is_down,
    a_blob_folder_that_takes_no_files_makes_the_app_unready,
    the_model_provider_is_reported_and_never_required,
    the_prototype_health_route_keeps_its_shape,
);

/// The app on SQLite with its blobs in `bucket`.
async fn app_on(bucket: &flashforge_tests::s3::S3Bucket) -> TestApp {
    let settings = bucket.settings();
    let overrides: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_configured(Backend::Sqlite, Hooks::default(), &overrides).await
}

/// With blobs in S3, readiness asks the bucket: one that does not exist makes the app unready
/// (uploads would fail), the same app on a bucket that exists is ready.
#[tokio::test]
async fn a_missing_bucket_turns_readiness_to_503() {
    let Some(missing) = flashforge_tests::s3::missing_bucket_or_skip().await else {
        return;
    };
    let app = app_on(&missing).await;
    let (status, check) = readiness(&app, "blob_store").await;
    assert_eq!((status, &check["status"]), (503, &"down".into()), "{check}");
    assert_eq!(check["required"], true);

    let Some(bucket) = flashforge_tests::s3::new_bucket_or_skip().await else {
        return;
    };
    let app = app_on(&bucket).await;
    let (status, check) = readiness(&app, "blob_store").await;
    assert_eq!((status, &check["status"]), (200, &"up".into()), "{check}");
}
