//! The wire to an OpenAI-compatible provider, end to end: a provider that writes its streamed
//! answer in pieces cut inside multi-byte characters, and the settings the requests carry.

use std::sync::Arc;
use std::time::Duration;

use flashforge::Hooks;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use flashforge_tests::provider::{not_found, read_request, stream_pieces};

use crate::helpers::{Backend, spawn_app_configured};
use crate::messages::{FixedPassages, events, send_streaming};

/// The answer the provider streams: German, Japanese and an emoji, each cut by the network.
const ANSWER: &str =
    "Die Mitochondrien: Kraftwerke der Zelle, groß und gemäß [1]. 日本語でも同じ 🧬✨.";

/// One request as the provider saw it.
struct Seen {
    head: String,
    body: Value,
}

/// A provider at the protocol level: answers every `POST /v1/chat/completions` with `ANSWER`
/// as server-sent events, written in pieces cut inside characters, each flushed and followed by
/// a pause, so that the client receives them as separate chunks.
async fn splitting_provider() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move { answer(socket, log).await });
        }
    });
    (format!("http://{address}/v1"), seen)
}

async fn answer(mut socket: TcpStream, seen: Arc<Mutex<Vec<Seen>>>) {
    let request = read_request(&mut socket)
        .await
        .expect("the request was cut");
    let streaming = request.body["stream"] == true;
    seen.lock().push(Seen {
        head: request.head,
        body: request.body,
    });
    if streaming {
        stream_pieces(&mut socket, pieces(), Duration::from_millis(10)).await;
    } else {
        not_found(&mut socket).await;
    }
}

/// The SSE body, in pieces each of which ends inside a multi-byte character.
fn pieces() -> Vec<Vec<u8>> {
    let mut body = String::new();
    // Three deltas, so that characters are also split across events' boundaries.
    let (first, rest) = ANSWER.split_at(ANSWER.find("groß").unwrap());
    let (second, third) = rest.split_at(rest.find("日本").unwrap());
    for delta in [first, second, third] {
        let piece =
            json!({"model": "mock-model", "choices": [{"index": 0, "delta": {"content": delta}}]});
        body.push_str(&format!("data: {piece}\n\n"));
    }
    let usage = json!({"model": "mock-model", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 20}});
    body.push_str(&format!("data: {usage}\n\ndata: [DONE]\n\n"));
    let bytes = body.into_bytes();
    let mut pieces = Vec::new();
    let mut from = 0;
    for (i, _) in body_chars(&bytes) {
        // Cut one byte into every character of two or more bytes.
        if i + 1 > from {
            pieces.push(bytes[from..i + 1].to_vec());
            from = i + 1;
        }
    }
    pieces.push(bytes[from..].to_vec());
    assert!(pieces.len() > 10, "the answer is cut many times");
    pieces
}

/// The byte offsets of the multi-byte characters of `bytes` (UTF-8).
fn body_chars(bytes: &[u8]) -> Vec<(usize, char)> {
    std::str::from_utf8(bytes)
        .unwrap()
        .char_indices()
        .filter(|(_, c)| c.len_utf8() > 1)
        .collect()
}

/// A streamed answer whose characters the network splits arrives intact, through HTTP; the
/// provider's base URL and key come from `OPENAI_BASE_URL` / `OPENAI_API_KEY`, and the request
/// carries the configured `temperature` and `max_tokens`.
#[tokio::test]
async fn a_streamed_answer_split_inside_characters_arrives_intact() {
    let (base, seen) = splitting_provider().await;
    let app = spawn_app_configured(
        Backend::Memory,
        Hooks {
            passages: Some(Arc::new(FixedPassages::new())),
            ..Hooks::default()
        },
        &[
            ("FLASHFORGE__LLM__PROVIDER", "openai"),
            ("OPENAI_BASE_URL", &base),
            ("OPENAI_API_KEY", "sk-from-the-environment-0123456789"),
            ("FLASHFORGE__LLM__MODEL", "mock-model"),
            ("FLASHFORGE__LLM__MODELS", "mock-model"),
            ("FLASHFORGE__LLM__TEMPERATURE", "0.4"),
            ("FLASHFORGE__LLM__MAX_TOKENS", "333"),
            ("FLASHFORGE__LLM__TIMEOUT_SECS", "5"),
            ("FLASHFORGE__LLM__MAX_RETRIES", "0"),
        ],
    )
    .await;
    let me = app.signed_up("wire.user").await;
    let chat = app.create_chat(&me.access, "Zellbiologie").await;
    let response = send_streaming(
        &app,
        &me,
        &chat,
        json!({"content": "Was machen Mitochondrien?"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let events = events(&response.text().await.unwrap());
    let streamed: String = events
        .iter()
        .filter(|e| e.1 == "delta")
        .map(|e| e.2["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, ANSWER);
    let (_, last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(done["answer"]["content"], ANSWER);
    assert!(!done.to_string().contains('\u{fffd}'));

    let seen = seen.lock();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.body["temperature"], json!(0.4));
    assert_eq!(request.body["max_tokens"], 333);
    assert_eq!(request.body["stream"], true);
    assert!(
        request
            .head
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-from-the-environment-0123456789"),
        "{}",
        request.head
    );
}
