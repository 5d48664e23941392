//! Assistant benchmark (not a test): the time FlashForge adds before the first byte of an answer
//! over what the language-model provider itself takes, and the messages per second the server
//! sustains. The provider is a local mock (wiremock) speaking the OpenAI protocol with a fixed
//! latency. Run with `make bench-assistant` (`cargo bench -p flashforge --bench assistant`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ms, percentile};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flashforge_tests::client::Api;
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PROVIDER_LATENCY: Duration = Duration::from_millis(50);

async fn mock_provider() -> MockServer {
    let server = MockServer::start().await;
    let stream_body: String = [
        r#"{"model":"mock-model","choices":[{"index":0,"delta":{"content":"Mitochondria "}}]}"#,
        r#"{"model":"mock-model","choices":[{"index":0,"delta":{"content":"make ATP."}}]}"#,
        r#"{"model":"mock-model","choices":[],"usage":{"prompt_tokens":200,"completion_tokens":5}}"#,
        "[DONE]",
    ]
    .iter()
    .map(|c| format!("data: {c}\n\n"))
    .collect();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(stream_body)
                .set_delay(PROVIDER_LATENCY),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "model": "mock-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Mitochondria make ATP."}}],
                    "usage": {"prompt_tokens": 200, "completion_tokens": 5}
                }))
                .set_delay(PROVIDER_LATENCY),
        )
        .mount(&server)
        .await;
    server
}

async fn start(provider: &MockServer) -> String {
    let base = format!("{}/v1", provider.uri());
    common::start_server(&[
        ("FLASHFORGE__LLM__PROVIDER", "openai"),
        ("FLASHFORGE__LLM__BASE_URL", base.as_str()),
        ("FLASHFORGE__LLM__MODEL", "mock-model"),
        ("FLASHFORGE__LLM__MODELS", "mock-model"),
    ])
    .await
}

/// Time to the first byte of the provider's own streamed answer.
async fn provider_ttfb(client: &reqwest::Client, provider: &MockServer, n: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let mut response = client
            .post(format!("{}/v1/chat/completions", provider.uri()))
            .json(&json!({"model": "mock-model", "stream": true, "messages": []}))
            .send()
            .await
            .unwrap();
        response.chunk().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Time to the first `delta` event of a streamed answer through FlashForge.
async fn flashforge_ttfb(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    chat: &str,
    n: usize,
) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        let mut response = client
            .post(format!("{address}/api/v1/chats/{chat}/messages"))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .json(&json!({"content": "What makes ATP?"}))
            .send()
            .await
            .unwrap();
        let mut seen = String::new();
        let first_delta = loop {
            let chunk = response
                .chunk()
                .await
                .unwrap()
                .expect("the stream has a delta");
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: delta") {
                break started.elapsed();
            }
        };
        while response.chunk().await.unwrap().is_some() {}
        times.push(first_delta);
    }
    times.sort();
    times
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let provider = mock_provider().await;
    let address = start(&provider).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let api = Api::at(client.clone(), &address);
    let token = api.sign_up("bencher").await;
    let chat = api.chat(&token, "bench").await;

    // Warm up both paths.
    provider_ttfb(&client, &provider, 10).await;
    flashforge_ttfb(&client, &address, &token, &chat, 10).await;

    let direct = provider_ttfb(&client, &provider, 200).await;
    let through = flashforge_ttfb(&client, &address, &token, &chat, 200).await;
    println!(
        "FlashForge assistant benchmark ({} cores), mock provider latency {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        ms(PROVIDER_LATENCY)
    );
    println!(
        "  provider alone, first byte:        p50 {}  p99 {}",
        ms(percentile(&direct, 0.5)),
        ms(percentile(&direct, 0.99))
    );
    println!(
        "  through FlashForge, first delta:   p50 {}  p99 {}",
        ms(percentile(&through, 0.5)),
        ms(percentile(&through, 0.99))
    );
    println!(
        "  time to first byte FlashForge adds: p50 {}  p99 {} (goal p50 <= 5 ms)",
        ms(percentile(&through, 0.5).saturating_sub(percentile(&direct, 0.5))),
        ms(percentile(&through, 0.99).saturating_sub(percentile(&direct, 0.99)))
    );

    // Throughput: 32 clients sending whole (non-streamed) messages for 5 s.
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(5);
    let started = Instant::now();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (client, address, token, chat, done, failed) = (
                client.clone(),
                address.clone(),
                token.clone(),
                chat.clone(),
                done.clone(),
                failed.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let response = client
                        .post(format!("{address}/api/v1/chats/{chat}/messages"))
                        .bearer_auth(&token)
                        .json(&json!({"content": "What makes ATP?"}))
                        .send()
                        .await
                        .unwrap();
                    if response.status() == 201 {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "  messages/s (32 clients, whole answers): {:.1} ({} ok, {} failed in {:.1} s; each answer waits {} on the provider)",
        done.load(Ordering::Relaxed) as f64 / elapsed,
        done.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        elapsed,
        ms(PROVIDER_LATENCY)
    );
}
