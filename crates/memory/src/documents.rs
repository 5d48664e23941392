//! Documents and chunks in memory. The document store queues its ingestion jobs into the queue
//! it was built with (`crate::jobs`), as the SQL adapter does in one transaction.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    Chunk, ChunkCursor, ChunkId, Completion, Created, Document, DocumentCursor, DocumentId,
    DocumentRepository, DocumentStatus, FileName, NewDocument, NewJob,
};
use flashforge_domain::pagination::{Page, PageRequest};
use flashforge_domain::quotas::DocumentUsage;
use parking_lot::RwLock;

use crate::jobs::InMemoryJobQueue;

#[derive(Default)]
struct Store {
    documents: HashMap<DocumentId, (Document, Option<String>)>,
    /// Chunks by document, in index order.
    chunks: HashMap<DocumentId, Vec<Chunk>>,
}

pub struct InMemoryDocumentRepository {
    store: RwLock<Store>,
    jobs: Arc<InMemoryJobQueue>,
}

impl InMemoryDocumentRepository {
    pub fn new(jobs: Arc<InMemoryJobQueue>) -> Self {
        Self {
            store: RwLock::new(Store::default()),
            jobs,
        }
    }

    fn update(&self, owner: UserId, id: DocumentId, change: impl FnOnce(&mut Document)) -> bool {
        let mut store = self.store.write();
        match store
            .documents
            .get_mut(&id)
            .filter(|(d, _)| d.user_id == owner)
        {
            Some((doc, _)) => {
                change(doc);
                true
            }
            None => false,
        }
    }

    fn remove_where(&self, keep: impl Fn(&Document) -> bool) -> u64 {
        let mut store = self.store.write();
        let gone: Vec<DocumentId> = store
            .documents
            .values()
            .filter(|(d, _)| !keep(d))
            .map(|(d, _)| d.id)
            .collect();
        for id in &gone {
            store.documents.remove(id);
            store.chunks.remove(id);
        }
        gone.len() as u64
    }
}

#[async_trait]
impl DocumentRepository for InMemoryDocumentRepository {
    async fn create(&self, new: NewDocument, job: NewJob) -> Result<Created, InfraError> {
        {
            let mut store = self.store.write();
            let existing = store.documents.values().find(|(d, key)| {
                d.user_id == new.user_id
                    && ((d.chat_id == new.chat_id && d.sha256 == new.sha256)
                        || (new.idempotency_key.is_some() && *key == new.idempotency_key))
            });
            if let Some((doc, _)) = existing {
                return Ok(Created::Existing(doc.clone()));
            }
            let doc = Document {
                id: new.id,
                user_id: new.user_id,
                chat_id: new.chat_id,
                file_name: new.file_name,
                media_type: new.media_type,
                size_bytes: new.size_bytes,
                sha256: new.sha256,
                status: DocumentStatus::Pending,
                error: None,
                pages_total: None,
                pages_done: 0,
                chunk_count: 0,
                title: None,
                language: None,
                created_at: new.created_at,
                updated_at: new.created_at,
            };
            store
                .documents
                .insert(doc.id, (doc.clone(), new.idempotency_key));
            self.jobs.push(job, new.created_at);
            Ok(Created::New(doc))
        }
    }

    async fn find(&self, owner: UserId, id: DocumentId) -> Result<Option<Document>, InfraError> {
        Ok(self
            .store
            .read()
            .documents
            .get(&id)
            .filter(|(d, _)| d.user_id == owner)
            .map(|(d, _)| d.clone()))
    }

    async fn find_many(
        &self,
        owner: UserId,
        ids: &[DocumentId],
    ) -> Result<Vec<Document>, InfraError> {
        let store = self.store.read();
        let mut seen = std::collections::HashSet::new();
        Ok(ids
            .iter()
            .filter(|id| seen.insert(**id))
            .filter_map(|id| store.documents.get(id))
            .filter(|(d, _)| d.user_id == owner)
            .map(|(d, _)| d.clone())
            .collect())
    }

    async fn find_by_sha256(
        &self,
        owner: UserId,
        chat: ChatId,
        sha256: &str,
    ) -> Result<Option<Document>, InfraError> {
        Ok(self
            .store
            .read()
            .documents
            .values()
            .find(|(d, _)| d.user_id == owner && d.chat_id == chat && d.sha256 == sha256)
            .map(|(d, _)| d.clone()))
    }

    async fn find_by_idempotency_key(
        &self,
        owner: UserId,
        key: &str,
    ) -> Result<Option<Document>, InfraError> {
        Ok(self
            .store
            .read()
            .documents
            .values()
            .find(|(d, k)| d.user_id == owner && k.as_deref() == Some(key))
            .map(|(d, _)| d.clone()))
    }

    async fn list(
        &self,
        owner: UserId,
        chat: ChatId,
        status: Option<DocumentStatus>,
        page: PageRequest<DocumentCursor>,
    ) -> Result<Page<Document>, InfraError> {
        let mut docs: Vec<Document> = self
            .store
            .read()
            .documents
            .values()
            .map(|(d, _)| d)
            .filter(|d| d.user_id == owner && d.chat_id == chat)
            .filter(|d| status.is_none_or(|s| d.status == s))
            .filter(|d| page.after.is_none_or(|after| d.id.as_uuid() < after))
            .cloned()
            .collect();
        docs.sort_by_key(|d| std::cmp::Reverse(d.id));
        docs.truncate(page.limit.fetch_count() as usize);
        Ok(Page::from_overfetch(docs, page.limit, |d| d.id.as_uuid()))
    }

    async fn set_status(
        &self,
        owner: UserId,
        id: DocumentId,
        status: DocumentStatus,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        Ok(self.update(owner, id, |d| {
            d.status = status;
            d.error = error.map(str::to_string);
            d.updated_at = at;
        }))
    }

    async fn set_progress(
        &self,
        owner: UserId,
        id: DocumentId,
        pages_done: u32,
        pages_total: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        Ok(self.update(owner, id, |d| {
            d.pages_done = pages_done;
            d.pages_total = Some(pages_total);
            d.updated_at = at;
        }))
    }

    async fn clear_chunks(&self, owner: UserId, id: DocumentId) -> Result<bool, InfraError> {
        let mut store = self.store.write();
        match store
            .documents
            .get_mut(&id)
            .filter(|(d, _)| d.user_id == owner)
        {
            Some((doc, _)) => doc.chunk_count = 0,
            None => return Ok(false),
        }
        store.chunks.remove(&id);
        Ok(true)
    }

    async fn add_chunks(
        &self,
        owner: UserId,
        id: DocumentId,
        chunks: Vec<Chunk>,
    ) -> Result<bool, InfraError> {
        let mut store = self.store.write();
        if store
            .documents
            .get(&id)
            .is_none_or(|(d, _)| d.user_id != owner)
        {
            return Ok(false);
        }
        let stored = store.chunks.entry(id).or_default();
        if let Some(duplicate) = chunks.iter().find(|c| stored.iter().any(|s| s.id == c.id)) {
            return Err(InfraError::internal(format!(
                "chunk {} is already stored",
                duplicate.id
            )));
        }
        stored.extend(chunks);
        stored.sort_by_key(|c| c.index);
        Ok(true)
    }

    async fn complete(
        &self,
        owner: UserId,
        id: DocumentId,
        completion: Completion,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        Ok(self.update(owner, id, |d| {
            d.status = DocumentStatus::Completed;
            d.error = None;
            d.pages_total = Some(completion.pages_total);
            d.pages_done = completion.pages_total;
            d.chunk_count = completion.chunk_count;
            d.title = completion.title;
            d.language = completion.language;
            d.updated_at = at;
        }))
    }

    async fn requeue(
        &self,
        owner: UserId,
        id: DocumentId,
        job: NewJob,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let requeued = self.update(owner, id, |d| {
            d.status = DocumentStatus::Pending;
            d.error = None;
            d.pages_done = 0;
            d.updated_at = at;
        });
        if requeued {
            self.jobs.push(job, at);
        }
        Ok(requeued)
    }

    async fn delete(&self, owner: UserId, id: DocumentId) -> Result<bool, InfraError> {
        Ok(self.remove_where(|d| !(d.user_id == owner && d.id == id)) > 0)
    }

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        Ok(self.remove_where(|d| !(d.user_id == owner && d.chat_id == chat)))
    }

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        Ok(self.remove_where(|d| d.user_id != owner))
    }

    async fn chunks(
        &self,
        owner: UserId,
        document: DocumentId,
        page: PageRequest<ChunkCursor>,
    ) -> Result<Page<Chunk>, InfraError> {
        let store = self.store.read();
        let chunks: Vec<Chunk> = store
            .chunks
            .get(&document)
            .into_iter()
            .flatten()
            .filter(|c| c.user_id == owner)
            .filter(|c| page.after.is_none_or(|after| c.index > after))
            .take(page.limit.fetch_count() as usize)
            .cloned()
            .collect();
        Ok(Page::from_overfetch(chunks, page.limit, |c| c.index))
    }

    async fn chunks_by_ids(
        &self,
        owner: UserId,
        ids: &[ChunkId],
    ) -> Result<Vec<(Chunk, FileName)>, InfraError> {
        let store = self.store.read();
        let wanted: std::collections::HashSet<&ChunkId> = ids.iter().collect();
        Ok(store
            .chunks
            .values()
            .flatten()
            .filter(|c| c.user_id == owner && wanted.contains(&c.id))
            .filter_map(|c| {
                let (doc, _) = store.documents.get(&c.document_id)?;
                Some((c.clone(), doc.file_name.clone()))
            })
            .collect())
    }

    async fn usage(&self, owner: UserId) -> Result<DocumentUsage, InfraError> {
        let store = self.store.read();
        let mut usage = DocumentUsage::default();
        for (doc, _) in store.documents.values().filter(|(d, _)| d.user_id == owner) {
            usage.documents += 1;
            usage.storage_bytes += doc.size_bytes;
            usage.chunks += store.chunks.get(&doc.id).map_or(0, |c| c.len() as u64);
        }
        Ok(usage)
    }

    async fn scan_chunks(
        &self,
        after: Option<ChunkId>,
        limit: u64,
    ) -> Result<Vec<Chunk>, InfraError> {
        let store = self.store.read();
        let mut chunks: Vec<&Chunk> = store
            .chunks
            .values()
            .flatten()
            .filter(|c| after.is_none_or(|a| c.id > a))
            .collect();
        chunks.sort_by_key(|c| c.id);
        Ok(chunks.into_iter().take(limit as usize).cloned().collect())
    }
}
