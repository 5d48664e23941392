//! Abuse that costs nothing stops working: nobody can lock an account's owner out, parallel
//! guesses count, neighbours behind one address are not refused for one another, IPv6 clients
//! are limited by their /64, proxies' headers are read whole, revocation is immediate and a
//! retried refresh does not end the session — on every backend that applies.
//!
//! The clients' addresses come from `X-Forwarded-For`, believed from the test client's
//! loopback address (a trusted proxy here).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, problem, spawn_app_configured, text_of};

/// The test client stands in for a proxy: what it says in `X-Forwarded-For` is believed.
const BEHIND_A_PROXY: (&str, &str) = ("FLASHFORGE__SERVER__TRUSTED_PROXIES", "127.0.0.1/32");

async fn app_behind_a_proxy(backend: Backend, more: &[(&str, &str)]) -> TestApp {
    let mut overrides = vec![BEHIND_A_PROXY];
    overrides.extend_from_slice(more);
    spawn_app_configured(backend, Default::default(), &overrides).await
}

/// A login from `address`.
async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("request sent")
}

/// Someone who knows the username fails from address after address; the owner, from an address
/// that has not been failing, logs in with the right password (held back a moment at most).
async fn the_owner_logs_in_while_someone_else_fails_at_their_account(backend: Backend) {
    let app = app_behind_a_proxy(
        backend,
        &[
            // Long back-offs, so that each failing address stays refused through the test.
            ("FLASHFORGE__RATE_LIMIT__LOGIN_BACKOFF_BASE_SECS", "60"),
            (
                "FLASHFORGE__RATE_LIMIT__LOGIN_FAILURES_BEFORE_SLOWDOWN",
                "20",
            ),
            ("FLASHFORGE__RATE_LIMIT__LOGIN_SLOWDOWN_MAX_SECS", "1"),
        ],
    )
    .await;
    app.signed_up("owner").await;
    let mut refused = 0;
    for attacker in 1..=5 {
        let address = format!("198.51.100.{attacker}");
        for _ in 0..6 {
            let status = login_from(&app, &address, "owner", "wrong guess")
                .await
                .status();
            match status.as_u16() {
                401 => {}
                429 => refused += 1,
                other => panic!("{address}: {other}"),
            }
        }
    }
    assert_eq!(
        refused, 5,
        "each failing address backs off after five failures"
    );
    let started = Instant::now();
    let owner = login_from(&app, "203.0.113.10", "owner", PASSWORD).await;
    assert_eq!(owner.status(), 200, "the owner is never locked out");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The failing address itself stays backed off, even with the right password.
    let failing = login_from(&app, "198.51.100.1", "owner", PASSWORD).await;
    let body = problem(failing, 429).await;
    assert_eq!(body["code"], "rate_limited");
}

/// Twenty guesses sent at once from one address: they count as if sent one after another —
/// five are checked, the rest refused — instead of all passing the check together.
async fn parallel_guesses_count_like_sequential_ones(backend: Backend) {
    let app = app_behind_a_proxy(backend, &[]).await;
    app.signed_up("target").await;
    let guesses: Vec<_> = (0..20)
        .map(|n| {
            login_from(
                &app,
                "198.51.100.77",
                "target",
                if n == 19 { PASSWORD } else { "nope-nope" },
            )
        })
        .collect();
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s != 429).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 401, 429].contains(s)),
        "{statuses:?}"
    );
    // The owner elsewhere is not affected.
    assert_eq!(
        login_from(&app, "203.0.113.20", "target", PASSWORD)
            .await
            .status(),
        200
    );
}

/// One person behind a campus NAT sprays a password over many accounts; the address slows down,
/// and a neighbour behind the same address still logs in with their own password.
async fn neighbours_behind_one_address_still_log_in(backend: Backend) {
    let app = app_behind_a_proxy(
        backend,
        &[
            (
                "FLASHFORGE__RATE_LIMIT__LOGIN_FAILURES_BEFORE_SLOWDOWN",
                "10",
            ),
            ("FLASHFORGE__RATE_LIMIT__LOGIN_SLOWDOWN_MAX_SECS", "1"),
        ],
    )
    .await;
    app.signed_up("neighbour").await;
    let campus = "192.0.2.50";
    let mut slowed = Duration::ZERO;
    for n in 0..14 {
        let started = Instant::now();
        let response = login_from(&app, campus, &format!("victim{n}"), "Spring2026!").await;
        assert_eq!(response.status(), 401);
        if n >= 10 {
            slowed += started.elapsed();
        }
    }
    assert!(
        slowed >= Duration::from_secs(3),
        "past ten failures the address is slowed down: {slowed:?} for four attempts"
    );
    let started = Instant::now();
    let neighbour = login_from(&app, campus, "neighbour", PASSWORD).await;
    assert_eq!(neighbour.status(), 200, "slowed down, not refused");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// An IPv6 subscriber holds a whole /64: every per-address limit keys it by that network, so
/// rotating through its addresses gets nothing; another /64 is another client.
async fn ipv6_clients_are_limited_by_their_64(backend: Backend) {
    let app = app_behind_a_proxy(
        backend,
        &[("FLASHFORGE__RATE_LIMIT__REGISTRATIONS_PER_IP_PER_HOUR", "2")],
    )
    .await;
    let register = |address: &'static str, name: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/register"))
            .header("x-forwarded-for", address)
            .json(&json!({"username": name, "password": PASSWORD}))
            .send()
    };
    assert_eq!(
        register("2001:db8:1:2::1", "six-a").await.unwrap().status(),
        201
    );
    assert_eq!(
        register("2001:db8:1:2::2", "six-b").await.unwrap().status(),
        201
    );
    let third = register("2001:db8:1:2:ffff::3", "six-c").await.unwrap();
    problem(third, 429).await;
    assert_eq!(
        register("2001:db8:1:3::1", "six-d").await.unwrap().status(),
        201,
        "another /64"
    );
    // Failed logins rotating through the /64 back off as one address.
    for n in 1..=5 {
        let status = login_from(&app, &format!("2001:db8:1:2::{n:x}0"), "six-a", "wrong")
            .await
            .status();
        assert_eq!(status, 401);
    }
    let sixth = login_from(&app, "2001:db8:1:2:abcd::99", "six-a", PASSWORD).await;
    problem(sixth, 429).await;
    assert_eq!(
        login_from(&app, "2001:db8:9::1", "six-a", PASSWORD)
            .await
            .status(),
        200
    );
}

/// Authenticated requests spend their user's budget, not their address's: two users behind one
/// address each get a whole budget.
async fn authenticated_requests_count_against_the_user_not_the_address(backend: Backend) {
    let app = app_behind_a_proxy(
        backend,
        &[("FLASHFORGE__RATE_LIMIT__READS_PER_MINUTE", "5")],
    )
    .await;
    let first = app.signed_up("first.user").await.access;
    let second = app.signed_up("second.user").await.access;
    let me = |token: String| {
        app.client
            .get(app.url("/api/v1/me"))
            .header("x-forwarded-for", "192.0.2.99")
            .bearer_auth(token)
            .send()
    };
    for _ in 0..5 {
        assert_eq!(me(first.clone()).await.unwrap().status(), 200);
    }
    problem(me(first.clone()).await.unwrap(), 429).await;
    for _ in 0..5 {
        assert_eq!(
            me(second.clone()).await.unwrap().status(),
            200,
            "the neighbour has a budget of their own"
        );
    }
    // A made-up token spends the address's budget like any unauthenticated request.
    let made_up = "eyJhbGciOiJIUzI1NiJ9.e30.nope".to_string();
    for _ in 0..5 {
        problem(me(made_up.clone()).await.unwrap(), 401).await;
    }
    problem(me(made_up).await.unwrap(), 429).await;
}

/// `X-Forwarded-For` may come in several lines (a proxy adds its own instead of appending):
/// every line is read, in order, and the client is the right-most address that is not a
/// trusted proxy — not whatever the first line, which the client wrote, claims.
async fn every_forwarded_for_line_is_read(backend: Backend) {
    let app = app_behind_a_proxy(backend, &[]).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-for", "198.51.100.200")
        .json(&json!({"username": "lined", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let token = response.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let sessions = app.get_json("/api/v1/auth/sessions", &token).await;
    assert_eq!(sessions["items"][0]["ip"], "198.51.100.200", "{sessions}");
}

/// Requests race a logout-all: once it has returned, no request on the revoked session is
/// accepted — with the session cache in front of the database.
async fn no_request_is_accepted_after_a_revocation_returns(backend: Backend) {
    let app = spawn_app_configured(backend, Default::default(), &[]).await;
    revocation_race(&app).await;
}

async fn revocation_race(app: &TestApp) {
    let token = app.signed_up("racer.x").await.access;
    // The session is cached.
    assert_eq!(app.get("/health/live").await.status(), 200);
    let me = || app.authed(Method::GET, "/api/v1/me", &token).send();
    assert_eq!(me().await.unwrap().status(), 200);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let revoked_at = std::sync::Arc::new(parking_lot::Mutex::new(None::<Instant>));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let client = app.client.clone();
        let url = app.url("/api/v1/me");
        let token = token.clone();
        let stop = stop.clone();
        let revoked_at = revoked_at.clone();
        clients.spawn(async move {
            let mut late_accepts = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let sent = Instant::now();
                let status = client
                    .get(&url)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .status();
                let after_revoke = revoked_at.lock().is_some_and(|at| sent > at);
                if after_revoke && status == 200 {
                    late_accepts += 1;
                }
            }
            late_accepts
        });
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let out = app
        .authed(Method::POST, "/api/v1/auth/logout-all", &token)
        .send()
        .await
        .unwrap();
    assert!(out.status().is_success(), "{}", out.status());
    *revoked_at.lock() = Some(Instant::now());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut late = 0;
    while let Some(client) = clients.join_next().await {
        late += client.unwrap();
    }
    assert_eq!(late, 0, "requests accepted after the revocation returned");
    problem(me().await.unwrap(), 401).await;
}

/// The same race with the session cache in Redis (what several instances share).
#[tokio::test]
async fn no_request_is_accepted_after_a_revocation_returns_with_the_cache_in_redis() {
    let Some(url) = crate::helpers::redis_or_skip().await else {
        return;
    };
    let prefix = format!("ff:test:{}:", uuid::Uuid::now_v7().simple());
    let app = spawn_app_configured(
        Backend::Memory,
        Default::default(),
        &[
            ("FLASHFORGE__CACHE__REDIS_URL", url.as_str()),
            ("FLASHFORGE__CACHE__KEY_PREFIX", prefix.as_str()),
        ],
    )
    .await;
    revocation_race(&app).await;
}

/// A client that lost a refresh's answer and retries (or sends it twice at once) gets the same
/// pair, and its session lives on; the old token after the new one was used is theft.
async fn a_retried_refresh_gets_the_same_pair(backend: Backend) {
    let app = spawn_app_configured(backend, Default::default(), &[]).await;
    let first = app.signed_up("retrier").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
                .await
        }
    };
    let (a, b) = tokio::join!(
        refresh(first.refresh.clone()),
        refresh(first.refresh.clone())
    );
    assert_eq!(
        (a.status().as_u16(), b.status().as_u16()),
        (200, 200),
        "a double submit"
    );
    let a: Value = a.json().await.unwrap();
    let b: Value = b.json().await.unwrap();
    assert_eq!(a["refresh_token"], b["refresh_token"]);
    assert_eq!(a["access_token"], b["access_token"]);
    let retried: Value = refresh(first.refresh.clone()).await.json().await.unwrap();
    assert_eq!(retried, a, "a retry a moment later: the same pair");
    let access = text_of(&a, "access_token");
    assert_eq!(
        app.authed(Method::GET, "/api/v1/me", access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The new token is used; then the old one comes back: theft, the family ends.
    let next = refresh(text_of(&a, "refresh_token").to_string()).await;
    assert_eq!(next.status(), 200);
    let next: Value = next.json().await.unwrap();
    problem(refresh(first.refresh.clone()).await, 401).await;
    problem(
        refresh(text_of(&next, "refresh_token").to_string()).await,
        401,
    )
    .await;
}

on_every_backend!(
    the_owner_logs_in_while_someone_else_fails_at_their_account,
    parallel_guesses_count_like_sequential_ones,
    neighbours_behind_one_address_still_log_in,
    ipv6_clients_are_limited_by_their_64,
    authenticated_requests_count_against_the_user_not_the_address,
    every_forwarded_for_line_is_read,
    no_request_is_accepted_after_a_revocation_returns,
    a_retried_refresh_gets_the_same_pair,
);

/// The same with the limits in Redis, shared by every instance: the reservation is one script.
mod with_redis {
    use super::*;

    async fn app_with_redis_limits(url: &str) -> TestApp {
        let prefix = format!("ff:test:{}:", uuid::Uuid::now_v7().simple());
        spawn_app_configured(
            Backend::Memory,
            Default::default(),
            &[
                BEHIND_A_PROXY,
                ("FLASHFORGE__RATE_LIMIT__REDIS_URL", url),
                ("FLASHFORGE__RATE_LIMIT__KEY_PREFIX", &prefix),
            ],
        )
        .await
    }

    #[tokio::test]
    async fn parallel_guesses_count_and_the_owner_still_logs_in() {
        let Some(url) = crate::helpers::redis_or_skip().await else {
            return;
        };
        let app = app_with_redis_limits(&url).await;
        app.signed_up("target").await;
        let guesses: Vec<_> = (0..20)
            .map(|_| login_from(&app, "198.51.100.77", "target", "nope-nope"))
            .collect();
        let statuses: Vec<u16> = futures_util::future::join_all(guesses)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            5,
            "{statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 429).count(),
            15,
            "{statuses:?}"
        );
        // Refused from the guessing address, even with the right password …
        assert_eq!(
            login_from(&app, "198.51.100.77", "target", PASSWORD)
                .await
                .status(),
            429
        );
        // … while the owner, elsewhere, logs in.
        assert_eq!(
            login_from(&app, "203.0.113.20", "target", PASSWORD)
                .await
                .status(),
            200
        );
    }
}
