//! Sending a message and getting a grounded answer, whole or streamed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::Notify;

use super::models::{Message, MessageCursor, MessageId, MessageStatus, Role, Usage};
use super::ports::{
    LanguageModel, LlmError, MessageRepository, PassageSearch, Prompt, PromptPassage, StreamEvent,
    Turn,
};
use super::prompt::{cite, fit_history};
use crate::accounts::{Principal, UserId};
use crate::chats::{ChatId, ChatRepository};
use crate::clock::Clock;
use crate::error::{DomainError, ErrorKind, FieldError, InfraError, ValidationErrors};
use crate::limits::Limited;
use crate::pagination::{Page, PageRequest};
use crate::spend::{ModelSpend, Purpose, Reservation, SpendError, Spent};

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
    /// A streamed answer nobody has followed for this long is stopped (what was written is
    /// kept, as `incomplete`, and its tokens are counted); a client that lost its connection
    /// has this long to resume it.
    pub abandoned_after: Duration,
}

impl Default for AssistantSettings {
    fn default() -> Self {
        Self {
            passages: 6,
            history_messages: 20,
            history_chars: 12_000,
            max_message_chars: 8_000,
            abandoned_after: Duration::from_secs(10),
        }
    }
}

const INSTRUCTIONS: &str = "You are FlashForge, a study assistant. Answer from the numbered passages of the student's own material below. Cite every statement that comes from a passage with its number in square brackets, like [1] or [2, 3]. If the passages do not contain the answer, say so plainly and answer from general knowledge only if the student asks you to. Be concise and precise.";

#[derive(Debug, thiserror::Error)]
pub enum AssistantError {
    #[error("chat not found")]
    ChatNotFound,
    #[error("message not found")]
    MessageNotFound,
    #[error("only the last answer of a chat can be regenerated")]
    NotLastAnswer,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("today's model token budget is spent")]
    BudgetSpent(Limited),
    #[error("too many model calls of yours are under way; try again when one ends")]
    Busy(Limited),
    #[error("the answer was stopped: nobody was reading it")]
    Abandoned,
    #[error("{0}")]
    Model(LlmError),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl DomainError for AssistantError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::ChatNotFound | Self::MessageNotFound => ErrorKind::NotFound,
            Self::NotLastAnswer => ErrorKind::Conflict,
            Self::Invalid(e) => e.kind(),
            Self::BudgetSpent(_) | Self::Busy(_) => ErrorKind::RateLimited,
            Self::Abandoned => ErrorKind::Conflict,
            Self::Model(LlmError::Timeout) => ErrorKind::UpstreamTimeout,
            Self::Model(LlmError::Unavailable(_)) => ErrorKind::UpstreamFailed,
            Self::Model(LlmError::Rejected(_)) => ErrorKind::UpstreamFailed,
            Self::Infra(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            Self::ChatNotFound => "chat_not_found",
            Self::MessageNotFound => "message_not_found",
            Self::NotLastAnswer => "not_last_answer",
            Self::Invalid(e) => e.code(),
            Self::BudgetSpent(_) => "token_budget_spent",
            Self::Busy(_) => "model_calls_busy",
            Self::Abandoned => "answer_abandoned",
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
            Self::BudgetSpent(l) | Self::Busy(l) => Some(l.retry_after),
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

/// One event of an answer being written: pieces of text, then the stored answer, or the
/// failure (with whatever was written stored as `incomplete`).
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    Delta(String),
    Done(Box<Message>),
    Failed(Arc<AssistantError>),
}

/// An answer being written: every event so far, for the client that asked and for any client
/// that reconnects (`Last-Event-ID`).
#[derive(Debug)]
pub struct InFlight {
    owner: UserId,
    chat: ChatId,
    log: Mutex<Vec<AnswerEvent>>,
    changed: Notify,
    /// Clients following the answer now.
    watchers: AtomicUsize,
    /// Since when nobody has followed it (from the start, until the first client does).
    unwatched_since: Mutex<Option<Instant>>,
}

impl InFlight {
    fn new(owner: UserId, chat: ChatId) -> Self {
        Self {
            owner,
            chat,
            log: Mutex::new(Vec::new()),
            changed: Notify::new(),
            watchers: AtomicUsize::new(0),
            unwatched_since: Mutex::new(Some(Instant::now())),
        }
    }

    fn push(&self, event: AnswerEvent) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
        self.changed.notify_waiters();
    }

    /// Whether nobody has followed the answer for `grace`.
    fn abandoned(&self, grace: Duration) -> bool {
        self.watchers.load(Ordering::SeqCst) == 0
            && self
                .unwatched_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|since| since.elapsed() >= grace)
    }

    fn watch(self: &Arc<Self>) -> Watch {
        self.watchers.fetch_add(1, Ordering::SeqCst);
        *self
            .unwatched_since
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
        Watch(self.clone())
    }

    /// The events from index `from` on, as they come, ending after `Done` or `Failed`. Past
    /// the end of a finished answer, only its last event.
    pub fn follow(self: Arc<Self>, from: usize) -> BoxStream<'static, (usize, AnswerEvent)> {
        let watch = self.watch();
        futures_util::stream::unfold((watch, from, false), |(watch, next, over)| async move {
            if over {
                return None;
            }
            let log = &watch.0;
            loop {
                let found = {
                    let notified = log.changed.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    let (event, last) = {
                        let events = log.log.lock().unwrap_or_else(|e| e.into_inner());
                        let last = events
                            .last()
                            .filter(|e| is_terminal(e))
                            .map(|e| (events.len() - 1, e.clone()));
                        (events.get(next).cloned().map(|e| (next, e)), last)
                    };
                    match (event, last) {
                        (Some(found), _) => Some(found),
                        // Asked for more than a finished answer has: it ends at once.
                        (None, Some(last)) => Some(last),
                        (None, None) => {
                            notified.await;
                            None
                        }
                    }
                };
                if let Some((index, event)) = found {
                    let over = is_terminal(&event);
                    return Some(((index, event), (watch, index + 1, over)));
                }
            }
        })
        .boxed()
    }
}

fn is_terminal(event: &AnswerEvent) -> bool {
    matches!(event, AnswerEvent::Done(_) | AnswerEvent::Failed(_))
}

/// A client following an answer; counted until dropped.
#[derive(Debug)]
struct Watch(Arc<InFlight>);

impl Drop for Watch {
    fn drop(&mut self) {
        if self.0.watchers.fetch_sub(1, Ordering::SeqCst) == 1 {
            *self
                .0
                .unwatched_since
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
    }
}

impl From<SpendError> for AssistantError {
    fn from(error: SpendError) -> Self {
        match error {
            SpendError::BudgetSpent(l) => Self::BudgetSpent(l),
            SpendError::Busy(l) => Self::Busy(l),
            SpendError::Infra(e) => Self::Infra(e),
        }
    }
}

/// A streamed answer: the stored question, the id the answer will have, and its events.
pub struct AnswerStream {
    pub question: Message,
    pub answer_id: MessageId,
    pub events: Arc<InFlight>,
}

/// How long a finished answer stays replayable after its last event.
const REPLAYABLE_FOR: Duration = Duration::from_secs(120);

/// Messages and answers.
pub struct Assistant {
    in_flight: Mutex<HashMap<MessageId, Arc<InFlight>>>,
    chats: Arc<dyn ChatRepository>,
    messages: Arc<dyn MessageRepository>,
    passages: Arc<dyn PassageSearch>,
    model: Arc<dyn LanguageModel>,
    spend: Arc<ModelSpend>,
    clock: Arc<dyn Clock>,
    settings: AssistantSettings,
}

/// What to answer.
#[derive(Debug, Clone)]
pub enum Ask {
    /// A new message.
    New {
        content: String,
        model: Option<String>,
    },
    /// The last answer again (it is replaced).
    Regenerate {
        answer: MessageId,
        model: Option<String>,
    },
    /// A user message changed: everything after it is replaced by a new answer.
    Edit {
        message: MessageId,
        content: String,
        model: Option<String>,
    },
}

/// What a validated request prepared: the stored question and the prompt to answer it.
struct Prepared {
    question: Message,
    prompt: Prompt,
    /// A regeneration: the answer, once there is one, replaces every message after this one.
    /// Until then the old answer stays, so a failing model loses nothing.
    replacing: Option<MessageId>,
}

impl Assistant {
    pub fn new(
        chats: Arc<dyn ChatRepository>,
        messages: Arc<dyn MessageRepository>,
        passages: Arc<dyn PassageSearch>,
        model: Arc<dyn LanguageModel>,
        spend: Arc<ModelSpend>,
        clock: Arc<dyn Clock>,
        settings: AssistantSettings,
    ) -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
            chats,
            messages,
            passages,
            model,
            spend,
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

    fn check(&self, content: Option<&str>, errors: &mut ValidationErrors) {
        if let Some(content) = content {
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
        }
    }

    async fn check_model(
        &self,
        model: &Option<String>,
        errors: &mut ValidationErrors,
    ) -> Result<(), AssistantError> {
        if let Some(name) = model {
            let known = self.model.models().await.map_err(AssistantError::Model)?;
            if !known.contains(name) {
                errors.push(FieldError::new(
                    "model",
                    "is not one of the models listed by GET /api/v1/models",
                ));
            }
        }
        Ok(())
    }

    /// The prompt for `question`, with the conversation before it and the chat's best passages.
    async fn prompt_for(
        &self,
        who: Principal,
        chat: ChatId,
        question: &Message,
        model: Option<String>,
    ) -> Result<Prompt, AssistantError> {
        let history = self.history_for(who, chat, question).await?;
        let passages = self
            .passages
            .search(who.user_id, chat, &question.content, self.settings.passages)
            .await?
            .into_iter()
            .enumerate()
            .map(|(i, passage)| PromptPassage {
                number: i + 1,
                passage,
            })
            .collect();
        Ok(Prompt {
            instructions: INSTRUCTIONS.to_string(),
            passages,
            history,
            question: question.content.clone(),
            model,
        })
    }

    /// The conversation before `question` that fits the prompt.
    async fn history_for(
        &self,
        who: Principal,
        chat: ChatId,
        question: &Message,
    ) -> Result<Vec<Turn>, AssistantError> {
        // The question and, when it is being regenerated, its old answer come after the history.
        let wanted = self.settings.history_messages;
        let mut earlier: Vec<Message> = self
            .messages
            .recent(who.user_id, chat, wanted + 2)
            .await?
            .into_iter()
            .filter(|m| m.id < question.id)
            .collect();
        earlier.drain(..earlier.len().saturating_sub(wanted as usize));
        Ok(fit_history(earlier, self.settings.history_chars)
            .into_iter()
            .map(|m| Turn {
                role: m.role,
                content: m.content,
            })
            .collect())
    }

    /// Validates `ask`, builds its prompt and reserves what answering can cost. A new question
    /// or an edit is stored only once the reservation holds: a spent budget changes nothing.
    async fn prepare(
        &self,
        who: Principal,
        chat: ChatId,
        ask: Ask,
    ) -> Result<(Prepared, Reservation), AssistantError> {
        let mut errors = ValidationErrors::new();
        let (content, model) = match &ask {
            Ask::New { content, model } => (Some(content.as_str()), model),
            Ask::Regenerate { model, .. } => (None, model),
            Ask::Edit { content, model, .. } => (Some(content.as_str()), model),
        };
        self.check(content, &mut errors);
        self.check_model(model, &mut errors).await?;
        if !errors.is_empty() {
            return Err(errors.into());
        }
        self.chats
            .find(who.user_id, chat)
            .await?
            .ok_or(AssistantError::ChatNotFound)?;

        let now = self.clock.now();
        let (question, replacing, purpose, store) = match ask.clone() {
            Ask::New { content, .. } => {
                let question = Message {
                    id: MessageId::new(),
                    chat_id: chat,
                    user_id: who.user_id,
                    role: Role::User,
                    content,
                    citations: Vec::new(),
                    model: None,
                    usage: None,
                    status: MessageStatus::Complete,
                    created_at: now,
                };
                (question, None, Purpose::Answer, Store::Append)
            }
            Ask::Regenerate { answer, .. } => {
                let last_two = self.messages.recent(who.user_id, chat, 2).await?;
                let is_last_answer = last_two
                    .last()
                    .is_some_and(|m| m.id == answer && m.role == Role::Assistant);
                if !is_last_answer {
                    if self
                        .messages
                        .find(who.user_id, chat, answer)
                        .await?
                        .is_none()
                    {
                        return Err(AssistantError::MessageNotFound);
                    }
                    return Err(AssistantError::NotLastAnswer);
                }
                let Some(question) = last_two.into_iter().find(|m| m.role == Role::User) else {
                    return Err(AssistantError::NotLastAnswer);
                };
                let after = question.id;
                (question, Some(after), Purpose::Regeneration, Store::Nothing)
            }
            Ask::Edit {
                message, content, ..
            } => {
                let Some(mut question) = self.messages.find(who.user_id, chat, message).await?
                else {
                    return Err(AssistantError::MessageNotFound);
                };
                if question.role != Role::User {
                    return Err(ValidationErrors::single(
                        "content",
                        "only your own messages can be edited; regenerate an answer instead",
                    )
                    .into());
                }
                question.content = content;
                (question, None, Purpose::Edit, Store::Rewrite)
            }
        };
        let mut prompt = self.prompt_for(who, chat, &question, model.clone()).await?;
        let reservation = self.spend.reserve(who.user_id, purpose, &prompt).await?;
        let question = match store {
            Store::Append => {
                let question = self.messages.append(question).await?;
                self.chats.touch(who.user_id, chat, now).await?;
                question
            }
            Store::Rewrite => {
                if !self
                    .messages
                    .rewrite(who.user_id, chat, question.id, &question.content)
                    .await?
                {
                    return Err(AssistantError::MessageNotFound);
                }
                self.chats.touch(who.user_id, chat, now).await?;
                // What followed the message is gone now: the history is read again.
                prompt.history = self.history_for(who, chat, &question).await?;
                question
            }
            Store::Nothing => question,
        };
        Ok((
            Prepared {
                question,
                prompt,
                replacing,
            },
            reservation,
        ))
    }

    fn model_asked(&self, prompt: &Prompt) -> String {
        prompt
            .model
            .clone()
            .unwrap_or_else(|| self.model.default_model().to_string())
    }

    /// Stores the question, asks the model with the chat's best passages and the conversation
    /// that fits, and stores the answer with its citations and usage. When the model fails, the
    /// question stays stored and no answer is; a regenerated answer's predecessor stays. The
    /// call is recorded in the usage ledger either way.
    pub async fn send(
        &self,
        who: Principal,
        chat: ChatId,
        ask: Ask,
    ) -> Result<Exchange, AssistantError> {
        let (prepared, mut reservation) = self.prepare(who, chat, ask).await?;
        let asked = self.model_asked(&prepared.prompt);
        reservation.started(&asked);
        let outcome = self.model.complete(&prepared.prompt).await;
        let spent = match &outcome {
            Ok(completion) => Spent {
                model: completion.model.clone(),
                usage: Some(completion.usage),
                completion_chars: completion.text.chars().count(),
                refused: false,
            },
            Err(e) => Spent {
                model: asked,
                usage: None,
                completion_chars: 0,
                refused: matches!(e, LlmError::Rejected(_)),
            },
        };
        settle(reservation, spent).await;
        let completion = outcome.map_err(AssistantError::Model)?;
        let answer = store_answer(
            &*self.messages,
            &*self.chats,
            &*self.clock,
            &prepared,
            MessageId::new(),
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
    /// receiver goes away for a moment (a client may resume it), but one that nobody follows
    /// for [`AssistantSettings::abandoned_after`] is stopped: what was written is stored as
    /// `incomplete` and its tokens are counted.
    pub async fn send_streaming(
        self: &Arc<Self>,
        who: Principal,
        chat: ChatId,
        ask: Ask,
    ) -> Result<AnswerStream, AssistantError> {
        let (prepared, mut reservation) = self.prepare(who, chat, ask).await?;
        let asked = self.model_asked(&prepared.prompt);
        reservation.started(&asked);
        let mut upstream = match self.model.stream(&prepared.prompt).await {
            Ok(upstream) => upstream,
            Err(e) => {
                let refused = matches!(e, LlmError::Rejected(_));
                settle(
                    reservation,
                    Spent {
                        model: asked,
                        usage: None,
                        completion_chars: 0,
                        refused,
                    },
                )
                .await;
                return Err(AssistantError::Model(e));
            }
        };
        let answer_id = MessageId::new();
        let events = Arc::new(InFlight::new(who.user_id, chat));
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(answer_id, events.clone());
        let question = prepared.question.clone();
        let this = self.clone();
        let log = events.clone();
        let grace = self.settings.abandoned_after;
        tokio::spawn(async move {
            let mut text = String::new();
            let mut check = tokio::time::interval(
                grace.clamp(Duration::from_millis(50), Duration::from_secs(1)),
            );
            let ending = loop {
                tokio::select! {
                    event = upstream.next() => match event {
                        Some(Ok(StreamEvent::Delta(piece))) => {
                            text.push_str(&piece);
                            log.push(AnswerEvent::Delta(piece));
                        }
                        Some(Ok(StreamEvent::Done { model, usage })) => {
                            break Ending::Finished(model, usage);
                        }
                        Some(Err(e)) => break Ending::Failed(e),
                        None => {
                            break Ending::Failed(LlmError::Unavailable(
                                "the answer stream ended early".into(),
                            ));
                        }
                    },
                    _ = check.tick() => {
                        if log.abandoned(grace) {
                            break Ending::Abandoned;
                        }
                    }
                }
            };
            // Closing the provider's stream stops the answer being written (and paid for).
            drop(upstream);
            let spent = match &ending {
                Ending::Finished(model, usage) => Spent {
                    model: model.clone(),
                    usage: Some(*usage),
                    completion_chars: text.chars().count(),
                    refused: false,
                },
                Ending::Failed(_) | Ending::Abandoned => Spent {
                    model: asked,
                    usage: None,
                    completion_chars: text.chars().count(),
                    refused: false,
                },
            };
            settle(reservation, spent).await;
            let (model, usage, status, failure) = match ending {
                Ending::Finished(model, usage) => {
                    (Some(model), Some(usage), MessageStatus::Complete, None)
                }
                Ending::Failed(e) => (
                    None,
                    None,
                    MessageStatus::Incomplete,
                    Some(AssistantError::Model(e)),
                ),
                Ending::Abandoned => (
                    None,
                    None,
                    MessageStatus::Incomplete,
                    Some(AssistantError::Abandoned),
                ),
            };
            // Nothing written and a failure: store nothing, as `send` does. A regeneration cut
            // part-way stores nothing either: the answer it would replace stays.
            let last = match failure {
                Some(failure) if text.is_empty() || prepared.replacing.is_some() => {
                    AnswerEvent::Failed(Arc::new(failure))
                }
                failure => {
                    let stored = store_answer(
                        &*this.messages,
                        &*this.chats,
                        &*this.clock,
                        &prepared,
                        answer_id,
                        text,
                        model,
                        usage,
                        status,
                    )
                    .await;
                    match (stored, failure) {
                        (Ok(answer), None) => AnswerEvent::Done(Box::new(answer)),
                        (Ok(_), Some(e)) => AnswerEvent::Failed(Arc::new(e)),
                        (Err(e), _) => AnswerEvent::Failed(Arc::new(AssistantError::Infra(e))),
                    }
                }
            };
            log.push(last);
            tokio::time::sleep(REPLAYABLE_FOR).await;
            this.in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&answer_id);
        });
        Ok(AnswerStream {
            question,
            answer_id,
            events,
        })
    }

    /// The events of `owner`'s answer `answer` from index `from` on: live while it is being
    /// written, replayed for a while after, and afterwards the stored answer as one `Done`.
    pub async fn resume(
        &self,
        who: Principal,
        chat: ChatId,
        answer: MessageId,
        from: usize,
    ) -> Result<BoxStream<'static, (usize, AnswerEvent)>, AssistantError> {
        self.chats
            .find(who.user_id, chat)
            .await?
            .ok_or(AssistantError::ChatNotFound)?;
        let live = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&answer)
            .cloned();
        if let Some(events) = live.filter(|e| e.owner == who.user_id && e.chat == chat) {
            return Ok(events.follow(from));
        }
        let stored = self
            .messages
            .find(who.user_id, chat, answer)
            .await?
            .filter(|m| m.role == Role::Assistant)
            .ok_or(AssistantError::MessageNotFound)?;
        Ok(futures_util::stream::iter([(from, AnswerEvent::Done(Box::new(stored)))]).boxed())
    }
}

#[allow(clippy::too_many_arguments)]
async fn store_answer(
    messages: &dyn MessageRepository,
    chats: &dyn ChatRepository,
    clock: &dyn Clock,
    prepared: &Prepared,
    id: MessageId,
    text: String,
    model: Option<String>,
    usage: Option<Usage>,
    status: MessageStatus,
) -> Result<Message, InfraError> {
    let now = clock.now();
    let citations = cite(&text, &prepared.prompt.passages);
    let answer = Message {
        id,
        chat_id: prepared.question.chat_id,
        user_id: prepared.question.user_id,
        role: Role::Assistant,
        content: text,
        citations,
        model,
        usage,
        status,
        created_at: now,
    };
    let answer = match prepared.replacing {
        Some(after) => messages.replace_after(after, answer).await?,
        None => messages.append(answer).await?,
    };
    chats
        .touch(prepared.question.user_id, prepared.question.chat_id, now)
        .await?;
    Ok(answer)
}

/// What preparing an answer stores once the model call is reserved.
enum Store {
    /// A new question.
    Append,
    /// An edited question (everything after it goes).
    Rewrite,
    /// Nothing (a regeneration).
    Nothing,
}

/// How a streamed answer ended.
enum Ending {
    Finished(String, Usage),
    Failed(LlmError),
    Abandoned,
}

/// Records a model call in the ledger; a failure to record is logged, not the caller's.
async fn settle(reservation: Reservation, spent: Spent) {
    if let Err(e) = reservation.settle(spent).await {
        tracing::error!(error = %e, "cannot record a model call in the usage ledger");
    }
}
