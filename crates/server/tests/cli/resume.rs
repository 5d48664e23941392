//! Resuming a streamed answer on another instance: two API processes on one Postgres and one
//! Redis, no sticky sessions. The answer starts on one; its client goes away and comes back,
//! with `Last-Event-ID`, on the other, which serves the rest of the answer live and then the
//! stored message.

use std::process::Stdio;
use std::time::Duration;

use flashforge_tests::client::Api;
use flashforge_tests::database::{TestDatabase, postgres_or_skip, redis_or_skip};
use flashforge_tests::process::{Process, free_port, wait_until_live};
use flashforge_tests::provider::{read_request, stream_pieces};
use futures_util::StreamExt;

use super::{GOOD_SECRET, current_thread_runtime, flashforge};

/// The pieces the mock model streams, one every [`PIECE_EVERY`].
const PIECES: [&str; 12] = [
    "Mito", "chon", "dria ", "make ", "ATP ", "by ", "oxi", "dative ", "phos", "phory", "lation",
    ".",
];
const PIECE_EVERY: Duration = Duration::from_millis(250);

/// An OpenAI-compatible provider that streams [`PIECES`] slowly, as real models do.
async fn slow_provider() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                if read_request(&mut socket).await.is_none() {
                    return;
                }
                let mut events: Vec<String> = PIECES
                    .iter()
                    .map(|p| {
                        serde_json::json!({"model": "slow-model", "choices": [{"index": 0, "delta": {"content": p}}]})
                            .to_string()
                    })
                    .collect();
                events.push(r#"{"model":"slow-model","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":12}}"#.into());
                events.push("[DONE]".into());
                let pieces = events
                    .into_iter()
                    .map(|event| format!("data: {event}\n\n").into_bytes());
                stream_pieces(&mut socket, pieces, PIECE_EVERY).await;
            });
        }
    });
    format!("http://{address}/v1")
}

/// The `(id, event, data)` of each complete event in `text`.
fn events(text: &str) -> Vec<(u64, String, serde_json::Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut id = None;
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).ok();
                }
            }
            Some((id?, event?, data?))
        })
        .collect()
}

#[test]
fn a_streamed_answer_resumes_on_the_other_instance() {
    let runtime = &current_thread_runtime();
    if !runtime.block_on(postgres_or_skip()) {
        return;
    }
    let Some(redis) = runtime.block_on(redis_or_skip()) else {
        return;
    };
    let db = runtime.block_on(TestDatabase::create_prefixed("ff_resume"));
    let provider = runtime.block_on(slow_provider());
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs").display().to_string();
    let prefix = format!("ff:resume:{}:", uuid::Uuid::now_v7().simple());
    let vars: Vec<(&str, &str)> = vec![
        ("FLASHFORGE__DATABASE__URL", &db.url),
        ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
        ("FLASHFORGE__VECTOR__PROVIDER", "memory"),
        ("FLASHFORGE__STORAGE__BLOBS", "local"),
        ("FLASHFORGE__STORAGE__BLOB_DIR", &blobs),
        ("FLASHFORGE__EMBEDDING__PROVIDER", "hash"),
        ("FLASHFORGE__CACHE__REDIS_URL", &redis),
        ("FLASHFORGE__CACHE__KEY_PREFIX", &prefix),
        ("FLASHFORGE__LLM__PROVIDER", "openai"),
        ("FLASHFORGE__LLM__BASE_URL", &provider),
        ("FLASHFORGE__LLM__MODEL", "slow-model"),
        ("FLASHFORGE__LLM__MAX_RETRIES", "0"),
        // Long enough for the client to come back on the other instance, short enough that an
        // answer nobody followed would stop within the test.
        ("FLASHFORGE__ASSISTANT__ABANDONED_STREAM_SECS", "1"),
        ("FLASHFORGE__WORKER__ENABLED", "false"),
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
    let _processes: Vec<Process> = ports
        .iter()
        .map(|port| {
            let port = port.to_string();
            let mut api_vars = vars.clone();
            api_vars.push(("FLASHFORGE__SERVER__PORT", &port));
            let mut api = Process(
                flashforge("test", &api_vars)
                    .arg("serve")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
            wait_until_live(port.parse().unwrap(), &mut api);
            api
        })
        .collect();
    let (one, two) = (Api::new(ports[0]), Api::new(ports[1]));

    runtime.block_on(async {
        let token = one.sign_up("resume.one").await;
        let chat = one.chat(&token, "Cells").await;

        // Asked on the first instance; the client reads the first pieces and goes away.
        let response = one
            .client
            .post(one.url(&format!("/chats/{chat}/messages")))
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .json(&serde_json::json!({"content": "How do mitochondria make ATP?"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.bytes_stream();
        let mut seen = String::new();
        while events(&seen).iter().filter(|e| e.1 == "delta").count() < 3 {
            let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
                .await
                .expect("the first pieces arrive")
                .expect("the stream goes on")
                .unwrap();
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        drop(body);
        let received = events(&seen);
        let answer_id = received[0].2["answer_id"].as_str().unwrap().to_string();
        let last_id = received.last().unwrap().0;
        let mut text: String = received
            .iter()
            .filter(|e| e.1 == "delta")
            .map(|e| e.2["text"].as_str().unwrap().to_string())
            .collect();

        // Back on the other instance: the rest, live, then the stored answer.
        let resumed = two
            .client
            .get(two.url(&format!("/chats/{chat}/messages/{answer_id}/stream")))
            .bearer_auth(&token)
            .header("last-event-id", last_id.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resumed.status(), 200);
        let rest = tokio::time::timeout(Duration::from_secs(20), resumed.text())
            .await
            .expect("the answer ends")
            .unwrap();
        let rest = events(&rest);
        assert_eq!(rest[0].0, last_id + 1, "it goes on where the client left");
        assert!(
            rest.windows(2).all(|w| w[1].0 == w[0].0 + 1),
            "no event lost or repeated: {rest:?}"
        );
        let live = rest.iter().filter(|e| e.1 == "delta").count();
        assert!(
            live >= 3,
            "the rest came live from the other instance: {rest:?}"
        );
        text.extend(
            rest.iter()
                .filter(|e| e.1 == "delta")
                .map(|e| e.2["text"].as_str().unwrap().to_string()),
        );
        let whole = PIECES.concat();
        assert_eq!(text, whole);
        let done = rest.last().unwrap();
        assert_eq!(done.1, "done", "{rest:?}");
        assert_eq!(done.2["answer"]["content"], whole.as_str());
        assert_eq!(done.2["answer"]["status"], "complete");

        // Another user cannot follow it on either instance.
        let other = two.sign_up("resume.two").await;
        let response = two
            .client
            .get(two.url(&format!("/chats/{chat}/messages/{answer_id}/stream")))
            .bearer_auth(&other)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);

        // Both instances agree on what was stored.
        let path = format!("/chats/{chat}/messages");
        assert_eq!(one.get(&token, &path).await, two.get(&token, &path).await);
    });
}
