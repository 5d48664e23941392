//! Operations: Prometheus metrics (on their own listener, or behind a token on the API's port),
//! request ids carried into background jobs, and the cache — in this process or in Redis, with
//! writes removing what they change, and requests going on while Redis is away.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flashforge_tests::process::free_port;
use flashforge_tests::skip::skip;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, Tokens, id_of, problem, spawn_app, spawn_app_configured};

const TOKEN: &str = "a-metrics-token-of-some-length";

/// The value of the first sample named exactly `series` (name and labels), or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            let value = line.strip_prefix(series)?.strip_prefix(' ')?;
            value.trim().parse().ok()
        })
        .unwrap_or(0.0)
}

async fn scrape(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .get(app.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn metrics_are_served_behind_a_token_and_count_requests(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        flashforge::Hooks::default(),
        &[("FLASHFORGE__METRICS__TOKEN", TOKEN)],
    )
    .await;
    // Not to the public: without the token (or with another) it is not there at all.
    problem(app.get("/metrics").await, 404).await;
    problem(scrape(&app, "a-wrong-token-of-the-same-size").await, 404).await;

    let me = app.signed_up("metered").await;
    let series = r#"flashforge_http_requests_total{method="GET",route="/api/v1/me",status="200"}"#;
    let before = scrape(&app, TOKEN).await.text().await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            app.get_json("/api/v1/me", &me.access).await["username"],
            "metered"
        );
    }
    let response = scrape(&app, TOKEN).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    assert!(
        sample(&text, series) >= sample(&before, series) + 3.0,
        "three more GET /api/v1/me:\n{text}"
    );
    for expected in [
        "flashforge_http_request_duration_seconds_bucket{",
        "flashforge_http_requests_in_flight",
        "flashforge_jobs{state=\"queued\"}",
        "flashforge_jobs_oldest_queued_age_seconds",
        "flashforge_cache_requests_total{cache=\"session\",result=\"hit\"}",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    if backend != Backend::Memory {
        assert!(
            text.contains("flashforge_db_pool_connections{state=\"idle\"}"),
            "{text}"
        );
        assert!(
            text.contains("flashforge_db_pool_max_connections"),
            "{text}"
        );
    }
}

/// The metrics listener answers without a token (it is for the private network), and ingestion
/// shows its stages, jobs and embedding calls.
#[tokio::test]
async fn the_metrics_listener_shows_ingestion_and_jobs() {
    let app = spawn_app_configured(
        Backend::Sqlite,
        flashforge::Hooks::default(),
        &[("FLASHFORGE__METRICS__BIND", "127.0.0.1:0")],
    )
    .await;
    let port = app.metrics_port.expect("a metrics listener");
    let me = app.signed_up("stages").await;
    let chat = app.create_chat(&me.access, "Stages").await;
    crate::knowledge::ingested(
        &app,
        &me.access,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let text = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for expected in [
        "flashforge_ingestion_stage_seconds_count{stage=\"extract\"}",
        "flashforge_ingestion_stage_seconds_count{stage=\"chunk\"}",
        "flashforge_ingestion_stage_seconds_count{stage=\"embed\"}",
        "flashforge_ingestion_stage_seconds_count{stage=\"index\"}",
        "flashforge_jobs_finished_total{kind=\"ingest_document\",outcome=\"completed\"}",
        "flashforge_job_duration_seconds_count{kind=\"ingest_document\"}",
        "flashforge_embedding_request_duration_seconds_count{outcome=\"ok\"}",
        "flashforge_embedding_texts_total",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    // The API's port does not serve them without a token configured.
    problem(scrape(&app, TOKEN).await, 404).await;
}

/// A job queued by a request logs under that request's id.
#[tokio::test]
async fn a_jobs_log_lines_carry_the_request_id_that_queued_it() {
    let log = crate::helpers::captured_log();
    let app = spawn_app(Backend::Memory).await;
    let me = app.signed_up("traced").await;
    let chat = app.create_chat(&me.access, "Traced").await;
    let request_id = format!("trace-{}", uuid::Uuid::now_v7().simple());
    let part = reqwest::multipart::Part::bytes(crate::knowledge::NOTES.as_bytes().to_vec())
        .file_name("notes.md");
    let response = app
        .authed(
            Method::POST,
            &format!("/api/v1/chats/{chat}/documents"),
            &me.access,
        )
        .header("X-Request-Id", &request_id)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let doc: Value = response.json().await.unwrap();
    crate::knowledge::settled(&app, &me.access, &chat, id_of(&doc)).await;
    let contents = log.contents();
    let job_lines: Vec<&str> = contents
        .lines()
        .filter(|l| l.contains("\"job completed\"") && l.contains(&request_id))
        .collect();
    assert_eq!(job_lines.len(), 1, "the job's completion names the request");
}

async fn revoke(app: &TestApp, me: &Tokens) {
    let sessions = app.get_json("/api/v1/auth/sessions", &me.access).await;
    let id = id_of(&sessions["items"][0]);
    let response = app
        .authed(
            Method::DELETE,
            &format!("/api/v1/auth/sessions/{id}"),
            &me.access,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

/// With the in-process cache, a revoked session is refused at once, though it was cached.
async fn a_revoked_session_is_refused_at_once_despite_the_cache(backend: Backend) {
    let app = spawn_app(backend).await;
    let me = app.signed_up("cached.session").await;
    for _ in 0..2 {
        assert_eq!(
            app.get_json("/api/v1/me", &me.access).await["username"],
            "cached.session"
        );
    }
    revoke(&app, &me).await;
    let response = app
        .authed(Method::GET, "/api/v1/me", &me.access)
        .send()
        .await
        .unwrap();
    problem(response, 401).await;
}

async fn redis_keys(url: &str, pattern: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut connection)
        .await
        .unwrap()
}

/// With Redis: sessions and query embeddings are cached there; revoking removes the session's
/// entry, and the next request with it is refused.
#[tokio::test]
async fn the_redis_cache_holds_sessions_and_embeddings_and_writes_invalidate() {
    let Some(url) = crate::helpers::redis_or_skip().await else {
        return;
    };
    let prefix = format!("ff:test:{}:", uuid::Uuid::now_v7().simple());
    let app = spawn_app_configured(
        Backend::Sqlite,
        flashforge::Hooks::default(),
        &[
            ("FLASHFORGE__CACHE__REDIS_URL", url.as_str()),
            ("FLASHFORGE__CACHE__KEY_PREFIX", prefix.as_str()),
        ],
    )
    .await;
    let me = app.signed_up("redis.cached").await;
    app.get_json("/api/v1/me", &me.access).await;
    let sessions = redis_keys(&url, &format!("{prefix}session:*")).await;
    assert_eq!(sessions.len(), 1, "the session is cached in Redis");

    let chat = app.create_chat(&me.access, "Cached search").await;
    crate::knowledge::ingested(
        &app,
        &me.access,
        &chat,
        "notes.md",
        crate::knowledge::NOTES.as_bytes().to_vec(),
    )
    .await;
    let path = format!("/api/v1/chats/{chat}/search?q=who+crossed+pea+plants");
    let first = crate::knowledge::search(&app, &me.access, &path).await;
    let embeddings = redis_keys(&url, &format!("{prefix}embedding:*")).await;
    assert_eq!(embeddings.len(), 1, "the query's embedding is cached");
    let second = crate::knowledge::search(&app, &me.access, &path).await;
    assert_eq!(first, second, "a cached embedding finds the same passages");

    revoke(&app, &me).await;
    assert!(
        redis_keys(&url, &format!("{prefix}session:*"))
            .await
            .is_empty(),
        "revoking removed the cached session"
    );
    let response = app
        .authed(Method::GET, "/api/v1/me", &me.access)
        .send()
        .await
        .unwrap();
    problem(response, 401).await;
}

/// A Redis server of this test's own, on a free port, that it can stop and start again.
struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            port,
            child: Some(child),
        })
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Redis stops: requests go on (uncached, counted as cache errors); Redis comes back: the cache
/// is used again, without restarting FlashForge.
#[tokio::test]
async fn requests_go_on_while_the_cache_redis_is_away_and_use_it_again_when_it_returns() {
    let port = free_port();
    let Some(mut redis) = OwnRedis::start(port) else {
        skip("FLASHFORGE_REQUIRE_REDIS", "redis-server cannot be started");
        return;
    };
    let url = redis.url();
    let app = spawn_app_configured(
        Backend::Memory,
        flashforge::Hooks::default(),
        &[
            ("FLASHFORGE__CACHE__REDIS_URL", url.as_str()),
            ("FLASHFORGE__CACHE__REDIS_TIMEOUT_MS", "200"),
            ("FLASHFORGE__METRICS__TOKEN", TOKEN),
        ],
    )
    .await;
    let me = app.signed_up("through.outage").await;
    app.get_json("/api/v1/me", &me.access).await;
    assert_eq!(redis_keys(&url, "ff:cache:session:*").await.len(), 1);

    redis.stop();
    let errors = r#"flashforge_cache_requests_total{cache="session",result="error"}"#;
    let before = sample(&scrape(&app, TOKEN).await.text().await.unwrap(), errors);
    for _ in 0..3 {
        let started = Instant::now();
        let body = app.get_json("/api/v1/me", &me.access).await;
        assert_eq!(
            body["username"], "through.outage",
            "served without the cache"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "no long wait on Redis"
        );
    }
    let after = sample(&scrape(&app, TOKEN).await.text().await.unwrap(), errors);
    assert!(
        after > before,
        "cache errors are counted: {before} → {after}"
    );

    let redis = OwnRedis::start(port).expect("redis-server starts again");
    assert!(
        redis_keys(&url, "ff:cache:session:*").await.is_empty(),
        "a fresh Redis"
    );
    let started = Instant::now();
    loop {
        let body = app.get_json("/api/v1/me", &me.access).await;
        assert_eq!(body["username"], "through.outage");
        if !redis_keys(&url, "ff:cache:session:*").await.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the cache did not come back to Redis"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(redis);
}

on_every_backend!(
    metrics_are_served_behind_a_token_and_count_requests,
    a_revoked_session_is_refused_at_once_despite_the_cache,
);
