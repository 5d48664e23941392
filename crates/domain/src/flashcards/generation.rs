//! Generating flashcards from the chat's material: a document, chosen chunks, pasted text or a
//! topic (searched in the material). A small request is answered at once; a large one (a long
//! document, or many cards) becomes a background job, run batch by batch, with a status to poll.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::drafting::{self as making, Draft, Generator};
use super::error::FlashcardError;
use super::models::{
    CardSource, CardText, Flashcard, FlashcardId, GeneratedCard, Generation, GenerationId,
    GenerationRequest, GenerationStatus, MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, MAX_QUOTE_CHARS,
    Tag,
};
use super::notes::CardKind;
use super::scheduling::Schedule;
use super::service::{
    Flashcards, GenerateInput, GeneratedCards, MAX_GENERATE, MAX_GENERATE_TEXT_CHARS,
    MAX_TOPIC_CHARS, StudyCard,
};
use crate::accounts::{Principal, UserId};
use crate::assistant::{LlmError, Prompt, PromptPassage};
use crate::chats::ChatId;
use crate::error::{FieldError, InfraError, ValidationErrors};
use crate::jobs::{Failure, Job, JobHandler, JobId, JobPayload, NewJob};
use crate::knowledge::{Chunk, ChunkId, DocumentId, DocumentStatus};
use crate::pagination::{Limit, MAX_PAGE_LIMIT, PageRequest};
use crate::spend::{Purpose, SpendError, Spent};

/// Chunks per language-model call (one batch).
pub const GENERATE_BATCH_CHUNKS: usize = 40;
/// The most cards made at once; more become a background job.
pub const MAX_INLINE_GENERATE: u32 = 50;
/// The most chunks one generation reads from a document.
const MAX_GENERATE_CHUNKS: usize = 2_000;
/// The most chunks a request may name.
const MAX_CHUNK_IDS: usize = GENERATE_BATCH_CHUNKS;
/// The passages a topic brings.
const TOPIC_PASSAGES: usize = 20;

/// What a generation request did.
#[derive(Debug, Clone, PartialEq)]
pub enum Generated {
    /// Made at once.
    Done(GeneratedCards),
    /// Too large to make at once: queued; poll it by its id.
    Queued(Generation),
}

/// The material of one request: chunks with their documents' names, or pasted text.
enum Material {
    Chunks(Vec<(Chunk, String)>),
    Text(String),
}

impl Flashcards {
    /// Makes up to `count` cards from the chat's material with the language model (structured
    /// output) or, when it cannot, offline; drops near-duplicates of the chat's cards; saves them
    /// when asked. Large requests are queued instead ([`Generated::Queued`]).
    pub async fn generate(
        &self,
        who: Principal,
        chat: ChatId,
        input: GenerateInput,
    ) -> Result<Generated, FlashcardError> {
        self.own_chat(who, chat).await?;
        let (request, batches) = self.validate(who.user_id, chat, input).await?;
        if batches > 1 || request.count > MAX_INLINE_GENERATE {
            return Ok(Generated::Queued(
                self.queue_generation(who.user_id, chat, request, batches)
                    .await?,
            ));
        }
        let material = self.material(who.user_id, chat, &request).await?;
        let (generator, drafts) = self
            .draft(who.user_id, Purpose::Flashcards, &material, request.count)
            .await?;
        let (drafts, saved) = self
            .keep(
                who.user_id,
                chat,
                generator,
                drafts,
                request.count,
                request.save,
            )
            .await?;
        Ok(Generated::Done(GeneratedCards {
            generator,
            drafts,
            saved,
        }))
    }

    /// Drafts up to `count` cards from `text` alone: no chat, nothing saved, no duplicate check
    /// (the prototype's `/sendmessage`). The same generator as [`Self::generate`].
    pub async fn draft_from_text(
        &self,
        who: Principal,
        text: String,
        count: u32,
    ) -> Result<(Generator, Vec<Draft>), FlashcardError> {
        if text.trim().is_empty() || text.chars().count() > MAX_GENERATE_TEXT_CHARS {
            return Err(ValidationErrors::single(
                "text",
                format!("must be 1 to {MAX_GENERATE_TEXT_CHARS} characters"),
            )
            .into());
        }
        let count = count.clamp(1, MAX_INLINE_GENERATE);
        let (generator, drafts) = self
            .draft(
                who.user_id,
                Purpose::Flashcards,
                &Material::Text(text),
                count,
            )
            .await?;
        let drafts = drafts
            .into_iter()
            .map(|(draft, _)| draft)
            .take(count as usize);
        Ok((generator, drafts.collect()))
    }

    /// A background generation of the caller's.
    pub async fn generation(
        &self,
        who: Principal,
        id: GenerationId,
    ) -> Result<Generation, FlashcardError> {
        self.generations
            .find(who.user_id, id)
            .await?
            .ok_or(FlashcardError::GenerationNotFound)
    }

    /// Checks the request; answers it with the number of batches it takes.
    async fn validate(
        &self,
        owner: UserId,
        chat: ChatId,
        input: GenerateInput,
    ) -> Result<(GenerationRequest, u32), FlashcardError> {
        let count = input.count.unwrap_or(10);
        let mut errors = ValidationErrors::new();
        if count == 0 || count > MAX_GENERATE {
            errors.push(FieldError::new(
                "count",
                format!("must be between 1 and {MAX_GENERATE}"),
            ));
        }
        let given = [
            input.document_id.is_some(),
            input.chunk_ids.is_some(),
            input.text.is_some(),
            input.topic.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            errors.push(FieldError::new(
                "document_id",
                "give exactly one of document_id, chunk_ids, text or topic",
            ));
            return Err(errors.into());
        }
        let mut request = GenerationRequest {
            document_id: None,
            chunk_ids: Vec::new(),
            text: None,
            topic: None,
            count,
            save: input.save,
        };
        let mut batches = 1;
        if let Some(text) = input.text {
            if text.trim().is_empty() || text.chars().count() > MAX_GENERATE_TEXT_CHARS {
                errors.push(FieldError::new(
                    "text",
                    format!("must be 1 to {MAX_GENERATE_TEXT_CHARS} characters"),
                ));
            }
            request.text = Some(text);
        }
        if let Some(topic) = input.topic {
            let topic = topic.trim().to_string();
            if topic.is_empty() || topic.chars().count() > MAX_TOPIC_CHARS {
                errors.push(FieldError::new(
                    "topic",
                    format!("must be 1 to {MAX_TOPIC_CHARS} characters"),
                ));
            }
            request.topic = Some(topic);
        }
        if let Some(ids) = input.chunk_ids {
            let unique: HashSet<uuid::Uuid> = ids.iter().copied().collect();
            if ids.is_empty() || ids.len() > MAX_CHUNK_IDS || unique.len() != ids.len() {
                errors.push(FieldError::new(
                    "chunk_ids",
                    format!("must name 1 to {MAX_CHUNK_IDS} different chunks"),
                ));
            } else {
                let ids: Vec<ChunkId> = ids.into_iter().map(ChunkId::from_uuid).collect();
                let found: HashSet<ChunkId> = self
                    .documents
                    .chunks_by_ids(owner, &ids)
                    .await?
                    .into_iter()
                    .filter(|(c, _)| c.chat_id == chat)
                    .map(|(c, _)| c.id)
                    .collect();
                for (i, id) in ids.iter().enumerate() {
                    if !found.contains(id) {
                        errors.push(FieldError::new(
                            format!("chunk_ids[{i}]"),
                            "names no chunk of this chat",
                        ));
                    }
                }
                request.chunk_ids = ids;
            }
        }
        if let Some(id) = input.document_id {
            let id = DocumentId::from_uuid(id);
            match self.documents.find(owner, id).await? {
                Some(doc) if doc.chat_id == chat => {
                    if doc.status == DocumentStatus::Completed {
                        let chunks = (doc.chunk_count as usize).min(MAX_GENERATE_CHUNKS);
                        batches = chunks.div_ceil(GENERATE_BATCH_CHUNKS).max(1) as u32;
                    } else {
                        errors.push(FieldError::new(
                            "document_id",
                            format!(
                                "the document is {}; cards can be made once it is completed",
                                doc.status.as_str()
                            ),
                        ));
                    }
                }
                _ => errors.push(FieldError::new(
                    "document_id",
                    "names no document of this chat",
                )),
            }
            request.document_id = Some(id);
        }
        if errors.is_empty() {
            Ok((request, batches))
        } else {
            Err(errors.into())
        }
    }

    async fn queue_generation(
        &self,
        owner: UserId,
        chat: ChatId,
        request: GenerationRequest,
        batches: u32,
    ) -> Result<Generation, FlashcardError> {
        let now = self.clock.now();
        let generation = Generation {
            id: GenerationId::new(),
            user_id: owner,
            chat_id: chat,
            request,
            status: GenerationStatus::Queued,
            generator: None,
            batches_done: 0,
            batches_total: batches,
            cards: Vec::new(),
            error: None,
            created_at: now,
            updated_at: now,
        };
        let job = NewJob {
            id: JobId::new(),
            payload: JobPayload::GenerateFlashcards {
                user_id: owner,
                generation_id: generation.id,
            },
            max_attempts: self.max_attempts,
            run_at: now,
            request_id: crate::context::request_id(),
        };
        self.quotas.check_job(owner).await?;
        self.generations.create(&generation, job).await?;
        self.queued.notify_waiters();
        tracing::info!(generation = %generation.id, batches, "flashcard generation queued");
        Ok(generation)
    }

    /// The request's material: the document's chunks (up to [`MAX_GENERATE_CHUNKS`], in order),
    /// the named chunks, the passages found for the topic, or the text.
    async fn material(
        &self,
        owner: UserId,
        chat: ChatId,
        request: &GenerationRequest,
    ) -> Result<Material, FlashcardError> {
        if let Some(text) = &request.text {
            return Ok(Material::Text(text.clone()));
        }
        if let Some(id) = request.document_id {
            let Some(doc) = self
                .documents
                .find(owner, id)
                .await?
                .filter(|d| d.chat_id == chat && d.status == DocumentStatus::Completed)
            else {
                return Err(ValidationErrors::single(
                    "document_id",
                    "the document was deleted or is no longer completed",
                )
                .into());
            };
            let name = doc.file_name.as_str().to_string();
            let limit = Limit::parse(Some(MAX_PAGE_LIMIT)).unwrap_or_default();
            let mut chunks: Vec<(Chunk, String)> = Vec::new();
            let mut page = PageRequest::first(limit);
            loop {
                let found = self.documents.chunks(owner, id, page).await?;
                chunks.extend(found.items.into_iter().map(|c| (c, name.clone())));
                match found.next_cursor {
                    Some(_) if chunks.len() < MAX_GENERATE_CHUNKS => {
                        page = PageRequest {
                            limit,
                            after: chunks.last().map(|(c, _)| c.index),
                        };
                    }
                    _ => break,
                }
            }
            chunks.truncate(MAX_GENERATE_CHUNKS);
            return Ok(Material::Chunks(chunks));
        }
        let ids: Vec<ChunkId> = match &request.topic {
            Some(topic) => self
                .passages
                .search(owner, chat, topic, TOPIC_PASSAGES)
                .await?
                .into_iter()
                .map(|p| ChunkId::from_uuid(p.chunk_id))
                .collect(),
            None => request.chunk_ids.clone(),
        };
        let mut found: HashMap<ChunkId, (Chunk, String)> = self
            .documents
            .chunks_by_ids(owner, &ids)
            .await?
            .into_iter()
            .filter(|(c, _)| c.chat_id == chat)
            .map(|(c, name)| (c.id, (c, name.as_str().to_string())))
            .collect();
        let chunks: Vec<(Chunk, String)> = ids.iter().filter_map(|id| found.remove(id)).collect();
        if chunks.is_empty() {
            let field = if request.topic.is_some() {
                "topic"
            } else {
                "chunk_ids"
            };
            return Err(ValidationErrors::single(field, "no material of this chat matches").into());
        }
        Ok(Material::Chunks(chunks))
    }

    /// Asks the language model for `count` cards from one batch of material, or makes them
    /// offline when it cannot write structured output; links each to its chunk.
    async fn draft(
        &self,
        owner: UserId,
        purpose: Purpose,
        material: &Material,
        count: u32,
    ) -> Result<(Generator, Vec<(Draft, Option<CardSource>)>), FlashcardError> {
        let (chunks, passages, offline_material): (&[(Chunk, String)], _, Vec<_>) = match material {
            Material::Text(text) => (
                &[],
                vec![PromptPassage {
                    number: 1,
                    passage: crate::assistant::Passage {
                        chunk_id: uuid::Uuid::nil(),
                        document_id: uuid::Uuid::nil(),
                        file_name: "pasted text".into(),
                        page: None,
                        page_label: None,
                        text: text.clone(),
                    },
                }],
                vec![(None, text.clone())],
            ),
            Material::Chunks(chunks) => (
                chunks.as_slice(),
                making::prompt_passages(chunks),
                chunks
                    .iter()
                    .map(|(c, _)| (Some(c.id), c.text.clone()))
                    .collect(),
            ),
        };
        let prompt = Prompt {
            instructions: making::INSTRUCTIONS.to_string(),
            passages,
            history: Vec::new(),
            question: format!("Write {count} flashcards from these passages."),
            model: None,
        };
        let mut reservation = self
            .spend
            .reserve(owner, purpose, &prompt)
            .await
            .map_err(FlashcardError::Spend)?;
        let asked = self.language_model.default_model().to_string();
        reservation.started(&asked);
        let outcome = self
            .language_model
            .complete_structured(&prompt, "flashcards", &making::schema())
            .await;
        let spent = Spent {
            model: asked,
            usage: outcome.as_ref().ok().map(|(_, usage)| *usage),
            completion_chars: outcome
                .as_ref()
                .map(|(value, _)| value.to_string().chars().count())
                .unwrap_or(0),
            refused: matches!(outcome, Err(LlmError::Rejected(_))),
        };
        if let Err(e) = reservation.settle(spent).await {
            tracing::error!(error = %e, "cannot record a model call in the usage ledger");
        }
        let (generator, drafts) = match outcome {
            Ok((value, _usage)) => (
                Generator::LanguageModel,
                making::parse_answer(&value, chunks),
            ),
            Err(LlmError::Rejected(_)) => (
                Generator::Offline,
                making::offline(&offline_material, count as usize * 2),
            ),
            Err(LlmError::Timeout) => return Err(FlashcardError::Upstream(true)),
            Err(LlmError::Unavailable(reason)) => {
                tracing::warn!(%reason, "the language model failed to make flashcards");
                return Err(FlashcardError::Upstream(false));
            }
        };
        let by_id: HashMap<ChunkId, &Chunk> = chunks.iter().map(|(c, _)| (c.id, c)).collect();
        let drafts = drafts
            .into_iter()
            .map(|d| {
                let source = d
                    .chunk
                    .and_then(|id| by_id.get(&id))
                    .map(|chunk| CardSource {
                        document_id: chunk.document_id,
                        chunk_id: Some(chunk.id),
                        page: Some(chunk.page),
                        page_label: chunk.page_label.clone(),
                        quote: Some(
                            d.quote
                                .as_deref()
                                .unwrap_or(&chunk.text)
                                .chars()
                                .take(MAX_QUOTE_CHARS)
                                .collect(),
                        ),
                    });
                (d, source)
            })
            .collect();
        Ok((generator, drafts))
    }

    /// Keeps valid drafts that repeat neither the chat's cards nor each other, `count` at most,
    /// and saves them (tagged `generated:<generator>`) when asked.
    async fn keep(
        &self,
        owner: UserId,
        chat: ChatId,
        generator: Generator,
        drafts: Vec<(Draft, Option<CardSource>)>,
        count: u32,
        save: bool,
    ) -> Result<(Vec<(Draft, Option<CardSource>)>, Option<Vec<StudyCard>>), FlashcardError> {
        let existing: Vec<String> = self
            .all_cards(owner, chat)
            .await?
            .into_iter()
            .map(|c| c.question.as_str().to_string())
            .collect();
        let drafts: Vec<(Draft, Option<CardSource>)> =
            making::dedup_by(drafts, &existing, |(d, _)| &d.question)
                .into_iter()
                .filter(|(d, _)| {
                    // A cloze card's extra text may be empty.
                    let empty_extra = d.kind == CardKind::Cloze && d.answer.trim().is_empty();
                    CardText::parse("question", &d.question, MAX_QUESTION_CHARS).is_ok()
                        && (empty_extra
                            || CardText::parse("answer", &d.answer, MAX_ANSWER_CHARS).is_ok())
                })
                .take(count as usize)
                .collect();
        if !save || drafts.is_empty() {
            return Ok((drafts, None));
        }
        let now = self.clock.now();
        let tag = generated_tag(generator.as_str())?;
        let cards: Vec<Flashcard> = drafts
            .iter()
            .map(|(d, source)| NewCard {
                id: FlashcardId::new(),
                kind: d.kind,
                question: &d.question,
                answer: &d.answer,
                source: source.as_ref(),
            })
            .map(|card| card.into_card(owner, chat, &tag, now))
            .collect();
        self.store(owner, cards.clone()).await?;
        let saved = self.study_all(owner, cards, now).await?;
        Ok((drafts, Some(saved)))
    }

    /// Runs a queued generation: every batch of the material in turn (progress recorded after
    /// each), then the cards kept and saved as for a small request.
    async fn run_generation(&self, owner: UserId, id: GenerationId) -> Result<(), Failure> {
        let Some(mut generation) = self.generations.find(owner, id).await? else {
            return Ok(()); // deleted since it was queued
        };
        if matches!(
            generation.status,
            GenerationStatus::Completed | GenerationStatus::Failed
        ) {
            return Ok(());
        }
        let chat = generation.chat_id;
        let request = generation.request.clone();
        if request.save
            && !generation.cards.is_empty()
            && generation.cards.iter().all(|c| c.card_id.is_some())
        {
            // An earlier attempt chose these cards and may have saved them before it failed:
            // finish that rather than ask the model again.
            return self.save_chosen(owner, generation).await.map_err(failure);
        }
        let material = self
            .material(owner, chat, &request)
            .await
            .map_err(failure)?;
        let batches: Vec<Material> = match material {
            Material::Text(text) => vec![Material::Text(text)],
            Material::Chunks(chunks) => chunks
                .chunks(GENERATE_BATCH_CHUNKS)
                .map(|batch| Material::Chunks(batch.to_vec()))
                .collect(),
        };
        let total = batches.len().max(1) as u32;
        generation.status = GenerationStatus::Running;
        generation.batches_total = total;
        generation.batches_done = 0;
        generation.cards.clear();
        generation.error = None;
        if !self.save_generation(&mut generation).await? {
            return Ok(());
        }
        // Each batch is asked for its share and a little more, as duplicates are dropped later.
        let share = request.count.div_ceil(total) + 1;
        let mut generator = Generator::LanguageModel;
        let mut drafts = Vec::new();
        for batch in &batches {
            let (made_by, made) = self
                .draft(owner, Purpose::BackgroundFlashcards, batch, share)
                .await
                .map_err(failure)?;
            generator = made_by;
            drafts.extend(made);
            generation.batches_done += 1;
            generation.generator = Some(generator.as_str().to_string());
            if !self.save_generation(&mut generation).await? {
                return Ok(());
            }
        }
        let (kept, _) = self
            .keep(owner, chat, generator, drafts, request.count, false)
            .await
            .map_err(failure)?;
        generation.cards = kept
            .into_iter()
            .map(|(draft, source)| GeneratedCard {
                kind: draft.kind,
                question: draft.question,
                answer: draft.answer,
                source,
                // The ids the cards will be saved under, chosen before they are saved.
                card_id: request.save.then(FlashcardId::new),
            })
            .collect();
        if request.save && !generation.cards.is_empty() {
            // Recorded first, so that a retry after a failure between the two finds them.
            if !self.save_generation(&mut generation).await? {
                return Ok(());
            }
            return self.save_chosen(owner, generation).await.map_err(failure);
        }
        self.complete(generation).await?;
        Ok(())
    }

    /// Saves a generation's chosen cards under their recorded ids, unless an earlier attempt
    /// did (the cards are stored all or none, so one present means all were), and completes it.
    async fn save_chosen(
        &self,
        owner: UserId,
        generation: Generation,
    ) -> Result<(), FlashcardError> {
        let mut saved = false;
        for id in generation.cards.iter().filter_map(|c| c.card_id) {
            if self.cards.find(owner, id).await?.is_some() {
                saved = true;
                break;
            }
        }
        if saved {
            tracing::info!(generation = %generation.id, "the cards were saved by an earlier attempt");
        } else {
            let now = self.clock.now();
            let tag = generated_tag(
                generation
                    .generator
                    .as_deref()
                    .unwrap_or(Generator::LanguageModel.as_str()),
            )?;
            let cards: Vec<Flashcard> = generation
                .cards
                .iter()
                .filter_map(|c| {
                    Some(NewCard {
                        id: c.card_id?,
                        kind: c.kind,
                        question: &c.question,
                        answer: &c.answer,
                        source: c.source.as_ref(),
                    })
                })
                .map(|card| card.into_card(owner, generation.chat_id, &tag, now))
                .collect();
            self.store(owner, cards).await?;
        }
        self.complete(generation).await?;
        Ok(())
    }

    async fn complete(&self, mut generation: Generation) -> Result<(), InfraError> {
        generation.status = GenerationStatus::Completed;
        generation.error = None;
        self.save_generation(&mut generation).await?;
        tracing::info!(generation = %generation.id, cards = generation.cards.len(), "flashcard generation completed");
        Ok(())
    }

    async fn save_generation(&self, generation: &mut Generation) -> Result<bool, InfraError> {
        generation.updated_at = self.clock.now();
        self.generations.update(generation).await
    }

    async fn mark_generation(
        &self,
        job: &Job,
        status: GenerationStatus,
        note: &str,
    ) -> Result<(), InfraError> {
        if let JobPayload::GenerateFlashcards {
            user_id,
            generation_id,
        } = &job.payload
            && let Some(mut generation) = self.generations.find(*user_id, *generation_id).await?
        {
            generation.status = status;
            generation.error = Some(note.to_string());
            self.save_generation(&mut generation).await?;
        }
        Ok(())
    }
}

/// The tag of the cards a generator made: `generated:<generator>`.
fn generated_tag(generator: &str) -> Result<Tag, InfraError> {
    Tag::parse(&format!("generated:{generator}")).map_err(|e| InfraError::internal(e.message))
}

/// A generated card about to be saved.
struct NewCard<'a> {
    id: FlashcardId,
    /// Basic, or cloze with the one gap c1.
    kind: CardKind,
    question: &'a str,
    answer: &'a str,
    source: Option<&'a CardSource>,
}

impl NewCard<'_> {
    fn into_card(self, owner: UserId, chat: ChatId, tag: &Tag, now: DateTime<Utc>) -> Flashcard {
        Flashcard {
            id: self.id,
            user_id: owner,
            chat_id: chat,
            question: CardText::from_stored(self.question.trim().to_string()),
            answer: CardText::from_stored(self.answer.trim().to_string()),
            tags: vec![tag.clone()],
            suspended: false,
            source: self.source.cloned(),
            note: match self.kind {
                CardKind::Cloze => super::notes::NoteRef {
                    id: super::notes::NoteId::new(),
                    kind: CardKind::Cloze,
                    ordinal: 1,
                },
                _ => super::notes::NoteRef::basic(),
            },
            schedule: Schedule::new_card(now),
            created_at: now,
            updated_at: now,
        }
    }
}

/// A language model that failed or timed out may answer later; bad material will not change.
fn failure(error: FlashcardError) -> Failure {
    match error {
        FlashcardError::Upstream(true) => {
            Failure::Transient("the language model did not answer in time".into())
        }
        FlashcardError::Upstream(false) => Failure::Transient("the language model failed".into()),
        FlashcardError::Spend(SpendError::Busy(_)) => {
            Failure::Transient("other model calls of the user were under way".into())
        }
        FlashcardError::Spend(SpendError::Infra(e)) => Failure::from(e),
        FlashcardError::Infra(e) => Failure::from(e),
        other => Failure::Permanent(other.to_string()),
    }
}

/// Generation jobs: the generation's status follows the job's.
#[async_trait]
impl JobHandler for Flashcards {
    async fn run(&self, job: &Job) -> Result<(), Failure> {
        match &job.payload {
            JobPayload::GenerateFlashcards {
                user_id,
                generation_id,
            } => self.run_generation(*user_id, *generation_id).await,
            JobPayload::ImportDeck { user_id, import_id } => {
                self.run_import(*user_id, *import_id).await
            }
            other => Err(Failure::Permanent(format!(
                "the flashcard service does not run {} jobs",
                other.kind()
            ))),
        }
    }

    async fn retrying(&self, job: &Job, note: &str) -> Result<(), InfraError> {
        if let JobPayload::ImportDeck { user_id, import_id } = &job.payload {
            return self
                .mark_import(*user_id, *import_id, GenerationStatus::Queued, note)
                .await;
        }
        self.mark_generation(job, GenerationStatus::Queued, note)
            .await
    }

    async fn gave_up(&self, job: &Job, reason: &str) -> Result<(), InfraError> {
        if let JobPayload::ImportDeck { user_id, import_id } = &job.payload {
            return self
                .mark_import(*user_id, *import_id, GenerationStatus::Failed, reason)
                .await;
        }
        self.mark_generation(job, GenerationStatus::Failed, reason)
            .await
    }
}
