use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::models::{Chat, ChatChanges, ChatCursor, ChatFilter, ChatId, NewChat};
use crate::accounts::UserId;
use crate::error::InfraError;
use crate::pagination::{Page, PageRequest};

/// Stores chats. Every method that names a chat is scoped by its owner: another user's chat is
/// indistinguishable from a missing one.
#[async_trait]
pub trait ChatRepository: Send + Sync {
    /// Stores a new chat; its last activity is its creation.
    async fn create(&self, chat: NewChat) -> Result<Chat, InfraError>;

    /// `owner`'s chat with this id, or `Ok(None)`.
    async fn find(&self, owner: UserId, id: ChatId) -> Result<Option<Chat>, InfraError>;

    /// `owner`'s chats matching `filter`, newest activity first (ties: newest id first).
    async fn list(
        &self,
        owner: UserId,
        filter: ChatFilter,
        page: PageRequest<ChatCursor>,
    ) -> Result<Page<Chat>, InfraError>;

    /// Applies `changes` to `owner`'s chat; `Ok(None)` when there is no such chat of `owner`.
    async fn update(
        &self,
        owner: UserId,
        id: ChatId,
        changes: ChatChanges,
    ) -> Result<Option<Chat>, InfraError>;

    /// Records activity in `owner`'s chat at `at`. `Ok(false)` when there is no such chat.
    async fn touch(&self, owner: UserId, id: ChatId, at: DateTime<Utc>)
    -> Result<bool, InfraError>;

    /// Deletes `owner`'s chat and every row it owns. `Ok(false)` when there was none.
    async fn delete(&self, owner: UserId, id: ChatId) -> Result<bool, InfraError>;

    /// Deletes every chat of `owner` (the account is going); returns how many.
    async fn delete_all(&self, owner: UserId) -> Result<u64, InfraError>;
}

/// Lets account deletion remove the caller's chats (and, through them, everything they own).
pub struct ChatData(pub std::sync::Arc<dyn ChatRepository>);

#[async_trait]
impl crate::accounts::UserData for ChatData {
    fn name(&self) -> &str {
        "chats"
    }
    async fn delete_user_data(&self, owner: UserId) -> Result<u64, InfraError> {
        self.0.delete_all(owner).await
    }
}

/// What else a chat owns (documents, their vectors and files, flashcards), removed before the
/// chat itself when it is deleted.
#[async_trait]
pub trait ChatContents: Send + Sync {
    async fn delete_chat_contents(&self, owner: UserId, chat: ChatId) -> Result<(), InfraError>;
}
