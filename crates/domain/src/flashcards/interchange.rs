//! Decks in and out: the CSV file (question, answer, tags) that spreadsheets, Quizlet and Knowt
//! read and write, and the Anki package (.apkg), written by an adapter behind
//! [`DeckPackager`](super::ports::DeckPackager).

use super::error::FlashcardError;
use super::models::{Flashcard, Tag};
use super::service::{CardInput, Flashcards, MAX_IMPORT_ROWS};
use crate::accounts::Principal;
use crate::chats::ChatId;
use crate::error::{FieldError, InfraError, ValidationErrors};

/// A file format a chat's cards can be exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeckFormat {
    /// A header row, then question, answer and space-separated tags per card.
    Csv,
    /// An Anki deck package named after the chat; review cards keep their interval.
    Apkg,
}

impl DeckFormat {
    /// The format a client named (`csv` when it named none).
    pub fn parse(name: Option<&str>) -> Result<Self, ValidationErrors> {
        match name {
            None | Some("csv") => Ok(Self::Csv),
            Some("apkg") => Ok(Self::Apkg),
            Some(_) => Err(ValidationErrors::single(
                "format",
                "must be `csv` or `apkg`",
            )),
        }
    }

    /// The file's media type.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Apkg => "application/vnd.anki",
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Apkg => "apkg",
        }
    }
}

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
        let cards = self.export(who, chat).await?;
        match format {
            DeckFormat::Apkg => {
                let deck = self
                    .chats
                    .find(who.user_id, chat)
                    .await?
                    .ok_or(FlashcardError::ChatNotFound)?;
                let now = self.clock.now();
                Ok(self
                    .packager
                    .package(deck.name.as_str(), &cards, now)
                    .await?)
            }
            // A large deck is real work: off the async threads.
            DeckFormat::Csv => tokio::task::spawn_blocking(move || csv_export(&cards))
                .await
                .map_err(InfraError::internal)?
                .map_err(|e| FlashcardError::Infra(InfraError::internal(e))),
        }
    }

    /// Creates cards from a CSV file (header `question,answer[,tags]`, tags space-separated):
    /// valid rows become cards, invalid ones are reported by row.
    pub async fn import_csv(
        &self,
        who: Principal,
        chat: ChatId,
        file: bytes::Bytes,
    ) -> Result<Imported, FlashcardError> {
        // Another user's chat answers 404 before the file is looked at.
        self.check_chat(who, chat).await?;
        // Parsing up to 5,000 rows is real work: off the async threads.
        let rows = tokio::task::spawn_blocking(move || csv_rows(&file))
            .await
            .map_err(InfraError::internal)??;
        self.import(who, chat, rows).await
    }
}

/// The cards as CSV: a header row, then question, answer and space-separated tags per card.
fn csv_export(cards: &[Flashcard]) -> Result<Vec<u8>, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["question", "answer", "tags"])?;
    for card in cards {
        let tags: Vec<&str> = card.tags.iter().map(Tag::as_str).collect();
        writer.write_record([
            inert_cell(card.question.as_str()).as_ref(),
            inert_cell(card.answer.as_str()).as_ref(),
            inert_cell(&tags.join(" ")).as_ref(),
        ])?;
    }
    writer.into_inner().map_err(|e| e.into_error().into())
}

/// The first characters that make a spreadsheet read a cell as a formula (OWASP, CSV
/// injection).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell a spreadsheet shows as text: one that would start a formula gets a leading `'`.
fn inert_cell(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// A cell as exported by [`inert_cell`], back to what it was.
fn imported_cell(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => text,
    }
}

/// The rows of an imported CSV file; reading stops once there are more than can be imported.
fn csv_rows(body: &[u8]) -> Result<Vec<CardInput>, FlashcardError> {
    let bad = |message: String| FlashcardError::from(ValidationErrors::single("file", message));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(body);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("is not CSV: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(question), Some(answer)) = (column("question"), column("answer")) else {
        return Err(bad(
            "needs a header row with `question` and `answer` columns".into(),
        ));
    };
    let tags = column("tags");
    let mut rows = Vec::new();
    for record in reader.records() {
        if rows.len() > MAX_IMPORT_ROWS {
            // Enough to refuse it; the rest is not read.
            break;
        }
        let record = record.map_err(|e| bad(format!("is not valid CSV: {e}")))?;
        let cell = |i: usize| imported_cell(record.get(i).unwrap_or_default()).to_string();
        rows.push(CardInput {
            question: cell(question),
            answer: cell(answer),
            tags: tags
                .map(|i| cell(i).split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            suspended: false,
            source: None,
        });
    }
    Ok(rows)
}
