//! `[rate_limit]`: login back-off and slow-down, request budgets, and where the counters live.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::problems::{Problems, is_redis_url};
use super::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// `redis://…`: share limits across instances. Unset: in-process.
    #[serde(default)]
    pub redis_url: Option<Secret>,
    pub key_prefix: String,
    pub redis_timeout_ms: u64,
    pub login_failures_before_backoff: u64,
    pub login_backoff_base_secs: u64,
    pub login_backoff_max_secs: u64,
    pub login_failure_window_secs: u64,
    /// Failures from one address (any account), or of one account (any address), before
    /// logins there are slowed down; and the longest such a hold lasts.
    pub login_failures_before_slowdown: u64,
    pub login_slowdown_max_secs: u64,
    pub registrations_per_ip_per_hour: u64,
    pub reads_per_minute: u64,
    pub writes_per_minute: u64,
    /// The bits of an IPv6 address that name one client in every per-address limit.
    pub ipv6_prefix: u8,
}

impl RateLimitSettings {
    pub fn policy(&self) -> flashforge_domain::limits::RateLimitPolicy {
        use flashforge_domain::limits::{Quota, RateLimitPolicy};
        RateLimitPolicy {
            enabled: self.enabled,
            login_failures_before_backoff: self.login_failures_before_backoff,
            login_backoff_base: Duration::from_secs(self.login_backoff_base_secs),
            login_backoff_max: Duration::from_secs(self.login_backoff_max_secs),
            login_failure_window: Duration::from_secs(self.login_failure_window_secs),
            login_failures_before_slowdown: self.login_failures_before_slowdown,
            login_slowdown_max: Duration::from_secs(self.login_slowdown_max_secs),
            registrations_per_ip: Quota::per_hour(self.registrations_per_ip_per_hour),
            reads_per_client: Quota::per_minute(self.reads_per_minute),
            writes_per_client: Quota::per_minute(self.writes_per_minute),
            ipv6_prefix: self.ipv6_prefix,
        }
    }

    pub fn redis_url(&self) -> Option<&str> {
        self.redis_url
            .as_ref()
            .map(Secret::expose)
            .filter(|url| !url.is_empty())
    }

    /// The rules of `rate_limit.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.login_failures_before_backoff == 0 {
            problems.bad(
                "rate_limit.login_failures_before_backoff",
                "must be at least 1",
            );
        }
        if self.login_backoff_base_secs == 0
            || self.login_backoff_max_secs < self.login_backoff_base_secs
        {
            problems.bad(
                "rate_limit.login_backoff_max_secs",
                "must be at least rate_limit.login_backoff_base_secs, which must be at least 1",
            );
        }
        for (key, value) in [
            (
                "rate_limit.registrations_per_ip_per_hour",
                self.registrations_per_ip_per_hour,
            ),
            ("rate_limit.reads_per_minute", self.reads_per_minute),
            ("rate_limit.writes_per_minute", self.writes_per_minute),
            (
                "rate_limit.login_failure_window_secs",
                self.login_failure_window_secs,
            ),
            ("rate_limit.redis_timeout_ms", self.redis_timeout_ms),
        ] {
            if value == 0 {
                problems.bad(key, "must be more than 0");
            }
        }
        if self.login_failures_before_slowdown < self.login_failures_before_backoff {
            problems.bad(
                "rate_limit.login_failures_before_slowdown",
                "must be at least rate_limit.login_failures_before_backoff (an address or account as a whole is allowed at least what one pair of them is)",
            );
        }
        if self.login_slowdown_max_secs == 0 || self.login_slowdown_max_secs > 60 {
            problems.bad(
                "rate_limit.login_slowdown_max_secs",
                "must be between 1 and 60 (a login held back longer is a 429)",
            );
        }
        if !(32..=128).contains(&self.ipv6_prefix) {
            problems.bad(
                "rate_limit.ipv6_prefix",
                "must be between 32 and 128 (64: one subscriber's network)",
            );
        }
        if let Some(url) = self.redis_url()
            && !is_redis_url(url)
        {
            problems.bad(
                "rate_limit.redis_url",
                "must start with redis:// or rediss://",
            );
        }
    }
}
