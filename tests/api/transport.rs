//! Security headers, CORS, and TLS (with a certificate made here).

use flashforge::Hooks;

use crate::helpers::{Backend, TestApp, client, spawn_app, spawn_app_configured};

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/health/live", "/api/v1/me", "/nowhere", "/docs/"] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            !headers.contains_key("strict-transport-security"),
            "no HSTS over plain HTTP"
        );
    }
    let api = app.get("/api/v1/me").await;
    assert_eq!(api.headers()["cache-control"], "no-store");
}

async fn cors_answers_preflights_for_allowed_origins_only(backend: Backend) {
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[(
            "FLASHFORGE__SERVER__CORS_ALLOWED_ORIGINS",
            "http://localhost:5173",
        )],
    )
    .await;
    let preflight = |origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.unwrap();
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    assert!(
        !allowed
            .headers()
            .contains_key("access-control-allow-credentials")
    );

    let denied = preflight("https://evil.example").await.unwrap();
    assert!(!denied.headers().contains_key("access-control-allow-origin"));

    // A simple request from the allowed origin sees the origin and the exposed headers.
    let simple = app
        .client
        .get(app.url("/health/live"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for name in [
        "x-request-id",
        "retry-after",
        "location",
        "content-disposition",
        "x-answer-id",
        "deprecation",
        "link",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, written to `dir`.
fn self_signed(dir: &std::path::Path) -> (String, String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let cert_pem = certified.cert.pem();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (
        cert.display().to_string(),
        key.display().to_string(),
        cert_pem,
    )
}

async fn tls_serves_https_with_hsts_and_redirects_plain_http(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, cert_pem) = self_signed(dir.path());
    let app: TestApp = spawn_app_configured(
        backend,
        Hooks::default(),
        &[
            ("FLASHFORGE__SERVER__TLS_CERT_FILE", &cert),
            ("FLASHFORGE__SERVER__TLS_KEY_FILE", &key),
            ("FLASHFORGE__SERVER__HTTP_REDIRECT_PORT", "0"),
        ],
    )
    .await;
    assert!(app.address.starts_with("https://"));
    let trusting = client(Some(&cert_pem));
    let response = trusting.get(app.url("/health/ready")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    // A client that does not trust the certificate cannot talk to it.
    assert!(
        client(None)
            .get(app.url("/health/live"))
            .send()
            .await
            .is_err()
    );
    // Plain HTTP on the TLS port fails too: no downgrade.
    let plain = app.address.replace("https://", "http://");
    assert!(
        client(None)
            .get(format!("{plain}/health/live"))
            .send()
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
    );
}

async fn the_redirect_listener_sends_plain_http_to_https(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path());
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect_port = free.local_addr().unwrap().port().to_string();
    drop(free);
    let app = spawn_app_configured(
        backend,
        Hooks::default(),
        &[
            ("FLASHFORGE__SERVER__TLS_CERT_FILE", &cert),
            ("FLASHFORGE__SERVER__TLS_KEY_FILE", &key),
            ("FLASHFORGE__SERVER__HTTP_REDIRECT_PORT", &redirect_port),
        ],
    )
    .await;
    assert_eq!(
        app.redirect_port.map(|p| p.to_string()),
        Some(redirect_port.clone())
    );
    let https_port = app.address.rsplit(':').next().unwrap().to_string();
    let response = client(None)
        .get(format!("http://127.0.0.1:{redirect_port}/api/v1/me?x=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://127.0.0.1:{https_port}/api/v1/me?x=1").as_str()
    );
    // Headers anyone can send never pick the target: no open redirect.
    let response = client(None)
        .get(format!("http://127.0.0.1:{redirect_port}/login"))
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "host=evil.example;proto=https")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("https://127.0.0.1:{https_port}/login").as_str()
    );
}

on_every_backend!(
    every_answer_carries_the_security_headers,
    cors_answers_preflights_for_allowed_origins_only,
    tls_serves_https_with_hsts_and_redirects_plain_http,
    the_redirect_listener_sends_plain_http_to_https,
);

/// The raw answer to `request` sent on a new connection (what the server wrote before closing,
/// or after `wait` without an answer).
async fn raw(port: &str, request: &[u8], wait: std::time::Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Slow clients (slowloris: a request head trickling in, never finished) are cut off after the
/// configured time, and while hundreds of them hold connections the server still answers
/// everyone else at once. Oversized or too many headers are refused with a 4xx, not buffered.
#[tokio::test]
async fn slow_clients_and_oversized_headers_do_not_exhaust_the_server() {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt;

    let app = spawn_app_configured(
        Backend::Memory,
        Hooks::default(),
        &[("FLASHFORGE__SERVER__CLIENT_REQUEST_TIMEOUT_MS", "1000")],
    )
    .await;
    let port = app.address.rsplit(':').next().unwrap().to_string();

    // 300 connections that send a header line every 200 ms and never end the head.
    let mut slow = Vec::new();
    for _ in 0..300 {
        let port = port.clone();
        slow.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
                .await
                .ok()?;
            stream
                .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
                .await
                .ok()?;
            let opened = Instant::now();
            for i in 0..100 {
                tokio::time::sleep(Duration::from_millis(200)).await;
                if stream
                    .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                    .await
                    .is_err()
                {
                    return Some(opened.elapsed());
                }
            }
            None
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Meanwhile, an ordinary client is served at once.
    for _ in 0..5 {
        let started = Instant::now();
        let response = app.get("/health/live").await;
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "served in {:?} beside 300 slow clients",
            started.elapsed()
        );
    }
    // Every slow client was cut off, soon after the 1 s it had for its request head.
    for task in slow {
        let cut_after = task
            .await
            .unwrap()
            .expect("the slow client was disconnected");
        assert!(
            cut_after < Duration::from_secs(5),
            "cut after {cut_after:?}"
        );
    }

    // One header of 64 KiB, and 200 small headers: refused, not buffered without end.
    let huge = format!(
        "GET /health/live HTTP/1.1\r\nHost: x\r\nX-Huge: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = raw(&port, huge.as_bytes(), Duration::from_secs(3)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert!(
        answer.contains("headers_too_large"),
        "in the problem format: {answer}"
    );
    let mut many = String::from("GET /health/live HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        many.push_str(&format!("X-Many-{i}: y\r\n"));
    }
    many.push_str("\r\n");
    let answer = raw(&port, many.as_bytes(), Duration::from_secs(3)).await;
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    // And the server is fine.
    assert_eq!(app.get("/health/live").await.status(), 200);
}
