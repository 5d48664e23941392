//! Trace export: with `log.otlp_endpoint` set, `flashforge serve` posts its spans over OTLP/HTTP
//! (protobuf), a request with a W3C `traceparent` joins the caller's trace, and SIGTERM flushes
//! the spans still buffered before the process exits.

use std::process::Stdio;
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use flashforge_tests::process::{Process, free_port, kill, wait_exit, wait_until_live};

use super::{GOOD_SECRET, current_thread_runtime, flashforge};

/// `needle` occurs somewhere in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A protobuf string field: its tag (field number, wire type 2), its length, its bytes. Short
/// strings only (a one-byte length).
fn string_field(field: u8, value: &str) -> Vec<u8> {
    bytes_field(field, value.as_bytes())
}

/// The trace and span a caller names in its `traceparent`.
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// A protobuf bytes field (wire type 2, like a string), short values only.
fn bytes_field(field: u8, value: &[u8]) -> Vec<u8> {
    assert!(field < 16 && value.len() < 128);
    let mut bytes = vec![(field << 3) | 2, value.len() as u8];
    bytes.extend_from_slice(value);
    bytes
}

#[test]
fn spans_are_exported_over_otlp_http_and_flushed_on_sigterm() {
    let runtime = current_thread_runtime();
    // The mock server answers from a thread of its own, also while this one waits.
    let collector = runtime.block_on(async {
        let collector = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/traces"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&collector)
            .await;
        collector
    });
    let endpoint = format!("{}/v1/traces", collector.uri());
    let port = free_port();
    let port_text = port.to_string();
    let mut server = Process(
        flashforge(
            "test",
            &[
                ("FLASHFORGE__DATABASE__URL", "memory://"),
                ("FLASHFORGE__AUTH__JWT_SECRET", GOOD_SECRET),
                ("FLASHFORGE__SERVER__PORT", &port_text),
                ("FLASHFORGE__LOG__OTLP_ENDPOINT", &endpoint),
                ("FLASHFORGE__LOG__OTLP_SERVICE_NAME", "flashforge-otlp-test"),
                // No export on the SDK's timer during the test: what arrives, the shutdown flushed.
                ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ],
        )
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    wait_until_live(port, &mut server);

    let request_id = format!("otlp-test-{}", uuid::Uuid::now_v7());
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let live = client
            .get(format!("http://127.0.0.1:{port}/health/live"))
            .header("X-Request-Id", &request_id)
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200);
        let registered = client
            .post(format!("http://127.0.0.1:{port}/api/v1/auth/register"))
            .header("X-Request-Id", &request_id)
            .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
            .json(&serde_json::json!({"username": "otlp.tester", "password": "correct horse battery staple"}))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201);
        assert_eq!(
            registered.headers()["x-request-id"].to_str().unwrap(),
            request_id,
            "the client's request id is kept"
        );
        // Spans are batched: nothing is sent yet.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let early = collector.received_requests().await.unwrap();
        assert!(early.is_empty(), "exported before shutdown: {} posts", early.len());
    });

    kill(&server, "-TERM");
    assert!(wait_exit(&mut server, Duration::from_secs(30)).success());

    let posts = runtime.block_on(collector.received_requests()).unwrap();
    assert!(!posts.is_empty(), "no spans were exported on shutdown");
    for post in &posts {
        assert_eq!(post.url.path(), "/v1/traces");
        assert_eq!(
            post.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/x-protobuf"),
        );
    }
    // Protobuf keeps strings as raw bytes: a byte search finds them without decoding.
    let bodies: Vec<&[u8]> = posts.iter().map(|post| post.body.as_slice()).collect();
    let any = |needle: &[u8]| bodies.iter().any(|body| contains(body, needle));
    assert!(
        any(request_id.as_bytes()),
        "the request id is not in the export"
    );
    // `Span.name` is field 5; this tells the span name apart from the `request_id` attribute key.
    assert!(
        any(&string_field(5, "request")),
        "no span named `request` in the export"
    );
    // The request that came with a `traceparent` joined the caller's trace: its span has the
    // caller's trace id (`Span.trace_id`, field 1) and the caller's span as parent
    // (`Span.parent_span_id`, field 4).
    assert!(
        any(&bytes_field(1, &hex(CALLER_TRACE))),
        "no span in the caller's trace"
    );
    assert!(
        any(&bytes_field(4, &hex(CALLER_SPAN))),
        "no span whose parent is the caller's"
    );
    assert!(
        any(b"flashforge-otlp-test") && any(b"service.name"),
        "the service name is not in the export"
    );
    assert!(
        any(env!("CARGO_PKG_VERSION").as_bytes()) && any(b"service.version"),
        "the service version is not in the export"
    );
}
