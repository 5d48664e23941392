//! Background flashcard generations in memory. Creating one queues its job in the in-memory
//! queue under the same call, as the SQL adapter does in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use flashforge_domain::InfraError;
use flashforge_domain::accounts::UserId;
use flashforge_domain::chats::ChatId;
use flashforge_domain::flashcards::{Generation, GenerationId, GenerationRepository};
use flashforge_domain::knowledge::NewJob;
use parking_lot::RwLock;

use crate::InMemoryJobQueue;

pub struct InMemoryGenerationRepository {
    generations: RwLock<BTreeMap<GenerationId, Generation>>,
    jobs: Arc<InMemoryJobQueue>,
}

impl InMemoryGenerationRepository {
    pub fn new(jobs: Arc<InMemoryJobQueue>) -> Self {
        Self {
            generations: RwLock::new(BTreeMap::new()),
            jobs,
        }
    }

    fn remove_where(&self, gone: impl Fn(&Generation) -> bool) -> u64 {
        let mut generations = self.generations.write();
        let before = generations.len();
        generations.retain(|_, g| !gone(g));
        (before - generations.len()) as u64
    }
}

#[async_trait]
impl GenerationRepository for InMemoryGenerationRepository {
    async fn create(&self, generation: &Generation, job: NewJob) -> Result<(), InfraError> {
        let mut generations = self.generations.write();
        if generations.contains_key(&generation.id) {
            return Err(InfraError::internal("generation id already used"));
        }
        generations.insert(generation.id, generation.clone());
        self.jobs.push(job, generation.created_at);
        Ok(())
    }

    async fn find(
        &self,
        owner: UserId,
        id: GenerationId,
    ) -> Result<Option<Generation>, InfraError> {
        Ok(self
            .generations
            .read()
            .get(&id)
            .filter(|g| g.user_id == owner)
            .cloned())
    }

    async fn update(&self, generation: &Generation) -> Result<bool, InfraError> {
        let mut generations = self.generations.write();
        match generations.get_mut(&generation.id) {
            Some(stored) if stored.user_id == generation.user_id => {
                stored.status = generation.status;
                stored.generator = generation.generator.clone();
                stored.batches_done = generation.batches_done;
                stored.batches_total = generation.batches_total;
                stored.cards = generation.cards.clone();
                stored.error = generation.error.clone();
                stored.updated_at = generation.updated_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn delete_chat(&self, owner: UserId, chat: ChatId) -> Result<u64, InfraError> {
        Ok(self.remove_where(|g| g.user_id == owner && g.chat_id == chat))
    }

    async fn delete_user(&self, owner: UserId) -> Result<u64, InfraError> {
        Ok(self.remove_where(|g| g.user_id == owner))
    }
}
