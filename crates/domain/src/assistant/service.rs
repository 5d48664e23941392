//! Sending a message and getting a grounded answer, whole or streamed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::error::AssistantError;
use super::in_flight::InFlight;
use super::models::{Message, MessageCursor, MessageId, MessageStatus, Role, Usage};
use super::ports::{
    LanguageModel, LlmError, MessageRepository, PassageSearch, Prompt, PromptPassage, Turn,
};
use super::prompt::{cite, fit_history};
use crate::accounts::Principal;
use crate::cache::CacheLayer;
use crate::chats::{ChatId, ChatRepository};
use crate::clock::Clock;
use crate::error::{FieldError, InfraError, ValidationErrors};
use crate::pagination::{Page, PageRequest};
use crate::spend::{ModelSpend, Purpose, Reservation, Spent};

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

/// A question and its answer, as stored.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub question: Message,
    pub answer: Message,
}

/// What the assistant is built from.
#[derive(Clone)]
pub struct AssistantPorts {
    pub chats: Arc<dyn ChatRepository>,
    pub messages: Arc<dyn MessageRepository>,
    /// Finds the passages an answer is grounded in.
    pub passages: Arc<dyn PassageSearch>,
    pub model: Arc<dyn LanguageModel>,
    /// Budgets and records the language model's calls.
    pub spend: Arc<ModelSpend>,
    pub clock: Arc<dyn Clock>,
    /// The cache the instances of the service share (Redis), through which an answer being
    /// written may be resumed on any instance; `None` when this process is alone.
    pub relay: Option<CacheLayer>,
}

/// Messages and answers.
pub struct Assistant {
    pub(super) in_flight: Mutex<HashMap<MessageId, Arc<InFlight>>>,
    pub(super) chats: Arc<dyn ChatRepository>,
    pub(super) messages: Arc<dyn MessageRepository>,
    pub(super) passages: Arc<dyn PassageSearch>,
    pub(super) model: Arc<dyn LanguageModel>,
    pub(super) spend: Arc<ModelSpend>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) relay: Option<CacheLayer>,
    pub(super) settings: AssistantSettings,
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
pub(super) struct Prepared {
    pub(super) question: Message,
    pub(super) prompt: Prompt,
    /// A regeneration: the answer, once there is one, replaces every message after this one.
    /// Until then the old answer stays, so a failing model loses nothing.
    pub(super) replacing: Option<MessageId>,
}

impl Assistant {
    pub fn new(ports: AssistantPorts, settings: AssistantSettings) -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
            chats: ports.chats,
            messages: ports.messages,
            passages: ports.passages,
            model: ports.model,
            spend: ports.spend,
            clock: ports.clock,
            relay: ports.relay,
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
    pub(super) async fn prepare(
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

    pub(super) fn model_asked(&self, prompt: &Prompt) -> String {
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
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn store_answer(
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

/// Records a model call in the ledger; a failure to record is logged, not the caller's.
pub(super) async fn settle(reservation: Reservation, spent: Spent) {
    if let Err(e) = reservation.settle(spent).await {
        tracing::error!(error = %e, "cannot record a model call in the usage ledger");
    }
}
