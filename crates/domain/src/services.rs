//! The set of ports a FlashForge process runs on, and the services built from them.
//!
//! The composition root fills [`Ports`] with adapters chosen from configuration (or the test
//! harness fills it with in-memory ones) and builds [`Services`] once.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{
    AccessTokens, AccountPorts, AccountSettings, Accounts, PasswordHasher, PasswordStrength,
    SessionRepository, UserRepository,
};
use crate::assistant::{
    Assistant, AssistantPorts, AssistantSettings, LanguageModel, MessageRepository, PassageSearch,
};
use crate::chats::{ChatData, ChatPorts, ChatRepository, Chats};
use crate::clock::Clock;
use crate::flashcards::{
    DeckFiles, FlashcardPorts, FlashcardRepository, FlashcardSettings, Flashcards,
    GenerationRepository, MemoryModel,
};
use crate::health::{HealthCheck, Readiness};
use crate::jobs::{JobHandlers, JobPolicy, JobRunner, JobSettings};
use crate::knowledge::{KnowledgeBase, KnowledgeBasePorts, KnowledgePorts, KnowledgeSettings};
use crate::limits::{RateLimitPolicy, RateLimitStore, RateLimits};
use crate::quotas::{QuotaPolicy, Quotas, StoreUsage};
use crate::spend::{ModelSpend, SpendSettings, UsageLedger};

/// Every adapter a process needs, as trait objects so that they can be mixed at run time.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub chats: Arc<dyn ChatRepository>,
    pub messages: Arc<dyn MessageRepository>,
    /// The knowledge base's adapters.
    pub knowledge: KnowledgePorts,
    pub flashcards: Arc<dyn FlashcardRepository>,
    pub generations: Arc<dyn GenerationRepository>,
    /// Background deck imports.
    pub imports: Arc<dyn crate::flashcards::ImportRepository>,
    /// Writes and reads decks as files (CSV, Anki packages).
    pub deck_files: Arc<dyn DeckFiles>,
    /// The spaced-repetition memory model (FSRS).
    pub memory_model: Arc<dyn MemoryModel>,
    /// Retrieval for the assistant instead of the knowledge base's own (the harness's).
    pub passages: Option<Arc<dyn PassageSearch>>,
    pub language_model: Arc<dyn LanguageModel>,
    /// The ledger of model calls and the daily token counters.
    pub usage_ledger: Arc<dyn UsageLedger>,
    pub password_hasher: Arc<dyn PasswordHasher>,
    pub password_strength: Arc<dyn PasswordStrength>,
    pub access_tokens: Arc<dyn AccessTokens>,
    pub rate_limit_store: Arc<dyn RateLimitStore>,
    pub clock: Arc<dyn Clock>,
    /// The dependencies `/health/ready` reports on.
    pub health_checks: Vec<Arc<dyn HealthCheck>>,
    /// The cache every instance of the service shares (Redis), when there is one.
    pub shared_cache: Option<crate::cache::CacheLayer>,
}

/// The knobs of the services that come from configuration.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    pub accounts: AccountSettings,
    pub assistant: AssistantSettings,
    pub knowledge: KnowledgeSettings,
    pub jobs: JobPolicy,
    pub quotas: QuotaPolicy,
    pub rate_limits: RateLimitPolicy,
    pub spend: SpendSettings,
    pub readiness_timeout: Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            accounts: AccountSettings::default(),
            assistant: AssistantSettings::default(),
            knowledge: KnowledgeSettings::default(),
            jobs: JobPolicy::default(),
            quotas: QuotaPolicy::default(),
            rate_limits: RateLimitPolicy::default(),
            spend: SpendSettings::default(),
            readiness_timeout: Duration::from_secs(2),
        }
    }
}

/// The services the inbound adapters (HTTP, worker, CLI) call.
pub struct Services {
    pub accounts: Accounts,
    pub chats: Chats,
    pub assistant: Arc<Assistant>,
    pub knowledge: Arc<KnowledgeBase>,
    pub flashcards: Arc<Flashcards>,
    /// Runs the background jobs (ingestion, large flashcard generations).
    pub jobs: Arc<JobRunner>,
    pub limits: Arc<RateLimits>,
    /// Per-user quotas and their use.
    pub quotas: Arc<Quotas>,
    /// Model token budgets, concurrent model calls and the usage ledger.
    pub spend: Arc<ModelSpend>,
    pub readiness: Readiness,
}

impl Services {
    pub fn new(ports: Ports, settings: ServiceSettings) -> Self {
        let limits = Arc::new(RateLimits::new(
            ports.rate_limit_store,
            settings.rate_limits,
        ));
        let documents = ports.knowledge.documents.clone();
        let blobs = ports.knowledge.blobs.clone();
        let queue = ports.knowledge.jobs.clone();
        let job_settings = JobSettings {
            lease: settings.knowledge.lease,
            retry_backoff: settings.knowledge.retry_backoff,
            policy: settings.jobs,
        };
        let max_attempts = settings.knowledge.max_attempts;
        let quotas = Arc::new(Quotas::new(
            Arc::new(StoreUsage {
                documents: documents.clone(),
                cards: ports.flashcards.clone(),
                jobs: queue.clone(),
            }),
            settings.quotas,
        ));
        let knowledge = Arc::new(KnowledgeBase::new(
            KnowledgeBasePorts {
                store: ports.knowledge,
                chats: ports.chats.clone(),
                clock: ports.clock.clone(),
                quotas: quotas.clone(),
            },
            settings.knowledge,
        ));
        let queued = knowledge.job_queued();
        let spend = Arc::new(ModelSpend::new(
            ports.usage_ledger,
            ports.clock.clone(),
            settings.spend,
        ));
        let passages = ports
            .passages
            .unwrap_or_else(|| knowledge.clone() as Arc<dyn PassageSearch>);
        let flashcards = Arc::new(Flashcards::new(
            FlashcardPorts {
                chats: ports.chats.clone(),
                cards: ports.flashcards,
                generations: ports.generations,
                documents,
                passages: passages.clone(),
                model: ports.memory_model,
                language_model: ports.language_model.clone(),
                spend: spend.clone(),
                clock: ports.clock.clone(),
                queued: queued.clone(),
                quotas: quotas.clone(),
                deck_files: ports.deck_files,
                limits: limits.clone(),
                imports: ports.imports,
                blobs,
            },
            FlashcardSettings { max_attempts },
        ));
        let jobs = Arc::new(JobRunner::new(
            queue,
            JobHandlers {
                ingest_document: knowledge.clone(),
                generate_flashcards: flashcards.clone(),
            },
            ports.clock.clone(),
            job_settings,
            queued,
        ));
        Self {
            accounts: Accounts::new(
                AccountPorts {
                    users: ports.users,
                    sessions: ports.sessions,
                    hasher: ports.password_hasher,
                    strength: ports.password_strength,
                    tokens: ports.access_tokens,
                    limits: limits.clone(),
                    clock: ports.clock.clone(),
                },
                settings.accounts,
            )
            .with_user_data(knowledge.clone())
            .with_user_data(flashcards.clone())
            .with_user_data(spend.clone())
            .with_user_data(Arc::new(ChatData(ports.chats.clone()))),
            assistant: Arc::new(Assistant::new(
                AssistantPorts {
                    chats: ports.chats.clone(),
                    messages: ports.messages,
                    passages,
                    model: ports.language_model,
                    spend: spend.clone(),
                    clock: ports.clock.clone(),
                    relay: ports.shared_cache,
                },
                settings.assistant,
            )),
            chats: Chats::new(ChatPorts {
                chats: ports.chats,
                clock: ports.clock,
            })
            .with_contents(knowledge.clone())
            .with_contents(flashcards.clone()),
            knowledge,
            flashcards,
            jobs,
            limits,
            quotas,
            spend,
            readiness: Readiness::new(ports.health_checks, settings.readiness_timeout),
        }
    }
}
