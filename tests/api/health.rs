//! Liveness, readiness and the prototype's health answer.

use std::sync::Arc;

use async_trait::async_trait;
use flashforge::Hooks;
use flashforge_domain::health::HealthCheck;

use crate::helpers::{Backend, array_of, spawn_app, spawn_app_with, text_of};

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
            ["ocr", "vector_index"],
            "the in-memory index is the only required dependency"
        );
    } else {
        assert_eq!(names, ["database", "ocr", "vector_index"]);
    }
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
    for check in checks.iter().filter(|c| c["name"] != "ocr") {
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
    the_prototype_health_route_keeps_its_shape,
);
