//! OpenAI-compatible chat completions (OpenAI, Ollama's `/v1`, vLLM, llama.cpp server, TEI-style
//! gateways): whole answers, streamed answers (SSE), JSON-schema structured output, timeouts,
//! retries with back-off on 429 and 5xx, token usage.
//!
//! Written on reqwest rather than a client crate: the protocol surface used here is three
//! endpoints, and async-openai 0.43 would bring a second reqwest major and a tower stack for
//! retries (see docs/ARCHITECTURE.md).

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use flashforge_domain::assistant::{
    Completion, LanguageModel, LlmError, Prompt, Role, StreamEvent, Usage,
};
use futures_util::stream::{self, BoxStream, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// Where the provider is and how to talk to it.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// Up to and including `/v1`, e.g. `https://api.openai.com/v1` or `http://localhost:11434/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// The default model.
    pub model: String,
    /// The models clients may ask for; empty: whatever the provider lists (or, with
    /// `listed_only`, the default model alone).
    pub models: Vec<String>,
    /// Never offer models the configuration does not list (production).
    pub listed_only: bool,
    /// `max_tokens` of every request: the longest answer the model may write.
    pub max_tokens: u32,
    /// For a whole answer; for a stream, the wait for the first byte and between pieces.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx, a timeout or a refused connection.
    pub max_retries: u32,
    /// The first back-off; doubled each retry (a `Retry-After` header wins, up to 30 s).
    pub retry_base: Duration,
}

pub struct OpenAiModel {
    http: reqwest::Client,
    settings: OpenAiSettings,
    listed: OnceCell<Vec<String>>,
}

impl OpenAiModel {
    pub fn new(settings: OpenAiSettings) -> Result<Self, String> {
        // reqwest is built without a bundled crypto provider; the whole process uses ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            settings,
            listed: OnceCell::new(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    fn messages(prompt: &Prompt) -> Vec<Value> {
        let mut messages = vec![json!({"role": "system", "content": prompt.system_text()})];
        for turn in &prompt.history {
            let role = match turn.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            messages.push(json!({"role": role, "content": turn.content}));
        }
        messages.push(json!({"role": "user", "content": prompt.question}));
        messages
    }

    fn model_of(&self, prompt: &Prompt) -> String {
        prompt
            .model
            .clone()
            .unwrap_or_else(|| self.settings.model.clone())
    }

    fn backoff(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        retry_after
            .map(|d| d.min(Duration::from_secs(30)))
            .unwrap_or_else(|| {
                self.settings
                    .retry_base
                    .saturating_mul(1 << attempt.min(10))
            })
    }

    /// Sends `body` to `path`, retrying what is worth retrying. Answers the response once its
    /// headers are in, with a 2xx status.
    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, LlmError> {
        let mut attempt = 0;
        loop {
            let mut request = self.http.post(self.url(path)).json(body);
            if let Some(key) = &self.settings.api_key {
                request = request.bearer_auth(key);
            }
            let outcome = tokio::time::timeout(self.settings.timeout, request.send()).await;
            let (error, retry_after) = match outcome {
                Err(_) => (LlmError::Timeout, None),
                Ok(Err(e)) if e.is_timeout() => (LlmError::Timeout, None),
                Ok(Err(e)) => (
                    LlmError::Unavailable(format!("cannot reach the provider: {e}")),
                    None,
                ),
                Ok(Ok(response)) if response.status().is_success() => return Ok(response),
                Ok(Ok(response)) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = response.text().await.unwrap_or_default();
                    let detail: String = text.chars().take(300).collect();
                    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
                        (
                            LlmError::Unavailable(format!("HTTP {status}: {detail}")),
                            retry_after,
                        )
                    } else {
                        // The provider refused the request itself: retrying will not help.
                        return Err(LlmError::Rejected(format!("HTTP {status}: {detail}")));
                    }
                }
            };
            if attempt >= self.settings.max_retries {
                return Err(error);
            }
            let wait = self.backoff(attempt, retry_after);
            tracing::warn!(attempt, wait_ms = wait.as_millis() as u64, error = %error, "language model call failed; retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn body_json(&self, response: reqwest::Response) -> Result<Value, LlmError> {
        tokio::time::timeout(self.settings.timeout, response.json::<Value>())
            .await
            .map_err(|_| LlmError::Timeout)?
            .map_err(|e| LlmError::Unavailable(format!("unreadable answer: {e}")))
    }
}

fn usage_of(value: &Value) -> Usage {
    let tokens = |key: &str| {
        value["usage"][key]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    Usage {
        prompt_tokens: tokens("prompt_tokens"),
        completion_tokens: tokens("completion_tokens"),
    }
}

/// Splits an SSE byte stream into the `data:` payloads of its events.
struct SseData {
    buffer: String,
}

impl SseData {
    fn push(&mut self, bytes: &Bytes) -> Vec<String> {
        self.buffer.push_str(&String::from_utf8_lossy(bytes));
        self.buffer = self.buffer.replace("\r\n", "\n");
        let mut payloads = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let event: String = self.buffer.drain(..end + 2).collect();
            let data: Vec<&str> = event
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if !data.is_empty() {
                payloads.push(data.join("\n"));
            }
        }
        payloads
    }
}

#[async_trait]
impl LanguageModel for OpenAiModel {
    fn default_model(&self) -> &str {
        &self.settings.model
    }

    async fn models(&self) -> Result<Vec<String>, LlmError> {
        if !self.settings.models.is_empty() {
            return Ok(self.settings.models.clone());
        }
        if self.settings.listed_only {
            return Ok(vec![self.settings.model.clone()]);
        }
        self.listed
            .get_or_try_init(|| async {
                let mut request = self.http.get(self.url("/models"));
                if let Some(key) = &self.settings.api_key {
                    request = request.bearer_auth(key);
                }
                let response = tokio::time::timeout(self.settings.timeout, request.send())
                    .await
                    .map_err(|_| LlmError::Timeout)?
                    .map_err(|e| LlmError::Unavailable(e.to_string()))?;
                if !response.status().is_success() {
                    return Err(LlmError::Unavailable(format!("HTTP {}", response.status())));
                }
                let body = self.body_json(response).await?;
                let mut models: Vec<String> = body["data"]
                    .as_array()
                    .map(|list| {
                        list.iter()
                            .filter_map(|m| m["id"].as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if !models.contains(&self.settings.model) {
                    models.insert(0, self.settings.model.clone());
                }
                Ok(models)
            })
            .await
            .cloned()
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, LlmError> {
        let model = self.model_of(prompt);
        let body = json!({
            "model": model,
            "messages": Self::messages(prompt),
            "stream": false,
            "max_tokens": self.settings.max_tokens
        });
        let answer = self
            .body_json(self.post("/chat/completions", &body).await?)
            .await?;
        let text = answer["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| LlmError::Unavailable("the answer has no message content".into()))?
            .to_string();
        Ok(Completion {
            text,
            model: answer["model"].as_str().unwrap_or(&model).to_string(),
            usage: usage_of(&answer),
        })
    }

    async fn stream(
        &self,
        prompt: &Prompt,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let model = self.model_of(prompt);
        let body = json!({
            "model": model,
            "messages": Self::messages(prompt),
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": self.settings.max_tokens
        });
        let response = self.post("/chat/completions", &body).await?;
        let idle = self.settings.timeout;
        struct State {
            bytes: BoxStream<'static, reqwest::Result<Bytes>>,
            parser: SseData,
            pending: std::collections::VecDeque<Result<StreamEvent, LlmError>>,
            model: String,
            usage: Usage,
            done: bool,
        }
        let state = State {
            bytes: response.bytes_stream().boxed(),
            parser: SseData {
                buffer: String::new(),
            },
            pending: std::collections::VecDeque::new(),
            model,
            usage: Usage::default(),
            done: false,
        };
        Ok(stream::unfold(state, move |mut state| async move {
            loop {
                if let Some(event) = state.pending.pop_front() {
                    return Some((event, state));
                }
                if state.done {
                    return None;
                }
                let chunk = match tokio::time::timeout(idle, state.bytes.next()).await {
                    Err(_) => {
                        state.done = true;
                        return Some((Err(LlmError::Timeout), state));
                    }
                    Ok(None) => {
                        state.done = true;
                        return Some((
                            Err(LlmError::Unavailable(
                                "the answer stream ended early".into(),
                            )),
                            state,
                        ));
                    }
                    Ok(Some(Err(e))) => {
                        state.done = true;
                        return Some((Err(LlmError::Unavailable(e.to_string())), state));
                    }
                    Ok(Some(Ok(chunk))) => chunk,
                };
                for data in state.parser.push(&chunk) {
                    if data == "[DONE]" {
                        state.pending.push_back(Ok(StreamEvent::Done {
                            model: state.model.clone(),
                            usage: state.usage,
                        }));
                        state.done = true;
                        break;
                    }
                    let Ok(piece) = serde_json::from_str::<Value>(&data) else {
                        continue;
                    };
                    if let Some(model) = piece["model"].as_str() {
                        state.model = model.to_string();
                    }
                    if piece["usage"].is_object() {
                        state.usage = usage_of(&piece);
                    }
                    if let Some(text) = piece["choices"][0]["delta"]["content"].as_str()
                        && !text.is_empty()
                    {
                        state
                            .pending
                            .push_back(Ok(StreamEvent::Delta(text.to_string())));
                    }
                }
            }
        })
        .boxed())
    }

    async fn complete_structured(
        &self,
        prompt: &Prompt,
        schema_name: &str,
        schema: &Value,
    ) -> Result<(Value, Usage), LlmError> {
        let body = json!({
            "model": self.model_of(prompt),
            "messages": Self::messages(prompt),
            "stream": false,
            "max_tokens": self.settings.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema, "strict": true}
            }
        });
        let answer = self
            .body_json(self.post("/chat/completions", &body).await?)
            .await?;
        let content = answer["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| LlmError::Unavailable("the answer has no message content".into()))?;
        let value = serde_json::from_str(content).map_err(|e| {
            LlmError::Unavailable(format!("the structured answer is not JSON: {e}"))
        })?;
        Ok((value, usage_of(&answer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashforge_domain::assistant::{Passage, PromptPassage, Turn};
    use wiremock::matchers::{bearer_token, body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn settings(server: &MockServer) -> OpenAiSettings {
        OpenAiSettings {
            base_url: format!("{}/v1", server.uri()),
            api_key: Some("sk-test".into()),
            model: "mock-model".into(),
            models: Vec::new(),
            listed_only: false,
            max_tokens: 321,
            timeout: Duration::from_millis(500),
            max_retries: 2,
            retry_base: Duration::from_millis(10),
        }
    }

    fn prompt() -> Prompt {
        Prompt {
            instructions: "Be brief.".into(),
            passages: vec![PromptPassage {
                number: 1,
                passage: Passage {
                    chunk_id: uuid::Uuid::now_v7(),
                    document_id: uuid::Uuid::now_v7(),
                    file_name: "bio.pdf".into(),
                    page: Some(3),
                    text: "Mitochondria make ATP.".into(),
                },
            }],
            history: vec![Turn {
                role: Role::User,
                content: "Hi".into(),
            }],
            question: "What makes ATP?".into(),
            model: None,
        }
    }

    fn answer(text: &str) -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "mock-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
        })
    }

    #[tokio::test]
    async fn a_completion_sends_the_grounded_conversation_and_reads_usage() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(bearer_token("sk-test"))
            .and(body_partial_json(
                json!({"model": "mock-model", "stream": false, "max_tokens": 321}),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(answer("ATP comes from mitochondria [1].")),
            )
            .expect(1)
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        let completion = model.complete(&prompt()).await.unwrap();
        assert_eq!(completion.text, "ATP comes from mitochondria [1].");
        assert_eq!(
            completion.usage,
            Usage {
                prompt_tokens: 42,
                completion_tokens: 7
            }
        );
        let sent: Value = server.received_requests().await.unwrap()[0]
            .body_json()
            .unwrap();
        let messages = sent["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "system");
        assert!(
            messages[0]["content"]
                .as_str()
                .unwrap()
                .contains("<passage number=\"1\" source=\"bio.pdf, page 3\">")
        );
        assert_eq!(messages[1]["content"], "Hi");
        assert_eq!(messages[2]["content"], "What makes ATP?");
    }

    #[tokio::test]
    async fn rate_limits_and_server_errors_are_retried_with_backoff() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer("third time")))
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        assert_eq!(model.complete(&prompt()).await.unwrap().text, "third time");
        assert_eq!(server.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn persistent_failures_become_unavailable_after_the_retries() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        assert!(matches!(
            model.complete(&prompt()).await,
            Err(LlmError::Unavailable(_))
        ));
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            3,
            "1 try + 2 retries"
        );
    }

    #[tokio::test]
    async fn a_refused_request_is_not_retried() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_string(r#"{"error":{"message":"unknown model"}}"#),
            )
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        assert!(matches!(
            model.complete(&prompt()).await,
            Err(LlmError::Rejected(_))
        ));
        assert_eq!(server.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_slow_provider_times_out() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(answer("late"))
                    .set_delay(Duration::from_secs(3)),
            )
            .mount(&server)
            .await;
        let mut s = settings(&server);
        s.max_retries = 0;
        let model = OpenAiModel::new(s).unwrap();
        assert_eq!(
            model.complete(&prompt()).await.unwrap_err(),
            LlmError::Timeout
        );
    }

    fn sse(chunks: &[&str]) -> String {
        chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
    }

    #[tokio::test]
    async fn a_stream_yields_deltas_then_done_with_usage() {
        let server = MockServer::start().await;
        let body = sse(&[
            r#"{"model":"mock-model","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"model":"mock-model","choices":[{"index":0,"delta":{"content":"ATP "}}]}"#,
            r#"{"model":"mock-model","choices":[{"index":0,"delta":{"content":"[1]."}}]}"#,
            r#"{"model":"mock-model","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":3}}"#,
            "[DONE]",
        ]);
        Mock::given(method("POST"))
            .and(body_partial_json(
                json!({"stream": true, "stream_options": {"include_usage": true}, "max_tokens": 321}),
            ))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/event-stream")
                    .set_body_string(body),
            )
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        let events: Vec<_> = model.stream(&prompt()).await.unwrap().collect().await;
        assert_eq!(
            events,
            vec![
                Ok(StreamEvent::Delta("ATP ".into())),
                Ok(StreamEvent::Delta("[1].".into())),
                Ok(StreamEvent::Done {
                    model: "mock-model".into(),
                    usage: Usage {
                        prompt_tokens: 40,
                        completion_tokens: 3
                    }
                }),
            ]
        );
    }

    #[tokio::test]
    async fn a_stream_cut_before_done_ends_with_an_error() {
        let server = MockServer::start().await;
        let body = sse(&[r#"{"choices":[{"index":0,"delta":{"content":"Half"}}]}"#]);
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        let events: Vec<_> = model.stream(&prompt()).await.unwrap().collect().await;
        assert_eq!(events[0], Ok(StreamEvent::Delta("Half".into())));
        assert!(matches!(events[1], Err(LlmError::Unavailable(_))));
        assert_eq!(events.len(), 2);
    }

    #[tokio::test]
    async fn models_come_from_the_provider_with_the_default_first() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"object": "list", "data": [{"id": "llama3"}, {"id": "qwen2"}]}),
            ))
            .expect(1)
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        assert_eq!(
            model.models().await.unwrap(),
            ["mock-model", "llama3", "qwen2"]
        );
        // Cached: the mock's `expect(1)` fails the test on a second call.
        model.models().await.unwrap();
    }

    #[tokio::test]
    async fn listed_only_offers_the_configured_models_and_never_asks_the_provider() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v1/models"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"object": "list", "data": [{"id": "gpt-expensive"}]})),
            )
            .expect(0)
            .mount(&server)
            .await;
        let only_default = OpenAiModel::new(OpenAiSettings {
            listed_only: true,
            ..settings(&server)
        })
        .unwrap();
        assert_eq!(only_default.models().await.unwrap(), ["mock-model"]);
        let listed = OpenAiModel::new(OpenAiSettings {
            listed_only: true,
            models: vec!["mock-model".into(), "mock-small".into()],
            ..settings(&server)
        })
        .unwrap();
        assert_eq!(listed.models().await.unwrap(), ["mock-model", "mock-small"]);
    }

    #[tokio::test]
    async fn structured_output_asks_for_the_schema_and_parses_the_json() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(body_partial_json(json!({"max_tokens": 321, "response_format": {"type": "json_schema", "json_schema": {"name": "cards", "strict": true}}})))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer(r#"{"flashcards":[{"question":"Q","answer":"A"}]}"#)))
            .mount(&server)
            .await;
        let model = OpenAiModel::new(settings(&server)).unwrap();
        let schema = json!({"type": "object"});
        let (value, usage) = model
            .complete_structured(&prompt(), "cards", &schema)
            .await
            .unwrap();
        assert_eq!(value["flashcards"][0]["answer"], "A");
        assert_eq!(usage.completion_tokens, 7);
    }
}
