//! Background deck imports in memory. Creating one queues its job in the in-memory queue under
//! the same call, as the SQL adapter does in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{DeckImport, ImportId, ImportRepository};
use flashforge_domain::knowledge::NewJob;
use parking_lot::RwLock;

use crate::InMemoryJobQueue;

pub struct InMemoryImportRepository {
    imports: RwLock<BTreeMap<ImportId, DeckImport>>,
    jobs: Arc<InMemoryJobQueue>,
}

impl InMemoryImportRepository {
    pub fn new(jobs: Arc<InMemoryJobQueue>) -> Self {
        Self {
            imports: RwLock::new(BTreeMap::new()),
            jobs,
        }
    }

    fn remove_where(&self, gone: impl Fn(&DeckImport) -> bool) -> u64 {
        let mut imports = self.imports.write();
        let before = imports.len();
        imports.retain(|_, i| !gone(i));
        (before - imports.len()) as u64
    }
}

#[async_trait]
impl ImportRepository for InMemoryImportRepository {
    async fn create(&self, import: &DeckImport, job: NewJob) -> Result<(), InfraError> {
        let mut imports = self.imports.write();
        if imports.contains_key(&import.id) {
            return Err(InfraError::internal("import id already used"));
        }
        imports.insert(import.id, import.clone());
        self.jobs.push(job, import.created_at);
        Ok(())
    }

    async fn find(&self, owner: UserId, id: ImportId) -> Result<Option<DeckImport>, InfraError> {
        Ok(self
            .imports
            .read()
            .get(&id)
            .filter(|i| i.user_id == owner)
            .cloned())
    }

    async fn update(&self, import: &DeckImport) -> Result<bool, InfraError> {
        let mut imports = self.imports.write();
        match imports.get_mut(&import.id) {
            Some(stored) if stored.user_id == import.user_id => {
                stored.status = import.status;
                stored.notes_done = import.notes_done;
                stored.report = import.report.clone();
                stored.error = import.error.clone();
                stored.updated_at = import.updated_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        Ok(self.remove_where(|i| i.user_id == owner && i.chat_id == chat))
    }

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        Ok(self.remove_where(|i| i.user_id == owner))
    }
}
