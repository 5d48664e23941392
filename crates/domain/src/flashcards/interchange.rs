//! Decks in and out: the service's side of CSV and Anki package files. The formats themselves
//! are written and read by an adapter behind [`DeckFiles`](super::ports::DeckFiles); here is who
//! may export and import, and what an imported row must be.

use super::error::FlashcardError;
use super::models::DeckFormat;
use super::ports::DeckFileError;
use super::service::{CardInput, Flashcards, MAX_IMPORT_ROWS};
use crate::accounts::Principal;
use crate::chats::ChatId;
use crate::error::{FieldError, ValidationErrors};

/// What an import did: how many cards it created, and the rows (1-based) it left out, and why.
pub type Imported = (usize, Vec<(usize, FieldError)>);

impl Flashcards {
    /// Every card of the chat as a file of `format`.
    pub async fn export_deck(
        &self,
        who: Principal,
        chat: ChatId,
        format: DeckFormat,
    ) -> Result<Vec<u8>, FlashcardError> {
        let deck = self
            .chats
            .find(who.user_id, chat)
            .await?
            .ok_or(FlashcardError::ChatNotFound)?;
        let cards = self.all_cards(who.user_id, chat).await?;
        // The review log goes along in an Anki package (CSV has no place for it).
        let reviews = match format {
            DeckFormat::Apkg => {
                let ids: std::collections::HashSet<_> = cards.iter().map(|c| c.id).collect();
                let mut all = self.cards.reviews_since(who.user_id, None).await?;
                all.retain(|r| ids.contains(&r.card_id));
                all
            }
            DeckFormat::Csv => Vec::new(),
        };
        let now = self.clock.now();
        Ok(self
            .deck_files
            .write(format, deck.name.as_str(), cards, reviews, now)
            .await?)
    }

    /// Creates cards from a CSV file (header `question,answer[,tags][,type]`, tags
    /// space-separated, type `basic`, `reversed` or `cloze`): each valid row becomes a note and
    /// its cards, invalid ones are reported by row.
    pub async fn import_csv(
        &self,
        who: Principal,
        chat: ChatId,
        file: bytes::Bytes,
    ) -> Result<Imported, FlashcardError> {
        // Another user's chat answers 404 before the file is looked at.
        self.check_chat(who, chat).await?;
        let rows = match self.deck_files.read_csv(file, MAX_IMPORT_ROWS).await {
            Ok(rows) => rows,
            Err(DeckFileError::Unreadable(why)) => {
                return Err(ValidationErrors::single("file", why).into());
            }
            Err(DeckFileError::Infra(e)) => return Err(e.into()),
        };
        let rows =
            rows.into_iter()
                .map(|row| {
                    let kind = match row.kind.trim() {
                        "" => super::notes::CardKind::Basic,
                        named => super::notes::CardKind::parse(&named.to_lowercase()).ok_or_else(
                            || FieldError::new("type", "must be `basic`, `reversed` or `cloze`"),
                        )?,
                    };
                    Ok(CardInput {
                        kind,
                        question: row.question,
                        answer: row.answer,
                        tags: row.tags,
                        suspended: false,
                        source: None,
                    })
                })
                .collect();
        self.import(who, chat, rows).await
    }
}
