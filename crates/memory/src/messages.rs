//! Messages in memory; a chat's messages go with it (see [`InMemoryMessageRepository::forget_chat`]).

use std::collections::HashMap;

use async_trait::async_trait;

use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::assistant::{Message, MessageCursor, MessageId, MessageRepository};
use flashforge_domain::chats::ChatId;
use flashforge_domain::pagination::{Page, PageRequest};
use parking_lot::RwLock;

#[derive(Default)]
pub struct InMemoryMessageRepository {
    by_chat: RwLock<HashMap<ChatId, Vec<Message>>>,
}

impl InMemoryMessageRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops a deleted chat's messages (the SQL adapters cascade).
    pub fn forget_chat(&self, chat: ChatId) {
        self.by_chat.write().remove(&chat);
    }

    /// Drops every message of a deleted user.
    pub fn forget_user(&self, owner: UserId) {
        for messages in self.by_chat.write().values_mut() {
            messages.retain(|m| m.user_id != owner);
        }
    }
}

#[async_trait]
impl MessageRepository for InMemoryMessageRepository {
    async fn append(&self, message: Message) -> Result<Message, InfraError> {
        let mut by_chat = self.by_chat.write();
        let messages = by_chat.entry(message.chat_id).or_default();
        messages.push(message.clone());
        messages.sort_by_key(|m| m.id);
        Ok(message)
    }

    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        page: PageRequest<MessageCursor>,
    ) -> Result<Page<Message>, InfraError> {
        let by_chat = self.by_chat.read();
        let items: Vec<Message> = by_chat
            .get(&chat)
            .map(|messages| {
                messages
                    .iter()
                    .filter(|m| m.user_id == owner)
                    .filter(|m| page.after.is_none_or(|after| m.id.as_uuid() > after))
                    .take(page.limit.fetch_count() as usize)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Ok(Page::from_overfetch(items, page.limit, |m| m.id.as_uuid()))
    }

    async fn recent(
        &self,
        owner: UserId,
        chat: ChatId,
        limit: u64,
    ) -> Result<Vec<Message>, InfraError> {
        let by_chat = self.by_chat.read();
        let mine: Vec<&Message> = by_chat
            .get(&chat)
            .map(|messages| messages.iter().filter(|m| m.user_id == owner).collect())
            .unwrap_or_default();
        let skip = mine.len().saturating_sub(limit as usize);
        Ok(mine.into_iter().skip(skip).cloned().collect())
    }

    async fn find(
        &self,
        owner: UserId,
        chat: ChatId,
        id: MessageId,
    ) -> Result<Option<Message>, InfraError> {
        Ok(self
            .by_chat
            .read()
            .get(&chat)
            .and_then(|messages| messages.iter().find(|m| m.id == id && m.user_id == owner))
            .cloned())
    }

    async fn rewrite(
        &self,
        owner: UserId,
        chat: ChatId,
        id: MessageId,
        content: &str,
    ) -> Result<bool, InfraError> {
        let mut by_chat = self.by_chat.write();
        let Some(messages) = by_chat.get_mut(&chat) else {
            return Ok(false);
        };
        let Some(message) = messages
            .iter_mut()
            .find(|m| m.id == id && m.user_id == owner)
        else {
            return Ok(false);
        };
        message.content = content.to_string();
        messages.retain(|m| !(m.user_id == owner && m.id > id));
        Ok(true)
    }

    async fn replace_after(
        &self,
        after: MessageId,
        message: Message,
    ) -> Result<Message, InfraError> {
        let mut by_chat = self.by_chat.write();
        let messages = by_chat.entry(message.chat_id).or_default();
        messages.retain(|m| !(m.user_id == message.user_id && m.id > after));
        messages.push(message.clone());
        messages.sort_by_key(|m| m.id);
        Ok(message)
    }
}
