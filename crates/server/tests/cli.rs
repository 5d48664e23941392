//! The `flashforge` binary as a real process: configuration checks, refusing weak secrets,
//! migrations, and graceful shutdown on SIGTERM.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use flashforge_sql::sea_orm::{ConnectionTrait, QueryResult, Statement};
use flashforge_tests::client::Api;
use flashforge_tests::database::{local_files, sqlite_url};
use flashforge_tests::process::{Process, free_port, kill, raw_get, wait_exit, wait_until_live};

#[path = "cli/backup.rs"]
mod backup;
#[path = "cli/extract.rs"]
mod extract;
#[path = "cli/faults.rs"]
mod faults;
#[path = "cli/ops.rs"]
mod ops;
#[path = "cli/otlp.rs"]
mod otlp;
#[path = "cli/resume.rs"]
mod resume;
#[path = "cli/scale.rs"]
mod scale;

const BIN: &str = env!("CARGO_BIN_EXE_flashforge");
const GOOD_SECRET: &str = "cli-T3st_8yHq2Lx7Vm4Rz9Kw1Nb6Pd3Sf0Jg";
/// How often a test asks whether a document is ingested.
const POLL: Duration = Duration::from_millis(50);

/// A command for the binary with a clean FLASHFORGE environment.
fn flashforge(env: &str, vars: &[(&str, &str)]) -> Command {
    flashforge_tests::process::command(BIN, env, vars)
}

fn run(env: &str, vars: &[(&str, &str)], args: &[&str]) -> Output {
    flashforge(env, vars)
        .args(args)
        .output()
        .expect("run flashforge")
}

#[test]
fn production_with_a_placeholder_or_short_secret_exits_non_zero_naming_the_key() {
    for secret in [
        "your-secret-key-here",
        "changeme",
        "secret",
        "too-short-for-hs256",
    ] {
        let out = run(
            "production",
            &[
                ("FLASHFORGE__AUTH__JWT_SECRET", secret),
                ("FLASHFORGE__DATABASE__URL", "memory://"),
            ],
            &["serve"],
        );
        assert!(!out.status.success(), "{secret}: started anyway");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("auth.jwt_secret"), "{secret}: {stderr}");
        assert!(
            !stderr.contains(secret) || secret == "secret",
            "the secret is echoed: {stderr}"
        );
    }
}

#[test]
fn production_without_a_secret_names_every_bad_key_at_once() {
    let out = run(
        "production",
        &[
            ("FLASHFORGE__DATABASE__URL", "mysql://db/x"),
            ("FLASHFORGE__SERVER__WORKERS", "5000"),
        ],
        &["serve"],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in ["auth.jwt_secret", "database.url", "server.workers"] {
        assert!(stderr.contains(key), "{key} not named: {stderr}");
    }
}

#[test]
fn config_check_prints_the_effective_config_with_secrets_redacted() {
    let db_url = "postgres://app:db-pass-9x7@db.internal/ff";
    let out = run(
        "staging",
        &[
            ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
            ("FLASHFORGE__DATABASE__URL", db_url),
            ("FLASHFORGE__SERVER__PORT", "9999"),
        ],
        &["config", "check"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let config: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(config["environment"], "staging");
    assert_eq!(config["server"]["port"], 9999);
    assert_eq!(config["log"]["format"], "json", "staging.toml applies");
    assert_eq!(config["auth"]["jwt_secret"], "[REDACTED]");
    assert_eq!(config["database"]["url"], "[REDACTED]");
    assert!(!stdout.contains(GOOD_SECRET) && !stdout.contains("db-pass-9x7"));
}

#[test]
fn migrate_applies_and_reports_the_schema_of_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("nested/ff.db"));
    let vars = [
        ("FLASHFORGE__DATABASE__URL", url.as_str()),
        ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
    ];
    let pending = run("test", &vars, &["migrate", "status"]);
    assert!(
        pending.status.success(),
        "{}",
        String::from_utf8_lossy(&pending.stderr)
    );
    assert!(String::from_utf8_lossy(&pending.stdout).contains("create_users\tpending"));

    let up = run("test", &vars, &["migrate", "up"]);
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let applied = run("test", &vars, &["migrate", "status"]);
    assert!(String::from_utf8_lossy(&applied.stdout).contains("create_users\tapplied"));

    let down = run("test", &vars, &["migrate", "down"]);
    assert!(down.status.success());
    // `down` rolls back the last migration only.
    let after = run("test", &vars, &["migrate", "status"]);
    let after = String::from_utf8_lossy(&after.stdout);
    let lines: Vec<&str> = after.lines().collect();
    let (last, earlier) = lines.split_last().expect("migrations are listed");
    assert!(last.ends_with("\tpending"), "{after}");
    assert!(earlier.iter().all(|l| l.ends_with("\tapplied")), "{after}");
    assert!(after.contains("create_users\tapplied"), "{after}");
}

/// A request whose body is still arriving when SIGTERM lands is served in full, and the process
/// then exits cleanly.
#[test]
fn sigterm_lets_a_slow_request_in_flight_complete() {
    let port = free_port();
    let port_text = port.to_string();
    let mut child = Process(
        flashforge(
            "test",
            &[
                ("FLASHFORGE__DATABASE__URL", "memory://"),
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__PORT", &port_text),
                ("FLASHFORGE__SERVER__SHUTDOWN_TIMEOUT_SECS", "20"),
                ("FLASHFORGE__SERVER__CLIENT_REQUEST_TIMEOUT_MS", "20000"),
            ],
        )
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn"),
    );
    wait_until_live(port, &mut child);

    let body = br#"{"username":"slow.client","password":"correct horse battery staple"}"#;
    let (first, rest) = body.split_at(20);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(700));

    // Still running: it is waiting for our request.
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited before the in-flight request finished"
    );
    // …and no longer accepting new connections.
    let refused = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(500),
    );
    assert!(refused.is_err(), "still accepting after SIGTERM");

    stream.write_all(rest).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("slow.client"));

    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "did not exit after the request finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(exit.success(), "exit {exit}: {stderr}");
}

/// One request on a connection of its own: the status and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let answer = raw_get(port, path).unwrap();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}

/// With `server.shutdown_delay_ms`, SIGTERM first turns readiness to 503 `stopping` while the
/// server goes on accepting and answering as usual; the listener closes after the delay.
#[test]
fn sigterm_with_a_shutdown_delay_reports_stopping_and_keeps_serving_until_it_ends() {
    let port = free_port();
    let port_text = port.to_string();
    let mut child = Process(
        flashforge(
            "test",
            &[
                ("FLASHFORGE__DATABASE__URL", "memory://"),
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__PORT", &port_text),
                ("FLASHFORGE__SERVER__SHUTDOWN_DELAY_MS", "2000"),
            ],
        )
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn"),
    );
    wait_until_live(port, &mut child);
    let (status, body) = get(port, "/health/ready");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""status":"ready""#), "{body}");

    let sigterm = Instant::now();
    kill(&child, "-TERM");
    // The signal is handled at once; the delay has most of its 2 s to go.
    std::thread::sleep(Duration::from_millis(300));
    let (status, body) = get(port, "/health/ready");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""status":"stopping""#), "{body}");
    assert!(
        body.contains(r#""status":"up""#),
        "dependencies still up: {body}"
    );
    // New connections are still taken and served.
    let (status, body) = get(port, "/health/live");
    assert_eq!(status, 200, "{body}");
    assert!(
        sigterm.elapsed() < Duration::from_millis(2000),
        "too slow to tell"
    );

    let exit = wait_exit(&mut child, Duration::from_secs(20));
    assert!(exit.success(), "exit {exit}");
    assert!(
        sigterm.elapsed() >= Duration::from_millis(2000),
        "exited before the delay ended: {:?}",
        sigterm.elapsed()
    );
    assert_eq!(
        TcpStream::connect(("127.0.0.1", port)).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
}

/// The rows `sql` answers from the database at `url`.
fn rows(runtime: &tokio::runtime::Runtime, url: &str, sql: &str) -> Vec<QueryResult> {
    runtime.block_on(async {
        let db = flashforge_sql::connect(url, &Default::default())
            .await
            .unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        let _ = db.close().await;
        rows
    })
}

/// (status, pages_done, chunk_count) of every document, oldest first, read from SQLite.
fn documents(runtime: &tokio::runtime::Runtime, url: &str) -> Vec<(String, i64, i64)> {
    let sql = "SELECT status, pages_done, chunk_count FROM documents ORDER BY id";
    rows(runtime, url, sql)
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "status").unwrap(),
                r.try_get::<i64>("", "pages_done").unwrap(),
                r.try_get::<i64>("", "chunk_count").unwrap(),
            )
        })
        .collect()
}

/// The first column of the first row of `sql`, as a number.
fn count(runtime: &tokio::runtime::Runtime, url: &str, sql: &str) -> i64 {
    rows(runtime, url, sql)[0]
        .try_get_by_index::<i64>(0)
        .unwrap()
}

/// A worker killed with SIGKILL in the middle of an ingestion: a new worker takes the job over
/// when its lease runs out and completes the document once — the same chunk count as an
/// uninterrupted ingestion, exactly one index point per chunk, nothing orphaned.
#[test]
fn a_worker_killed_mid_ingestion_is_taken_over_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("ff.db"));
    let files = local_files(dir.path());
    let port = free_port().to_string();
    let mut vars: Vec<(&str, &str)> = vec![
        ("FLASHFORGE__DATABASE__URL", &url),
        ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
        ("FLASHFORGE__SERVER__PORT", &port),
    ];
    vars.extend(files.iter().map(|(k, v)| (*k, v.as_str())));
    vars.extend([
        ("FLASHFORGE__EMBEDDING__PROVIDER", "hash"),
        // Chunks embedded and indexed one at a time: slow enough to be caught mid-way.
        ("FLASHFORGE__KNOWLEDGE__EMBED_BATCH", "1"),
        ("FLASHFORGE__KNOWLEDGE__LEASE_SECS", "2"),
        // The real guard: the PDF is parsed by a child `flashforge extract-pdf`.
        ("FLASHFORGE__KNOWLEDGE__PDF_ISOLATION", "process"),
    ]);
    let runtime = current_thread_runtime();

    // Upload through the API with its in-process worker off, then stop it.
    let mut api_vars = vars.clone();
    api_vars.push(("FLASHFORGE__WORKER__ENABLED", "false"));
    let mut api = Process(
        flashforge("test", &api_vars)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let port: u16 = port.parse().unwrap();
    wait_until_live(port, &mut api);
    let pdf = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/pdf/long-100.pdf"
    ))
    .unwrap();
    runtime.block_on(async {
        let api = Api::new(port);
        let token = api.sign_up("killer").await;
        for name in ["interrupted", "uninterrupted"] {
            let chat = api.chat(&token, name).await;
            let response = api.upload(&token, &chat, "long.pdf", pdf.clone()).await;
            assert_eq!(response.status(), 202);
        }
    });
    kill(&api, "-TERM");
    assert!(wait_exit(&mut api, Duration::from_secs(20)).success());

    // A worker starts on the first document; kill -9 once it is part-way through.
    let mut worker = Process(
        flashforge("test", &vars)
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let docs = documents(&runtime, &url);
        let (status, pages_done, _) = &docs[0];
        if status == "processing" && *pages_done >= 5 {
            assert!(*pages_done < 100, "finished before it could be interrupted");
            break;
        }
        assert!(
            status != "completed",
            "finished before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "never got going: {docs:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(&worker, "-KILL");
    wait_exit(&mut worker, Duration::from_secs(10));
    assert_eq!(documents(&runtime, &url)[0].0, "processing");

    // A new worker: the dead one's job is taken over when its lease runs out.
    let mut worker = Process(
        flashforge("test", &vars)
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    let docs = loop {
        let docs = documents(&runtime, &url);
        if docs.iter().all(|(status, _, _)| status == "completed") {
            break docs;
        }
        assert!(
            docs.iter().all(|(status, _, _)| status != "failed"),
            "{docs:?}"
        );
        assert!(Instant::now() < deadline, "not completed: {docs:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    kill(&worker, "-TERM");
    assert!(wait_exit(&mut worker, Duration::from_secs(30)).success());

    let (interrupted, uninterrupted) = (docs[0].2, docs[1].2);
    assert!(interrupted > 100, "{docs:?}");
    assert_eq!(
        interrupted, uninterrupted,
        "the same chunks as an uninterrupted run"
    );
    assert_eq!(
        count(&runtime, &url, "SELECT COUNT(*) FROM chunks"),
        interrupted * 2
    );
    assert_eq!(
        count(&runtime, &url, "SELECT MAX(attempts) FROM jobs"),
        2,
        "the interrupted job ran exactly twice"
    );
    assert_eq!(
        count(
            &runtime,
            &url,
            "SELECT COUNT(*) FROM jobs WHERE status <> 'done'"
        ),
        0
    );

    // Exactly one index point per chunk: none duplicated, none orphaned, none missing.
    let out = run("test", &vars, &["kb", "reconcile"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = interrupted * 2;
    assert!(
        stdout.contains(&format!(
            "checked {total} index points and {total} chunks: removed 0 orphan points, queued 0 documents again"
        )),
        "{stdout}"
    );
}

/// The first column of the first row of `sql`, as text.
fn text_of(runtime: &tokio::runtime::Runtime, url: &str, sql: &str) -> String {
    rows(runtime, url, sql)[0]
        .try_get_by_index::<String>(0)
        .unwrap()
}

/// A file that kills its worker (out of memory, say) on every attempt: each claim counts an
/// attempt, so after the last one the job is dead and the document `failed` with a reason —
/// instead of being taken again after every lease, forever.
#[test]
fn a_job_whose_worker_is_killed_on_every_attempt_ends_dead_and_its_document_failed() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("ff.db"));
    let files = local_files(dir.path());
    let port = free_port().to_string();
    let mut vars: Vec<(&str, &str)> = vec![
        ("FLASHFORGE__DATABASE__URL", &url),
        ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
        ("FLASHFORGE__SERVER__PORT", &port),
    ];
    vars.extend(files.iter().map(|(k, v)| (*k, v.as_str())));
    vars.extend([
        ("FLASHFORGE__EMBEDDING__PROVIDER", "hash"),
        ("FLASHFORGE__KNOWLEDGE__EMBED_BATCH", "1"),
        ("FLASHFORGE__KNOWLEDGE__LEASE_SECS", "1"),
        ("FLASHFORGE__KNOWLEDGE__MAX_ATTEMPTS", "2"),
    ]);
    let runtime = current_thread_runtime();
    let mut api_vars = vars.clone();
    api_vars.push(("FLASHFORGE__WORKER__ENABLED", "false"));
    let mut api = Process(
        flashforge("test", &api_vars)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let port: u16 = port.parse().unwrap();
    wait_until_live(port, &mut api);
    let pdf = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/pdf/long-100.pdf"
    ))
    .unwrap();
    runtime.block_on(async {
        let api = Api::new(port);
        let token = api.sign_up("poison").await;
        let chat = api.chat(&token, "Poison").await;
        let response = api.upload(&token, &chat, "long.pdf", pdf).await;
        assert_eq!(response.status(), 202);
    });
    kill(&api, "-TERM");
    assert!(wait_exit(&mut api, Duration::from_secs(20)).success());

    let worker = || {
        Process(
            flashforge("test", &vars)
                .arg("worker")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    for attempt in 1..=2 {
        let mut running = worker();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let attempts = count(&runtime, &url, "SELECT MAX(attempts) FROM jobs");
            let (status, pages_done, _) = documents(&runtime, &url)[0].clone();
            if attempts == attempt && status == "processing" && pages_done >= 1 {
                break;
            }
            assert_ne!(status, "completed", "attempt {attempt} finished");
            assert!(Instant::now() < deadline, "attempt {attempt} never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        // Killed like the out-of-memory killer would: no chance to record anything.
        kill(&running, "-KILL");
        wait_exit(&mut running, Duration::from_secs(10));
    }

    let mut last = worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, _) = documents(&runtime, &url)[0].clone();
        if status == "failed" {
            break;
        }
        assert_ne!(status, "completed", "a third attempt ran");
        assert!(Instant::now() < deadline, "still {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(&last, "-TERM");
    assert!(wait_exit(&mut last, Duration::from_secs(30)).success());
    let error = text_of(&runtime, &url, "SELECT error FROM documents");
    assert!(error.contains("each of 2 attempts"), "{error}");
    assert_eq!(count(&runtime, &url, "SELECT MAX(attempts) FROM jobs"), 2);
    assert_eq!(text_of(&runtime, &url, "SELECT status FROM jobs"), "dead");
    assert_eq!(
        count(&runtime, &url, "SELECT COUNT(*) FROM chunks"),
        0,
        "nothing half-indexed"
    );
}

/// Starting against an index built with another embedding model is a clear start-up error
/// that names `flashforge kb reindex`; running it rebuilds the index and the server starts and
/// finds the material again.
#[test]
fn a_model_change_needs_kb_reindex_which_rebuilds_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("ff.db"));
    let port = free_port();
    let port_text = port.to_string();
    let vars = |dimension: &'static str| -> Vec<(&str, String)> {
        let mut vars = vec![
            ("FLASHFORGE__DATABASE__URL", url.clone()),
            ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET.into()),
            ("FLASHFORGE__SERVER__PORT", port_text.clone()),
        ];
        vars.extend(local_files(dir.path()));
        vars.extend([
            ("FLASHFORGE__EMBEDDING__PROVIDER", "hash".into()),
            ("FLASHFORGE__EMBEDDING__DIMENSION", dimension.into()),
        ]);
        vars
    };
    let as_refs = |v: &[(&'static str, String)]| -> Vec<(&'static str, String)> { v.to_vec() };
    let spawn = |v: Vec<(&'static str, String)>, args: &[&str]| {
        let refs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Process(
            flashforge("test", &refs)
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };
    let runtime = current_thread_runtime();
    let api = Api::new(port);

    let mut server = spawn(as_refs(&vars("384")), &["serve"]);
    wait_until_live(port, &mut server);
    let (token, chat) = runtime.block_on(async {
        let token = api.sign_up("reindexer").await;
        let chat = api.chat(&token, "notes").await;
        let leaf = b"Chlorophyll absorbs red and blue light. Stomata regulate gas exchange.";
        let doc: serde_json::Value = api
            .upload(&token, &chat, "leaf.txt", leaf.to_vec())
            .await
            .json()
            .await
            .unwrap();
        let path = format!("/chats/{chat}/documents/{}", doc["id"].as_str().unwrap());
        api.settled(&token, &path, POLL, Duration::from_secs(30))
            .await;
        (token, chat)
    });
    kill(&server, "-TERM");
    assert!(wait_exit(&mut server, Duration::from_secs(20)).success());

    // Another model (another dimension): refused at start-up, naming the fix.
    let mut refused = spawn(as_refs(&vars("256")), &["serve"]);
    let exit = wait_exit(&mut refused, Duration::from_secs(30));
    let mut stderr = String::new();
    refused
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!exit.success());
    assert!(stderr.contains("flashforge kb reindex"), "{stderr}");

    let refs: Vec<(&str, String)> = vars("256");
    let refs: Vec<(&str, &str)> = refs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run("test", &refs, &["kb", "reindex"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("reindexed 1 chunks"), "{stdout}");

    let mut server = spawn(as_refs(&vars("256")), &["serve"]);
    wait_until_live(port, &mut server);
    let found = runtime.block_on(api.get(
        &token,
        &format!("/chats/{chat}/search?q=stomata%20gas&mode=semantic"),
    ));
    assert!(
        found["hits"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Stomata"),
        "{found}"
    );
    kill(&server, "-TERM");
    assert!(wait_exit(&mut server, Duration::from_secs(20)).success());
}

/// Every regular file under `dir`.
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}
