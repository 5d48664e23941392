use std::sync::Arc;

use super::models::{Chat, ChatChanges, ChatCursor, ChatFilter, ChatId, ChatName, NewChat};
use super::ports::{ChatContents, ChatRepository};
use crate::accounts::Principal;
use crate::clock::Clock;
use crate::error::{Code, DomainError, InfraError, ValidationErrors};
use crate::pagination::{Page, PageRequest};

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("chat not found")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl DomainError for ChatError {
    fn code(&self) -> Code {
        match self {
            Self::NotFound => Code::ChatNotFound,
            Self::Invalid(e) => e.code(),
            Self::Infra(e) => e.code(),
        }
    }
    fn wrapped(&self) -> Option<&dyn DomainError> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::Infra(e) => Some(e),
            Self::NotFound => None,
        }
    }
}

/// Changes to a chat as they arrive.
#[derive(Debug, Default)]
pub struct ChatUpdate {
    pub name: Option<String>,
    pub archived: Option<bool>,
}

/// What the chats service is built from.
#[derive(Clone)]
pub struct ChatPorts {
    pub chats: Arc<dyn ChatRepository>,
    pub clock: Arc<dyn Clock>,
}

/// Creates, lists, changes and deletes the caller's chats.
pub struct Chats {
    chats: Arc<dyn ChatRepository>,
    clock: Arc<dyn Clock>,
    contents: Vec<Arc<dyn ChatContents>>,
}

impl Chats {
    pub fn new(ports: ChatPorts) -> Self {
        Self {
            chats: ports.chats,
            clock: ports.clock,
            contents: Vec::new(),
        }
    }

    /// Adds something a chat owns, to delete with it.
    pub fn with_contents(mut self, contents: Arc<dyn ChatContents>) -> Self {
        self.contents.push(contents);
        self
    }

    pub async fn create(&self, who: Principal, name: &str) -> Result<Chat, ChatError> {
        let name = ChatName::parse(name).map_err(|e| {
            let mut errors = ValidationErrors::new();
            errors.push(e);
            errors
        })?;
        Ok(self
            .chats
            .create(NewChat {
                id: ChatId::new(),
                user_id: who.user_id,
                name,
                created_at: self.clock.now(),
            })
            .await?)
    }

    pub async fn get(&self, who: Principal, id: ChatId) -> Result<Chat, ChatError> {
        self.chats
            .find(who.user_id, id)
            .await?
            .ok_or(ChatError::NotFound)
    }

    pub async fn list(
        &self,
        who: Principal,
        filter: ChatFilter,
        page: PageRequest<ChatCursor>,
    ) -> Result<Page<Chat>, ChatError> {
        Ok(self.chats.list(who.user_id, filter, page).await?)
    }

    pub async fn update(
        &self,
        who: Principal,
        id: ChatId,
        update: ChatUpdate,
    ) -> Result<Chat, ChatError> {
        let name = match update.name.as_deref() {
            None => None,
            Some(raw) => Some(ChatName::parse(raw).map_err(|e| {
                let mut errors = ValidationErrors::new();
                errors.push(e);
                errors
            })?),
        };
        self.chats
            .update(
                who.user_id,
                id,
                ChatChanges {
                    name,
                    archived: update.archived,
                    at: self.clock.now(),
                },
            )
            .await?
            .ok_or(ChatError::NotFound)
    }

    /// Deletes the chat and everything it owns.
    pub async fn delete(&self, who: Principal, id: ChatId) -> Result<(), ChatError> {
        if self.chats.find(who.user_id, id).await?.is_none() {
            return Err(ChatError::NotFound);
        }
        for contents in &self.contents {
            contents.delete_chat_contents(who.user_id, id).await?;
        }
        if self.chats.delete(who.user_id, id).await? {
            Ok(())
        } else {
            Err(ChatError::NotFound)
        }
    }
}
