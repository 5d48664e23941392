//! The assistant: a chat's messages, and answers grounded in the chat's own material, with
//! citations, from a language model behind the [`LanguageModel`] port.

mod error;
mod in_flight;
mod models;
mod ports;
mod prompt;
mod relay;
mod service;
mod streaming;

pub use error::AssistantError;
pub use in_flight::{AnswerEvent, AnswerStream, InFlight};
pub use models::{
    Citation, Message, MessageCursor, MessageId, MessageStatus, NewMessage, Role, Usage,
};
pub use ports::{
    Completion, LanguageModel, LlmError, MessageRepository, NoPassages, Passage, PassageSearch,
    Prompt, PromptPassage, StreamEvent, Turn,
};
pub use prompt::{cite, fit_history};
pub use service::{Ask, Assistant, AssistantPorts, AssistantSettings, Exchange};
