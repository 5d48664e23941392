//! Scaling out: two API processes and two worker processes on one Postgres and one Redis, as
//! real processes. They share rate limits through Redis, never run a job twice, and each API
//! answers for what the other wrote. (The vector index here is each process's own memory index:
//! the embedded engine serves one process per folder, and several processes share a Qdrant
//! server in production — there is none on this machine. What is checked is shared state:
//! rows, jobs, blobs and limits.)

use std::process::Stdio;
use std::time::{Duration, Instant};

use flashforge_tests::client::Api;
use flashforge_tests::database::{TestDatabase, postgres_or_skip, redis_or_skip};
use flashforge_tests::process::{Process, free_port, kill, wait_exit, wait_until_live};

use super::{GOOD_SECRET, count, current_thread_runtime, flashforge};

#[test]
fn two_apis_and_two_workers_share_postgres_and_redis() {
    let runtime = &current_thread_runtime();
    if !runtime.block_on(postgres_or_skip()) {
        return;
    }
    let Some(redis) = runtime.block_on(redis_or_skip()) else {
        return;
    };
    let db = runtime.block_on(TestDatabase::create_prefixed("ff_scale"));
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs").display().to_string();
    let prefix = format!("ff:scale:{}:", uuid::Uuid::now_v7().simple());
    let cache_prefix = format!("{prefix}cache:");
    let vars: Vec<(&str, &str)> = vec![
        ("FLASHFORGE__DATABASE__URL", &db.url),
        ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
        ("FLASHFORGE__VECTOR__PROVIDER", "memory"),
        ("FLASHFORGE__STORAGE__BLOBS", "local"),
        ("FLASHFORGE__STORAGE__BLOB_DIR", &blobs),
        ("FLASHFORGE__EMBEDDING__PROVIDER", "hash"),
        ("FLASHFORGE__RATE_LIMIT__REDIS_URL", &redis),
        ("FLASHFORGE__RATE_LIMIT__KEY_PREFIX", &prefix),
        ("FLASHFORGE__RATE_LIMIT__REGISTRATIONS_PER_IP_PER_HOUR", "4"),
        ("FLASHFORGE__CACHE__REDIS_URL", &redis),
        ("FLASHFORGE__CACHE__KEY_PREFIX", &cache_prefix),
        ("FLASHFORGE__WORKER__POLL_INTERVAL_MS", "50"),
        ("FLASHFORGE__WORKER__CONCURRENCY", "2"),
    ];
    let migrated = flashforge("test", &vars)
        .args(["migrate", "up"])
        .output()
        .unwrap();
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );

    let ports = [free_port(), free_port()];
    let mut processes = Vec::new();
    for port in ports {
        let port_text = port.to_string();
        let mut api_vars = vars.clone();
        api_vars.push(("FLASHFORGE__SERVER__PORT", &port_text));
        api_vars.push(("FLASHFORGE__WORKER__ENABLED", "false"));
        let mut api = Process(
            flashforge("test", &api_vars)
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_until_live(port, &mut api);
        processes.push(api);
    }
    let mut workers: Vec<Process> = (0..2)
        .map(|_| {
            Process(
                flashforge("test", &vars)
                    .arg("worker")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    let (one, two) = (Api::new(ports[0]), Api::new(ports[1]));

    runtime.block_on(async {
        // Registrations from one address: four in all, whichever API takes them.
        let token = one.sign_up("scale.one").await;
        let other = two.sign_up("scale.two").await;
        one.sign_up("scale.three").await;
        two.sign_up("scale.four").await;
        for api in [&one, &two] {
            let response = api
                .client
                .post(format!("{}/auth/register", api.base))
                .json(&serde_json::json!({"username": "scale.five", "password": "correct horse battery staple"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 429, "the budget is shared through Redis");
        }

        // Documents uploaded through both APIs, ingested by whichever worker claims them.
        let chat = one.chat(&token, "Shared").await;
        for i in 0..8 {
            let api = if i % 2 == 0 { &one } else { &two };
            let text = format!(
                "# Part {i}\n\n{}",
                "Mitochondria make ATP for the cell. Ribosomes build proteins. ".repeat(40 + i)
            );
            let response = api
                .upload(&token, &chat, &format!("part-{i}.md"), text.into_bytes())
                .await;
            assert_eq!(response.status(), 202);
        }
        let started = Instant::now();
        loop {
            let docs = two
                .get(&token, &format!("/chats/{chat}/documents?limit=50"))
                .await;
            let items = docs["items"].as_array().unwrap().clone();
            assert_eq!(items.len(), 8);
            assert!(items.iter().all(|d| d["status"] != "failed"), "{docs}");
            if items.iter().all(|d| d["status"] == "completed") {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "{docs}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // What one API wrote, the other answers for.
        let card = one
            .json(
                one.client
                    .post(format!("{}/chats/{chat}/flashcards", one.base))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"question": "Who makes ATP?", "answer": "Mitochondria"})),
            )
            .await;
        let id = card["id"].as_str().unwrap();
        let seen = two.get(&token, &format!("/flashcards/{id}")).await;
        assert_eq!(seen["question"], "Who makes ATP?");
        assert_eq!(
            one.get(&token, "/chats").await,
            two.get(&token, "/chats").await
        );
        // Another user sees none of it on either.
        let response = two
            .client
            .get(format!("{}/flashcards/{id}", two.base))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    });

    // Every job ran once: one attempt each, all done, no chunk written twice.
    assert_eq!(
        count(
            runtime,
            &db.url,
            "SELECT COUNT(*) FROM jobs WHERE status = 'done'"
        ),
        8
    );
    assert_eq!(
        count(
            runtime,
            &db.url,
            "SELECT CAST(MAX(attempts) AS BIGINT) FROM jobs"
        ),
        1
    );
    assert_eq!(
        count(runtime, &db.url, "SELECT COUNT(*) FROM chunks"),
        count(
            runtime,
            &db.url,
            "SELECT CAST(SUM(chunk_count) AS BIGINT) FROM documents"
        )
    );
    let workers_used = count(
        runtime,
        &db.url,
        "SELECT COUNT(DISTINCT split_part(locked_by, ':', 2)) FROM jobs",
    );
    eprintln!("jobs were run by {workers_used} worker process(es)");

    for process in processes.iter_mut().chain(workers.iter_mut()) {
        kill(process, "-TERM");
        assert!(wait_exit(process, Duration::from_secs(30)).success());
    }
}
