//! Where cards came from: a source names one of the caller's documents in the card's chat
//! and, with a chunk, one of that document's passages.

use std::collections::HashMap;

use super::error::FlashcardError;
use super::service::Flashcards;
use crate::accounts::UserId;
use crate::chats::ChatId;
use crate::error::{FieldError, InfraError, ValidationErrors};
use crate::knowledge::{ChunkId, DocumentId};

impl Flashcards {
    /// The chats (by document) of `owner`'s documents among `ids`; absent ones are left out.
    pub(super) async fn document_chats(
        &self,
        owner: UserId,
        ids: impl Iterator<Item = DocumentId>,
    ) -> Result<std::collections::HashMap<DocumentId, ChatId>, InfraError> {
        // `find_many` answers each document once, however often it is named.
        let wanted: Vec<DocumentId> = ids.collect();
        Ok(self
            .documents
            .find_many(owner, &wanted)
            .await?
            .into_iter()
            .map(|doc| (doc.id, doc.chat_id))
            .collect())
    }

    /// A new source must name one of the caller's documents in the card's chat and, with a
    /// chunk, one of that document's passages. `field` is the source's (`source`,
    /// `cards[3].source`).
    pub(super) async fn check_sources(
        &self,
        owner: UserId,
        chat: ChatId,
        sources: &[(String, DocumentId, Option<ChunkId>)],
    ) -> Result<(), FlashcardError> {
        let present = self
            .document_chats(owner, sources.iter().map(|(_, id, _)| *id))
            .await?;
        let chunks: Vec<ChunkId> = sources.iter().filter_map(|(_, _, c)| *c).collect();
        let passages: HashMap<ChunkId, DocumentId> = if chunks.is_empty() {
            HashMap::new()
        } else {
            self.documents
                .chunks_by_ids(owner, &chunks)
                .await?
                .into_iter()
                .map(|(chunk, _)| (chunk.id, chunk.document_id))
                .collect()
        };
        let mut errors = ValidationErrors::new();
        for (field, id, chunk) in sources {
            if present.get(id) != Some(&chat) {
                errors.push(FieldError::new(
                    format!("{field}.document_id"),
                    "names no document of this chat",
                ));
            } else if let Some(chunk) = chunk
                && passages.get(chunk) != Some(id)
            {
                errors.push(FieldError::new(
                    format!("{field}.chunk_id"),
                    "names no passage of this document",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into())
        }
    }
}
