//! Trace export: with `log.otlp_endpoint` set, `flashforge serve` posts its spans over OTLP/HTTP
//! (protobuf), and SIGTERM flushes the spans still buffered before the process exits.

use std::process::Stdio;
use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{GOOD_SECRET, Process, flashforge, free_port, kill, wait_exit, wait_until_live};

/// `needle` occurs somewhere in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// A protobuf string field: its tag (field number, wire type 2), its length, its bytes. Short
/// strings only (a one-byte length).
fn string_field(field: u8, value: &str) -> Vec<u8> {
    assert!(field < 16 && value.len() < 128);
    let mut bytes = vec![(field << 3) | 2, value.len() as u8];
    bytes.extend_from_slice(value.as_bytes());
    bytes
}

#[test]
fn spans_are_exported_over_otlp_http_and_flushed_on_sigterm() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
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
    assert!(
        any(b"flashforge-otlp-test") && any(b"service.name"),
        "the service name is not in the export"
    );
    assert!(
        any(env!("CARGO_PKG_VERSION").as_bytes()) && any(b"service.version"),
        "the service version is not in the export"
    );
}
