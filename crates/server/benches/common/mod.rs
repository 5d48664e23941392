//! What the benchmarks share: a server in this process, and how numbers are printed. Databases,
//! settings and clients come from the test kit (`flashforge_tests`).

#![allow(clippy::unwrap_used)]
// Each benchmark uses its own part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use flashforge::startup::Hooks;
use flashforge_tests::settings::{load, owned};

pub use flashforge_tests::server::Running;

/// The JWT secret of the benchmarks' servers.
pub const BENCH_SECRET: &str = "bench-Only_9fQ2xLmZ8rVb4Nw7Kc1Hd6Jp0Sg5Ye";

/// Starts FlashForge on a free port with the in-memory adapters, two HTTP workers, rate limits
/// off, quiet logs, and `overrides` on top; returns its base URL.
pub async fn start_server(overrides: &[(&str, &str)]) -> String {
    start(overrides).await.address
}

/// Like [`start_server`], keeping what stops it.
pub async fn start(overrides: &[(&str, &str)]) -> Running {
    let mut vars = owned(&[
        ("FLASHFORGE__AUTH__JWT_SECRET", BENCH_SECRET),
        ("FLASHFORGE__DATABASE__URL", "memory://"),
        ("FLASHFORGE__SERVER__PORT", "0"),
        ("FLASHFORGE__SERVER__WORKERS", "2"),
        ("FLASHFORGE__RATE_LIMIT__ENABLED", "false"),
        ("FLASHFORGE__LOG__LEVEL", "error"),
    ]);
    vars.extend(owned(overrides));
    Running::start(load(vars), Hooks::default()).await
}

/// How long `request` takes to answer 200 with its whole body.
pub async fn timed_ok(request: reqwest::RequestBuilder) -> Duration {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();
    started.elapsed()
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
