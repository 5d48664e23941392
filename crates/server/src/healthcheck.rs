//! `flashforge healthcheck`: the container's health check without curl. For the API, a
//! `GET /health/ready` on the configured host and port; for a worker (`--worker`), the age of the
//! heartbeat file the running worker touches (`worker.heartbeat_file`).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::settings::Settings;

/// How often a running worker touches its heartbeat file.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// A heartbeat older than this means the worker is stuck or gone.
pub const HEARTBEAT_STALE: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(5);

/// Whether the API on `server.host:server.port` answers `/health/ready` with 200.
pub fn api(settings: &Settings) -> Result<String, String> {
    if settings.server.tls_enabled() {
        return Err(
            "server TLS is on and this check speaks plain HTTP: probe /health/ready over HTTPS"
                .into(),
        );
    }
    // A wildcard listener is reached on the loopback address.
    let host = match settings.server.host.trim_matches(['[', ']']) {
        "0.0.0.0" | "" => "127.0.0.1",
        "::" => "::1",
        host => host,
    };
    let address = (host, settings.server.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, TIMEOUT)
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let io = |e: std::io::Error| format!("{address}: {e}");
    stream.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    stream
        .write_all(b"GET /health/ready HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(io)?;
    let mut head = [0u8; 32];
    let read = stream.read(&mut head).map_err(io)?;
    let status_line = String::from_utf8_lossy(&head[..read]);
    let status = status_line.split_whitespace().nth(1).unwrap_or("no answer");
    if status == "200" {
        Ok(format!("{address} answered /health/ready with 200"))
    } else {
        Err(format!("{address} answered /health/ready with {status}"))
    }
}

/// Whether the worker's heartbeat file was touched within [`HEARTBEAT_STALE`].
pub fn worker(settings: &Settings) -> Result<String, String> {
    let path = heartbeat_file(settings)
        .ok_or("worker.heartbeat_file is not set (FLASHFORGE__WORKER__HEARTBEAT_FILE)")?;
    let age = heartbeat_age(path)?;
    if age <= HEARTBEAT_STALE {
        Ok(format!("the worker's heartbeat is {}s old", age.as_secs()))
    } else {
        Err(format!(
            "the worker's heartbeat ({}) is {}s old (more than {}s)",
            path.display(),
            age.as_secs(),
            HEARTBEAT_STALE.as_secs()
        ))
    }
}

fn heartbeat_age(path: &Path) -> Result<Duration, String> {
    let modified = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| format!("no worker heartbeat at {}: {e}", path.display()))?;
    Ok(SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default())
}

/// The configured heartbeat file, if any.
pub fn heartbeat_file(settings: &Settings) -> Option<&Path> {
    let path = settings.worker.heartbeat_file.as_path();
    (!path.as_os_str().is_empty()).then_some(path)
}

/// Touches `path` every [`HEARTBEAT_EVERY`] while the worker runs (abort the task to stop).
pub fn spawn_heartbeat(path: PathBuf) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(HEARTBEAT_EVERY);
        loop {
            ticks.tick().await;
            let now = chrono::Utc::now().to_rfc3339();
            if let Err(error) = tokio::fs::write(&path, now).await {
                tracing::warn!(%error, path = %path.display(), "cannot write the worker heartbeat");
            }
        }
    })
}
