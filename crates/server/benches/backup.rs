//! Backup benchmark (`make bench-backup`): what a backup weighs against the data it holds, and
//! how long a backup and a restore take.
//!
//! 1. The fixture deployment: 5 documents (a PDF, slides, a DOCX, an EPUB and an HTML page) and
//!    100 cards, on the default stack (SQLite, the embedded index, blobs in a folder, the real
//!    model when `make models` fetched it). Its data on disk (`du`: allocated blocks, holes take
//!    none) against the archive `flashforge backup` writes, and against the bytes a file-by-file
//!    copy writes (the sum of the manifest's sizes: what format 1 wrote). Goal: archive ≤ 2× du.
//! 2. A 100-document deployment (10 users × 10 documents of 5 pages each, 10 cards each): the
//!    same sizes, and the wall time of `flashforge backup` and of `flashforge restore` into an
//!    empty deployment (which includes checking the index against the chunks).
//!
//! Both commands run as the release binary, as an operator runs them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use flashforge_tests::client::Api;
use flashforge_tests::database::{local_files, sqlite_url};
use flashforge_tests::process::command;
use flashforge_tests::settings::model_dir;

const BIN: &str = env!("CARGO_BIN_EXE_flashforge");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
const POLL: Duration = Duration::from_millis(100);

/// One deployment's folder: `flashforge.db`, `index/`, `blobs/`.
struct Deployment {
    dir: tempfile::TempDir,
}

impl Deployment {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            (
                "FLASHFORGE__DATABASE__URL",
                sqlite_url(&self.dir.path().join("flashforge.db")),
            ),
            ("FLASHFORGE__AUTH__JWT_SECRET", common::BENCH_SECRET.into()),
            ("FLASHFORGE__RATE_LIMIT__ENABLED", "false".into()),
            ("FLASHFORGE__LOG__LEVEL", "error".into()),
        ];
        vars.extend(local_files(self.dir.path()));
        let model = model_dir();
        if model.join("model.safetensors").is_file() {
            vars.push(("FLASHFORGE__EMBEDDING__PROVIDER", "local".into()));
            vars.push((
                "FLASHFORGE__EMBEDDING__MODEL_DIR",
                model.display().to_string(),
            ));
        } else {
            println!("(no model in {}: the hash embedder)", model.display());
            vars.push(("FLASHFORGE__EMBEDDING__PROVIDER", "hash".into()));
        }
        vars
    }

    /// `flashforge ARGS` on this deployment; its output and wall time.
    fn run(&self, args: &[&str]) -> (Output, Duration) {
        let vars = self.vars();
        let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let started = Instant::now();
        let out = command(BIN, "test", &refs).args(args).output().unwrap();
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "flashforge {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, took)
    }

    /// The room the data takes on disk: the database, the index and the blobs.
    fn disk_use(&self) -> u64 {
        let d = self.dir.path();
        ["flashforge.db", "flashforge.db-wal", "index", "blobs"]
            .iter()
            .map(|name| disk_use(&d.join(name)))
            .sum()
    }
}

/// Allocated bytes of the files under `path` (what `du` counts).
fn disk_use(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| disk_use(&e.unwrap().path()))
            .sum()
    } else {
        meta.blocks() * 512
    }
}

/// A file to upload: its name and bytes.
type Upload = (String, Vec<u8>);
/// A user to create, and what they upload.
type Student = (String, Vec<Upload>);

/// Fills `deployment` through the API of a server in this process: per user, one chat with
/// `documents` (name, bytes) and `cards` cards.
async fn populate(deployment: &Deployment, users: &[Student], cards: usize) {
    let vars = deployment.vars();
    let mut overrides: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    overrides.push(("FLASHFORGE__SERVER__WORKERS", "2"));
    let server = common::start(&overrides).await;
    let api = Api::new(server.address.rsplit(':').next().unwrap().parse().unwrap());
    for (username, documents) in users {
        let token = api.sign_up(username).await;
        let chat = api.chat(&token, "material").await;
        let mut ids = Vec::new();
        for (name, bytes) in documents {
            let response = api.upload(&token, &chat, name, bytes.clone()).await;
            assert_eq!(response.status(), 202, "{name}");
            let doc: serde_json::Value = response.json().await.unwrap();
            ids.push(doc["id"].as_str().unwrap().to_string());
        }
        for id in &ids {
            let path = format!("/chats/{chat}/documents/{id}");
            let doc = api
                .settled(&token, &path, POLL, Duration::from_secs(600))
                .await;
            assert_eq!(doc["status"], "completed", "{doc}");
        }
        for n in 0..cards {
            let (status, card) = api
                .send(
                    api.client
                        .post(api.url(&format!("/chats/{chat}/flashcards")))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({
                            "question": format!("Question {n} of {username}: what is term {n}?"),
                            "answer": format!("Term {n} is the {n}th idea of the course."),
                        })),
                )
                .await;
            assert_eq!(status, 201, "{card}");
        }
    }
    server.stop().await;
}

/// Pages of generated course text, `pages` of them, unique to `seed`.
fn course_text(seed: usize, pages: usize) -> Vec<u8> {
    let words = [
        "cell",
        "membrane",
        "protein",
        "enzyme",
        "energy",
        "gradient",
        "transport",
        "signal",
        "receptor",
        "pathway",
        "gene",
        "expression",
        "mutation",
        "selection",
        "population",
    ];
    let mut text = String::new();
    for page in 1..=pages {
        text.push_str(&format!("# Lecture {seed}, part {page}\n\n"));
        for sentence in 0..40 {
            let pick = |k: usize| words[(seed * 7 + page * 13 + sentence * 3 + k) % words.len()];
            text.push_str(&format!(
                "The {} of the {} shapes the {} through its {} ({seed}.{page}.{sentence}). ",
                pick(0),
                pick(1),
                pick(2),
                pick(3)
            ));
        }
        text.push_str("\n\n");
    }
    text.into_bytes()
}

fn fixture(path: &str) -> Upload {
    let file = PathBuf::from(FIXTURES).join(path);
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    (name, std::fs::read(&file).unwrap())
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Backs `source` up and restores it into a new deployment; prints the sizes and times.
fn measure(label: &str, source: &Deployment) -> (u64, u64) {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("backup.tar.zst");
    let (_, backup_time) = source.run(&["backup", "--out", &archive.display().to_string()]);
    let archive_size = std::fs::metadata(&archive).unwrap().len();
    let data = source.disk_use();
    let logical = logical_size(&archive);
    let target = Deployment::new();
    let (restored, restore_time) = target.run(&["restore", &archive.display().to_string()]);
    let restored = String::from_utf8_lossy(&restored.stdout);
    assert!(restored.contains("index reconciled"), "{restored}");
    println!("{label}");
    println!("  data on disk (du)            {:>12}", mib(data));
    println!(
        "  file-by-file copy (format 1) {:>12}  ({:.1}x the data)",
        mib(logical),
        logical as f64 / data as f64
    );
    println!(
        "  backup archive               {:>12}  ({:.2}x the data; goal <= 2x)",
        mib(archive_size),
        archive_size as f64 / data as f64
    );
    println!(
        "  restored data on disk        {:>12}",
        mib(target.disk_use())
    );
    println!(
        "  backup {:.2} s, restore {:.2} s (with the index reconciled)",
        backup_time.as_secs_f64(),
        restore_time.as_secs_f64()
    );
    (archive_size, data)
}

/// The sum of the sizes the archive's manifest lists.
fn logical_size(archive: &Path) -> u64 {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap() == Path::new("manifest.json") {
            let manifest: serde_json::Value = serde_json::from_reader(&mut entry).unwrap();
            return manifest["files"]
                .as_object()
                .unwrap()
                .values()
                .map(|f| f["size"].as_u64().unwrap())
                .sum();
        }
    }
    panic!("no manifest in {}", archive.display());
}

#[tokio::main]
async fn main() {
    // 1. The fixture deployment.
    let fixture_deployment = Deployment::new();
    let documents = [
        "pdf/long-100.pdf",
        "formats/lecture.pptx",
        "formats/notes.docx",
        "formats/book.epub",
        "formats/article.html",
    ]
    .iter()
    .map(|path| fixture(path))
    .collect();
    let started = Instant::now();
    populate(
        &fixture_deployment,
        &[("fixture.owner".to_string(), documents)],
        100,
    )
    .await;
    println!(
        "(the fixture deployment took {:.1} s to fill)",
        started.elapsed().as_secs_f64()
    );
    let (archive, data) = measure(
        "1. fixture deployment: 5 documents, 100 cards",
        &fixture_deployment,
    );
    assert!(
        archive <= 2 * data,
        "goal missed: the backup is {archive} bytes for {data} of data"
    );

    // 2. A hundred documents.
    let large = Deployment::new();
    let users: Vec<Student> = (0..10)
        .map(|u| {
            let documents = (0..10)
                .map(|d| (format!("lecture-{u}-{d}.md"), course_text(u * 10 + d, 5)))
                .collect();
            (format!("student{u}"), documents)
        })
        .collect();
    let started = Instant::now();
    populate(&large, &users, 10).await;
    println!(
        "(the 100-document deployment took {:.1} s to fill)",
        started.elapsed().as_secs_f64()
    );
    measure(
        "2. 100 documents (10 users x 10 documents of 5 pages), 100 cards",
        &large,
    );
}
