//! Creating, editing and studying flashcards.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::error::FlashcardError;
use super::models::{
    CardCursor, CardFilter, CardSource, CardText, Flashcard, FlashcardId, MAX_ANSWER_CHARS,
    MAX_BULK_CARDS, MAX_QUESTION_CHARS, MAX_QUOTE_CHARS, Tag,
};
use super::notes::{CardKind, NoteId, NoteRef, cloze_numbers};
use super::ports::{CardsStored, DeckFiles, FlashcardRepository, GenerationRepository};
use super::scheduling::{MemoryModel, Schedule};
use crate::accounts::{Principal, UserData, UserId};
use crate::chats::{ChatContents, ChatId, ChatRepository};
use crate::clock::Clock;
use crate::error::{FieldError, InfraError, ValidationErrors};
use crate::knowledge::{ChunkId, DocumentId, DocumentRepository};
use crate::pagination::{Page, PageRequest};
use crate::quotas::{QuotaExceeded, QuotaName, Quotas};

/// The most cards one generation makes.
pub const MAX_GENERATE: u32 = 200;
/// The longest text a generation takes directly.
pub const MAX_GENERATE_TEXT_CHARS: usize = 20_000;
/// The longest topic a generation searches the material for.
pub const MAX_TOPIC_CHARS: usize = 500;

/// What to make cards from: exactly one of a document, chunks, text or a topic.
#[derive(Debug, Clone, Default)]
pub struct GenerateInput {
    pub document_id: Option<uuid::Uuid>,
    pub chunk_ids: Option<Vec<uuid::Uuid>>,
    pub text: Option<String>,
    pub topic: Option<String>,
    pub count: Option<u32>,
    pub save: bool,
}

/// Generated cards: saved (with their ids) or drafts.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedCards {
    pub generator: super::drafting::Generator,
    pub drafts: Vec<(super::drafting::Draft, Option<CardSource>)>,
    /// The saved cards, in the order of `drafts`, when `save` was asked.
    pub saved: Option<Vec<StudyCard>>,
}

/// The cards a note of `kind` with this question makes: their ordinals.
fn ordinals(kind: CardKind, question: &str) -> Result<Vec<u32>, FieldError> {
    match kind {
        CardKind::Basic => Ok(vec![0]),
        CardKind::Reversed => Ok(vec![0, 1]),
        CardKind::Cloze => cloze_numbers("question", question),
    }
}

/// The most rows one import may hold.
pub const MAX_IMPORT_ROWS: usize = 5_000;

/// A card as the client sends it.
#[derive(Debug, Clone, Default)]
pub struct CardInput {
    /// Basic (the default), reversed (two cards) or cloze (one card per cloze number).
    pub kind: CardKind,
    /// A cloze note's text with its `{{cN::…}}` markers.
    pub question: String,
    /// A cloze note's extra text, shown on the back; may be empty.
    pub answer: String,
    pub tags: Vec<String>,
    pub suspended: bool,
    pub source: Option<SourceInput>,
}

/// A source as the client sends it.
#[derive(Debug, Clone, Default)]
pub struct SourceInput {
    pub document_id: uuid::Uuid,
    pub chunk_id: Option<uuid::Uuid>,
    pub page: Option<u32>,
    pub quote: Option<String>,
}

/// Changes to a card; `None` leaves a field as it is (`source: Some(None)` removes it).
#[derive(Debug, Clone, Default)]
pub struct CardPatch {
    pub question: Option<String>,
    pub answer: Option<String>,
    pub tags: Option<Vec<String>>,
    pub suspended: Option<bool>,
    pub source: Option<Option<SourceInput>>,
}

/// Whether a card's source is still there as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceStatus {
    Available,
    /// The document is there, but the card's passage is gone (the document was read again
    /// into new passages).
    Changed,
    /// The document was deleted or replaced; the card stays.
    Missing,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Available => "available",
            SourceStatus::Changed => "changed",
            SourceStatus::Missing => "missing",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "available" => Some(Self::Available),
            "changed" => Some(Self::Changed),
            "missing" => Some(Self::Missing),
            _ => None,
        }
    }
}

/// A card, when it would be due after each rating, and whether its source is still there.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyCard {
    pub card: Flashcard,
    /// Again, hard, good, easy.
    pub next_intervals: [Duration; 4],
    /// `None` for a card without a source.
    pub source_status: Option<SourceStatus>,
    /// The review just made the card a leech (it was suspended or tagged `leech`).
    pub leech: bool,
}

fn source(prefix: &str, input: SourceInput, errors: &mut ValidationErrors) -> Option<CardSource> {
    if let Some(quote) = &input.quote
        && quote.chars().count() > MAX_QUOTE_CHARS
    {
        errors.push(FieldError::new(
            format!("{prefix}source.quote"),
            format!("must be at most {MAX_QUOTE_CHARS} characters"),
        ));
        return None;
    }
    if input.page == Some(0) {
        errors.push(FieldError::new(
            format!("{prefix}source.page"),
            "pages start at 1",
        ));
        return None;
    }
    Some(CardSource {
        document_id: DocumentId::from_uuid(input.document_id),
        chunk_id: input.chunk_id.map(ChunkId::from_uuid),
        page: input.page,
        page_label: None,
        quote: input.quote,
    })
}

/// Cards of the chats, their reviews and the due queue.
pub struct Flashcards {
    pub(super) language_model: Arc<dyn crate::assistant::LanguageModel>,
    pub(super) spend: Arc<crate::spend::ModelSpend>,
    pub(super) chats: Arc<dyn ChatRepository>,
    pub(super) cards: Arc<dyn FlashcardRepository>,
    pub(super) generations: Arc<dyn GenerationRepository>,
    pub(super) documents: Arc<dyn DocumentRepository>,
    pub(super) passages: Arc<dyn crate::assistant::PassageSearch>,
    pub(super) model: Arc<dyn MemoryModel>,
    pub(super) clock: Arc<dyn Clock>,
    /// Woken when a generation job is queued, so an in-process worker starts at once.
    pub(super) queued: Arc<tokio::sync::Notify>,
    /// Attempts of a generation job before it fails for good.
    pub(super) max_attempts: u32,
    pub(super) quotas: Arc<Quotas>,
    pub(super) deck_files: Arc<dyn DeckFiles>,
    pub(super) limits: Arc<crate::limits::RateLimits>,
    pub(super) imports: Arc<dyn super::imports::ImportRepository>,
    /// Keeps a large package until its background import has run.
    pub(super) blobs: Arc<dyn crate::knowledge::BlobStore>,
}

/// The knobs of the flashcard service.
#[derive(Debug, Clone, Copy)]
pub struct FlashcardSettings {
    /// Attempts of a generation job before it fails for good.
    pub max_attempts: u32,
}

/// The adapters the flashcard service runs on.
#[derive(Clone)]
pub struct FlashcardPorts {
    pub chats: Arc<dyn ChatRepository>,
    pub cards: Arc<dyn FlashcardRepository>,
    pub generations: Arc<dyn GenerationRepository>,
    /// The knowledge base's documents and chunks (the material cards are made from).
    pub documents: Arc<dyn DocumentRepository>,
    /// Finds the material about a topic.
    pub passages: Arc<dyn crate::assistant::PassageSearch>,
    pub model: Arc<dyn MemoryModel>,
    pub language_model: Arc<dyn crate::assistant::LanguageModel>,
    /// Budgets and records the language model's calls.
    pub spend: Arc<crate::spend::ModelSpend>,
    pub clock: Arc<dyn Clock>,
    /// Signalled when a job is queued (shared with the job runner).
    pub queued: Arc<tokio::sync::Notify>,
    pub quotas: Arc<Quotas>,
    /// Writes decks as Anki packages.
    pub deck_files: Arc<dyn DeckFiles>,
    /// Keeps expensive work to one at a time per user.
    pub limits: Arc<crate::limits::RateLimits>,
    /// Background deck imports.
    pub imports: Arc<dyn super::imports::ImportRepository>,
    /// Keeps a large package until its background import has run.
    pub blobs: Arc<dyn crate::knowledge::BlobStore>,
}

impl Flashcards {
    pub fn new(ports: FlashcardPorts, settings: FlashcardSettings) -> Self {
        Self {
            language_model: ports.language_model,
            spend: ports.spend,
            chats: ports.chats,
            cards: ports.cards,
            generations: ports.generations,
            documents: ports.documents,
            passages: ports.passages,
            model: ports.model,
            clock: ports.clock,
            queued: ports.queued,
            max_attempts: settings.max_attempts,
            quotas: ports.quotas,
            deck_files: ports.deck_files,
            limits: ports.limits,
            imports: ports.imports,
            blobs: ports.blobs,
        }
    }

    /// `Ok` when `chat` is the caller's: handlers check it before reading a request body.
    pub async fn check_chat(&self, who: Principal, chat: ChatId) -> Result<(), FlashcardError> {
        self.own_chat(who, chat).await
    }

    pub(super) async fn own_chat(
        &self,
        who: Principal,
        chat: ChatId,
    ) -> Result<(), FlashcardError> {
        match self.chats.find(who.user_id, chat).await? {
            Some(_) => Ok(()),
            None => Err(FlashcardError::ChatNotFound),
        }
    }

    pub(super) fn build(
        &self,
        owner: UserId,
        chat: ChatId,
        input: CardInput,
        prefix: &str,
        errors: &mut ValidationErrors,
        now: DateTime<Utc>,
    ) -> Option<Vec<Flashcard>> {
        let prefixed = |e: FieldError| FieldError::new(format!("{prefix}{}", e.field), e.message);
        let question = errors.check(
            CardText::parse("question", &input.question, MAX_QUESTION_CHARS).map_err(prefixed),
        );
        let answer = errors.check(
            match input.kind {
                CardKind::Cloze => {
                    CardText::parse_optional("answer", &input.answer, MAX_ANSWER_CHARS)
                }
                _ => CardText::parse("answer", &input.answer, MAX_ANSWER_CHARS),
            }
            .map_err(prefixed),
        );
        let ordinals = errors.check(ordinals(input.kind, &input.question).map_err(prefixed));
        let tags = errors.check(Tag::parse_all(&input.tags).map_err(prefixed));
        let source = input.source.and_then(|s| source(prefix, s, errors));
        let (question, answer, tags, ordinals) = (question?, answer?, tags?, ordinals?);
        let note = NoteId::new();
        Some(
            ordinals
                .into_iter()
                .map(|ordinal| Flashcard {
                    id: FlashcardId::new(),
                    user_id: owner,
                    chat_id: chat,
                    question: question.clone(),
                    answer: answer.clone(),
                    tags: tags.clone(),
                    suspended: input.suspended,
                    source: source.clone(),
                    note: NoteRef {
                        id: note,
                        kind: input.kind,
                        ordinal,
                    },
                    schedule: Schedule::new_card(now),
                    created_at: now,
                    updated_at: now,
                })
                .collect(),
        )
    }

    /// Stores `owner`'s new cards, all or none: none when they would pass the card quota.
    pub(super) async fn store(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
    ) -> Result<(), FlashcardError> {
        self.store_history(owner, cards, Vec::new()).await
    }

    /// Stores cards with their past reviews (an imported log), all or none, within the card
    /// quota.
    pub(super) async fn store_history(
        &self,
        owner: UserId,
        cards: Vec<Flashcard>,
        reviews: Vec<super::models::Review>,
    ) -> Result<(), FlashcardError> {
        let adding = cards.len() as u64;
        let limit = self.quotas.policy().cards;
        match self
            .cards
            .create_with_history(owner, cards, reviews, limit)
            .await?
        {
            CardsStored::Stored => Ok(()),
            CardsStored::OverQuota { cards } => Err(QuotaExceeded {
                quota: QuotaName::Cards,
                limit,
                used: cards,
                adding,
            }
            .into()),
        }
    }

    /// Creates cards, all or none (at most 500).
    pub async fn create(
        &self,
        who: Principal,
        chat: ChatId,
        inputs: Vec<CardInput>,
        bulk: bool,
    ) -> Result<Vec<StudyCard>, FlashcardError> {
        self.own_chat(who, chat).await?;
        if inputs.is_empty() || inputs.len() > MAX_BULK_CARDS {
            return Err(ValidationErrors::single(
                "cards",
                format!("send 1 to {MAX_BULK_CARDS} cards"),
            )
            .into());
        }
        let now = self.clock.now();
        let mut errors = ValidationErrors::new();
        let mut cards = Vec::with_capacity(inputs.len());
        let mut sources: Vec<(String, DocumentId, Option<ChunkId>)> = Vec::new();
        for (i, input) in inputs.into_iter().enumerate() {
            let prefix = if bulk {
                format!("cards[{i}].")
            } else {
                String::new()
            };
            if let Some(note) = self.build(who.user_id, chat, input, &prefix, &mut errors, now) {
                sources.extend(note.iter().filter_map(|c| {
                    let field = format!("{prefix}source");
                    c.source
                        .as_ref()
                        .map(|s| (field, s.document_id, s.chunk_id))
                }));
                cards.extend(note);
            }
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        sources.dedup();
        self.check_sources(who.user_id, chat, &sources).await?;
        let context = self.cards.study_context(who.user_id, chat).await?;
        self.store(who.user_id, cards.clone()).await?;
        self.study_in(who.user_id, chat, cards, now, &context).await
    }

    /// Creates the valid rows of an import (at most 5000 notes) and reports the invalid ones by
    /// row number (1-based, after the header); it answers how many cards were made.
    pub async fn import(
        &self,
        who: Principal,
        chat: ChatId,
        rows: Vec<Result<CardInput, FieldError>>,
    ) -> Result<(usize, Vec<(usize, FieldError)>), FlashcardError> {
        self.own_chat(who, chat).await?;
        if rows.len() > MAX_IMPORT_ROWS {
            return Err(ValidationErrors::single(
                "file",
                format!("at most {MAX_IMPORT_ROWS} rows per import"),
            )
            .into());
        }
        let now = self.clock.now();
        let mut cards = Vec::new();
        let mut problems = Vec::new();
        for (i, row) in rows.into_iter().enumerate() {
            let row = match row {
                Ok(row) => row,
                Err(problem) => {
                    problems.push((i + 1, problem));
                    continue;
                }
            };
            let mut errors = ValidationErrors::new();
            // Imported cards carry no source: a file cannot vouch for one.
            let row = CardInput {
                source: None,
                ..row
            };
            match self.build(who.user_id, chat, row, "", &mut errors, now) {
                Some(note) if errors.is_empty() => cards.extend(note),
                _ => problems.extend(errors.fields().iter().map(|e| (i + 1, e.clone()))),
            }
        }
        let imported = cards.len();
        if !cards.is_empty() {
            self.store(who.user_id, cards).await?;
        }
        Ok((imported, problems))
    }

    /// Every card of the chat, oldest first, for export.
    pub async fn export(
        &self,
        who: Principal,
        chat: ChatId,
    ) -> Result<Vec<Flashcard>, FlashcardError> {
        self.own_chat(who, chat).await?;
        Ok(self.all_cards(who.user_id, chat).await?)
    }

    /// Every card of `owner`'s chat, oldest first.
    pub(super) async fn all_cards(
        &self,
        owner: UserId,
        chat: ChatId,
    ) -> Result<Vec<Flashcard>, InfraError> {
        let mut all: Vec<Flashcard> = Vec::new();
        let limit = crate::pagination::Limit::parse(Some(crate::pagination::MAX_PAGE_LIMIT))
            .unwrap_or_default();
        loop {
            let page = PageRequest {
                limit,
                after: all.last().map(|c| c.id.as_uuid()),
            };
            let found = self
                .cards
                .list(owner, chat, &CardFilter::default(), page)
                .await?;
            all.extend(found.items);
            if found.next_cursor.is_none() {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }

    pub async fn get(&self, who: Principal, id: FlashcardId) -> Result<StudyCard, FlashcardError> {
        let (card, context) = self
            .cards
            .find_in_context(who.user_id, id)
            .await?
            .ok_or(FlashcardError::NotFound)?;
        self.study_card(card, self.clock.now(), &context).await
    }

    pub async fn list(
        &self,
        who: Principal,
        chat: ChatId,
        filter: CardFilter,
        page: PageRequest<CardCursor>,
    ) -> Result<Page<StudyCard>, FlashcardError> {
        let (page, context) = self
            .cards
            .list_in_context(who.user_id, chat, &filter, page)
            .await?;
        if page.items.is_empty() {
            // A card of `chat` that is the caller's makes the chat the caller's: only an empty
            // page needs to look.
            self.own_chat(who, chat).await?;
        }
        let items = self
            .study_in(who.user_id, chat, page.items, self.clock.now(), &context)
            .await?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    pub async fn update(
        &self,
        who: Principal,
        id: FlashcardId,
        patch: CardPatch,
    ) -> Result<StudyCard, FlashcardError> {
        let (mut card, context) = self
            .cards
            .find_in_context(who.user_id, id)
            .await?
            .ok_or(FlashcardError::NotFound)?;
        let mut errors = ValidationErrors::new();
        let note_changes = patch.question.is_some()
            || patch.answer.is_some()
            || patch.tags.is_some()
            || patch.source.is_some();
        if let Some(q) = &patch.question
            && let Some(q) = errors.check(CardText::parse("question", q, MAX_QUESTION_CHARS))
        {
            // A cloze note keeps its cards: the edit must keep its cloze numbers.
            if card.note.kind == CardKind::Cloze
                && let Some(numbers) = errors.check(cloze_numbers("question", q.as_str()))
                && numbers != cloze_numbers("question", card.question.as_str()).unwrap_or_default()
            {
                errors.push(FieldError::new(
                    "question",
                    "an edit of a cloze note must keep its cloze numbers (each is a card)",
                ));
            }
            card.question = q;
        }
        if let Some(a) = &patch.answer {
            let parsed = match card.note.kind {
                CardKind::Cloze => CardText::parse_optional("answer", a, MAX_ANSWER_CHARS),
                _ => CardText::parse("answer", a, MAX_ANSWER_CHARS),
            };
            if let Some(a) = errors.check(parsed) {
                card.answer = a;
            }
        }
        if let Some(tags) = &patch.tags
            && let Some(tags) = errors.check(Tag::parse_all(tags))
        {
            card.tags = tags;
        }
        if let Some(suspended) = patch.suspended {
            card.suspended = suspended;
        }
        let mut new_document = None;
        if let Some(new_source) = patch.source {
            card.source = new_source.and_then(|s| source("", s, &mut errors));
            new_document = card.source.as_ref().map(|s| (s.document_id, s.chunk_id));
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        if let Some((document, chunk)) = new_document {
            self.check_sources(
                who.user_id,
                card.chat_id,
                &[("source".to_string(), document, chunk)],
            )
            .await?;
        }
        card.updated_at = self.clock.now();
        if !self.cards.update(&card).await? {
            return Err(FlashcardError::NotFound);
        }
        // The texts, tags and source are the note's: its other cards get them too.
        if note_changes && card.note.kind != CardKind::Basic {
            for mut sibling in self.cards.note_cards(who.user_id, card.note.id).await? {
                if sibling.id == card.id {
                    continue;
                }
                sibling.question = card.question.clone();
                sibling.answer = card.answer.clone();
                sibling.tags = card.tags.clone();
                sibling.source = card.source.clone();
                sibling.updated_at = card.updated_at;
                self.cards.update(&sibling).await?;
            }
        }
        self.study_card(card, self.clock.now(), &context).await
    }

    pub async fn delete(&self, who: Principal, id: FlashcardId) -> Result<(), FlashcardError> {
        if self.cards.delete(who.user_id, id).await? {
            Ok(())
        } else {
            Err(FlashcardError::NotFound)
        }
    }
}

#[async_trait]
impl ChatContents for Flashcards {
    async fn delete_chat_contents(&self, owner: UserId, chat: ChatId) -> Result<(), InfraError> {
        self.generations.delete_chat(owner, chat).await?;
        self.imports.delete_chat(owner, chat).await?;
        self.cards.delete_chat(owner, chat).await.map(|_| ())
    }
}

#[async_trait]
impl UserData for Flashcards {
    fn name(&self) -> &str {
        "flashcards"
    }
    async fn delete_user_data(&self, owner: UserId) -> Result<u64, InfraError> {
        self.generations.delete_user(owner).await?;
        self.imports.delete_user(owner).await?;
        self.blobs
            .delete_prefix(&format!("imports/{owner}/"))
            .await?;
        self.cards.delete_user(owner).await
    }
}
