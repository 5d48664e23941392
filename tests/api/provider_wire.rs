//! The wire to an OpenAI-compatible provider, end to end: a provider that writes its streamed
//! answer in pieces cut inside multi-byte characters, and the settings the requests carry.

use std::sync::Arc;
use std::time::Duration;

use flashforge::Hooks;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut buffer).await.unwrap();
        assert!(n > 0, "the request was cut");
        request.extend_from_slice(&buffer[..n]);
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8(request[..head_end].to_vec()).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while request.len() < head_end + length {
        let n = socket.read(&mut buffer).await.unwrap();
        request.extend_from_slice(&buffer[..n]);
    }
    let body: Value = serde_json::from_slice(&request[head_end..]).unwrap_or(Value::Null);
    let streaming = body["stream"] == true;
    seen.lock().push(Seen { head, body });
    if !streaming {
        let _ = socket
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    }
    socket
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
              transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    for piece in pieces() {
        let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
        chunk.extend_from_slice(&piece);
        chunk.extend_from_slice(b"\r\n");
        socket.write_all(&chunk).await.unwrap();
        socket.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
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
