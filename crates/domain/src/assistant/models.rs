use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::UserId;
use crate::chats::ChatId;

crate::ids::uuid_id!(
    /// A message's id; ids order a chat's messages.
    MessageId
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// Whether an assistant message is whole. A provider that failed mid-answer leaves an
/// `incomplete` message, never a silent half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Complete,
    Incomplete,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Complete => "complete",
            MessageStatus::Incomplete => "incomplete",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "complete" => Some(MessageStatus::Complete),
            "incomplete" => Some(MessageStatus::Incomplete),
            _ => None,
        }
    }
}

/// Where a statement of an answer comes from: a passage that was in the prompt, and a quote
/// that appears in it word for word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub document_id: Uuid,
    pub file_name: String,
    pub page: Option<u32>,
    /// What a person sees for the page: "p. 4", "slide 12", "Chapter 3".
    #[serde(default)]
    pub page_label: Option<String>,
    pub chunk_id: Uuid,
    pub quote: String,
}

/// Tokens a model spent on one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

impl Usage {
    pub fn total(&self) -> u64 {
        u64::from(self.prompt_tokens) + u64::from(self.completion_tokens)
    }
}

/// A message of a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub user_id: UserId,
    pub role: Role,
    pub content: String,
    pub citations: Vec<Citation>,
    pub model: Option<String>,
    pub usage: Option<Usage>,
    pub status: MessageStatus,
    pub created_at: DateTime<Utc>,
}

/// A message about to be stored.
pub type NewMessage = Message;

/// The key of a chat's message list: chronological, by id.
pub type MessageCursor = Uuid;
