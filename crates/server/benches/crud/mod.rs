//! The load benchmark's CRUD side: which scenarios `LOAD_CRUD_ONLY` keeps, the FastAPI
//! template's analogues (`PEER_URL`), and the round trips to Postgres each request makes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashforge_tests::client::Api;
use serde_json::json;

use crate::tools::{Run, lua, wrk};
use crate::{Chats, Server};

/// The scenarios `LOAD_CRUD_ONLY` keeps.
pub const CRUD: [&str; 6] = [
    "GET /me",
    "GET /models (no database)",
    "get card",
    "list cards, first page",
    "list cards, 90% deep",
    "create card",
];

/// The FastAPI template's analogues of FlashForge's CRUD scenarios, and which of ours each
/// compares with.
pub const PEER: [(&str, &str); 4] = [
    ("get card", "GET one item"),
    ("GET /me", "GET /users/me"),
    ("list cards, first page", "list 50 items"),
    ("create card", "create item"),
];

/// The peer at `base` (`PEER_URL`): a new user with 60 items, then each scenario under wrk
/// with the same settings as ours.
pub async fn peer_runs(base: &str, scripts: &Path) -> Vec<(&'static str, Run)> {
    let client = reqwest::Client::new();
    let base = base.trim_end_matches('/');
    let email = format!("bench-{}@example.com", uuid::Uuid::new_v4().simple());
    let password = "bench-peer-password-1";
    let signup = client
        .post(format!("{base}/users/signup"))
        .json(&json!({"email": email, "password": password, "full_name": "Bench"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PEER_URL {base} does not answer: {e}"));
    assert!(
        signup.status().is_success(),
        "peer signup: {}",
        signup.status()
    );
    let login: serde_json::Value = client
        .post(format!("{base}/login/access-token"))
        .form(&[("username", email.as_str()), ("password", password)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let mut item = String::new();
    for i in 0..60 {
        let created: serde_json::Value = client
            .post(format!("{base}/items/"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("item {i}"), "description": "What is measured?"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        item = created["id"].as_str().unwrap().to_string();
    }
    let get = lua("GET", Some(&token), None);
    let runs = [
        ("GET one item", get.clone(), format!("{base}/items/{item}")),
        ("GET /users/me", get.clone(), format!("{base}/users/me")),
        (
            "list 50 items",
            get,
            format!("{base}/items/?skip=0&limit=50"),
        ),
        (
            "create item",
            lua(
                "POST",
                Some(&token),
                Some(r#"{"title":"Load?","description":"Yes"}"#),
            ),
            format!("{base}/items/"),
        ),
    ];
    runs.into_iter()
        .map(|(name, script, url)| {
            let file = format!("peer_{}", name.replace([' ', '/'], "_"));
            (name, wrk(0, scripts, &file, &script, &url).0)
        })
        .collect()
}

/// A TCP relay in front of Postgres that counts what its clients send. The driver sends one
/// flight of messages per round trip (a statement, a ping, BEGIN, COMMIT) and waits for the
/// answer before the next, so each read on the client side is one round trip.
struct Relay {
    url: String,
    sent: Arc<AtomicU64>,
}

impl Relay {
    async fn start(database_url: &str) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut url = reqwest::Url::parse(database_url).unwrap();
        let target = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (mut from_client, mut to_client) = inbound.into_split();
                let (mut from_server, mut to_server) = outbound.into_split();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    while let Ok(n) = from_client.read(&mut buffer).await {
                        if n == 0 || to_server.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                });
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
            }
        });
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(port)).unwrap();
        Self {
            url: url.to_string(),
            sent,
        }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// Round trips to Postgres per request, endpoint by endpoint: a server whose database is behind
/// a [`Relay`] answers 200 requests of each, one at a time; what the relay counted in the
/// meantime, less what the idle server sends in as long (the job runner's polling), per request.
pub async fn round_trips(
    vars: &[(String, String)],
    url: &str,
    chats: &Chats,
) -> Vec<(&'static str, f64)> {
    const REQUESTS: u32 = 200;
    let relay = Relay::start(url).await;
    let mut vars = vars.to_vec();
    for (key, value) in &mut vars {
        if key == "FLASHFORGE__DATABASE__URL" {
            value.clone_from(&relay.url);
        }
    }
    let server = Server::start(&vars);
    let api = Api::at(reqwest::Client::new(), &server.url(""));
    let token = api.login("student").await;
    let card = api
        .json(
            api.client
                .post(api.url(&format!("/chats/{}/flashcards", chats.talk)))
                .bearer_auth(&token)
                .json(&json!({"question": "Counted?", "answer": "Yes"})),
        )
        .await;
    let card = card["id"].as_str().unwrap().to_string();
    let idle_rate = {
        let (before, started) = (relay.sent(), Instant::now());
        tokio::time::sleep(Duration::from_secs(2)).await;
        (relay.sent() - before) as f64 / started.elapsed().as_secs_f64()
    };
    let endpoints: [(
        &'static str,
        reqwest::Method,
        String,
        Option<serde_json::Value>,
    ); 5] = [
        ("GET /me", reqwest::Method::GET, "/me".into(), None),
        (
            "get card",
            reqwest::Method::GET,
            format!("/flashcards/{card}"),
            None,
        ),
        (
            "list cards, first page",
            reqwest::Method::GET,
            format!("/chats/{}/flashcards?limit=50", chats.cards),
            None,
        ),
        (
            "create card",
            reqwest::Method::POST,
            format!("/chats/{}/flashcards", chats.talk),
            Some(json!({"question": "Counted?", "answer": "Yes"})),
        ),
        (
            "review card",
            reqwest::Method::POST,
            format!("/flashcards/{card}/reviews"),
            Some(json!({"rating": "good"})),
        ),
    ];
    let mut counts = Vec::new();
    for (name, method, path, body) in endpoints {
        let (before, started) = (relay.sent(), Instant::now());
        for _ in 0..REQUESTS {
            let mut request = api
                .client
                .request(method.clone(), api.url(&path))
                .bearer_auth(&token);
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            assert!(
                response.status().is_success(),
                "{name}: {}",
                response.status()
            );
            response.bytes().await.unwrap();
        }
        let idle = idle_rate * started.elapsed().as_secs_f64();
        counts.push((
            name,
            ((relay.sent() - before) as f64 - idle).max(0.0) / f64::from(REQUESTS),
        ));
    }
    server.stop();
    counts
}
