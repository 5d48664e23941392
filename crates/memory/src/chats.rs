//! Chats in a map.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::{
    Chat, ChatChanges, ChatCursor, ChatFilter, ChatId, ChatRepository, NewChat,
};
use flashforge_domain::pagination::{Page, PageRequest};
use parking_lot::RwLock;

use crate::InMemoryMessageRepository;

#[derive(Default)]
pub struct InMemoryChatRepository {
    chats: RwLock<HashMap<ChatId, Chat>>,
    /// What a chat owns, removed with it (as ON DELETE CASCADE does in SQL).
    messages: Option<Arc<InMemoryMessageRepository>>,
}

impl InMemoryChatRepository {
    pub fn new() -> Self {
        Self::default()
    }

    /// A repository whose deletes also remove the chats' messages.
    pub fn with_messages(messages: Arc<InMemoryMessageRepository>) -> Self {
        Self {
            messages: Some(messages),
            ..Self::default()
        }
    }

    fn cascade(&self, chat: ChatId) {
        if let Some(messages) = &self.messages {
            messages.forget_chat(chat);
        }
    }
}

fn key(chat: &Chat) -> ChatCursor {
    (chat.last_activity_at, chat.id.as_uuid())
}

#[async_trait]
impl ChatRepository for InMemoryChatRepository {
    async fn create(&self, new: NewChat) -> Result<Chat, InfraError> {
        let chat = Chat {
            id: new.id,
            user_id: new.user_id,
            name: new.name,
            archived: false,
            created_at: new.created_at,
            updated_at: new.created_at,
            last_activity_at: new.created_at,
        };
        self.chats.write().insert(chat.id, chat.clone());
        Ok(chat)
    }

    async fn find(&self, owner: UserId, id: ChatId) -> Result<Option<Chat>, InfraError> {
        Ok(self
            .chats
            .read()
            .get(&id)
            .filter(|c| c.user_id == owner)
            .cloned())
    }

    async fn list(
        &self,
        owner: UserId,
        filter: ChatFilter,
        page: PageRequest<ChatCursor>,
    ) -> Result<Page<Chat>, InfraError> {
        let mut chats: Vec<Chat> = self
            .chats
            .read()
            .values()
            .filter(|c| c.user_id == owner)
            .filter(|c| filter.archived.is_none_or(|a| c.archived == a))
            .filter(|c| page.after.is_none_or(|after| key(c) < after))
            .cloned()
            .collect();
        chats.sort_by_key(|c| std::cmp::Reverse(key(c)));
        chats.truncate(page.limit.fetch_count() as usize);
        Ok(Page::from_overfetch(chats, page.limit, key))
    }

    async fn update(
        &self,
        owner: UserId,
        id: ChatId,
        changes: ChatChanges,
    ) -> Result<Option<Chat>, InfraError> {
        let mut chats = self.chats.write();
        let Some(chat) = chats.get_mut(&id).filter(|c| c.user_id == owner) else {
            return Ok(None);
        };
        if let Some(name) = changes.name {
            chat.name = name;
        }
        if let Some(archived) = changes.archived {
            chat.archived = archived;
        }
        chat.updated_at = changes.at;
        Ok(Some(chat.clone()))
    }

    async fn touch(
        &self,
        owner: UserId,
        id: ChatId,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut chats = self.chats.write();
        match chats.get_mut(&id).filter(|c| c.user_id == owner) {
            Some(chat) => {
                chat.last_activity_at = chat.last_activity_at.max(at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete(&self, owner: UserId, id: ChatId) -> Result<bool, InfraError> {
        let mut chats = self.chats.write();
        if chats.get(&id).is_some_and(|c| c.user_id == owner) {
            chats.remove(&id);
            self.cascade(id);
            Ok(true)
        } else {
            Ok(false)
        }
    }

    async fn delete_all(&self, owner: UserId) -> Result<u64, InfraError> {
        let mut chats = self.chats.write();
        let doomed: Vec<ChatId> = chats
            .values()
            .filter(|c| c.user_id == owner)
            .map(|c| c.id)
            .collect();
        for id in &doomed {
            chats.remove(id);
            self.cascade(*id);
        }
        Ok(doomed.len() as u64)
    }
}
