//! OpenAI-compatible chat completions (OpenAI, Ollama's `/v1`, vLLM, llama.cpp server, TEI-style
//! gateways): whole answers, streamed answers (SSE), JSON-schema structured output, token usage.
//! The wire itself (timeouts, retries, redaction, SSE decoding) is flashforge-openai's.

use std::time::Duration;

use async_trait::async_trait;
use flashforge_domain::assistant::{
    Completion, LanguageModel, LlmError, Prompt, Role, StreamEvent, Usage,
};
use flashforge_openai::{
    Backoff, ClientSettings, Failure, OpenAiClient, SecretString, SseEvent, WireError,
};
use futures_util::stream::{self, BoxStream, StreamExt};
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
    /// `temperature` of every request; `None` leaves it to the provider.
    pub temperature: Option<f64>,
    /// For a whole answer; for a stream, the wait for the first byte and between pieces.
    pub timeout: Duration,
    /// Retries after a 429, a 5xx, a timeout or a refused connection.
    pub max_retries: u32,
    /// The first back-off; doubled (with jitter) each retry, up to 30 s (a `Retry-After`
    /// header wins, up to 60 s).
    pub retry_base: Duration,
}

pub struct OpenAiModel {
    client: OpenAiClient,
    settings: OpenAiSettings,
    listed: OnceCell<Vec<String>>,
}

impl OpenAiModel {
    pub fn new(settings: OpenAiSettings) -> Result<Self, WireError> {
        let client = OpenAiClient::new(ClientSettings {
            base_url: settings.base_url.clone(),
            api_key: settings.api_key.clone().map(SecretString::from),
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            backoff: Backoff::new(settings.retry_base),
        })?;
        Ok(Self {
            client,
            settings,
            listed: OnceCell::new(),
        })
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

    /// The body every chat request shares: the model, the conversation and the sampling settings.
    fn request(&self, model: &str, prompt: &Prompt, stream: bool) -> Value {
        let mut body = json!({
            "model": model,
            "messages": Self::messages(prompt),
            "stream": stream,
            "max_tokens": self.settings.max_tokens
        });
        if let Some(temperature) = self.settings.temperature {
            body["temperature"] = json!(temperature);
        }
        body
    }

    fn error(&self, error: &WireError) -> LlmError {
        llm_error(&self.client, error)
    }

    async fn chat(&self, body: &Value) -> Result<Value, LlmError> {
        self.client
            .post_json("/chat/completions", body)
            .await
            .map_err(|e| self.error(&e))
    }
}

/// The port's error for a failed exchange, its text redacted.
fn llm_error(client: &OpenAiClient, error: &WireError) -> LlmError {
    match error.failure() {
        Failure::Timeout => LlmError::Timeout,
        Failure::Rejected => LlmError::Rejected(client.explain(error)),
        Failure::Unavailable | Failure::Malformed => LlmError::Unavailable(client.explain(error)),
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

/// Follows a streamed answer: the model that answers and the usage come in pieces of their own.
struct Answer {
    model: String,
    usage: Usage,
}

impl Answer {
    /// The delta of one event's `data`, or the end at `[DONE]`.
    fn read(&mut self, data: &str) -> Option<StreamEvent> {
        if data == "[DONE]" {
            return Some(StreamEvent::Done {
                model: self.model.clone(),
                usage: self.usage,
            });
        }
        let piece = serde_json::from_str::<Value>(data).ok()?;
        if let Some(model) = piece["model"].as_str() {
            self.model = model.to_string();
        }
        if piece["usage"].is_object() {
            self.usage = usage_of(&piece);
        }
        piece["choices"][0]["delta"]["content"]
            .as_str()
            .filter(|text| !text.is_empty())
            .map(|text| StreamEvent::Delta(text.to_string()))
    }
}

#[async_trait]
impl LanguageModel for OpenAiModel {
    fn default_model(&self) -> &str {
        &self.settings.model
    }

    /// `GET /models`, uncached: the provider answers with this key.
    async fn check(&self) -> Result<(), LlmError> {
        self.client
            .get_json::<Value>("/models")
            .await
            .map(|_| ())
            .map_err(|e| self.error(&e))
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
                let body: Value = self
                    .client
                    .get_json("/models")
                    .await
                    .map_err(|e| match self.error(&e) {
                        LlmError::Rejected(text) => LlmError::Unavailable(text),
                        other => other,
                    })?;
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
        let answer = self.chat(&self.request(&model, prompt, false)).await?;
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
        let mut body = self.request(&model, prompt, true);
        body["stream_options"] = json!({"include_usage": true});
        let events = self
            .client
            .post_events("/chat/completions", &body)
            .await
            .map_err(|e| self.error(&e))?;
        struct State {
            events: BoxStream<'static, Result<SseEvent, WireError>>,
            /// Errors in the stream are mapped with the same rule (and redaction) as the others.
            client: OpenAiClient,
            answer: Answer,
            done: bool,
        }
        let state = State {
            events,
            client: self.client.clone(),
            answer: Answer {
                model,
                usage: Usage::default(),
            },
            done: false,
        };
        Ok(stream::unfold(state, |mut state| async move {
            while !state.done {
                let outcome = match state.events.next().await {
                    None => Err(LlmError::Unavailable(
                        "the answer stream ended early".into(),
                    )),
                    Some(Err(e)) => Err(llm_error(&state.client, &e)),
                    Some(Ok(event)) => match state.answer.read(&event.data) {
                        None => continue,
                        Some(event) => Ok(event),
                    },
                };
                state.done = !matches!(outcome, Ok(StreamEvent::Delta(_)));
                return Some((outcome, state));
            }
            None
        })
        .boxed())
    }

    async fn complete_structured(
        &self,
        prompt: &Prompt,
        schema_name: &str,
        schema: &Value,
    ) -> Result<(Value, Usage), LlmError> {
        let mut body = self.request(&self.model_of(prompt), prompt, false);
        body["response_format"] = json!({
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": schema, "strict": true}
        });
        let answer = self.chat(&body).await?;
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
            temperature: None,
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
                    page_label: None,
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
    async fn the_temperature_is_sent_when_set_and_left_out_when_not() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(answer("ok")))
            .mount(&server)
            .await;
        let warm = OpenAiModel::new(OpenAiSettings {
            temperature: Some(0.3),
            ..settings(&server)
        })
        .unwrap();
        warm.complete(&prompt()).await.unwrap();
        warm.complete_structured(&prompt(), "cards", &json!({}))
            .await
            .unwrap_err(); // "ok" is no JSON: only the request matters here
        OpenAiModel::new(settings(&server))
            .unwrap()
            .complete(&prompt())
            .await
            .unwrap();
        let sent: Vec<Value> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| r.body_json().unwrap())
            .collect();
        assert_eq!(sent[0]["temperature"], json!(0.3));
        assert_eq!(sent[1]["temperature"], json!(0.3));
        assert_eq!(sent[0]["max_tokens"], 321);
        assert!(sent[2].get("temperature").is_none(), "{}", sent[2]);
        assert_eq!(sent[2]["max_tokens"], 321);
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
