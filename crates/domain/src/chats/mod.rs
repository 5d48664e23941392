//! Chats: the study workspaces. Each chat owns its messages, uploaded files, knowledge-base chunks
//! and flashcards; deleting a chat removes all of them.

mod models;
mod ports;
mod service;

pub use models::{Chat, ChatChanges, ChatCursor, ChatFilter, ChatId, ChatName, NewChat};
pub use ports::{ChatContents, ChatData, ChatRepository};
pub use service::{ChatError, ChatPorts, ChatUpdate, Chats};
