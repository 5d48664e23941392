//! Backups: `flashforge backup`, `flashforge restore`, and the worker's scheduled backups.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use flashforge_tests::client::Api;
use flashforge_tests::database::{Storage, local_files, postgres_or_skip};
use flashforge_tests::process::{Process, free_port, kill, wait_exit, wait_until_live};
use flashforge_tests::s3::S3Bucket;

use super::{GOOD_SECRET, POLL, count, current_thread_runtime, files_under, flashforge, run};

/// One deployment: a database, an embedded vector index and a local blob folder, with its own
/// temp folder and port.
struct Deployment {
    storage: Storage,
    url: String,
    port: u16,
    /// Settings over the local files (blobs in a bucket).
    extra: Vec<(&'static str, String)>,
}

impl Deployment {
    fn sqlite() -> Self {
        Self::on(Storage::sqlite())
    }

    fn postgres(runtime: &tokio::runtime::Runtime) -> Self {
        Self::on(runtime.block_on(Storage::postgres()))
    }

    fn on(storage: Storage) -> Self {
        Self {
            url: storage.database_url().unwrap(),
            storage,
            port: free_port(),
            extra: Vec::new(),
        }
    }

    /// On SQLite, with the uploaded files in `bucket`.
    fn sqlite_with_blobs_in(bucket: &S3Bucket) -> Self {
        let mut deployment = Self::sqlite();
        deployment.extra = bucket.settings();
        deployment
    }

    fn files(&self) -> &std::path::Path {
        self.storage.files_dir().unwrap()
    }

    fn index_dir(&self) -> PathBuf {
        self.files().join("index")
    }

    fn blob_dir(&self) -> PathBuf {
        self.files().join("blobs")
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            ("FLASHFORGE__DATABASE__URL", self.url.clone()),
            ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET.into()),
            ("FLASHFORGE__SERVER__PORT", self.port.to_string()),
        ];
        vars.extend(local_files(self.files()));
        vars.push(("FLASHFORGE__EMBEDDING__PROVIDER", "hash".into()));
        vars.extend(self.extra.iter().cloned());
        vars
    }

    fn command(&self, extra: &[(&str, &str)]) -> Command {
        let vars = self.vars();
        let mut refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        refs.extend_from_slice(extra);
        flashforge("test", &refs)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(&[]).args(args).output().unwrap()
    }

    /// `flashforge ARGS`, which must succeed; its standard output.
    fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "flashforge {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    fn serve(&self) -> Process {
        let mut server = Process(
            self.command(&[])
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_until_live(self.port, &mut server);
        server
    }

    /// Nothing was written: no database file or tables, no index, no blobs.
    fn is_untouched(&self, runtime: &tokio::runtime::Runtime) -> bool {
        let database_empty = if let Some(file) = self.storage.sqlite_file() {
            !file.exists()
        } else {
            count(
                runtime,
                &self.url,
                "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'",
            ) == 0
        };
        let empty = |dir: PathBuf| {
            std::fs::read_dir(&dir).map_or(true, |entries| {
                entries
                    .map(|e| e.unwrap().file_name())
                    .all(|name| name == ".lock")
            })
        };
        database_empty && empty(self.index_dir()) && empty(self.blob_dir())
    }
}

fn stop(mut server: Process) {
    kill(&server, "-TERM");
    assert!(wait_exit(&mut server, Duration::from_secs(30)).success());
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What one user made before the backup.
struct Material {
    username: &'static str,
    chat: String,
    document: String,
    cards: Vec<String>,
    query: &'static str,
}

/// Two users, each with a chat, an ingested text document and cards, one of them reviewed.
async fn make_material(api: &Api) -> Vec<Material> {
    let plans = [
        (
            "alice.backup",
            "biology",
            "leaf.txt",
            "Chlorophyll absorbs red and blue light. Stomata regulate gas exchange in the leaf. \
             Photosynthesis turns carbon dioxide and water into glucose and oxygen.",
            "stomata gas exchange",
            [
                ("What do stomata regulate?", "Gas exchange."),
                ("What absorbs red light?", "Chlorophyll."),
            ],
        ),
        (
            "bob.backup",
            "history",
            "rome.txt",
            "The Roman Republic was founded in 509 BC. Julius Caesar crossed the Rubicon in 49 BC. \
             The Western Roman Empire fell in 476 AD.",
            "Caesar Rubicon",
            [
                ("When was the Republic founded?", "509 BC."),
                ("What did Caesar cross?", "The Rubicon."),
            ],
        ),
    ];
    let mut out = Vec::new();
    for (username, chat_name, file, body, query, cards) in plans {
        let token = api.sign_up(username).await;
        let chat = api.chat(&token, chat_name).await;
        let response = api
            .upload(&token, &chat, file, body.as_bytes().to_vec())
            .await;
        assert_eq!(response.status(), 202);
        let document: serde_json::Value = response.json().await.unwrap();
        let document = document["id"].as_str().unwrap().to_string();
        let path = format!("/chats/{chat}/documents/{document}");
        let doc = api
            .settled(&token, &path, POLL, Duration::from_secs(30))
            .await;
        assert_eq!(doc["status"], "completed", "{file} was not ingested: {doc}");
        let mut ids = Vec::new();
        for (question, answer) in cards {
            let (status, card) = api
                .send(
                    api.client
                        .post(format!("{}/chats/{chat}/flashcards", api.base))
                        .bearer_auth(&token)
                        .json(&serde_json::json!({"question": question, "answer": answer})),
                )
                .await;
            assert_eq!(status, 201, "{card}");
            ids.push(card["id"].as_str().unwrap().to_string());
        }
        let (status, reviewed) = api
            .send(
                api.client
                    .post(format!("{}/flashcards/{}/reviews", api.base, ids[0]))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"rating": "easy", "duration_ms": 4000})),
            )
            .await;
        assert_eq!(status, 200, "{reviewed}");
        out.push(Material {
            username,
            chat,
            document,
            cards: ids,
            query,
        });
    }
    out
}

/// Serves `source` while [`make_material`] fills it, records what each user sees after a fresh
/// login, and stops the server. Returns the material, the tokens and the answers.
fn fill(
    runtime: &tokio::runtime::Runtime,
    source: &Deployment,
) -> (Vec<Material>, Vec<String>, Answers) {
    let server = source.serve();
    let filled = runtime.block_on(make_and_record(&Api::new(source.port)));
    stop(server);
    filled
}

/// [`make_material`] through `api`, then what each user sees after a fresh login.
async fn make_and_record(api: &Api) -> (Vec<Material>, Vec<String>, Answers) {
    let material = make_material(api).await;
    let mut tokens = Vec::new();
    for m in &material {
        tokens.push(api.login(m.username).await);
    }
    let before = record(api, &material, &tokens).await;
    (material, tokens, before)
}

/// What each user saw, by `user GET path`.
type Answers = std::collections::BTreeMap<String, serde_json::Value>;

/// The answers a user sees, by `user GET path`.
async fn record(api: &Api, material: &[Material], tokens: &[String]) -> Answers {
    let mut answers = std::collections::BTreeMap::new();
    for (m, token) in material.iter().zip(tokens) {
        let (chat, document) = (&m.chat, &m.document);
        let query = m.query.replace(' ', "%20");
        let mut paths = vec![
            "/me".to_string(),
            "/chats".to_string(),
            format!("/chats/{chat}"),
            format!("/chats/{chat}/documents"),
            format!("/chats/{chat}/documents/{document}"),
            format!("/chats/{chat}/documents/{document}/chunks"),
            format!("/chats/{chat}/documents/{document}/file"),
            format!("/chats/{chat}/flashcards"),
            "/study/stats".to_string(),
            "/study/due".to_string(),
            format!("/chats/{chat}/search?q={query}&mode=semantic"),
            format!("/chats/{chat}/search?q={query}&mode=keyword"),
            format!("/chats/{chat}/search?q={query}"),
        ];
        paths.extend(m.cards.iter().map(|card| format!("/flashcards/{card}")));
        for path in paths {
            let answer = api.get_ok(token, &path).await;
            answers.insert(format!("{} GET {path}", m.username), answer);
        }
    }
    answers
}

/// Serves `target` and checks that every user sees `before` again, with the same tokens.
fn assert_serves_as_before(
    runtime: &tokio::runtime::Runtime,
    target: &Deployment,
    material: &[Material],
    tokens: &[String],
    before: &Answers,
) {
    let server = target.serve();
    let after = runtime.block_on(record(&Api::new(target.port), material, tokens));
    assert_same_answers(before, &after);
    stop(server);
}

fn assert_same_answers(before: &Answers, after: &Answers) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (key, answer) in before {
        assert_eq!(answer, &after[key], "{key} differs after the restore");
    }
}

/// The manifest inside the backup archive at `archive`.
fn manifest(archive: &Path) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    expand(archive, dir.path());
    serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap()
}

/// Expands the backup archive at `archive` into `into`, holes kept.
fn expand(archive: &Path, into: &Path) {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(zstd::Decoder::new(file).unwrap());
    tar.unpack(into).unwrap();
}

/// Packs the files of `dir` into the archive `archive`, in the order a backup writes them (the
/// manifest last).
fn pack(dir: &Path, archive: &Path) {
    let file = std::fs::File::create(archive).unwrap();
    let mut builder = tar::Builder::new(zstd::Encoder::new(file, 3).unwrap());
    for path in files_under(dir) {
        let name = path.strip_prefix(dir).unwrap();
        if name != Path::new("manifest.json") {
            builder.append_path_with_name(&path, name).unwrap();
        }
    }
    builder
        .append_path_with_name(dir.join("manifest.json"), "manifest.json")
        .unwrap();
    builder.into_inner().unwrap().finish().unwrap();
}

/// The room files take on disk (what `du` counts: holes take none).
fn disk_use(paths: &[PathBuf]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    paths
        .iter()
        .flat_map(|path| {
            if path.is_dir() {
                files_under(path)
            } else {
                vec![path.clone()]
            }
        })
        .map(|file| std::fs::metadata(file).map_or(0, |m| m.blocks() * 512))
        .sum()
}

/// A populated deployment is backed up, restored into a new empty one, and serves the same
/// answers; a corrupt backup, a non-empty target and a non-empty backup folder are refused.
fn backup_and_restore_round_trip(
    runtime: &tokio::runtime::Runtime,
    source: &Deployment,
    target: &Deployment,
    dump_file: &str,
) {
    // The source: material made through the API, then recorded with fresh logins.
    let (material, tokens, before) = fill(runtime, source);
    for m in &material {
        let search = &before[&format!(
            "{} GET /chats/{}/search?q={}&mode=semantic",
            m.username,
            m.chat,
            m.query.replace(' ', "%20")
        )];
        assert!(
            !search["hits"].as_array().unwrap().is_empty(),
            "nothing to compare: {search}"
        );
    }

    // The backup: one archive, a fraction of the data's room on disk.
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("backup.tar.zst");
    let backup_text = backup.display().to_string();
    let stdout = source.run_ok(&["backup", "--out", &backup_text]);
    assert!(
        stdout.contains(&format!("backup written to {backup_text}")),
        "{stdout}"
    );
    assert!(!backups.path().join("backup.tar.zst.partial").exists());
    assert!(!backups.path().join("backup.tar.zst.partial.d").exists());
    let mut data = vec![source.index_dir(), source.blob_dir()];
    data.extend(source.storage.sqlite_file());
    let (archive_size, data_size) = (std::fs::metadata(&backup).unwrap().len(), disk_use(&data));
    assert!(
        archive_size <= 2 * data_size,
        "the backup takes {archive_size} bytes for {data_size} of data"
    );
    let written = manifest(&backup);
    assert_eq!(written["format_version"], 2);
    assert_eq!(written["flashforge_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(written["database"]["file"], dump_file);
    let status = text(&source.run(&["migrate", "status"]).stdout);
    let latest = status.lines().last().unwrap().split('\t').next().unwrap();
    assert_eq!(written["database"]["latest_migration"], latest, "{status}");
    let counts = &written["database"]["counts"];
    for (table, n) in [
        ("users", 2),
        ("chats", 2),
        ("documents", 2),
        ("flashcards", 4),
        ("reviews", 2),
        ("jobs", 2),
        ("messages", 0),
        ("flashcard_generations", 0),
    ] {
        assert_eq!(counts[table], n, "{table}: {counts}");
    }
    assert!(counts["chunks"].as_u64().unwrap() >= 2, "{counts}");
    assert!(counts["sessions"].as_u64().unwrap() >= 4, "{counts}");
    assert_eq!(written["index"]["copied"], true);
    // No server held the index: the copy is whole, with nothing to say.
    assert_eq!(written["index"]["note"], serde_json::Value::Null);
    assert_eq!(written["blobs"]["copied"], true);
    assert_eq!(written["blobs"]["files"], 2);
    assert_eq!(written["embedding"]["model"], "hash-384");
    let files = written["files"].as_object().unwrap();
    assert!(files.contains_key(dump_file), "{files:?}");
    assert!(files.keys().any(|f| f.starts_with("index/")), "{files:?}");
    assert!(!files.keys().any(|f| f.ends_with(".lock")), "{files:?}");
    for entry in files.values() {
        assert_eq!(entry["sha256"].as_str().unwrap().len(), 64);
    }
    // Only the account that wrote it can read it.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Not over an existing file: the backup there is left as it was.
    let archive_bytes = std::fs::read(&backup).unwrap();
    let out = source.run(&["backup", "--out", &backup_text]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(&backup).unwrap(), archive_bytes);

    // An archive whose blob has one byte flipped is refused, naming the file; a truncated one
    // is refused as damaged. The target is left untouched either way.
    let expanded = backups.path().join("expanded");
    expand(&backup, &expanded);
    let blob = files
        .keys()
        .find(|f| f.starts_with("blobs/"))
        .unwrap()
        .clone();
    let corrupt_dir = backups.path().join("corrupt");
    expand(&backup, &corrupt_dir);
    let mut bytes = std::fs::read(corrupt_dir.join(&blob)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(corrupt_dir.join(&blob), bytes).unwrap();
    let corrupt = backups.path().join("corrupt.tar.zst");
    pack(&corrupt_dir, &corrupt);
    let out = target.run(&["restore", &corrupt.display().to_string()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("corrupt") && stderr.contains(&blob),
        "{stderr}"
    );
    assert!(target.is_untouched(runtime), "a refused restore wrote");
    let truncated = backups.path().join("truncated.tar.zst");
    std::fs::write(&truncated, &archive_bytes[..archive_bytes.len() / 2]).unwrap();
    let out = target.run(&["restore", &truncated.display().to_string()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cannot be expanded"), "{stderr}");
    assert!(target.is_untouched(runtime), "a refused restore wrote");

    // The restore into the new, empty deployment.
    let stdout = target.run_ok(&["restore", &backup_text]);
    assert!(
        stdout.contains(&format!("restored {backup_text}")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["users", "2", "2"]),
        "{stdout}"
    );
    // The restore checked the index against the chunks by itself: nothing was missing.
    assert!(
        stdout.contains("index reconciled with the chunks")
            && stdout.contains("0 orphan points removed, 0 documents queued"),
        "{stdout}"
    );
    // The index's holes stayed holes.
    let (restored, original) = (
        disk_use(&[target.index_dir()]),
        disk_use(&[source.index_dir()]),
    );
    assert!(
        restored <= 2 * original + (1 << 20),
        "the restored index takes {restored} bytes on disk, the source's {original}"
    );

    // The restored deployment answers as the source did: with the tokens issued before the
    // backup (same secret, sessions restored), and after fresh logins (only the login time moves).
    let server = target.serve();
    let api = Api::new(target.port);
    let (after, fresh) = runtime.block_on(async {
        let after = record(&api, &material, &tokens).await;
        let mut fresh_tokens = Vec::new();
        for m in &material {
            fresh_tokens.push(api.login(m.username).await);
        }
        let fresh = record(&api, &material, &fresh_tokens).await;
        (after, fresh)
    });
    assert_same_answers(&before, &after);
    let mut before_without_logins = before.clone();
    let mut fresh = fresh;
    for m in &material {
        let key = format!("{} GET /me", m.username);
        for answers in [&mut before_without_logins, &mut fresh] {
            answers.get_mut(&key).unwrap()["last_login_at"] = serde_json::Value::Null;
        }
    }
    assert_same_answers(&before_without_logins, &fresh);
    stop(server);

    // The target now holds data (two more sessions): without --force it is refused, unchanged.
    let sessions = || count(runtime, &target.url, "SELECT COUNT(*) FROM sessions");
    let backed_up_sessions = counts["sessions"].as_i64().unwrap();
    assert_eq!(sessions(), backed_up_sessions + 2);
    let out = target.run(&["restore", &backup_text]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        sessions(),
        backed_up_sessions + 2,
        "a refused restore wrote"
    );

    // With --force it is replaced by the backup, index and blobs included.
    target.run_ok(&["restore", &backup_text, "--force"]);
    assert_eq!(sessions(), backed_up_sessions);
    let blobs = files.keys().filter(|f| f.starts_with("blobs/")).count();
    assert_eq!(files_under(&target.blob_dir()).len(), blobs);
    assert!(target.index_dir().join("index.json").is_file());
    // No staging folder is left beside the data.
    let left: Vec<_> = std::fs::read_dir(target.files())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".flashforge-restore"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A backup of format 1 (the same files in a folder) still restores, and stays as it was.
    let mut legacy = manifest(&backup);
    legacy["format_version"] = 1.into();
    std::fs::write(
        expanded.join("manifest.json"),
        serde_json::to_vec(&legacy).unwrap(),
    )
    .unwrap();
    target.run_ok(&["restore", &expanded.display().to_string(), "--force"]);
    assert_eq!(sessions(), backed_up_sessions);
    assert!(expanded.join(dump_file).is_file());
    assert!(expanded.join(&blob).is_file());
}

#[test]
fn backup_and_restore_round_trip_on_sqlite() {
    let runtime = current_thread_runtime();
    let source = Deployment::sqlite();
    let target = Deployment::sqlite();
    backup_and_restore_round_trip(&runtime, &source, &target, "database.sqlite");
}

#[test]
fn backup_and_restore_round_trip_on_postgres() {
    let runtime = current_thread_runtime();
    if !runtime.block_on(postgres_or_skip()) {
        return;
    }
    let source = Deployment::postgres(&runtime);
    let target = Deployment::postgres(&runtime);
    backup_and_restore_round_trip(&runtime, &source, &target, "database.dump");
}

/// With the uploaded files in S3, a backup holds the database and the index but not the
/// bucket's objects, and says so; restored beside the same bucket, the deployment answers as
/// before, downloads included.
#[test]
fn backup_and_restore_with_blobs_in_s3() {
    let runtime = current_thread_runtime();
    let Some(bucket) = runtime.block_on(flashforge_tests::s3::new_bucket_or_skip()) else {
        return;
    };
    let source = Deployment::sqlite_with_blobs_in(&bucket);
    let (material, tokens, before) = fill(&runtime, &source);
    assert_eq!(runtime.block_on(bucket.keys()).len(), 2);
    assert!(files_under(&source.blob_dir()).is_empty());

    let backups = tempfile::tempdir().unwrap();
    source.run_ok(&["backup", "--out", &backups.path().display().to_string()]);
    let archive = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .expect("an archive named by its time");
    let written = manifest(&archive);
    assert_eq!(written["blobs"]["kind"], "s3");
    assert_eq!(written["blobs"]["copied"], false);
    assert!(
        written["blobs"]["note"]
            .as_str()
            .unwrap()
            .contains(&bucket.name),
        "{written}"
    );
    let files = written["files"].as_object().unwrap();
    assert!(!files.keys().any(|f| f.starts_with("blobs/")), "{files:?}");

    let target = Deployment::sqlite_with_blobs_in(&bucket);
    let stdout = target.run_ok(&["restore", &archive.display().to_string()]);
    assert!(stdout.contains("storage.blobs is s3"), "{stdout}");
    assert_serves_as_before(&runtime, &target, &material, &tokens, &before);
}

/// `flashforge backup` while a server holds the index: the copy is taken until two successive
/// copies agree, the manifest says so, and the backup restores to the same answers.
#[test]
fn a_backup_taken_while_the_server_runs_restores() {
    let runtime = current_thread_runtime();
    let source = Deployment::sqlite();
    let server = source.serve();
    let (material, tokens, before) = runtime.block_on(make_and_record(&Api::new(source.port)));
    let backups = tempfile::tempdir().unwrap();
    let archive = backups.path().join("live.tar.zst");
    source.run_ok(&["backup", "--out", &archive.display().to_string()]);
    stop(server);
    let note = manifest(&archive)["index"]["note"].clone();
    assert!(
        note.as_str()
            .unwrap_or_default()
            .contains("two successive copies were identical"),
        "{note}"
    );

    let target = Deployment::sqlite();
    let stdout = target.run_ok(&["restore", &archive.display().to_string()]);
    assert!(stdout.contains("0 documents queued"), "{stdout}");
    assert_serves_as_before(&runtime, &target, &material, &tokens, &before);
}

#[test]
fn backup_refuses_an_in_memory_database() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("backup").display().to_string();
    let out = run(
        "test",
        &[
            ("FLASHFORGE__DATABASE__URL", "memory://"),
            ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
        ],
        &["backup", "--out", &out_dir],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("in-memory"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("backup").exists());
    assert!(!dir.path().join("backup.partial").exists());
}

/// With `backup.interval_hours` set, a worker writes a backup into
/// `backup.dir/<UTC time>.tar.zst` when the newest is older than the interval, copying the index
/// it holds at rest, keeps the newest `backup.keep` (folders of format 1 count), and leaves other
/// files alone; a restarted worker does not take another one at once.
#[test]
fn the_worker_takes_scheduled_backups_and_keeps_the_newest() {
    let runtime = current_thread_runtime();
    let source = Deployment::sqlite();
    let backups = tempfile::tempdir().unwrap();
    for name in ["20250101T000000Z.tar.zst", "20250103T000000Z.tar.zst"] {
        std::fs::write(backups.path().join(name), name).unwrap();
    }
    for name in ["20250102T000000Z", "manual"] {
        std::fs::create_dir(backups.path().join(name)).unwrap();
        std::fs::write(backups.path().join(name).join("marker"), name).unwrap();
    }
    let backup_dir = backups.path().display().to_string();
    let schedule = [
        ("FLASHFORGE__BACKUP__DIR", backup_dir.as_str()),
        ("FLASHFORGE__BACKUP__INTERVAL_HOURS", "1"),
        ("FLASHFORGE__BACKUP__KEEP", "2"),
    ];
    let stamped = || {
        let mut names: Vec<String> = std::fs::read_dir(backups.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                let stem = n.strip_suffix(".tar.zst").unwrap_or(n);
                stem.len() == 16 && stem.ends_with('Z') && stem.as_bytes()[8] == b'T'
            })
            .collect();
        names.sort();
        names
    };
    let spawn_worker = || {
        Process(
            source
                .command(&schedule)
                .arg("worker")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };

    let mut worker = spawn_worker();
    let deadline = Instant::now() + Duration::from_secs(60);
    let names = loop {
        let names = stamped();
        // An archive gets its name once it is complete.
        let done = names.len() == 2 && names[1].as_str() > "2026" && names[1].ends_with(".tar.zst");
        if done {
            break names;
        }
        assert!(worker.try_wait().unwrap().is_none(), "the worker exited");
        assert!(Instant::now() < deadline, "no scheduled backup: {names:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    kill(&worker, "-TERM");
    assert!(wait_exit(&mut worker, Duration::from_secs(30)).success());
    assert_eq!(
        names[0], "20250103T000000Z.tar.zst",
        "the newest old one is kept"
    );
    assert!(backups.path().join("manual").join("marker").is_file());
    let written = manifest(&backups.path().join(&names[1]));
    assert_eq!(written["database"]["kind"], "sqlite");
    assert_eq!(written["database"]["counts"]["users"], 0);
    // The worker holds the index: it was copied at rest, with nothing to warn about.
    assert_eq!(written["index"]["copied"], true);
    assert_eq!(
        written["index"]["note"],
        serde_json::Value::Null,
        "{written}"
    );
    assert!(!std::fs::read_dir(backups.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".partial")
    }));

    // A restart within the interval takes none.
    let mut worker = spawn_worker();
    std::thread::sleep(Duration::from_secs(3));
    assert!(worker.try_wait().unwrap().is_none(), "the worker exited");
    kill(&worker, "-TERM");
    assert!(wait_exit(&mut worker, Duration::from_secs(30)).success());
    assert_eq!(stamped(), names);

    // What it wrote restores.
    let target = Deployment::sqlite();
    target.run_ok(&[
        "restore",
        &backups.path().join(&names[1]).display().to_string(),
    ]);
    assert_eq!(
        count(
            &runtime,
            &target.url,
            "SELECT COUNT(*) FROM seaql_migrations"
        ),
        written["database"]["counts"]["seaql_migrations"]
            .as_i64()
            .unwrap()
    );
}
