//! Faults, as real processes: SIGTERM in the middle of a load run, and uploads to a blob store
//! that is full or unwritable.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flashforge_tests::client::{Api, problem};
use flashforge_tests::database::sqlite_url;
use flashforge_tests::process::{Process, free_port, kill, wait_exit, wait_until_live};

use super::{GOOD_SECRET, POLL, count, current_thread_runtime, files_under, flashforge};

// ---------------------------------------------------------------------------------------------
// SIGTERM under load

/// What became of one request.
#[derive(Debug)]
enum Outcome {
    /// A complete answer (head and body) with this status.
    Answered(u16),
    /// No connection could be made: the listener was already closed. Never in flight.
    Refused,
    /// Connected, and the connection was closed or reset before any answer came.
    Dropped(String),
    /// The answer's head came, and then its body was cut off.
    Truncated(String),
}

#[derive(Debug)]
struct Shot {
    what: &'static str,
    /// When it was started and when it ended, since the start of the run.
    sent: Duration,
    done: Duration,
    outcome: Outcome,
}

impl Shot {
    fn describe(&self) -> String {
        let outcome = match &self.outcome {
            Outcome::Answered(status) => format!("answered {status}"),
            Outcome::Refused => "refused".to_string(),
            Outcome::Dropped(error) => format!("dropped unanswered: {error}"),
            Outcome::Truncated(error) => format!("cut off: {error}"),
        };
        format!("{} sent at {:?}: {outcome}", self.what, self.sent)
    }
}

/// A slow request's body arrives in this many pieces…
const SLOW_PIECES: usize = 4;
/// …this far apart: it is in flight for at least (SLOW_PIECES - 1) × SLOW_PAUSE.
const SLOW_PAUSE: Duration = Duration::from_millis(200);
const SLOW: &str = "slow POST flashcard";

#[derive(Clone)]
struct Load {
    client: reqwest::Client,
    base: String,
    token: String,
    chat: String,
}

impl Load {
    async fn shoot(&self, what: &'static str, n: usize) -> Outcome {
        let cards = format!("{}/api/v1/chats/{}/flashcards", self.base, self.chat);
        let card = serde_json::json!({"question": format!("Load {n}?"), "answer": "Yes."});
        let request = match what {
            "GET /me" => self
                .client
                .get(format!("{}/api/v1/me", self.base))
                .bearer_auth(&self.token),
            "GET /health/live" => self.client.get(format!("{}/health/live", self.base)),
            "POST flashcard" => self
                .client
                .post(&cards)
                .bearer_auth(&self.token)
                .json(&card),
            _ => {
                // The body trickles in: the request is in flight for most of a second.
                let body = serde_json::to_vec(&card).unwrap();
                let size = body.len();
                let pieces: Vec<Vec<u8>> = body
                    .chunks(size.div_ceil(SLOW_PIECES))
                    .map(<[u8]>::to_vec)
                    .collect();
                let stream = futures_util::StreamExt::then(
                    futures_util::stream::iter(pieces.into_iter().enumerate()),
                    |(i, piece)| async move {
                        if i > 0 {
                            tokio::time::sleep(SLOW_PAUSE).await;
                        }
                        Ok::<_, std::io::Error>(piece)
                    },
                );
                self.client
                    .post(&cards)
                    .bearer_auth(&self.token)
                    .header("content-type", "application/json")
                    .header("content-length", size)
                    .body(reqwest::Body::wrap_stream(stream))
            }
        };
        // Every request on a connection of its own.
        match request.header("connection", "close").send().await {
            Err(error) if error.is_connect() => Outcome::Refused,
            Err(error) => Outcome::Dropped(format!("{error:?}")),
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(_) => Outcome::Answered(status),
                    Err(error) => Outcome::Truncated(format!("a {status}: {error:?}")),
                }
            }
        }
    }
}

/// One load run with SIGTERM in the middle.
struct Run {
    shots: Vec<Shot>,
    sigterm_at: Duration,
    exit: std::process::ExitStatus,
    /// From SIGTERM to the exit.
    exit_after: Duration,
    /// Flashcards in the database once the process is gone.
    cards_stored: i64,
    log: String,
}

impl Run {
    fn in_flight(&self) -> impl Iterator<Item = &Shot> {
        self.shots
            .iter()
            .filter(|s| s.sent < self.sigterm_at && s.done > self.sigterm_at)
    }

    fn count(&self, keep: impl Fn(&Shot) -> bool) -> usize {
        self.shots.iter().filter(|s| keep(s)).count()
    }

    fn report(&self) {
        let last_answer = self
            .shots
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Answered(_)))
            .map(|s| s.done)
            .max()
            .unwrap_or_default();
        eprintln!(
            "sigterm under load: {} requests; {} answered before SIGTERM; {} in flight at \
             SIGTERM ({} of them slow), {} answered after it (the last {:?} after SIGTERM); \
             {} refused connections; {} dropped after connecting, {} cut off, {} non-2xx; \
             exit {:?} {:?} after SIGTERM",
            self.shots.len(),
            self.count(|s| s.done < self.sigterm_at),
            self.in_flight().count(),
            self.in_flight().filter(|s| s.what == SLOW).count(),
            self.count(|s| s.done > self.sigterm_at && matches!(s.outcome, Outcome::Answered(_))),
            last_answer.saturating_sub(self.sigterm_at),
            self.count(|s| matches!(s.outcome, Outcome::Refused)),
            self.count(|s| matches!(s.outcome, Outcome::Dropped(_))),
            self.count(|s| matches!(s.outcome, Outcome::Truncated(_))),
            self.count(|s| matches!(s.outcome, Outcome::Answered(n) if !(200..300).contains(&n))),
            self.exit.code(),
            self.exit_after,
        );
    }
}

/// 32 clients, each request on a connection of its own (no reuse), a quarter of them with
/// bodies that take 600 ms to arrive; SIGTERM after 1.5 s; the load goes on until the process
/// has exited.
fn sigterm_during_a_load_run() -> Run {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("ff.db"));
    let port = free_port();
    let port_text = port.to_string();
    let log_path = dir.path().join("server.log");
    let mut server = Process(
        flashforge(
            "test",
            &[
                ("FLASHFORGE__DATABASE__URL", &url),
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__PORT", &port_text),
                ("FLASHFORGE__SERVER__SHUTDOWN_TIMEOUT_SECS", "20"),
                ("FLASHFORGE__SERVER__CLIENT_REQUEST_TIMEOUT_MS", "20000"),
                ("FLASHFORGE__VECTOR__PROVIDER", "memory"),
            ],
        )
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap(),
    );
    wait_until_live(port, &mut server);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let api = Api::new(port);
    let (token, chat) = runtime.block_on(async {
        let token = api.sign_up("sigterm.load").await;
        let chat = api.chat(&token, "load").await;
        (token, chat)
    });
    let load = Load {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        base: format!("http://127.0.0.1:{port}"),
        token,
        chat,
    };

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..32)
        .map(|n| {
            let (load, stop) = (load.clone(), stop.clone());
            runtime.spawn(async move {
                let mut shots = Vec::new();
                let mut i = 0;
                // Staggered starts: the slow requests are at every stage when SIGTERM comes.
                tokio::time::sleep(SLOW_PAUSE * n as u32 / 32).await;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    // A quarter of the clients send slow bodies; the rest cycle through a read,
                    // a write and the liveness probe.
                    let what = if n % 4 == 0 {
                        SLOW
                    } else {
                        ["GET /me", "POST flashcard", "GET /health/live"][(n + i) % 3]
                    };
                    let sent = started.elapsed();
                    let outcome = load.shoot(what, n * 10_000 + i).await;
                    let refused = matches!(outcome, Outcome::Refused);
                    shots.push(Shot {
                        what,
                        sent,
                        done: started.elapsed(),
                        outcome,
                    });
                    if refused {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                shots
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(1500));
    let sigterm_at = started.elapsed();
    kill(&server, "-TERM");
    let exit = wait_exit(&mut server, Duration::from_secs(30));
    let exit_after = started.elapsed() - sigterm_at;
    // A moment more of load against the closed port, then stop.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let shots: Vec<Shot> = runtime.block_on(async {
        let mut all = Vec::new();
        for client in clients {
            all.extend(client.await.unwrap());
        }
        all
    });
    let cards_stored = count(&runtime, &url, "SELECT COUNT(*) FROM flashcards");
    let run = Run {
        shots,
        sigterm_at,
        exit,
        exit_after,
        cards_stored,
        log: std::fs::read_to_string(&log_path).unwrap_or_default(),
    };
    run.report();
    run
}

/// No request the app took is lost. Every answer that came
/// is a complete 2xx; every slow request in flight at SIGTERM is answered; the stored cards are
/// exactly the 201s (none written without its answer reaching the client); enough was in
/// flight to mean something; the listener closes; the process exits 0 well within its timeout.
/// (A connection reset before any answer is the strict test's concern, below.)
#[test]
fn sigterm_during_a_load_run_loses_no_request_the_app_took() {
    let run = sigterm_during_a_load_run();
    let bad: Vec<String> = run
        .shots
        .iter()
        .filter(|s| match s.outcome {
            Outcome::Answered(status) => !(200..300).contains(&status),
            Outcome::Truncated(_) => true,
            Outcome::Refused | Outcome::Dropped(_) => false,
        })
        .map(Shot::describe)
        .collect();
    assert!(bad.is_empty(), "{}\n{}", bad.join("\n"), run.log);
    let created = run.count(|s| {
        s.what.ends_with("POST flashcard") && matches!(s.outcome, Outcome::Answered(201))
    });
    assert_eq!(
        run.cards_stored, created as i64,
        "cards stored without their answer reaching the client"
    );
    let slow_in_flight: Vec<&Shot> = run.in_flight().filter(|s| s.what == SLOW).collect();
    assert!(
        slow_in_flight.len() >= 4,
        "too few slow requests in flight at SIGTERM: {}",
        slow_in_flight.len()
    );
    for shot in slow_in_flight {
        assert!(
            matches!(shot.outcome, Outcome::Answered(201)),
            "{}",
            shot.describe()
        );
    }
    assert!(
        run.count(|s| s.done < run.sigterm_at) > 100,
        "too little load before SIGTERM"
    );
    assert!(
        run.count(|s| matches!(s.outcome, Outcome::Refused)) > 0,
        "the listener never closed"
    );
    assert!(run.exit.success(), "exit {}: {}", run.exit, run.log);
    assert!(
        run.exit_after < Duration::from_secs(10),
        "{:?}",
        run.exit_after
    );
}

/// The brief's bar: a request that got a connection gets a complete 2xx — zero failures —
/// and only refused connections are not in flight.
///
/// actix-server's graceful stop alone fails this in most runs (1–5 of ~2 500 requests reset
/// within ~10 ms of SIGTERM): it closes the listener without accepting the connections still in
/// the kernel's accept queue, and drops connections accepted but still queued for a worker. The
/// server's `Drain` (crates/server/src/shutdown.rs) stops new handshakes at the kernel and lets
/// the accept loop take the queued ones before the stop.
#[test]
fn sigterm_during_a_load_run_fails_no_request_that_got_a_connection() {
    let run = sigterm_during_a_load_run();
    let failed: Vec<String> = run
        .shots
        .iter()
        .filter(|s| match s.outcome {
            Outcome::Answered(status) => !(200..300).contains(&status),
            Outcome::Dropped(_) | Outcome::Truncated(_) => true,
            Outcome::Refused => false,
        })
        .map(Shot::describe)
        .collect();
    assert!(
        failed.is_empty(),
        "{} requests that got a connection failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(
        run.in_flight().count() >= 8,
        "too little in flight at SIGTERM"
    );
    assert!(run.exit.success(), "exit {}: {}", run.exit, run.log);
}

// ---------------------------------------------------------------------------------------------
// A full or unwritable blob store

/// A tiny tmpfs mounted at a folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` when this machine won't let us mount (not root, no CAP_SYS_ADMIN).
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then(|| Self(at.to_path_buf()))
    }

    fn unmount(self) {
        let status = Command::new("umount").arg(&self.0).status().unwrap();
        assert!(status.success(), "umount {}", self.0.display());
        std::mem::forget(self);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Waits (briefly: clean-up may run just after the answer) until `dir` holds exactly `expected`.
fn settle_files(dir: &Path, expected: &[PathBuf]) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let files = files_under(dir);
        if files == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} holds {files:?}, expected {expected:?}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An upload into a store that cannot take it: the answer is `status` with `code`, and nothing
/// is left of it — no document, no job, no blob (`blob_dir` holds `blobs_before` again), no
/// spool file.
#[allow(clippy::too_many_arguments)]
fn upload_fails_cleanly(
    runtime: &tokio::runtime::Runtime,
    api: &Api,
    url: &str,
    token: &str,
    chat: &str,
    bytes: &[u8],
    (status, code): (u16, &str),
    (blob_dir, blobs_before): (&Path, &[PathBuf]),
    spool: &Path,
) {
    let jobs_before = count(runtime, url, "SELECT COUNT(*) FROM jobs");
    let documents_before = count(runtime, url, "SELECT COUNT(*) FROM documents");
    let body = runtime.block_on(async {
        let response = api.upload(token, chat, "notes.txt", bytes.to_vec()).await;
        problem(response, status).await
    });
    eprintln!("upload into a failing store: {body}");
    assert_eq!(body["code"], code, "{body}");
    let listed = runtime.block_on(api.get(token, &format!("/chats/{chat}/documents")));
    assert_eq!(listed["items"], serde_json::json!([]), "{listed}");
    assert_eq!(
        count(runtime, url, "SELECT COUNT(*) FROM documents"),
        documents_before
    );
    assert_eq!(
        count(runtime, url, "SELECT COUNT(*) FROM jobs"),
        jobs_before
    );
    settle_files(blob_dir, blobs_before);
    settle_files(spool, &[]);
}

/// The same upload once the store is writable again: accepted (not "already there") and
/// ingested.
fn upload_is_ingested(
    runtime: &tokio::runtime::Runtime,
    api: &Api,
    token: &str,
    chat: &str,
    bytes: &[u8],
) {
    runtime.block_on(async {
        let response = api.upload(token, chat, "notes.txt", bytes.to_vec()).await;
        assert_eq!(response.status(), 202, "the retried upload is new");
        let doc: serde_json::Value = response.json().await.unwrap();
        let path = format!("/chats/{chat}/documents/{}", doc["id"].as_str().unwrap());
        let doc = api
            .settled(token, &path, POLL, Duration::from_secs(30))
            .await;
        assert_eq!(doc["status"], "completed", "{doc}");
        assert!(doc["chunk_count"].as_u64().unwrap() > 0, "{doc}");
    });
}

/// With local blobs: an upload when the disk is full answers 507 `storage_full`; when the blob
/// folder cannot be written (it was replaced by a file), 503; when the spool folder is full,
/// 507. Each time nothing is left behind — no document, no job, no blob, no spool file — and
/// once the store is fixed the same upload goes through and is ingested, without a restart.
#[test]
fn uploads_to_a_full_or_unwritable_blob_store_fail_clearly_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(&dir.path().join("ff.db"));
    let blobs = dir.path().join("blobs");
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let blobs_text = blobs.display().to_string();
    let port = free_port();
    let port_text = port.to_string();
    let log_path = dir.path().join("server.log");
    let mut server = Process(
        flashforge(
            "test",
            &[
                ("FLASHFORGE__DATABASE__URL", &url),
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__PORT", &port_text),
                ("FLASHFORGE__STORAGE__BLOBS", "local"),
                ("FLASHFORGE__STORAGE__BLOB_DIR", &blobs_text),
                ("FLASHFORGE__VECTOR__PROVIDER", "memory"),
                ("FLASHFORGE__EMBEDDING__PROVIDER", "hash"),
            ],
        )
        // Upload spool files go here, where they can be counted.
        .env("TMPDIR", &spool)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap(),
    );
    wait_until_live(port, &mut server);
    let runtime = current_thread_runtime();
    let api = Api::new(port);
    let token = runtime.block_on(api.sign_up("full.disk"));
    // 200 KB of text: more than the 64 KB filesystems below hold.
    let bytes = "Mitochondria make ATP for the cell. Ribosomes build proteins from amino acids.\n"
        .repeat(2600)
        .into_bytes();
    assert!(bytes.len() > 200_000);

    // 1. The disk under the blob folder is full (a 64 KB tmpfs).
    match Tmpfs::mount(&blobs, "64k") {
        None => eprintln!(
            "\n!!!!!!!! cannot mount a tmpfs here: the disk-full cases are SKIPPED (the unwritable one runs) !!!!!!!!\n"
        ),
        Some(full) => {
            let chat = runtime.block_on(api.chat(&token, "full disk"));
            upload_fails_cleanly(
                &runtime,
                &api,
                &url,
                &token,
                &chat,
                &bytes,
                (507, "storage_full"),
                (&blobs, &[]),
                &spool,
            );
            full.unmount();
            upload_is_ingested(&runtime, &api, &token, &chat, &bytes);
        }
    }

    // 2. The blob folder cannot be written: it was replaced by a regular file (root ignores
    // permissions, not file types).
    let kept = files_under(&blobs);
    let moved = dir.path().join("blobs.moved");
    std::fs::rename(&blobs, &moved).unwrap();
    std::fs::write(&blobs, b"not a folder").unwrap();
    let chat = runtime.block_on(api.chat(&token, "unwritable"));
    upload_fails_cleanly(
        &runtime,
        &api,
        &url,
        &token,
        &chat,
        &bytes,
        (503, "dependency_unavailable"),
        (&moved, &files_under(&moved)),
        &spool,
    );
    assert_eq!(std::fs::read(&blobs).unwrap(), b"not a folder");
    std::fs::remove_file(&blobs).unwrap();
    std::fs::rename(&moved, &blobs).unwrap();
    assert_eq!(files_under(&blobs), kept);
    upload_is_ingested(&runtime, &api, &token, &chat, &bytes);

    // 3. The spool folder's disk is full: the upload is cut off while it arrives.
    if let Some(full) = Tmpfs::mount(&spool, "64k") {
        let chat = runtime.block_on(api.chat(&token, "full spool"));
        let before = files_under(&blobs);
        upload_fails_cleanly(
            &runtime,
            &api,
            &url,
            &token,
            &chat,
            &bytes,
            (507, "storage_full"),
            (&blobs, &before),
            &spool,
        );
        full.unmount();
        upload_is_ingested(&runtime, &api, &token, &chat, &bytes);
    }

    kill(&server, "-TERM");
    let exit = wait_exit(&mut server, Duration::from_secs(30));
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(exit.success(), "exit {exit}: {log}");
}
