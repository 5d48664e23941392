//! Access tokens that must be refused: each answers 401 with `WWW-Authenticate: Bearer`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use flashforge_auth::{JwtKey, JwtSettings, JwtTokens};
use flashforge_domain::accounts::{AccessClaims, AccessTokens, SessionId, UserId};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, TEST_JWT_SECRET, TestApp, problem, spawn_app, text_of};

fn issuer(secret: &str, audience: &str) -> JwtTokens {
    JwtTokens::new(
        JwtSettings {
            issuer: "flashforge".into(),
            audience: audience.into(),
            lifetime: Duration::from_secs(900),
            leeway: Duration::from_secs(0),
        },
        JwtKey::hs256(secret.as_bytes(), None),
        vec![],
    )
    .unwrap()
}

/// The claims of a real token, so that only the property under test is wrong.
fn claims_of(app_token: &str) -> Value {
    let payload = app_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn claims(body: &Value, issued_offset_secs: i64, ttl_secs: i64) -> AccessClaims {
    let now = Utc::now() + chrono::Duration::seconds(issued_offset_secs);
    AccessClaims {
        user_id: UserId::from_uuid(text_of(body, "sub").parse().unwrap()),
        session_id: SessionId::from_uuid(text_of(body, "sid").parse().unwrap()),
        token_id: uuid::Uuid::now_v7(),
        issued_at: now,
        expires_at: now + chrono::Duration::seconds(ttl_secs),
    }
}

async fn refused(app: &TestApp, token: &str) {
    let response = app
        .authed(Method::GET, "/api/v1/me", token)
        .send()
        .await
        .unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let body = problem(response, 401).await;
    assert_eq!(body["code"], "invalid_token", "{token}");
}

async fn forged_expired_early_and_foreign_tokens_are_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let good = app.signed_up("target").await.access;
    let real = claims_of(&good);
    let ours = issuer(TEST_JWT_SECRET, "flashforge-api");
    // Sanity: a token we mint with the server's key and live claims works, so each refusal
    // below is about the one property changed.
    let minted = ours.issue(&claims(&real, 0, 600)).unwrap();
    assert_eq!(
        app.authed(Method::GET, "/api/v1/me", &minted)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let parts: Vec<&str> = good.split('.').collect();
    // alg: none, unsigned.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    refused(&app, &none).await;
    // Another algorithm with the right secret.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384);
    header.kid = jsonwebtoken::decode_header(&good).unwrap().kid;
    let hs384 = jsonwebtoken::encode(
        &header,
        &real,
        &jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes()),
    )
    .unwrap();
    refused(&app, &hs384).await;
    // A tampered payload under the old signature.
    let mut tampered = real.clone();
    tampered["exp"] = json!(real["exp"].as_i64().unwrap() + 86_400);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered.to_string()),
        parts[2]
    );
    refused(&app, &tampered).await;
    // The wrong key.
    refused(
        &app,
        &issuer("someone-elses-secret-0123456789abcdef", "flashforge-api")
            .issue(&claims(&real, 0, 600))
            .unwrap(),
    )
    .await;
    // Expired, and not yet valid.
    refused(&app, &ours.issue(&claims(&real, -3600, 60)).unwrap()).await;
    refused(&app, &ours.issue(&claims(&real, 3600, 600)).unwrap()).await;
    // Another audience.
    refused(
        &app,
        &issuer(TEST_JWT_SECRET, "another-service")
            .issue(&claims(&real, 0, 600))
            .unwrap(),
    )
    .await;
    // Garbage, and the wrong scheme.
    refused(&app, "not-a-token").await;
    let basic = app
        .client
        .get(app.url("/api/v1/me"))
        .header("authorization", format!("Basic {good}"))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(basic, 401).await["code"], "missing_token");
}

/// Every operation the OpenAPI document marks as needing a bearer token answers 401 without one,
/// before it looks at the path's ids or the body (a plain `{}` is sent where one is expected).
async fn a_request_without_a_token_is_401_with_a_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut checked = Vec::new();
    for operation in app.operations().await.into_iter().filter(|o| o.protected()) {
        // Path parameters become ids nobody owns.
        let path = operation.path_with(|| uuid::Uuid::now_v7().to_string());
        let response = operation.request(&app, &path).send().await.unwrap();
        let name = format!("{} {}", operation.method, operation.path);
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="flashforge""#,
            "{name}"
        );
        assert_eq!(
            problem(response, 401).await["code"],
            "missing_token",
            "{name}"
        );
        checked.push(name);
    }
    // The document lists the routes that need a token: if it stopped doing so, this would check
    // nothing.
    for expected in [
        "GET /api/v1/me",
        "POST /api/v1/auth/logout",
        "GET /api/v1/flashcards/{card_id}",
        "POST /api/v1/chats/{chat_id}/documents",
        "POST /api/v1/chats/{chat_id}/messages",
        "POST /api/v1/me/delete",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} in {checked:?}"
        );
    }
    assert!(checked.len() >= 40, "{} operations checked", checked.len());
}

async fn eddsa_keys_from_files_sign_the_access_tokens(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let private = dir.path().join("jwt-private.pem");
    let public = dir.path().join("jwt-public.pem");
    std::fs::write(&private, pair.serialize_pem()).unwrap();
    std::fs::write(&public, pair.public_key_pem()).unwrap();
    let app = crate::helpers::spawn_app_configured(
        backend,
        flashforge::Hooks::default(),
        &[
            ("FLASHFORGE__AUTH__JWT_ALGORITHM", "EdDSA"),
            (
                "FLASHFORGE__AUTH__JWT_PRIVATE_KEY_FILE",
                &private.display().to_string(),
            ),
            (
                "FLASHFORGE__AUTH__JWT_PUBLIC_KEY_FILE",
                &public.display().to_string(),
            ),
            ("FLASHFORGE__AUTH__JWT_KEY_ID", "ed-2026-11"),
        ],
    )
    .await;
    let tokens = app.signed_up("edwards").await;
    let header = jsonwebtoken::decode_header(&tokens.access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some("ed-2026-11"));
    let me = app
        .authed(Method::GET, "/api/v1/me", &tokens.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // An HS256 token signed with the (unused here) test secret is refused: the algorithm is pinned.
    let real = claims_of(&tokens.access);
    let hs = issuer(TEST_JWT_SECRET, "flashforge-api")
        .issue(&claims(&real, 0, 600))
        .unwrap();
    refused(&app, &hs).await;
}

on_every_backend!(
    eddsa_keys_from_files_sign_the_access_tokens,
    forged_expired_early_and_foreign_tokens_are_401,
    a_request_without_a_token_is_401_with_a_challenge,
);
