//! Rate limits through HTTP: login back-off per account and per IP, registrations per IP,
//! request budgets, trusted proxies, and limits shared through the real Redis.

use std::time::Duration;

use flashforge::Hooks;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, array_of, items_of, problem, spawn_app_configured};

const LOW_LOGIN_THRESHOLD: &[(&str, &str)] = &[
    ("FLASHFORGE__RATE_LIMIT__LOGIN_FAILURES_BEFORE_BACKOFF", "3"),
    ("FLASHFORGE__RATE_LIMIT__LOGIN_BACKOFF_BASE_SECS", "30"),
];

async fn failed_logins_back_off_with_429_and_retry_after(backend: Backend) {
    let app = spawn_app_configured(backend, Hooks::default(), LOW_LOGIN_THRESHOLD).await;
    app.signed_up("guarded").await;
    for _ in 0..3 {
        problem(app.login("guarded", "wrong password attempt").await, 401).await;
    }
    // Now blocked, even with the right password.
    let blocked = app.login("guarded", PASSWORD).await;
    let retry_after: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    assert_eq!(problem(blocked, 429).await["code"], "rate_limited");
}

/// A stolen access token does not buy unlimited password guesses: wrong current passwords on
/// the password change and the account deletion count as failed logins of that account.
async fn wrong_current_passwords_count_as_failed_logins(backend: Backend) {
    let app = spawn_app_configured(backend, Hooks::default(), LOW_LOGIN_THRESHOLD).await;
    let tokens = app.signed_up("guessed").await;
    let change = |current: &'static str| {
        app.authed(Method::POST, "/api/v1/me/password", &tokens.access)
            .json(
                &json!({"current_password": current, "new_password": "a brand new passphrase 77"}),
            )
            .send()
    };
    let delete = |current: &'static str| {
        app.authed(Method::DELETE, "/api/v1/me", &tokens.access)
            .json(&json!({"password": current}))
            .send()
    };
    problem(change("first wrong guess").await.unwrap(), 422).await;
    problem(delete("second wrong guess").await.unwrap(), 422).await;
    problem(change("third wrong guess").await.unwrap(), 422).await;
    // Blocked now, on every way in, even with the right password.
    for blocked in [
        change(PASSWORD).await.unwrap(),
        delete(PASSWORD).await.unwrap(),
        app.login("guessed", PASSWORD).await,
    ] {
        assert!(blocked.headers().contains_key("retry-after"));
        assert_eq!(problem(blocked, 429).await["code"], "rate_limited");
    }
    // Nothing was changed or deleted.
    assert_eq!(
        app.authed(Method::GET, "/api/v1/me", &tokens.access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

/// Failures back off per account *and* address together: failures at one account from many
/// addresses lock nobody out, failures from one address hold that address back at that account
/// only (tests/api/abuse.rs has the slow-downs and the races).
async fn the_backoff_is_per_account_and_address(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[
            ("FLASHFORGE__RATE_LIMIT__LOGIN_FAILURES_BEFORE_BACKOFF", "3"),
            ("FLASHFORGE__RATE_LIMIT__LOGIN_BACKOFF_BASE_SECS", "30"),
            ("FLASHFORGE__SERVER__TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    )
    .await;
    app.signed_up("alpha").await;
    app.signed_up("beta").await;
    let login_from = |ip: &'static str, user: &'static str, password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": user, "password": password}))
            .send()
    };
    // Three failures on alpha from three addresses: nobody is blocked, the owner logs in.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        problem(
            login_from(ip, "alpha", "wrong password attempt")
                .await
                .unwrap(),
            401,
        )
        .await;
    }
    assert_eq!(
        login_from("198.51.100.9", "alpha", PASSWORD)
            .await
            .unwrap()
            .status(),
        200
    );
    // Three failures on alpha from one address: that address is held back at alpha, even with
    // the right password; beta from there, and alpha from elsewhere, are not.
    for _ in 0..3 {
        problem(
            login_from("203.0.113.5", "alpha", "wrong password attempt")
                .await
                .unwrap(),
            401,
        )
        .await;
    }
    let held = login_from("203.0.113.5", "alpha", PASSWORD).await.unwrap();
    assert!(held.headers().contains_key("retry-after"));
    problem(held, 429).await;
    assert_eq!(
        login_from("203.0.113.5", "beta", PASSWORD)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        login_from("203.0.113.6", "alpha", PASSWORD)
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn registrations_per_ip_are_limited(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[("FLASHFORGE__RATE_LIMIT__REGISTRATIONS_PER_IP_PER_HOUR", "2")],
    )
    .await;
    assert_eq!(app.register("first.one", PASSWORD).await.status(), 201);
    assert_eq!(app.register("second.one", PASSWORD).await.status(), 201);
    let third = app.register("third.one", PASSWORD).await;
    assert!(third.headers().contains_key("retry-after"));
    problem(third, 429).await;
}

async fn forwarded_for_counts_only_behind_a_trusted_proxy(backend: Backend) {
    let overrides = [("FLASHFORGE__RATE_LIMIT__REGISTRATIONS_PER_IP_PER_HOUR", "1")];
    // Untrusted peer: X-Forwarded-For is ignored, so both requests count against 127.0.0.1.
    let app = spawn_app_configured(backend, Hooks::default(), &overrides).await;
    let register_as = |app: &crate::helpers::TestApp, ip: &str, name: &str| {
        app.client
            .post(app.url("/api/v1/auth/register"))
            .header("x-forwarded-for", ip)
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
    };
    assert_eq!(
        register_as(&app, "198.51.100.1", "spoof.a")
            .await
            .unwrap()
            .status(),
        201
    );
    problem(
        register_as(&app, "198.51.100.2", "spoof.b").await.unwrap(),
        429,
    )
    .await;

    // Trusted proxy: each forwarded client has its own budget.
    let mut with_proxy = overrides.to_vec();
    with_proxy.push(("FLASHFORGE__SERVER__TRUSTED_PROXIES", "127.0.0.1/32"));
    let app = spawn_app_configured(backend, Hooks::default(), &with_proxy).await;
    assert_eq!(
        register_as(&app, "198.51.100.1", "proxied.a")
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        register_as(&app, "198.51.100.2", "proxied.b")
            .await
            .unwrap()
            .status(),
        201
    );
    problem(
        register_as(&app, "198.51.100.2", "proxied.c")
            .await
            .unwrap(),
        429,
    )
    .await;
}

async fn request_budgets_apply_per_ip_and_per_user(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[("FLASHFORGE__RATE_LIMIT__READS_PER_MINUTE", "5")],
    )
    .await;
    let tokens = app.signed_up("reader").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            app.authed(Method::GET, "/api/v1/me", &tokens.access)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses[..5], [200; 5]);
    assert_eq!(statuses[5], 429);
    // Probes are never metered.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

/// Writes have their own budget: spent, a write is 429 while reads go on.
async fn the_write_budget_is_separate_from_the_read_budget(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[("FLASHFORGE__RATE_LIMIT__WRITES_PER_MINUTE", "4")],
    )
    .await;
    // The registration is the address's write; the chats are the user's.
    let tokens = app.signed_up("writer").await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(
            app.authed(Method::POST, "/api/v1/chats", &tokens.access)
                .json(&json!({"name": format!("chat {i}")}))
                .send()
                .await
                .unwrap(),
        );
    }
    let last = statuses.pop().unwrap();
    assert!(statuses.iter().all(|r| r.status() == 201));
    assert!(last.headers().contains_key("retry-after"));
    assert_eq!(problem(last, 429).await["code"], "rate_limited");
    let chats = app.get_json("/api/v1/chats", &tokens.access).await;
    assert_eq!(items_of(&chats).len(), 4, "the refused write did nothing");
}

on_every_backend!(
    failed_logins_back_off_with_429_and_retry_after,
    wrong_current_passwords_count_as_failed_logins,
    the_backoff_is_per_account_and_address,
    registrations_per_ip_are_limited,
    forwarded_for_counts_only_behind_a_trusted_proxy,
    request_budgets_apply_per_ip_and_per_user,
    the_write_budget_is_separate_from_the_read_budget,
);

/// Two API instances configured with the same Redis share one login back-off.
#[tokio::test]
async fn two_instances_share_limits_through_redis() {
    let Some(redis_url) = crate::helpers::redis_or_skip().await else {
        return;
    };
    let prefix = format!("ff:test:{}:", uuid::Uuid::now_v7().simple());
    let overrides = [
        ("FLASHFORGE__RATE_LIMIT__REDIS_URL", redis_url.as_str()),
        ("FLASHFORGE__RATE_LIMIT__KEY_PREFIX", prefix.as_str()),
        ("FLASHFORGE__RATE_LIMIT__LOGIN_FAILURES_BEFORE_BACKOFF", "2"),
        ("FLASHFORGE__RATE_LIMIT__LOGIN_BACKOFF_BASE_SECS", "30"),
    ];
    let a = spawn_app_configured(Backend::Memory, Hooks::default(), &overrides).await;
    let b = spawn_app_configured(Backend::Memory, Hooks::default(), &overrides).await;
    // Redis shows up in readiness, as optional.
    let ready: serde_json::Value = a.get("/health/ready").await.json().await.unwrap();
    let redis = array_of(&ready, "checks")
        .iter()
        .find(|c| c["name"] == "redis")
        .expect("redis is checked");
    assert_eq!(redis["status"], "up");
    assert_eq!(redis["required"], false);

    problem(a.login("shared.user", "wrong password attempt").await, 401).await;
    problem(b.login("shared.user", "wrong password attempt").await, 401).await;
    // The third attempt, on either instance, is blocked by the other's count.
    let blocked = a.login("shared.user", "wrong password attempt").await;
    problem(blocked, 429).await;
    let blocked = b.login("shared.user", "wrong password attempt").await;
    problem(blocked, 429).await;
    tokio::time::sleep(Duration::from_millis(10)).await;
}
