//! Large deck packages import in the background: the package is kept in the blob store, a
//! [`DeckImport`] row and its job are created together, and the worker imports the notes batch
//! by batch, recording progress a client polls. Cards of a batch get ids derived from the import,
//! the note and the card's ordinal, so a job retried after a crash skips the batches it already
//! stored instead of storing them twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::FlashcardError;
use super::models::GenerationStatus;
use super::packages::{PACKAGE_LIMITS, PackageImport, PackageNote};
use super::ports::{CardsStored, DeckFileError};
use super::service::Flashcards;
use crate::accounts::{Principal, UserId};
use crate::chats::ChatId;
use crate::error::InfraError;
pub use crate::ids::ImportId;
use crate::jobs::{Failure, JobId, JobPayload, NewJob};

/// A package of more notes than this imports in the background.
pub const INLINE_IMPORT_NOTES: usize = 500;

/// Notes stored per batch (one transaction each) in a background import.
pub const IMPORT_BATCH_NOTES: usize = 250;

/// Where a background import is: `queued`, `running`, `completed` or `failed`.
pub type ImportStatus = GenerationStatus;

/// A deck package importing in the background.
#[derive(Debug, Clone, PartialEq)]
pub struct DeckImport {
    pub id: ImportId,
    pub user_id: UserId,
    pub chat_id: ChatId,
    pub status: ImportStatus,
    pub notes_total: u32,
    /// Notes looked at so far (stored, or reported in the errors).
    pub notes_done: u32,
    /// What it did so far.
    pub report: PackageImport,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an import request did: imported at once, or queued.
#[derive(Debug, Clone, PartialEq)]
pub enum PackageOutcome {
    Imported(PackageImport),
    Queued(Box<DeckImport>),
}

/// Stores background imports. Every method is scoped by the owner.
#[async_trait]
pub trait ImportRepository: Send + Sync {
    /// Stores the import and queues `job` (which runs it) atomically.
    async fn create(&self, import: &DeckImport, job: NewJob) -> Result<(), InfraError>;

    async fn find(&self, owner: UserId, id: ImportId) -> Result<Option<DeckImport>, InfraError>;

    /// Stores the status, progress, report, error and update time; `Ok(false)` when the import
    /// is gone.
    async fn update(&self, import: &DeckImport) -> Result<bool, InfraError>;

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError>;

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError>;
}

/// The blob that holds an import's package until it has run.
fn package_key(owner: UserId, id: ImportId) -> String {
    format!("imports/{owner}/{id}.apkg")
}

impl Flashcards {
    /// Keeps the package and queues its import.
    pub(super) async fn queue_import(
        &self,
        who: Principal,
        chat: ChatId,
        file: bytes::Bytes,
        notes: usize,
    ) -> Result<DeckImport, FlashcardError> {
        self.quotas.check_job(who.user_id).await?;
        let now = self.clock.now();
        let import = DeckImport {
            id: ImportId::new(),
            user_id: who.user_id,
            chat_id: chat,
            status: ImportStatus::Queued,
            notes_total: u32::try_from(notes).unwrap_or(u32::MAX),
            notes_done: 0,
            report: PackageImport::default(),
            error: None,
            created_at: now,
            updated_at: now,
        };
        let key = package_key(who.user_id, import.id);
        self.blobs.put(&key, file).await?;
        let job = NewJob {
            id: JobId::new(),
            payload: JobPayload::ImportDeck {
                user_id: who.user_id,
                import_id: import.id,
            },
            max_attempts: self.max_attempts,
            run_at: now,
            request_id: crate::context::request_id(),
        };
        if let Err(e) = self.imports.create(&import, job).await {
            self.blobs.delete(&key).await.ok();
            return Err(e.into());
        }
        self.queued.notify_waiters();
        tracing::info!(import = %import.id, notes, "deck import queued");
        Ok(import)
    }

    /// A background import of the caller's.
    pub async fn get_import(
        &self,
        who: Principal,
        id: ImportId,
    ) -> Result<DeckImport, FlashcardError> {
        self.imports
            .find(who.user_id, id)
            .await?
            .ok_or(FlashcardError::ImportNotFound)
    }

    /// The job: the package's notes stored batch by batch, progress after each.
    pub(super) async fn run_import(&self, owner: UserId, id: ImportId) -> Result<(), Failure> {
        let key = package_key(owner, id);
        let Some(mut import) = self.imports.find(owner, id).await? else {
            // Deleted with its chat or user: only its package is left to remove.
            self.blobs.delete(&key).await?;
            return Ok(());
        };
        if import.status == ImportStatus::Completed {
            return Ok(());
        }
        let file = self
            .blobs
            .get(&key)
            .await?
            .ok_or_else(|| Failure::Permanent("the package is no longer stored".into()))?;
        let deck = match self.deck_files.read_package(file, PACKAGE_LIMITS).await {
            Ok(deck) => deck,
            Err(DeckFileError::Unreadable(why)) => return Err(Failure::Permanent(why)),
            Err(DeckFileError::Infra(e)) => return Err(e.into()),
        };
        if self.chats.find(owner, import.chat_id).await?.is_none() {
            return Err(Failure::Permanent("the chat is gone".into()));
        }
        import.status = ImportStatus::Running;
        import.report.media_skipped = deck.media;
        self.save_import(&mut import).await?;
        let study = self.study_settings(owner).await?;
        let notes: Vec<(usize, PackageNote)> = deck.notes.into_iter().enumerate().collect();
        for batch in notes.chunks(IMPORT_BATCH_NOTES) {
            let first = batch[0].0;
            if first < import.notes_done as usize {
                continue; // Stored by an earlier attempt.
            }
            let now = self.clock.now();
            let mut report = import.report.clone();
            let (cards, reviews) = self
                .convert_notes(
                    owner,
                    import.chat_id,
                    batch.iter().cloned(),
                    &study,
                    now,
                    &mut report,
                    Some(id),
                )
                .map_err(|e| Failure::Permanent(e.to_string()))?;
            // An earlier attempt that stored this batch but crashed before recording it.
            let stored_before = match cards.first() {
                Some(card) => self.cards.find(owner, card.id).await?.is_some(),
                None => false,
            };
            if !stored_before && !cards.is_empty() {
                let limit = self.quotas.policy().cards;
                if let CardsStored::OverQuota { cards: have } = self
                    .cards
                    .create_with_history(owner, cards, reviews, limit)
                    .await?
                {
                    return Err(Failure::Permanent(format!(
                        "the card quota ({limit}) was reached with {have} cards, after {} of \
                         {} notes",
                        import.notes_done, import.notes_total
                    )));
                }
            }
            import.report = report;
            import.notes_done = u32::try_from(first + batch.len()).unwrap_or(u32::MAX);
            self.save_import(&mut import).await?;
        }
        import.status = ImportStatus::Completed;
        import.error = None;
        self.save_import(&mut import).await?;
        self.blobs.delete(&key).await.ok();
        tracing::info!(import = %id, cards = import.report.cards, "deck import completed");
        Ok(())
    }

    async fn save_import(&self, import: &mut DeckImport) -> Result<bool, InfraError> {
        import.updated_at = self.clock.now();
        self.imports.update(import).await
    }

    /// A retried or failed import job: its status follows, and a failed one's package goes.
    pub(super) async fn mark_import(
        &self,
        owner: UserId,
        id: ImportId,
        status: ImportStatus,
        note: &str,
    ) -> Result<(), InfraError> {
        if let Some(mut import) = self.imports.find(owner, id).await? {
            import.status = status;
            import.error = Some(note.to_string());
            self.save_import(&mut import).await?;
        }
        if status == ImportStatus::Failed {
            self.blobs.delete(&package_key(owner, id)).await?;
        }
        Ok(())
    }
}
