//! Sending a message and getting a grounded answer, whole or streamed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Days, Utc};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::models::{Message, MessageCursor, MessageId, MessageStatus, Role, Usage};
use super::ports::{
    LanguageModel, LlmError, MessageRepository, PassageSearch, Prompt, PromptPassage, StreamEvent,
    Turn,
};
use super::prompt::{cite, fit_history};
use crate::accounts::Principal;
use crate::chats::{ChatId, ChatRepository};
use crate::clock::Clock;
use crate::error::{DomainError, ErrorKind, FieldError, InfraError, ValidationErrors};
use crate::limits::Limited;
use crate::pagination::{Page, PageRequest};

/// How answers are grounded and bounded, from configuration.
#[derive(Debug, Clone)]
pub struct AssistantSettings {
    /// Passages retrieved per question.
    pub passages: usize,
    /// Earlier messages considered, newest first, within `history_chars`.
    pub history_messages: u64,
    pub history_chars: usize,
    /// The longest message a user may send.
    pub max_message_chars: usize,
    /// Tokens a user's answers may use per UTC day; 0 for no limit.
    pub daily_token_budget: u64,
}

impl Default for AssistantSettings {
    fn default() -> Self {
        Self {
            passages: 6,
            history_messages: 20,
            history_chars: 12_000,
            max_message_chars: 8_000,
            daily_token_budget: 0,
        }
    }
}

const INSTRUCTIONS: &str = "You are FlashForge, a study assistant. Answer from the numbered passages of the student's own material below. Cite every statement that comes from a passage with its number in square brackets, like [1] or [2, 3]. If the passages do not contain the answer, say so plainly and answer from general knowledge only if the student asks you to. Be concise and precise.";

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("chat not found")]
    ChatNotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("today's token budget is spent")]
    BudgetSpent(Limited),
    #[error("{0}")]
    Model(LlmError),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl DomainError for AssistantError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::ChatNotFound => ErrorKind::NotFound,
            Self::Invalid(e) => e.kind(),
            Self::BudgetSpent(_) => ErrorKind::RateLimited,
            Self::Model(LlmError::Timeout) => ErrorKind::UpstreamTimeout,
            Self::Model(LlmError::Unavailable(_)) => ErrorKind::UpstreamFailed,
            Self::Model(LlmError::Rejected(_)) => ErrorKind::UpstreamFailed,
            Self::Infra(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Self::ChatNotFound => "chat_not_found",
            Self::Invalid(e) => e.code(),
            Self::BudgetSpent(_) => "token_budget_spent",
            Self::Model(LlmError::Timeout) => "model_timeout",
            Self::Model(LlmError::Unavailable(_)) => "model_unavailable",
            Self::Model(LlmError::Rejected(_)) => "model_rejected",
            Self::Infra(e) => e.code(),
        }
    }
    fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Invalid(e) => e.fields(),
            _ => &[],
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::BudgetSpent(l) => Some(l.retry_after),
            _ => None,
        }
    }
}

/// A question and its answer, as stored.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub question: Message,
    pub answer: Message,
}

/// What a streamed answer sends: pieces of text, then the stored answer (or the failure, with
/// whatever was written stored as `incomplete`).
#[derive(Debug)]
pub enum AnswerEvent {
    Delta(String),
    Done(Box<Message>),
    Failed(AssistantError),
}

/// A streamed answer: the stored question, and the events of the answer.
pub struct AnswerStream {
    pub question: Message,
    pub events: mpsc::Receiver<AnswerEvent>,
}

/// Messages and answers.
pub struct Assistant {
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
    passages: Arc<dyn PassageSearch>,
    model: Arc<dyn LanguageModel>,
    clock: Arc<dyn Clock>,
    settings: AssistantSettings,
}

/// What a validated request prepared: the stored question and the prompt to answer it.
struct Prepared {
    question: Message,
    prompt: Prompt,
}

impl Assistant {
    pub fn new(
        chats: Arc<dyn ChatRepository>,
        messages: Arc<dyn MessageRepository>,
        passages: Arc<dyn PassageSearch>,
        model: Arc<dyn LanguageModel>,
        clock: Arc<dyn Clock>,
        settings: AssistantSettings,
    ) -> Self {
        Self {
            chats,
            messages,
            passages,
            model,
            clock,
            settings,
        }
    }

    /// The models a client may ask for, and the default.
    pub async fn models(&self) -> Result<(String, Vec<String>), AssistantError> {
        let models = self.model.models().await.map_err(AssistantError::Model)?;
        Ok((self.model.default_model().to_string(), models))
    }

    pub async fn messages(
        &self,
        who: Principal,
        chat: ChatId,
        page: PageRequest<MessageCursor>,
    ) -> Result<Page<Message>, AssistantError> {
        self.chats
            .find(who.user_id, chat)
            .await?
            .ok_or(AssistantError::ChatNotFound)?;
        Ok(self.messages.list(who.user_id, chat, page).await?)
    }

    async fn prepare(
        &self,
        who: Principal,
        chat: ChatId,
        content: &str,
        model: Option<String>,
    ) -> Result<Prepared, AssistantError> {
        let mut errors = ValidationErrors::new();
        let chars = content.chars().count();
        if content.trim().is_empty() || chars > self.settings.max_message_chars {
            errors.push(FieldError::new(
                "content",
                format!(
                    "must be 1 to {} characters long",
                    self.settings.max_message_chars
                ),
            ));
        }
        if let Some(name) = &model {
            let known = self.model.models().await.map_err(AssistantError::Model)?;
            if !known.contains(name) {
                errors.push(FieldError::new(
                    "model",
                    "is not one of the models listed by GET /api/v1/models",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        self.chats
            .find(who.user_id, chat)
            .await?
            .ok_or(AssistantError::ChatNotFound)?;

        let now = self.clock.now();
        if self.settings.daily_token_budget > 0 {
            let midnight = start_of_day(now);
            let used = self
                .messages
                .tokens_used_since(who.user_id, midnight)
                .await?;
            if used >= self.settings.daily_token_budget {
                let next = midnight.checked_add_days(Days::new(1)).unwrap_or(midnight);
                let retry_after = (next - now).to_std().unwrap_or(Duration::from_secs(60));
                return Err(AssistantError::BudgetSpent(Limited { retry_after }));
            }
        }

        let history = fit_history(
            self.messages
                .recent(who.user_id, chat, self.settings.history_messages)
                .await?,
            self.settings.history_chars,
        )
        .into_iter()
        .map(|m| Turn {
            role: m.role,
            content: m.content,
        })
        .collect();
        let passages = self
            .passages
            .search(who.user_id, chat, content, self.settings.passages)
            .await?
            .into_iter()
            .enumerate()
            .map(|(i, passage)| PromptPassage {
                number: i + 1,
                passage,
            })
            .collect();

        let question = self
            .messages
            .append(Message {
                id: MessageId::new(),
                chat_id: chat,
                user_id: who.user_id,
                role: Role::User,
                content: content.to_string(),
                citations: Vec::new(),
                model: None,
                usage: None,
                status: MessageStatus::Complete,
                created_at: now,
            })
            .await?;
        self.chats.touch(who.user_id, chat, now).await?;
        Ok(Prepared {
            question,
            prompt: Prompt {
                instructions: INSTRUCTIONS.to_string(),
                passages,
                history,
                question: content.to_string(),
                model,
            },
        })
    }

    /// Stores the question, asks the model with the chat's best passages and the conversation
    /// that fits, and stores the answer with its citations and usage. When the model fails, the
    /// question stays stored and no answer is.
    pub async fn send(
        &self,
        who: Principal,
        chat: ChatId,
        content: &str,
        model: Option<String>,
    ) -> Result<Exchange, AssistantError> {
        let prepared = self.prepare(who, chat, content, model).await?;
        let completion = self
            .model
            .complete(&prepared.prompt)
            .await
            .map_err(AssistantError::Model)?;
        let answer = store_answer(
            &*self.messages,
            &*self.chats,
            &*self.clock,
            &prepared,
            completion.text,
            Some(completion.model),
            Some(completion.usage),
            MessageStatus::Complete,
        )
        .await?;
        Ok(Exchange {
            question: prepared.question,
            answer,
        })
    }

    /// Like [`Self::send`], streamed. The answer is written to the end and stored even when the
    /// receiver goes away (the client disconnected).
    pub async fn send_streaming(
        self: &Arc<Self>,
        who: Principal,
        chat: ChatId,
        content: &str,
        model: Option<String>,
    ) -> Result<AnswerStream, AssistantError> {
        let prepared = self.prepare(who, chat, content, model).await?;
        let mut upstream = self
            .model
            .stream(&prepared.prompt)
            .await
            .map_err(AssistantError::Model)?;
        let (tx, rx) = mpsc::channel(64);
        let question = prepared.question.clone();
        let this = self.clone();
        tokio::spawn(async move {
            let mut text = String::new();
            let mut finished: Option<(String, Usage)> = None;
            let mut failure = None;
            while let Some(event) = upstream.next().await {
                match event {
                    Ok(StreamEvent::Delta(piece)) => {
                        text.push_str(&piece);
                        // A closed receiver means the client left; the answer goes on.
                        let _ = tx.send(AnswerEvent::Delta(piece)).await;
                    }
                    Ok(StreamEvent::Done { model, usage }) => {
                        finished = Some((model, usage));
                        break;
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let (model, usage, status) = match &finished {
                Some((model, usage)) => {
                    (Some(model.clone()), Some(*usage), MessageStatus::Complete)
                }
                None => (None, None, MessageStatus::Incomplete),
            };
            let failure = failure.or_else(|| {
                finished
                    .is_none()
                    .then(|| LlmError::Unavailable("the answer stream ended early".into()))
            });
            // Nothing written and a failure: store nothing, as `send` does.
            if failure.is_some() && text.is_empty() {
                let _ = tx
                    .send(AnswerEvent::Failed(AssistantError::Model(
                        failure.unwrap_or(LlmError::Timeout),
                    )))
                    .await;
                return;
            }
            let stored = store_answer(
                &*this.messages,
                &*this.chats,
                &*this.clock,
                &prepared,
                text,
                model,
                usage,
                status,
            )
            .await;
            let event = match (stored, failure) {
                (Ok(answer), None) => AnswerEvent::Done(Box::new(answer)),
                (Ok(_), Some(e)) => AnswerEvent::Failed(AssistantError::Model(e)),
                (Err(e), _) => AnswerEvent::Failed(AssistantError::Infra(e)),
            };
            let _ = tx.send(event).await;
        });
        Ok(AnswerStream {
            question,
            events: rx,
        })
    }
}

#[allow(clippy::too_many_arguments)]
async fn store_answer(
    messages: &dyn MessageRepository,
    chats: &dyn ChatRepository,
    clock: &dyn Clock,
    prepared: &Prepared,
    text: String,
    model: Option<String>,
    usage: Option<Usage>,
    status: MessageStatus,
) -> Result<Message, InfraError> {
    let now = clock.now();
    let citations = cite(&text, &prepared.prompt.passages);
    let answer = messages
        .append(Message {
            id: MessageId::new(),
            chat_id: prepared.question.chat_id,
            user_id: prepared.question.user_id,
            role: Role::Assistant,
            content: text,
            citations,
            model,
            usage,
            status,
            created_at: now,
        })
        .await?;
    chats
        .touch(prepared.question.user_id, prepared.question.chat_id, now)
        .await?;
    Ok(answer)
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now)
}
