//! Accounts benchmark (not a test): argon2id cost on this machine, login throughput, and the
//! latency of `GET /api/v1/me` when idle and during a login storm. Run with `make bench-auth`
//! (`cargo bench -p flashforge --bench auth`). Prints a table; docs/BENCHMARKS.md keeps a run.
//!
//! The server runs in this process with the in-memory adapters, OWASP argon2id parameters and
//! rate limits off; clients are in-process too, over loopback HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ms, percentile};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashforge_auth::{Argon2Hasher, Argon2Settings};
use flashforge_domain::accounts::{PasswordHasher, PasswordPolicy};
use secrecy::SecretString;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";
/// How long each latency series runs.
const MEASURE: Duration = Duration::from_secs(5);

async fn argon2_per_hash() -> (Duration, Duration) {
    let hasher = Argon2Hasher::new(Argon2Settings {
        max_concurrent: 1,
        ..Argon2Settings::default()
    })
    .unwrap();
    let password = PasswordPolicy::default()
        .parse(SecretString::from(PASSWORD.to_string()))
        .unwrap();
    let hash = hasher.hash(&password).await.unwrap();
    let mut times = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        hasher.verify(&password, &hash).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    (percentile(&times, 0.5), percentile(&times, 0.99))
}

async fn start(max_concurrent_hashes: usize) -> (String, reqwest::Client) {
    let concurrent = max_concurrent_hashes.to_string();
    let address = common::start_server(&[
        ("FLASHFORGE__AUTH__ARGON2_MEMORY_KIB", "19456"),
        ("FLASHFORGE__AUTH__ARGON2_ITERATIONS", "2"),
        (
            "FLASHFORGE__AUTH__ARGON2_MAX_CONCURRENT",
            concurrent.as_str(),
        ),
    ])
    .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    (address, client)
}

async fn register(address: &str, client: &reqwest::Client, name: &str) -> String {
    let body: Value = client
        .post(format!("{address}/api/v1/auth/register"))
        .json(&json!({"username": name, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Sequential `GET /me`, one at a time, for `period`.
async fn me_latencies(
    address: &str,
    client: &reqwest::Client,
    token: &str,
    period: Duration,
) -> Vec<Duration> {
    let mut times = Vec::new();
    let until = Instant::now() + period;
    while Instant::now() < until {
        let started = Instant::now();
        let response = client
            .get(format!("{address}/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Logins from `clients` concurrent clients until `stop`; returns how many succeeded.
fn login_storm(
    address: &str,
    client: &reqwest::Client,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<AtomicU64>) {
    let done = Arc::new(AtomicU64::new(0));
    let tasks = (0..clients)
        .map(|i| {
            let (address, client, stop, done) = (
                address.to_string(),
                client.clone(),
                stop.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let response = client
                        .post(format!("{address}/api/v1/auth/login"))
                        .json(&json!({"username": format!("storm{}", i % 4), "password": PASSWORD}))
                        .send()
                        .await
                        .unwrap();
                    if response.status() == 200 {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    (tasks, done)
}

async fn scenario(max_concurrent_hashes: usize) {
    let (address, client) = start(max_concurrent_hashes).await;
    for i in 0..4 {
        register(&address, &client, &format!("storm{i}")).await;
    }
    let token = register(&address, &client, "reader").await;
    me_latencies(&address, &client, &token, Duration::from_millis(500)).await; // warm-up

    let idle = me_latencies(&address, &client, &token, MEASURE).await;

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let (tasks, done) = login_storm(&address, &client, 16, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let storm = me_latencies(&address, &client, &token, MEASURE).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let logins = done.load(Ordering::Relaxed);

    println!("argon2_max_concurrent = {max_concurrent_hashes}");
    println!(
        "  login throughput (16 clients): {:.1} logins/s ({logins} in {:.1} s)",
        logins as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "  GET /me idle:        p50 {}  p99 {}  ({} requests)",
        ms(percentile(&idle, 0.5)),
        ms(percentile(&idle, 0.99)),
        idle.len()
    );
    println!(
        "  GET /me login storm: p50 {}  p99 {}  ({} requests)",
        ms(percentile(&storm, 0.5)),
        ms(percentile(&storm, 0.99)),
        storm.len()
    );
    println!(
        "  p99 storm / idle: {:.2} (goal <= 2.0)",
        percentile(&storm, 0.99).as_secs_f64() / percentile(&idle, 0.99).as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    // The HTTP client is built without a bundled crypto provider; use ring, as the server does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `cargo bench` passes `--bench`; nothing else is read.
    println!(
        "FlashForge accounts benchmark ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    let (p50, p99) = argon2_per_hash().await;
    println!(
        "argon2id m=19456 KiB t=2 p=1, one verification: p50 {}  p99 {}",
        ms(p50),
        ms(p99)
    );
    for max_concurrent in [1, 2] {
        scenario(max_concurrent).await;
    }
}
