//! The set of ports a FlashForge process runs on, and the services built from them.
//!
//! The composition root fills [`Ports`] with adapters chosen from configuration (or the test
//! harness fills it with in-memory ones) and builds [`Services`] once.

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::{Accounts, PasswordHasher, PasswordPolicy, UserRepository};
use crate::clock::Clock;
use crate::health::{HealthCheck, Readiness};

/// Every adapter a process needs, as trait objects so that they can be mixed at run time.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserRepository>,
    pub password_hasher: Arc<dyn PasswordHasher>,
    pub clock: Arc<dyn Clock>,
    /// The dependencies `/health/ready` reports on.
    pub health_checks: Vec<Arc<dyn HealthCheck>>,
}

/// The knobs of the services that come from configuration.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    pub password_policy: PasswordPolicy,
    pub readiness_timeout: Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            password_policy: PasswordPolicy::default(),
            readiness_timeout: Duration::from_secs(2),
        }
    }
}

/// The services the inbound adapters (HTTP, worker, CLI) call.
pub struct Services {
    pub accounts: Accounts,
    pub readiness: Readiness,
}

impl Services {
    pub fn new(ports: Ports, settings: ServiceSettings) -> Self {
        Self {
            accounts: Accounts::new(
                ports.users,
                ports.password_hasher,
                ports.clock,
                settings.password_policy,
            ),
            readiness: Readiness::new(ports.health_checks, settings.readiness_timeout),
        }
    }
}
