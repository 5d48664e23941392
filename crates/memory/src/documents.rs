//! Documents, chunks and the job queue in memory. The document store queues its ingestion jobs
//! into the queue it was built with, as the SQL adapter does in one transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::knowledge::{
    Chunk, ChunkCursor, ChunkId, Created, Document, DocumentCursor, DocumentId, DocumentRepository,
    DocumentStatus, Fairness, FileName, Job, JobId, JobQueue, NewDocument, NewJob, QueueStats,
};
use flashforge_domain::pagination::{Page, PageRequest};
use flashforge_domain::quotas::DocumentUsage;
use parking_lot::RwLock;

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
        pages_total: u32,
        chunk_count: u32,
        at: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        Ok(self.update(owner, id, |d| {
            d.status = DocumentStatus::Completed;
            d.error = None;
            d.pages_total = Some(pages_total);
            d.pages_done = pages_total;
            d.chunk_count = chunk_count;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Queued,
    Running,
    Done,
    Dead,
}

struct StoredJob {
    job: Job,
    state: JobState,
    run_at: DateTime<Utc>,
    worker: Option<String>,
    lease_until: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

/// The job queue in memory: one lock makes every claim atomic.
#[derive(Default)]
pub struct InMemoryJobQueue {
    jobs: RwLock<BTreeMap<JobId, StoredJob>>,
}

impl InMemoryJobQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&self, new: NewJob, now: DateTime<Utc>) {
        self.jobs.write().insert(
            new.id,
            StoredJob {
                job: Job {
                    id: new.id,
                    payload: new.payload,
                    request_id: new.request_id,
                    attempts: 0,
                    max_attempts: new.max_attempts,
                    created_at: now,
                },
                state: JobState::Queued,
                run_at: new.run_at,
                worker: None,
                lease_until: None,
                last_error: None,
            },
        );
    }

    fn with_held(&self, id: JobId, worker: &str, change: impl FnOnce(&mut StoredJob)) -> bool {
        let mut jobs = self.jobs.write();
        match jobs
            .get_mut(&id)
            .filter(|j| j.state == JobState::Running && j.worker.as_deref() == Some(worker))
        {
            Some(job) => {
                change(job);
                true
            }
            None => false,
        }
    }
}

#[async_trait]
impl JobQueue for InMemoryJobQueue {
    async fn enqueue(&self, job: NewJob) -> Result<(), InfraError> {
        let now = job.run_at;
        self.push(job, now);
        Ok(())
    }

    async fn claim(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        fairness: Fairness,
    ) -> Result<Option<Job>, InfraError> {
        let mut jobs = self.jobs.write();
        let mut running: HashMap<UserId, u32> = HashMap::new();
        for j in jobs.values() {
            if j.state == JobState::Running && j.lease_until.is_some_and(|l| l >= now) {
                *running.entry(j.job.payload.owner()).or_default() += 1;
            }
        }
        let runnable = |j: &StoredJob| {
            j.job.attempts < j.job.max_attempts
                && match j.state {
                    JobState::Queued => j.run_at <= now,
                    JobState::Running => j.lease_until.is_some_and(|l| l < now),
                    JobState::Done | JobState::Dead => false,
                }
        };
        // The fewest running first, then the oldest runnable job; within a user the oldest.
        let next = jobs
            .values()
            .filter(|j| runnable(j))
            .map(|j| {
                let owner = j.job.payload.owner();
                let busy = running.get(&owner).copied().unwrap_or(0);
                (busy, j.run_at, j.job.id)
            })
            .filter(|(busy, _, _)| {
                fairness.max_running_per_user == 0 || *busy < fairness.max_running_per_user
            })
            .min()
            .map(|(_, _, id)| id);
        Ok(next.and_then(|id| jobs.get_mut(&id)).map(|j| {
            j.state = JobState::Running;
            j.worker = Some(worker.to_string());
            j.lease_until = Some(lease_until);
            j.job.attempts += 1;
            j.job.clone()
        }))
    }

    async fn claim_exhausted(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Job>, InfraError> {
        let mut jobs = self.jobs.write();
        let next = jobs.values_mut().find(|j| {
            j.state == JobState::Running
                && j.lease_until.is_some_and(|l| l < now)
                && j.job.attempts >= j.job.max_attempts
        });
        Ok(next.map(|j| {
            j.worker = Some(worker.to_string());
            j.lease_until = Some(lease_until);
            j.job.clone()
        }))
    }

    async fn heartbeat(
        &self,
        job: JobId,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        Ok(self.with_held(job, worker, |j| j.lease_until = Some(lease_until)))
    }

    async fn complete(&self, job: JobId, worker: &str) -> Result<bool, InfraError> {
        Ok(self.with_held(job, worker, |j| {
            j.state = JobState::Done;
            j.lease_until = None;
        }))
    }

    async fn fail(
        &self,
        job: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, InfraError> {
        Ok(self.with_held(job, worker, |j| {
            j.last_error = Some(error.to_string());
            j.lease_until = None;
            j.worker = None;
            match retry_at {
                Some(at) => {
                    j.state = JobState::Queued;
                    j.run_at = at;
                }
                None => j.state = JobState::Dead,
            }
        }))
    }

    async fn pending(&self, owner: UserId) -> Result<u64, InfraError> {
        Ok(self
            .jobs
            .read()
            .values()
            .filter(|j| {
                j.job.payload.owner() == owner
                    && matches!(j.state, JobState::Queued | JobState::Running)
            })
            .count() as u64)
    }

    async fn stats(&self, _now: DateTime<Utc>) -> Result<QueueStats, InfraError> {
        let jobs = self.jobs.read();
        let mut stats = QueueStats::default();
        for job in jobs.values() {
            match job.state {
                JobState::Queued => {
                    stats.queued += 1;
                    stats.oldest_queued_at = Some(
                        stats
                            .oldest_queued_at
                            .map_or(job.job.created_at, |o| o.min(job.job.created_at)),
                    );
                }
                JobState::Running => stats.running += 1,
                JobState::Dead => stats.dead += 1,
                JobState::Done => {}
            }
        }
        Ok(stats)
    }
}
