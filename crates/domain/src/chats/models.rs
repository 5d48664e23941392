use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::UserId;
use crate::error::FieldError;

crate::ids::uuid_id!(
    /// A chat's id.
    ChatId
);

/// A chat's name: 1–255 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatName(String);

impl ChatName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(FieldError::new(
                "name",
                format!("must be 1 to {} characters long", Self::MAX_CHARS),
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(FieldError::new(
                "name",
                "must not contain control characters",
            ));
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A chat as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: ChatId,
    pub user_id: UserId,
    pub name: ChatName,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When something last happened in the chat (a message, an upload); lists sort by it.
    pub last_activity_at: DateTime<Utc>,
}

/// A chat about to be stored.
#[derive(Debug, Clone)]
pub struct NewChat {
    pub id: ChatId,
    pub user_id: UserId,
    pub name: ChatName,
    pub created_at: DateTime<Utc>,
}

/// Changes to a chat; `None` leaves a field alone.
#[derive(Debug, Clone)]
pub struct ChatChanges {
    pub name: Option<ChatName>,
    pub archived: Option<bool>,
    pub at: DateTime<Utc>,
}

/// Which chats a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatFilter {
    /// `Some(true)`: archived only; `Some(false)`: active only; `None`: both.
    pub archived: Option<bool>,
}

/// The key of the chat list: newest activity first, then newest id.
pub type ChatCursor = (DateTime<Utc>, Uuid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_names_are_trimmed_and_bounded() {
        assert_eq!(
            ChatName::parse("  Biology 101 ").unwrap().as_str(),
            "Biology 101"
        );
        assert!(ChatName::parse("   ").is_err());
        assert!(ChatName::parse(&"é".repeat(255)).is_ok());
        assert!(ChatName::parse(&"é".repeat(256)).is_err());
        assert!(ChatName::parse("tab\tinside").is_err());
    }
}
