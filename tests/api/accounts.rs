//! Registration through HTTP.

use serde_json::json;

use crate::helpers::{Backend, problem, spawn_app};

const PASSWORD: &str = "correct horse battery staple";

async fn registering_creates_an_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_json(
            "/api/v1/auth/register",
            &json!({"username": "ada.lovelace", "password": PASSWORD, "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let id = uuid::Uuid::parse_str(body["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7, "ids are UUIDv7");
    assert_eq!(body["username"], "ada.lovelace");
    assert_eq!(body["email"], "ada@example.com");
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
    assert!(chrono::DateTime::parse_from_rfc3339(body["created_at"].as_str().unwrap()).is_ok());
}

async fn a_taken_username_in_any_case_answers_409(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.register("Grace", PASSWORD).await.status(), 201);
    let body = problem(app.register("gRACE", PASSWORD).await, 409).await;
    assert_eq!(body["code"], "username_taken");
}

async fn usernames_are_nfkc_normalized(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.register("ｈｏｐｐｅｒ", PASSWORD).await;
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["username"], "hopper");
    // The ASCII spelling is the same account.
    problem(app.register("Hopper", PASSWORD).await, 409).await;
}

on_every_backend!(
    registering_creates_an_account,
    a_taken_username_in_any_case_answers_409,
    usernames_are_nfkc_normalized,
);
