//! The load benchmark's tools: wrk and pgbench (installed when missing), run at the benchmark's
//! connection count and read from what they print; the same select through the driver alone;
//! a process's resident memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashforge_sql::sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Concurrent connections of every scenario.
pub const CONNECTIONS: u32 = 16;
/// How long each scenario runs.
pub const SECONDS: u32 = 8;

/// The resident memory of process `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
}

/// What wrk measured.
#[derive(Debug, Default, Clone)]
pub struct Run {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    pub errors: u64,
}

fn duration_ms(text: &str) -> f64 {
    let text = text.trim();
    let (number, unit) =
        text.split_at(text.find(|c: char| c.is_alphabetic()).unwrap_or(text.len()));
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1e3,
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        _ => f64::NAN,
    }
}

fn parse_wrk(out: &str) -> Run {
    let mut run = Run::default();
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("50%") {
            run.p50_ms = duration_ms(v);
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_ms = duration_ms(v);
        } else if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse().unwrap_or(0.0);
        } else if line.contains(" requests in ") {
            run.requests = line.split_whitespace().next().unwrap().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.errors += v
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    run
}

/// Runs wrk on `url` with `script` (Lua: method, body, headers) while sampling the memory of
/// the server (process `pid`); returns the run and the highest resident memory seen.
pub fn wrk(pid: u32, scripts: &Path, name: &str, script: &str, url: &str) -> (Run, f64) {
    let path = scripts.join(format!("{name}.lua"));
    std::fs::write(&path, script).unwrap();
    let child = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{SECONDS}s"),
            "--latency",
            "--timeout",
            "10s",
            "-s",
        ])
        .arg(&path)
        .arg(url)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        std::thread::spawn(move || {
            for _ in 0..(SECONDS * 10 + 20) {
                if let Some(kb) = rss_kib(pid) {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    let _ = sampler.join();
    let text = String::from_utf8_lossy(&out.stdout);
    (
        parse_wrk(&text),
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
    )
}

pub fn lua(method: &str, token: Option<&str>, body: Option<&str>) -> String {
    let mut s = format!(
        "wrk.method = \"{method}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    );
    if let Some(token) = token {
        s.push_str(&format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
        ));
    }
    if let Some(body) = body {
        s.push_str(&format!("wrk.body = [[{body}]]\n"));
    }
    s
}

/// pgbench running `sql` at the bench's connection count; transactions per second.
pub fn pgbench(url: &str, sql: &str, scripts: &Path) -> f64 {
    let path = scripts.join("select.sql");
    std::fs::write(&path, sql).unwrap();
    let out = Command::new("pgbench")
        .args([
            "-n",
            "-c",
            &CONNECTIONS.to_string(),
            "-j",
            "2",
            "-T",
            &SECONDS.to_string(),
            "-M",
            "prepared",
            "-f",
        ])
        .arg(&path)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("tps = ")
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or_else(|| {
            panic!(
                "pgbench said: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

/// The same `sql` through sea-orm's pool (sqlx) from this process at the bench's connection
/// count: the driver's share of a request, without HTTP or the app; queries per second.
pub async fn driver_qps(url: &str, sql: &str) -> f64 {
    let options = flashforge_sql::DatabaseOptions {
        max_connections: CONNECTIONS,
        ..Default::default()
    };
    let db = flashforge_sql::connect(url, &options).await.unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let until = started + Duration::from_secs(SECONDS.into());
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (db, done, sql) = (db.clone(), done.clone(), sql.to_string());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let statement = Statement::from_string(DbBackend::Postgres, sql.clone());
                    assert!(db.query_one_raw(statement).await.unwrap().is_some());
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    let qps = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    db.close().await.unwrap();
    qps
}

pub fn ensure_tools() {
    for (tool, package) in [("wrk", "wrk"), ("pgbench", "postgresql-contrib")] {
        if !Command::new("which")
            .arg(tool)
            .output()
            .is_ok_and(|o| o.status.success())
        {
            eprintln!("{tool} is missing: installing {package} from Debian");
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-q", package])
                .status();
        }
    }
}
