//! A language model that answers from a script, for the test harness: each answer is the next
//! scripted reply (or an echo of the question), streamed in small pieces, and it can be told to
//! fail or to be slow.

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use flashforge_domain::assistant::{
    Completion, LanguageModel, LlmError, Prompt, StreamEvent, Usage,
};
use futures_util::stream::{self, BoxStream, StreamExt};
use parking_lot::Mutex;

/// One scripted turn.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with this text.
    Text(String),
    /// Fail with this error before writing anything.
    Fail(LlmError),
    /// Write this text, then fail (a stream cut in the middle).
    FailAfter(String, LlmError),
}

pub struct ScriptedModel {
    replies: Mutex<VecDeque<Reply>>,
    /// Pause before each streamed piece.
    pub delay: Duration,
    /// Every prompt it was given, for assertions.
    prompts: Mutex<Vec<Prompt>>,
}

impl Default for ScriptedModel {
    fn default() -> Self {
        Self {
            replies: Mutex::new(VecDeque::new()),
            delay: Duration::ZERO,
            prompts: Mutex::new(Vec::new()),
        }
    }
}

impl ScriptedModel {
    pub const NAME: &'static str = "scripted-1";
    pub const OTHER: &'static str = "scripted-large";

    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            ..Self::default()
        }
    }

    pub fn push(&self, reply: Reply) {
        self.replies.lock().push_back(reply);
    }

    pub fn prompts(&self) -> Vec<Prompt> {
        self.prompts.lock().clone()
    }

    fn next(&self, prompt: &Prompt) -> Reply {
        self.prompts.lock().push(prompt.clone());
        self.replies
            .lock()
            .pop_front()
            .unwrap_or_else(|| Reply::Text(format!("You asked: {}", prompt.question)))
    }
}

fn usage(prompt: &Prompt, answer: &str) -> Usage {
    // Roughly four characters a token, like the tokenizers of common models on English.
    let prompt_chars = prompt.system_text().len()
        + prompt.question.len()
        + prompt
            .history
            .iter()
            .map(|t| t.content.len())
            .sum::<usize>();
    Usage {
        prompt_tokens: (prompt_chars / 4) as u32 + 1,
        completion_tokens: (answer.len() / 4) as u32 + 1,
    }
}

#[async_trait]
impl LanguageModel for ScriptedModel {
    fn default_model(&self) -> &str {
        Self::NAME
    }

    async fn models(&self) -> Result<Vec<String>, LlmError> {
        Ok(vec![Self::NAME.to_string(), Self::OTHER.to_string()])
    }

    /// The next scripted reply, read as JSON; a reply that is not JSON is a provider failure.
    async fn complete_structured(
        &self,
        prompt: &Prompt,
        _schema_name: &str,
        _schema: &serde_json::Value,
    ) -> Result<(serde_json::Value, Usage), LlmError> {
        match self.next(prompt) {
            Reply::Text(text) => {
                let value = serde_json::from_str(&text)
                    .map_err(|e| LlmError::Unavailable(format!("not JSON: {e}")))?;
                Ok((value, usage(prompt, &text)))
            }
            Reply::Fail(e) | Reply::FailAfter(_, e) => Err(e),
        }
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, LlmError> {
        let model = prompt
            .model
            .clone()
            .unwrap_or_else(|| Self::NAME.to_string());
        match self.next(prompt) {
            Reply::Text(text) => {
                tokio::time::sleep(self.delay).await;
                Ok(Completion {
                    usage: usage(prompt, &text),
                    text,
                    model,
                })
            }
            Reply::Fail(e) | Reply::FailAfter(_, e) => Err(e),
        }
    }

    async fn stream(
        &self,
        prompt: &Prompt,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let model = prompt
            .model
            .clone()
            .unwrap_or_else(|| Self::NAME.to_string());
        let (text, failure) = match self.next(prompt) {
            Reply::Text(text) => (text, None),
            Reply::Fail(e) => return Err(e),
            Reply::FailAfter(text, e) => (text, Some(e)),
        };
        let usage = usage(prompt, &text);
        let pieces: Vec<String> = text.split_inclusive(' ').map(str::to_string).collect();
        let delay = self.delay;
        let mut events: Vec<Result<StreamEvent, LlmError>> = pieces
            .into_iter()
            .map(|p| Ok(StreamEvent::Delta(p)))
            .collect();
        events.push(match failure {
            Some(e) => Err(e),
            None => Ok(StreamEvent::Done { model, usage }),
        });
        Ok(stream::iter(events)
            .then(move |event| async move {
                tokio::time::sleep(delay).await;
                event
            })
            .boxed())
    }
}
