//! Every failure answers in the RFC 9457 problem format, with the request id.

use actix_web::web;
use flashforge::Hooks;
use serde_json::json;

use crate::helpers::{Backend, array_of, problem, spawn_app, spawn_app_with, text_of};

async fn unknown_route_answers_404_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = problem(app.get("/api/v1/no-such-thing").await, 404).await;
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["instance"], "/api/v1/no-such-thing");
    assert_eq!(body["type"], "urn:flashforge:problem:not_found");
}

async fn wrong_method_answers_405_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .delete(app.url("/api/v1/auth/register"))
        .send()
        .await
        .unwrap();
    let body = problem(response, 405).await;
    assert_eq!(body["code"], "method_not_allowed");
    let response = app
        .client
        .put(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    problem(response, 405).await;
}

async fn malformed_json_answers_400_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(r#"{"username": "ada", "password": "#)
        .send()
        .await
        .unwrap();
    let body = problem(response, 400).await;
    assert_eq!(body["code"], "malformed_json");
}

async fn failed_validation_answers_422_with_one_entry_per_bad_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "a b", "password": "short", "email": "nope"}),
        )
        .await;
    let body = problem(response, 422).await;
    assert_eq!(body["code"], "validation_failed");
    let mut fields: Vec<&str> = array_of(&body, "errors")
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
            text_of(e, "field")
        })
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["email", "password", "username"]);
}

async fn a_missing_field_is_a_422_naming_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_json("/api/v1/auth/register", &json!({"username": "ada.l"}))
        .await;
    let body = problem(response, 422).await;
    assert_eq!(body["errors"][0]["field"], "password");
}

async fn an_oversized_body_answers_413_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "ada", "password": huge}),
        )
        .await;
    let body = problem(response, 413).await;
    assert_eq!(body["code"], "payload_too_large");
}

async fn an_unsupported_media_type_answers_415_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "text/plain")
        .body(r#"{"username":"ada","password":"correct horse battery"}"#)
        .send()
        .await
        .unwrap();
    let body = problem(response, 415).await;
    assert_eq!(body["code"], "unsupported_media_type");
}

fn panicking_route(cfg: &mut web::ServiceConfig) {
    async fn explode() -> &'static str {
        panic!("internal detail: db password is hunter2");
    }
    cfg.route("/__test/panic", web::get().to(explode));
}

async fn a_panicking_handler_answers_500_problem_without_internals(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Hooks {
            extra_routes: panicking_route,
            ..Hooks::default()
        },
    )
    .await;
    let response = app.get("/__test/panic").await;
    let body = problem(response, 500).await;
    assert_eq!(body["code"], "internal_error");
    assert!(!body.to_string().contains("hunter2"));
    // The worker survived: the next request is served normally.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

async fn a_request_id_is_echoed_when_sane_and_generated_otherwise(backend: Backend) {
    let app = spawn_app(backend).await;
    let echoed = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "client-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-abc.123");

    let replaced = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "evil\"<script>")
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

/// An id in a path that is not a UUID names nothing: 404 in the problem format, on every
/// operation of the OpenAPI document that takes one, for the owner of a real account.
async fn a_path_id_that_is_not_a_uuid_answers_404_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.signed_up("typo.maker").await;
    let mut checked = 0;
    for operation in app.operations().await {
        if !operation.path.contains('{') {
            continue;
        }
        let path = operation.path_with(|| "not-a-uuid".to_string());
        let response = operation
            .request(&app, &path)
            .bearer_auth(&me.access)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            404,
            "{} {}",
            operation.method,
            operation.path
        );
        problem(response, 404).await;
        checked += 1;
    }
    assert!(checked >= 20, "{checked} operations checked");
}

on_every_backend!(
    unknown_route_answers_404_problem,
    a_path_id_that_is_not_a_uuid_answers_404_problem,
    wrong_method_answers_405_problem,
    malformed_json_answers_400_problem,
    failed_validation_answers_422_with_one_entry_per_bad_field,
    a_missing_field_is_a_422_naming_it,
    an_oversized_body_answers_413_problem,
    an_unsupported_media_type_answers_415_problem,
    a_panicking_handler_answers_500_problem_without_internals,
    a_request_id_is_echoed_when_sane_and_generated_otherwise,
);
