//! Accounts benchmark (not a test): argon2id cost on this machine, login throughput, and the
//! latency of `GET /api/v1/me` when idle and during a login storm. Run with `make bench-auth`
//! (`cargo bench -p flashforge --bench auth`). Prints a table; docs/BENCHMARKS.md keeps a run.
//!
//! The server runs in this process with the in-memory adapters and OWASP argon2id parameters;
//! clients are in-process too, over loopback HTTP. The first two scenarios run with rate limits
//! off (what argon2 alone costs); the last is the abuse case with every limit on: a storm of
//! guesses and logins from 1,000 distinct client addresses (`X-Forwarded-For` through a trusted
//! proxy), against `GET /me` of a signed-in user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ms, percentile, timed_ok};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashforge_auth::{Argon2Hasher, Argon2Settings};
use flashforge_domain::accounts::{PasswordHasher, PasswordPolicy};
use flashforge_tests::client::Api;
use flashforge_tests::settings::PASSWORD;
use secrecy::SecretString;
use serde_json::json;

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

/// Registers `name`; its access token.
async fn register(address: &str, client: &reqwest::Client, name: &str) -> String {
    Api::at(client.clone(), address).sign_up(name).await
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
        let request = client
            .get(format!("{address}/api/v1/me"))
            .bearer_auth(token);
        times.push(timed_ok(request).await);
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
    print_latencies(&idle, &storm);
}

/// `GET /me` idle and under the storm, and the ratio of their p99s.
fn print_latencies(idle: &[Duration], storm: &[Duration]) {
    println!(
        "  GET /me idle:        p50 {}  p99 {}  ({} requests)",
        ms(percentile(idle, 0.5)),
        ms(percentile(idle, 0.99)),
        idle.len()
    );
    println!(
        "  GET /me login storm: p50 {}  p99 {}  ({} requests)",
        ms(percentile(storm, 0.5)),
        ms(percentile(storm, 0.99)),
        storm.len()
    );
    println!(
        "  p99 storm / idle: {:.2} (goal <= 2.0)",
        percentile(storm, 0.99).as_secs_f64() / percentile(idle, 0.99).as_secs_f64()
    );
}

/// Logins from 1,000 addresses: `clients` concurrent clients, each attempt from the next
/// address, three wrong passwords for every right one, at four accounts. Returns the tasks and
/// the answers by status.
fn address_storm(
    address: &str,
    client: &reqwest::Client,
    clients: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<[AtomicU64; 4]>) {
    // 200, 401, 429, anything else.
    let answers: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let next = Arc::new(AtomicU64::new(0));
    let tasks = (0..clients)
        .map(|_| {
            let (address, client, stop, answers, next) = (
                address.to_string(),
                client.clone(),
                stop.clone(),
                answers.clone(),
                next.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let from = format!("10.7.{}.{}", (n % 1000) / 250, (n % 1000) % 250 + 1);
                    let password = if n % 4 == 0 {
                        PASSWORD
                    } else {
                        "a wrong guess 1234"
                    };
                    let response = client
                        .post(format!("{address}/api/v1/auth/login"))
                        .header("x-forwarded-for", from)
                        .json(&json!({"username": format!("storm{}", n % 4), "password": password}))
                        .send()
                        .await
                        .unwrap();
                    let slot = match response.status().as_u16() {
                        200 => 0,
                        401 => 1,
                        429 => 2,
                        _ => 3,
                    };
                    answers[slot].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    (tasks, answers)
}

/// The abuse case: every limit on, the storm from 1,000 addresses.
async fn storm_from_many_addresses() {
    let address = common::start_server(&[
        ("FLASHFORGE__AUTH__ARGON2_MEMORY_KIB", "19456"),
        ("FLASHFORGE__AUTH__ARGON2_ITERATIONS", "2"),
        ("FLASHFORGE__RATE_LIMIT__ENABLED", "true"),
        ("FLASHFORGE__SERVER__TRUSTED_PROXIES", "127.0.0.1/32"),
        // The reader's own budget is not what is measured: high enough for its loop.
        ("FLASHFORGE__RATE_LIMIT__READS_PER_MINUTE", "10000000"),
        ("FLASHFORGE__RATE_LIMIT__WRITES_PER_MINUTE", "10000000"),
        (
            "FLASHFORGE__RATE_LIMIT__REGISTRATIONS_PER_IP_PER_HOUR",
            "100",
        ),
    ])
    .await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();
    for i in 0..4 {
        register(&address, &client, &format!("storm{i}")).await;
    }
    let token = register(&address, &client, "reader").await;
    me_latencies(&address, &client, &token, Duration::from_millis(500)).await; // warm-up
    let idle = me_latencies(&address, &client, &token, MEASURE).await;

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let (tasks, answers) = address_storm(&address, &client, 64, stop.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let storm = me_latencies(&address, &client, &token, MEASURE).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let [ok, wrong, limited, other] = [0, 1, 2, 3].map(|i| answers[i].load(Ordering::Relaxed));
    println!("rate limits on, 64 clients, 1,000 addresses (X-Forwarded-For), 3 guesses : 1 login");
    println!(
        "  attempts: {:.0}/s — 200: {ok}, 401: {wrong}, 429: {limited}, other: {other} in {elapsed:.1} s",
        (ok + wrong + limited + other) as f64 / elapsed
    );
    print_latencies(&idle, &storm);
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
    storm_from_many_addresses().await;
}
