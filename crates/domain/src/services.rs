//! The set of ports a FlashForge process runs on, and the services built from them.
//!
//! The composition root fills [`Ports`] with adapters chosen from configuration (or the test
//! harness fills it with in-memory ones) and builds [`Services`] once.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{
    AccessTokens, AccountSettings, Accounts, PasswordHasher, PasswordStrength, SessionRepository,
    UserRepository,
};
use crate::assistant::{
    Assistant, AssistantSettings, LanguageModel, MessageRepository, PassageSearch,
};
use crate::chats::{ChatData, ChatRepository, Chats};
use crate::clock::Clock;
use crate::health::{HealthCheck, Readiness};
use crate::limits::{RateLimitPolicy, RateLimitStore, RateLimits};

/// Every adapter a process needs, as trait objects so that they can be mixed at run time.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub chats: Arc<dyn ChatRepository>,
    pub messages: Arc<dyn MessageRepository>,
    /// Retrieval over the chats' material (the knowledge base).
    pub passages: Arc<dyn PassageSearch>,
    pub language_model: Arc<dyn LanguageModel>,
    pub password_hasher: Arc<dyn PasswordHasher>,
    pub password_strength: Arc<dyn PasswordStrength>,
    pub access_tokens: Arc<dyn AccessTokens>,
    pub rate_limit_store: Arc<dyn RateLimitStore>,
    pub clock: Arc<dyn Clock>,
    /// The dependencies `/health/ready` reports on.
    pub health_checks: Vec<Arc<dyn HealthCheck>>,
}

/// The knobs of the services that come from configuration.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    pub accounts: AccountSettings,
    pub assistant: AssistantSettings,
    pub rate_limits: RateLimitPolicy,
    pub readiness_timeout: Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            accounts: AccountSettings::default(),
            assistant: AssistantSettings::default(),
            rate_limits: RateLimitPolicy::default(),
            readiness_timeout: Duration::from_secs(2),
        }
    }
}

/// The services the inbound adapters (HTTP, worker, CLI) call.
pub struct Services {
    pub accounts: Accounts,
    pub chats: Chats,
    pub assistant: Arc<Assistant>,
    pub limits: Arc<RateLimits>,
    pub readiness: Readiness,
}

impl Services {
    pub fn new(ports: Ports, settings: ServiceSettings) -> Self {
        let limits = Arc::new(RateLimits::new(
            ports.rate_limit_store,
            settings.rate_limits,
        ));
        Self {
            accounts: Accounts::new(
                ports.users,
                ports.sessions,
                ports.password_hasher,
                ports.password_strength,
                ports.access_tokens,
                limits.clone(),
                ports.clock.clone(),
                settings.accounts,
            )
            .with_user_data(Arc::new(ChatData(ports.chats.clone()))),
            assistant: Arc::new(Assistant::new(
                ports.chats.clone(),
                ports.messages,
                ports.passages,
                ports.language_model,
                ports.clock.clone(),
                settings.assistant,
            )),
            chats: Chats::new(ports.chats, ports.clock),
            limits,
            readiness: Readiness::new(ports.health_checks, settings.readiness_timeout),
        }
    }
}
