//! OpenAI-compatible embeddings: `POST {base_url}/embeddings`, as OpenAI, Ollama's `/v1`, vLLM
//! and Text Embeddings Inference serve it, in batches. The wire (a timeout per request, retries
//! with back-off honouring `Retry-After`, key redaction) is flashforge-openai's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use flashforge_domain::error::InfraError;
use flashforge_domain::knowledge::{ApproximateTokens, Embedder, EmbeddingModel, TokenCounter};
use flashforge_openai::{Backoff, ClientSettings, Failure, OpenAiClient, SecretString};
use serde::Deserialize;
use serde_json::json;

/// Where the embedding endpoint is and how to talk to it.
#[derive(Debug, Clone)]
pub struct OpenAiEmbedderSettings {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    /// Sent as a bearer token when set.
    pub api_key: Option<String>,
    /// The model to ask for, e.g. `text-embedding-3-small` or `nomic-embed-text`.
    pub model: String,
    /// The size of the model's vectors; an answer of another size is an error.
    pub dimension: usize,
    /// Texts per request (at least 1).
    pub batch_size: usize,
    /// For one request, from sending it to reading the whole answer.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx, a timeout or a connection error.
    pub max_retries: u32,
    /// The first back-off; doubled (with jitter) each retry, up to 30 s (a `Retry-After`
    /// header wins, up to 60 s).
    pub retry_base_delay: Duration,
}

/// An [`Embedder`] over an OpenAI-compatible embeddings endpoint.
pub struct OpenAiEmbedder {
    client: OpenAiClient,
    settings: OpenAiEmbedderSettings,
    model: EmbeddingModel,
}

/// The parts of an embeddings answer that are used.
#[derive(Deserialize)]
struct EmbeddingsAnswer {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// An embedder for `settings`; fails only when the HTTP client cannot be built.
    pub fn new(settings: OpenAiEmbedderSettings) -> Result<Self, String> {
        let client = OpenAiClient::new(ClientSettings {
            base_url: settings.base_url.clone(),
            api_key: settings.api_key.clone().map(SecretString::from),
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            backoff: Backoff::new(settings.retry_base_delay),
        })
        .map_err(|e| e.describe())?;
        let model = EmbeddingModel {
            name: settings.model.clone(),
            dimension: settings.dimension,
        };
        Ok(Self {
            client,
            settings,
            model,
        })
    }

    /// Embeds one batch (the client retries what is worth retrying).
    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, InfraError> {
        let body = json!({
            "model": self.settings.model,
            "input": texts,
            "encoding_format": "float",
        });
        let answer: EmbeddingsAnswer =
            self.client
                .post_json("/embeddings", &body)
                .await
                .map_err(|e| match e.failure() {
                    // The error keeps its causes; its texts are redacted by the client.
                    Failure::Timeout | Failure::Unavailable => InfraError::unavailable(e),
                    Failure::Rejected | Failure::Malformed => InfraError::internal(e),
                })?;
        self.vectors(answer, texts.len())
    }

    /// The vectors of an answer, in input order, each checked against the dimension.
    fn vectors(
        &self,
        answer: EmbeddingsAnswer,
        expected: usize,
    ) -> Result<Vec<Vec<f32>>, InfraError> {
        let malformed = |detail: String| {
            InfraError::internal(self.client.redact(&format!(
                "the embeddings endpoint {} gave a malformed answer: {detail}",
                self.client.url("/embeddings")
            )))
        };
        if answer.data.len() != expected {
            return Err(malformed(format!(
                "{} embeddings for {expected} texts",
                answer.data.len()
            )));
        }
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; expected];
        for item in answer.data {
            if item.embedding.len() != self.settings.dimension {
                return Err(malformed(format!(
                    "an embedding of {} dimensions where {} were expected (is the model `{}` \
                     configured with the right dimension?)",
                    item.embedding.len(),
                    self.settings.dimension,
                    self.settings.model
                )));
            }
            match vectors.get_mut(item.index) {
                Some(slot @ None) => *slot = Some(item.embedding),
                _ => {
                    return Err(malformed(format!(
                        "a wrong or repeated index {}",
                        item.index
                    )));
                }
            }
        }
        // Every slot is filled: as many items as slots, each index in range and unrepeated.
        Ok(vectors.into_iter().flatten().collect())
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &EmbeddingModel {
        &self.model
    }

    fn token_counter(&self) -> Arc<dyn TokenCounter> {
        Arc::new(ApproximateTokens)
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, InfraError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.settings.batch_size.max(1)) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::time::Instant;

    use serde_json::Value;
    use wiremock::matchers::{bearer_token, body_partial_json, method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};

    use super::*;

    const KEY: &str = "sk-test-0123456789";

    fn settings(server: &MockServer) -> OpenAiEmbedderSettings {
        OpenAiEmbedderSettings {
            base_url: format!("{}/v1", server.uri()),
            api_key: Some(KEY.into()),
            model: "mock-embed".into(),
            dimension: 3,
            batch_size: 2,
            timeout: Duration::from_millis(500),
            max_retries: 2,
            retry_base_delay: Duration::from_millis(10),
        }
    }

    /// A vector that says which text it is for: `[length, first byte, 1]`.
    fn vector_of(text: &str) -> Vec<f32> {
        vec![
            text.len() as f32,
            f32::from(text.bytes().next().unwrap_or(0)),
            1.0,
        ]
    }

    /// Answers every request with one vector per input, listed in reverse index order.
    fn echo(request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let inputs = body["input"].as_array().unwrap();
        let mut data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .map(|(index, text)| {
                json!({"object": "embedding", "index": index, "embedding": vector_of(text.as_str().unwrap())})
            })
            .collect();
        data.reverse();
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "data": data, "model": "mock-embed",
            "usage": {"prompt_tokens": 3, "total_tokens": 3}
        }))
    }

    fn texts(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|t| t.to_string()).collect()
    }

    /// The error and its sources, as one string.
    fn describe(error: &InfraError) -> String {
        let mut text = format!("{error:?}");
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(&format!(" / {cause}"));
            source = cause.source();
        }
        text
    }

    #[tokio::test]
    async fn batches_split_the_texts_and_keep_their_order() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .and(body_partial_json(
                json!({"model": "mock-embed", "encoding_format": "float"}),
            ))
            .respond_with(echo)
            .expect(3)
            .mount(&server)
            .await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        let input = texts(&["a", "bb", "ccc", "dddd", "eeeee"]);
        let vectors = embedder.embed(&input).await.unwrap();
        let expected: Vec<Vec<f32>> = input.iter().map(|t| vector_of(t)).collect();
        assert_eq!(vectors, expected);
        let sizes: Vec<usize> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| {
                r.body_json::<Value>().unwrap()["input"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .collect();
        assert_eq!(sizes, [2, 2, 1]);
    }

    #[tokio::test]
    async fn the_api_key_is_sent_as_a_bearer_token() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(bearer_token(KEY))
            .respond_with(echo)
            .expect(1)
            .mount(&server)
            .await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        embedder.embed(&texts(&["x"])).await.unwrap();
    }

    #[tokio::test]
    async fn without_a_key_no_authorization_is_sent() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(echo)
            .mount(&server)
            .await;
        let mut s = settings(&server);
        s.api_key = None;
        OpenAiEmbedder::new(s)
            .unwrap()
            .embed(&texts(&["x"]))
            .await
            .unwrap();
        let requests = server.received_requests().await.unwrap();
        assert!(!requests[0].headers.contains_key("authorization"));
    }

    #[tokio::test]
    async fn nothing_to_embed_sends_nothing() {
        let server = MockServer::start().await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        assert!(embedder.embed(&[]).await.unwrap().is_empty());
        assert!(server.received_requests().await.unwrap().is_empty());
        assert_eq!(
            embedder.model(),
            &EmbeddingModel {
                name: "mock-embed".into(),
                dimension: 3
            }
        );
        assert_eq!(embedder.token_counter().count("12345678"), 2);
    }

    #[tokio::test]
    async fn a_rate_limit_is_retried_after_the_servers_delay() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(echo)
            .mount(&server)
            .await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        let start = Instant::now();
        let vectors = embedder.embed(&texts(&["hello"])).await.unwrap();
        assert_eq!(vectors, [vector_of("hello")]);
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
        // The base delay is 10 ms: the wait came from Retry-After.
        assert!(start.elapsed() >= Duration::from_millis(950));
    }

    #[tokio::test]
    async fn persistent_server_errors_become_unavailable_after_the_retries() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
            .mount(&server)
            .await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        let error = embedder.embed(&texts(&["x"])).await.unwrap_err();
        assert!(matches!(error, InfraError::Unavailable(_)), "{error:?}");
        assert!(describe(&error).contains("boom"));
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            3,
            "1 try + 2 retries"
        );
    }

    #[tokio::test]
    async fn a_refused_request_is_internal_and_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_string(r#"{"error":{"message":"unknown model"}}"#),
            )
            .mount(&server)
            .await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        let error = embedder.embed(&texts(&["x"])).await.unwrap_err();
        assert!(matches!(error, InfraError::Internal(_)), "{error:?}");
        assert!(describe(&error).contains("unknown model"));
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_api_key_never_appears_in_an_error() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(401)
                    .set_body_string(format!("Incorrect API key provided: {KEY}")),
            )
            .mount(&server)
            .await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        let error = embedder.embed(&texts(&["x"])).await.unwrap_err();
        assert!(matches!(error, InfraError::Internal(_)));
        let text = describe(&error);
        assert!(!text.contains(KEY), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }

    #[tokio::test]
    async fn a_wrong_dimension_is_an_error() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": [{"index": 0, "embedding": [0.1, 0.2, 0.3, 0.4]}]
            })))
            .mount(&server)
            .await;
        let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
        let error = embedder.embed(&texts(&["x"])).await.unwrap_err();
        assert!(matches!(error, InfraError::Internal(_)));
        assert!(describe(&error).contains("4 dimensions"));
    }

    #[tokio::test]
    async fn a_malformed_answer_is_an_error() {
        let server = MockServer::start().await;
        for body in [
            json!({"oops": true}),
            json!({"data": []}),
            json!({"data": [{"index": 5, "embedding": [1.0, 2.0, 3.0]}]}),
        ] {
            server.reset().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
                .mount(&server)
                .await;
            let embedder = OpenAiEmbedder::new(settings(&server)).unwrap();
            let error = embedder.embed(&texts(&["x"])).await.unwrap_err();
            assert!(matches!(error, InfraError::Internal(_)), "{body}");
            assert_eq!(server.received_requests().await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn a_slow_server_times_out() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(echo_after(Duration::from_secs(5)))
            .mount(&server)
            .await;
        let mut s = settings(&server);
        s.timeout = Duration::from_millis(200);
        s.max_retries = 1;
        let embedder = OpenAiEmbedder::new(s).unwrap();
        let start = Instant::now();
        let error = embedder.embed(&texts(&["x"])).await.unwrap_err();
        assert!(matches!(error, InfraError::Unavailable(_)), "{error:?}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }

    fn echo_after(delay: Duration) -> impl Fn(&Request) -> ResponseTemplate {
        move |request| echo(request).set_delay(delay)
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let embedder = OpenAiEmbedder::new(OpenAiEmbedderSettings {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            api_key: Some(KEY.into()),
            model: "mock-embed".into(),
            dimension: 3,
            batch_size: 8,
            timeout: Duration::from_millis(500),
            max_retries: 1,
            retry_base_delay: Duration::from_millis(1),
        })
        .unwrap();
        let error = embedder.embed(&texts(&["x"])).await.unwrap_err();
        assert!(matches!(error, InfraError::Unavailable(_)), "{error:?}");
        assert!(!describe(&error).contains(KEY));
    }
}
