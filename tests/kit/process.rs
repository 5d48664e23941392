//! The `flashforge` binary as a child process: a command with a clean environment, a process
//! killed if the test ends while it runs, and waiting for it to come up or exit. The binary's
//! path is the caller's `env!("CARGO_BIN_EXE_flashforge")` (cargo gives it to the server
//! crate's tests and benchmarks only).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::settings::config_dir;

/// A command for the binary at `bin` in environment `env` (`test`, `production`…), with the
/// repository's config folder, no `FLASHFORGE*` or `RUST_LOG` variable of ours, and `vars`.
pub fn command(bin: &str, env: &str, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(bin);
    for (key, _) in std::env::vars() {
        // PORT, DATABASE_URL and OPENAI_* configure the process too (when its keys are unset).
        if key.starts_with("FLASHFORGE")
            || [
                "RUST_LOG",
                "PORT",
                "DATABASE_URL",
                "OPENAI_API_KEY",
                "OPENAI_BASE_URL",
            ]
            .contains(&key.as_str())
        {
            command.env_remove(key);
        }
    }
    command
        .env("FLASHFORGE_ENV", env)
        .env("FLASHFORGE_CONFIG_DIR", config_dir())
        .stdin(Stdio::null());
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

/// A child process that is killed if the test ends (or fails) while it still runs.
pub struct Process(pub Child);

impl std::ops::Deref for Process {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Process {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("local address")
        .port()
}

/// Waits (30 s at most) until the server on `port` answers `/health/live` with 200; panics if
/// `child` exits first.
pub fn wait_until_live(port: u16, child: &mut Child) {
    wait_until_live_within(port, child, Duration::from_secs(30));
}

/// [`wait_until_live`], waiting `within` at most.
pub fn wait_until_live_within(port: u16, child: &mut Child, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("server exited early: {status}");
        }
        if raw_get(port, "/health/live").is_ok_and(|answer| answer.starts_with("HTTP/1.1 200")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not come up");
}

/// `GET path` on a connection of its own to the server on `port`: the whole answer as it came,
/// status line, headers and body.
pub fn raw_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Sends `signal` (`-TERM`, `-KILL`) to `child`.
pub fn kill(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// Waits for `child` to exit, `within` at most; its exit status.
pub fn wait_exit(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(exit) = child.try_wait().expect("try_wait") {
            return exit;
        }
        assert!(Instant::now() < deadline, "did not exit in {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
