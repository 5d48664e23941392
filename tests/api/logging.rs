//! Passwords, tokens and secrets never reach the log, at any level.

use crate::helpers::{Backend, TEST_JWT_SECRET, captured_log, spawn_app};

async fn secrets_never_reach_the_log(backend: Backend) {
    let log = captured_log();
    let app = spawn_app(backend).await;
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let password = format!("pw-{unique}-never-logged");
    let token = format!("tok-{unique}-never-logged");

    let created = app
        .register(&format!("u{}", &unique[20..]), &password)
        .await;
    assert_eq!(created.status(), 201);
    // A duplicate and a malformed body carry the password too.
    let duplicate = app
        .register(&format!("u{}", &unique[20..]), &password)
        .await;
    assert_eq!(duplicate.status(), 409);
    let malformed = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body(format!(r#"{{"username":"x","password":"{password}""#))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    // Tokens in the places clients put them.
    let probe = app
        .client
        .get(app.url(&format!("/health/live?access_token={token}")))
        .header("authorization", format!("Bearer {token}"))
        .header("cookie", format!("session={token}"))
        .send()
        .await
        .unwrap();
    let request_id = probe.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    let contents = log.contents();
    // The capture works: the probe's access line is there.
    assert!(
        contents.contains(&request_id),
        "the access log line of the probe is captured"
    );
    assert!(!contents.contains(&password), "a password reached the log");
    assert!(!contents.contains(&token), "a token reached the log");
    assert!(
        !contents.contains(TEST_JWT_SECRET),
        "the JWT secret reached the log"
    );
    assert!(
        !contents.contains("$argon2id$"),
        "a password hash reached the log"
    );
}

on_every_backend!(secrets_never_reach_the_log);
