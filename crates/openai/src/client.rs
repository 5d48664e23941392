//! The HTTP client for an OpenAI-compatible API: the bearer key, a timeout on every attempt,
//! retries of what is worth retrying, and errors that never hold the key.

use std::time::{Duration, SystemTime};

use futures_util::stream::BoxStream;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::WireError;
use crate::redact::Redactor;
use crate::retry::{Backoff, parse_retry_after};
use crate::sse::{self, SseEvent};

/// How much of an error answer's body goes into a [`WireError::Status`].
const DETAIL_CHARS: usize = 300;

/// Where the provider is and how patiently to talk to it.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// Sent as a bearer token when set.
    pub api_key: Option<SecretString>,
    /// For one attempt: to the answer's headers (and, for JSON, its whole body); for a stream,
    /// the longest wait between two pieces.
    pub timeout: Duration,
    /// Retries after a 408, 429 or 5xx, a timeout, a refused connection or a cut answer.
    pub max_retries: u32,
    /// When to retry.
    pub backoff: Backoff,
}

/// A client for one provider.
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    settings: ClientSettings,
    redactor: Redactor,
}

impl OpenAiClient {
    pub fn new(settings: ClientSettings) -> Result<Self, WireError> {
        // reqwest is built without a bundled crypto provider; the whole process uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout)
            .build()
            .map_err(WireError::Build)?;
        Ok(Self {
            http,
            redactor: Redactor::new(settings.api_key.clone()),
            settings,
        })
    }

    /// `base_url` joined with `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    /// `text` with every secret blanked out (see [`Redactor`]).
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// An error and its causes as one redacted line.
    pub fn explain(&self, error: &WireError) -> String {
        self.redact(&error.describe())
    }

    /// `POST path` with a JSON body; the 2xx answer's JSON, retried as configured.
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, WireError> {
        let url = self.url(path);
        let bytes = self
            .with_retries(&url, || async {
                let response = self.send(self.http.post(&url).json(body), &url).await?;
                response.bytes().await.map_err(|source| WireError::Body {
                    url: url.clone(),
                    source,
                })
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(|source| WireError::Decode { url, source })
    }

    /// `GET path`; the 2xx answer's JSON, retried as configured.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, WireError> {
        let url = self.url(path);
        let bytes = self
            .with_retries(&url, || async {
                let response = self.send(self.http.get(&url), &url).await?;
                response.bytes().await.map_err(|source| WireError::Body {
                    url: url.clone(),
                    source,
                })
            })
            .await?;
        serde_json::from_slice(&bytes).map_err(|source| WireError::Decode { url, source })
    }

    /// `POST path` with a JSON body, answered with server-sent events. The request is retried
    /// until the answer's headers are in; after that the events flow, each within the timeout.
    pub async fn post_events(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<BoxStream<'static, Result<SseEvent, WireError>>, WireError> {
        let url = self.url(path);
        let response = self
            .with_retries(&url, || {
                self.send(
                    self.http
                        .post(&url)
                        .header(reqwest::header::ACCEPT, "text/event-stream")
                        .json(body),
                    &url,
                )
            })
            .await?;
        Ok(sse::events(
            response.bytes_stream(),
            self.settings.timeout,
            url,
        ))
    }

    /// Runs `attempt` (each within the timeout) until it succeeds, fails for good, or the
    /// retries are spent, waiting as [`Backoff`] says in between.
    async fn with_retries<T, F, Fut>(&self, url: &str, attempt: F) -> Result<T, WireError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, WireError>>,
    {
        let mut retry = 0;
        loop {
            let error = match tokio::time::timeout(self.settings.timeout, attempt()).await {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(error)) => error,
                Err(_) => WireError::Timeout {
                    url: url.to_string(),
                    after: self.settings.timeout,
                },
            };
            if retry >= self.settings.max_retries || !error.is_retryable() {
                return Err(error);
            }
            let wait = self.settings.backoff.delay(retry, error.retry_after());
            tracing::warn!(
                attempt = retry + 1,
                wait_ms = wait.as_millis() as u64,
                error = %self.explain(&error),
                "OpenAI-compatible call failed; retrying"
            );
            tokio::time::sleep(wait).await;
            retry += 1;
        }
    }

    /// Sends one request; its response when the status is 2xx.
    async fn send(
        &self,
        mut request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, WireError> {
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        let response = request.send().await.map_err(|source| {
            if source.is_timeout() {
                WireError::Timeout {
                    url: url.to_string(),
                    after: self.settings.timeout,
                }
            } else {
                WireError::Connect {
                    url: url.to_string(),
                    source: source.without_url(),
                }
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // Redacted whole, then cut: a key across the cut would escape a redaction of the part.
        let text = self.redact(&response.text().await.unwrap_or_default());
        Err(WireError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            detail: text.chars().take(DETAIL_CHARS).collect(),
            retry_after,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use futures_util::StreamExt;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wiremock::matchers::{bearer_token, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::error::Failure;

    const KEY: &str = "sk-wire-test-0123456789";

    fn settings(base_url: String) -> ClientSettings {
        ClientSettings {
            base_url,
            api_key: Some(SecretString::from(KEY)),
            timeout: Duration::from_millis(500),
            max_retries: 2,
            backoff: Backoff::new(Duration::from_millis(10)),
        }
    }

    fn client(server: &MockServer) -> OpenAiClient {
        OpenAiClient::new(settings(format!("{}/v1/", server.uri()))).unwrap()
    }

    #[tokio::test]
    async fn a_json_post_carries_the_key_and_reads_the_answer() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .and(bearer_token(KEY))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 1})))
            .expect(1)
            .mount(&server)
            .await;
        let answer: Value = client(&server)
            .post_json("/embeddings", &json!({"input": []}))
            .await
            .unwrap();
        assert_eq!(answer["ok"], 1);
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_retry_after_is_honoured() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!(["third"])))
            .mount(&server)
            .await;
        let start = Instant::now();
        let answer: Value = client(&server).get_json("/models").await.unwrap();
        assert_eq!(answer, json!(["third"]));
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
        // The base back-off is 10 ms: the second of waiting came from Retry-After.
        assert!(
            start.elapsed() >= Duration::from_millis(950),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn persistent_failures_end_after_the_retries_with_the_last_status() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
            .mount(&server)
            .await;
        let error = client(&server)
            .post_json::<Value>("/chat/completions", &json!({}))
            .await
            .unwrap_err();
        assert!(
            matches!(error, WireError::Status { status: 500, .. }),
            "{error:?}"
        );
        assert_eq!(error.failure(), Failure::Unavailable);
        assert!(error.describe().contains("boom"));
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            3,
            "1 try + 2 retries"
        );
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried_and_the_echoed_key_is_redacted() {
        let server = MockServer::start().await;
        let echo = format!("{}Incorrect API key provided: {KEY}", "x".repeat(290));
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(401).set_body_string(echo))
            .mount(&server)
            .await;
        let client = client(&server);
        let error = client
            .post_json::<Value>("/chat/completions", &json!({}))
            .await
            .unwrap_err();
        assert_eq!(error.failure(), Failure::Rejected);
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
        // The key straddles the 300-character cut: still no part of it shows.
        for text in [
            error.describe(),
            format!("{error:?}"),
            client.explain(&error),
        ] {
            assert!(!text.contains("0123456789"), "{text}");
            assert!(!text.contains("sk-wire"), "{text}");
        }
        assert!(!format!("{client:?}").contains("0123456789"));
    }

    #[tokio::test]
    async fn a_slow_provider_times_out_per_attempt() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let mut s = settings(format!("{}/v1", server.uri()));
        s.timeout = Duration::from_millis(150);
        s.max_retries = 1;
        let start = Instant::now();
        let error = OpenAiClient::new(s)
            .unwrap()
            .post_json::<Value>("/embeddings", &json!({}))
            .await
            .unwrap_err();
        assert_eq!(error.failure(), Failure::Timeout, "{error:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_provider_is_unavailable_without_the_key() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut s = settings(format!("http://127.0.0.1:{port}/v1"));
        s.max_retries = 0;
        let error = OpenAiClient::new(s)
            .unwrap()
            .get_json::<Value>("/models")
            .await
            .unwrap_err();
        assert!(matches!(error, WireError::Connect { .. }), "{error:?}");
        assert!(!error.describe().contains(KEY));
    }

    /// A provider that writes its SSE answer in the given pieces, flushing and pausing after
    /// each, so that the client reads them as separate chunks.
    async fn split_writer(pieces: Vec<Vec<u8>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 64 * 1024];
            let _ = socket.read(&mut request).await.unwrap();
            socket
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                      transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
                )
                .await
                .unwrap();
            for piece in pieces {
                let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
                chunk.extend_from_slice(&piece);
                chunk.extend_from_slice(b"\r\n");
                socket.write_all(&chunk).await.unwrap();
                socket.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            socket.write_all(b"0\r\n\r\n").await.unwrap();
        });
        format!("http://{address}/v1")
    }

    #[tokio::test]
    async fn events_split_inside_characters_by_the_network_arrive_whole() {
        let text = "Maß und Grüße — 日本語 🦀";
        let body = format!("data: {text}\n\ndata: [DONE]\n\n").into_bytes();
        // Cut inside ß (2 bytes), 日 (3 bytes) and 🦀 (4 bytes).
        let cuts = [
            body.windows(2).position(|w| w == "ß".as_bytes()).unwrap() + 1,
            body.windows(3).position(|w| w == "日".as_bytes()).unwrap() + 2,
            body.windows(4).position(|w| w == "🦀".as_bytes()).unwrap() + 1,
            body.windows(4).position(|w| w == "🦀".as_bytes()).unwrap() + 3,
        ];
        let mut pieces = Vec::new();
        let mut from = 0;
        for cut in cuts {
            pieces.push(body[from..cut].to_vec());
            from = cut;
        }
        pieces.push(body[from..].to_vec());
        let base = split_writer(pieces).await;
        let client = OpenAiClient::new(settings(base)).unwrap();
        let events: Vec<String> = client
            .post_events("/chat/completions", &json!({"stream": true}))
            .await
            .unwrap()
            .map(|event| event.unwrap().data)
            .collect()
            .await;
        assert_eq!(events, [text, "[DONE]"]);
    }
}
