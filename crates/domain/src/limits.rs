//! Rate limits: fixed-window budgets and exponential back-off after failed logins, over a
//! counter store that is in-process by default and shared (Redis) across instances when
//! configured.
//!
//! When the store fails, limits fail open (the request goes on, the failure is logged): an
//! outage of the limiter must not become an outage of the service.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{DomainError, ErrorKind, InfraError};

/// Counters with lifetimes, keyed by string.
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Adds one to the counter at `key`, which starts at zero and lives for `window` from its
    /// first increment. Returns the new count and the time left before the counter resets.
    /// MUST be atomic: concurrent increments never lose a count.
    async fn increment(&self, key: &str, window: Duration) -> Result<(u64, Duration), InfraError>;

    /// Blocks `key` for `duration` from now. A longer block already in place is kept.
    async fn block(&self, key: &str, duration: Duration) -> Result<(), InfraError>;

    /// The time left on a block of `key`, or `None` when it is not blocked.
    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, InfraError>;

    /// Forgets the counter and any block at `key`.
    async fn reset(&self, key: &str) -> Result<(), InfraError>;
}

/// The answer to a request over budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; try again in {} s", retry_after_secs(*.retry_after))]
pub struct Limited {
    pub retry_after: Duration,
}

fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl DomainError for Limited {
    fn kind(&self) -> ErrorKind {
        ErrorKind::RateLimited
    }
    fn code(&self) -> &'static str {
        "rate_limited"
    }
    fn retry_after(&self) -> Option<Duration> {
        Some(self.retry_after)
    }
}

/// A budget: `limit` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub limit: u64,
    pub window: Duration,
}

impl Quota {
    pub fn per_minute(limit: u64) -> Self {
        Self {
            limit,
            window: Duration::from_secs(60),
        }
    }
    pub fn per_hour(limit: u64) -> Self {
        Self {
            limit,
            window: Duration::from_secs(3600),
        }
    }
}

/// The limits in force, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitPolicy {
    pub enabled: bool,
    /// Failed logins (per account, and per client IP) tolerated before back-off starts.
    pub login_failures_before_backoff: u64,
    /// The first back-off; each further failure doubles it.
    pub login_backoff_base: Duration,
    pub login_backoff_max: Duration,
    /// How long failures are remembered.
    pub login_failure_window: Duration,
    pub registrations_per_ip: Quota,
    pub reads_per_client: Quota,
    pub writes_per_client: Quota,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            login_failures_before_backoff: 5,
            login_backoff_base: Duration::from_secs(1),
            login_backoff_max: Duration::from_secs(15 * 60),
            login_failure_window: Duration::from_secs(3600),
            registrations_per_ip: Quota::per_hour(20),
            reads_per_client: Quota::per_minute(600),
            writes_per_client: Quota::per_minute(120),
        }
    }
}

/// Whether a request reads or changes state; each class has its own budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Read,
    Write,
}

impl RouteClass {
    fn as_str(self) -> &'static str {
        match self {
            RouteClass::Read => "read",
            RouteClass::Write => "write",
        }
    }
}

/// Applies the policy over a store.
pub struct RateLimits {
    store: Arc<dyn RateLimitStore>,
    policy: RateLimitPolicy,
}

impl RateLimits {
    pub fn new(store: Arc<dyn RateLimitStore>, policy: RateLimitPolicy) -> Self {
        Self { store, policy }
    }

    /// Counts one event against `quota` under `key`.
    pub async fn hit(&self, key: &str, quota: Quota) -> Result<(), Limited> {
        if !self.policy.enabled {
            return Ok(());
        }
        match self.store.increment(key, quota.window).await {
            Ok((count, reset_in)) if count > quota.limit => {
                let policy = key.split(':').next().unwrap_or("other").to_string();
                metrics::counter!("rate_limit_rejections_total", "policy" => policy).increment(1);
                Err(Limited {
                    retry_after: reset_in.max(Duration::from_secs(1)),
                })
            }
            Ok(_) => Ok(()),
            Err(e) => {
                fail_open(&e);
                Ok(())
            }
        }
    }

    /// A request's share of its client's budget. `client` is `user:<id>` or `ip:<addr>`.
    pub async fn request(&self, client: &str, class: RouteClass) -> Result<(), Limited> {
        let quota = match class {
            RouteClass::Read => self.policy.reads_per_client,
            RouteClass::Write => self.policy.writes_per_client,
        };
        self.hit(&format!("req:{}:{client}", class.as_str()), quota)
            .await
    }

    pub async fn registration(&self, ip: &str) -> Result<(), Limited> {
        self.hit(
            &format!("register:ip:{ip}"),
            self.policy.registrations_per_ip,
        )
        .await
    }

    /// Whether a login for `account` (its canonical username) from `ip` may be tried now.
    pub async fn login_allowed(&self, account: &str, ip: Option<&str>) -> Result<(), Limited> {
        if !self.policy.enabled {
            return Ok(());
        }
        let mut keys = vec![format!("login-block:user:{account}")];
        if let Some(ip) = ip {
            keys.push(format!("login-block:ip:{ip}"));
        }
        let mut longest: Option<Duration> = None;
        for key in keys {
            match self.store.blocked_for(&key).await {
                Ok(Some(left)) => longest = Some(longest.map_or(left, |l| l.max(left))),
                Ok(None) => {}
                Err(e) => fail_open(&e),
            }
        }
        match longest {
            Some(retry_after) => {
                metrics::counter!("rate_limit_rejections_total", "policy" => "login").increment(1);
                Err(Limited {
                    retry_after: retry_after.max(Duration::from_secs(1)),
                })
            }
            None => Ok(()),
        }
    }

    /// Counts a failed login against the account and the IP; past the threshold, each further
    /// failure blocks them for twice as long as the one before.
    pub async fn login_failed(&self, account: &str, ip: Option<&str>) {
        if !self.policy.enabled {
            return;
        }
        let mut subjects = vec![format!("user:{account}")];
        if let Some(ip) = ip {
            subjects.push(format!("ip:{ip}"));
        }
        for subject in subjects {
            let failures = match self
                .store
                .increment(
                    &format!("login-fail:{subject}"),
                    self.policy.login_failure_window,
                )
                .await
            {
                Ok((count, _)) => count,
                Err(e) => {
                    fail_open(&e);
                    continue;
                }
            };
            if let Some(block) = self.backoff(failures)
                && let Err(e) = self
                    .store
                    .block(&format!("login-block:{subject}"), block)
                    .await
            {
                fail_open(&e);
            }
        }
    }

    /// A successful login clears the account's failures (not the IP's: one good password does
    /// not excuse a spray across accounts).
    pub async fn login_succeeded(&self, account: &str) {
        for key in [
            format!("login-fail:user:{account}"),
            format!("login-block:user:{account}"),
        ] {
            if let Err(e) = self.store.reset(&key).await {
                fail_open(&e);
            }
        }
    }

    /// The block after `failures` failures: none up to the threshold, then base, 2×base, 4×base…
    pub fn backoff(&self, failures: u64) -> Option<Duration> {
        let threshold = self.policy.login_failures_before_backoff;
        if failures < threshold {
            return None;
        }
        let doublings = u32::try_from(failures - threshold)
            .unwrap_or(u32::MAX)
            .min(30);
        let block = self
            .policy
            .login_backoff_base
            .saturating_mul(1u32 << doublings);
        Some(block.min(self.policy.login_backoff_max))
    }
}

impl RateLimits {
    /// Takes the single slot of `key` for at most `lease` (a holder that dies frees it then):
    /// `false` while another holder has it. Shared across instances with a shared store; fails
    /// open when the store does.
    pub async fn acquire_exclusive(&self, key: &str, lease: Duration) -> bool {
        match self
            .store
            .increment(&format!("exclusive:{key}"), lease)
            .await
        {
            Ok((count, _)) => count == 1,
            Err(e) => {
                fail_open(&e);
                true
            }
        }
    }

    /// Gives the slot of `key` back.
    pub async fn release_exclusive(&self, key: &str) {
        if let Err(e) = self.store.reset(&format!("exclusive:{key}")).await {
            fail_open(&e);
        }
    }
}

/// Holds an exclusive slot ([`RateLimits::acquire_exclusive`]) and gives it back when dropped,
/// however the work that held it ended.
pub struct Exclusive {
    limits: Option<Arc<RateLimits>>,
    key: String,
}

impl Exclusive {
    pub fn new(limits: Arc<RateLimits>, key: String) -> Self {
        Self {
            limits: Some(limits),
            key,
        }
    }

    /// Gives the slot back now (dropping it gives it back soon after, in a task of its own).
    pub async fn release(mut self) {
        if let Some(limits) = self.limits.take() {
            limits.release_exclusive(&self.key).await;
        }
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        if let (Some(limits), Ok(runtime)) =
            (self.limits.take(), tokio::runtime::Handle::try_current())
        {
            let key = std::mem::take(&mut self.key);
            runtime.spawn(async move { limits.release_exclusive(&key).await });
        }
    }
}

fn fail_open(error: &InfraError) {
    tracing::warn!(error = %crate::error::chain(error), "rate-limit store failed; allowing the request");
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoStore;

    #[async_trait]
    impl RateLimitStore for NoStore {
        async fn increment(&self, _: &str, _: Duration) -> Result<(u64, Duration), InfraError> {
            Err(InfraError::unavailable("down"))
        }
        async fn block(&self, _: &str, _: Duration) -> Result<(), InfraError> {
            Err(InfraError::unavailable("down"))
        }
        async fn blocked_for(&self, _: &str) -> Result<Option<Duration>, InfraError> {
            Err(InfraError::unavailable("down"))
        }
        async fn reset(&self, _: &str) -> Result<(), InfraError> {
            Err(InfraError::unavailable("down"))
        }
    }

    #[test]
    fn backoff_doubles_after_the_threshold_up_to_the_cap() {
        let limits = RateLimits::new(Arc::new(NoStore), RateLimitPolicy::default());
        assert_eq!(limits.backoff(4), None);
        assert_eq!(limits.backoff(5), Some(Duration::from_secs(1)));
        assert_eq!(limits.backoff(6), Some(Duration::from_secs(2)));
        assert_eq!(limits.backoff(9), Some(Duration::from_secs(16)));
        assert_eq!(limits.backoff(60), Some(Duration::from_secs(900)));
        assert_eq!(limits.backoff(u64::MAX), Some(Duration::from_secs(900)));
    }

    #[tokio::test]
    async fn a_failing_store_lets_requests_through() {
        let limits = RateLimits::new(Arc::new(NoStore), RateLimitPolicy::default());
        assert!(limits.hit("k", Quota::per_minute(0)).await.is_ok());
        assert!(limits.login_allowed("a", Some("1.2.3.4")).await.is_ok());
        limits.login_failed("a", Some("1.2.3.4")).await;
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
