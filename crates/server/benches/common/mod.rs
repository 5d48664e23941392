//! What the benchmarks share: a server in this process, and how numbers are printed.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use flashforge::settings::{Environment, Settings};
use flashforge::startup::{Application, Hooks};

/// Starts FlashForge on a free port with the in-memory adapters, two HTTP workers, rate limits
/// off, quiet logs, and `overrides` on top; returns its base URL.
pub async fn start_server(overrides: &[(&str, &str)]) -> String {
    let config = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config"));
    let mut vars: Vec<(String, String)> = [
        (
            "FLASHFORGE__AUTH__JWT_SECRET",
            "bench-Only_9fQ2xLmZ8rVb4Nw7Kc1Hd6Jp0Sg5Ye",
        ),
        ("FLASHFORGE__DATABASE__URL", "memory://"),
        ("FLASHFORGE__SERVER__PORT", "0"),
        ("FLASHFORGE__SERVER__WORKERS", "2"),
        ("FLASHFORGE__RATE_LIMIT__ENABLED", "false"),
        ("FLASHFORGE__LOG__LEVEL", "error"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.extend(
        overrides
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let (settings, _) = Settings::load_from(Environment::Test, &config, vars).unwrap();
    let app = Application::build_with(
        settings,
        Hooks {
            handle_signals: false,
            ..Hooks::default()
        },
    )
    .await
    .unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
