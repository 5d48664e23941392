//! Rate limits: fixed-window budgets and back-off after failed logins, over a counter store
//! that is in-process by default and shared (Redis) across instances when configured.
//!
//! Logins (and the password confirmations of a password change or an account deletion) are
//! throttled on three keys, so that nobody can lock an account's owner out:
//! - the account *and* the client's address together: after a few failures this pair backs off
//!   hard (429), doubling — whoever is failing there, owner or not, waits;
//! - the client's address alone (one person's failures behind a campus NAT): the address slows
//!   down — an attempt is held back for a while, then tried — but is never refused outright,
//!   so a correct password from there still logs in;
//! - the account alone (a guesser spread over many addresses): the same slow-down for every
//!   address, so guessing gets slower while the owner, from an address that has not been
//!   failing, still logs in. A proof-of-work or CAPTCHA step is the documented extension point
//!   for this signal ([`LoginChallenge`]).
//!
//! Every attempt is reserved before the password is checked (atomically, in process and in
//! Redis) and given back when it succeeds, so parallel guesses count like sequential ones.
//! Addresses are keyed by [`address_key`]: an IPv6 address by its /64 (configurable), so one
//! subscriber cannot rotate addresses past a limit.
//!
//! When the store fails, limits fail open (the request goes on, the failure is logged): an
//! outage of the limiter must not become an outage of the service.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::{Code, DomainError, InfraError};

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

    /// Reserves one attempt at `key`, atomically: while an earlier attempt's hold is in force,
    /// refuses with the time it has left (and counts nothing) — unless `force`, which counts
    /// the attempt anyway (one that waited its turn); otherwise counts the attempt and holds
    /// the key for [`Backoff::hold_after`] of the new count, from now. The count lives for
    /// `window` from the first attempt. MUST be atomic: of concurrent reservations, only those
    /// a sequential order would allow get through.
    async fn reserve(
        &self,
        key: &str,
        backoff: Backoff,
        window: Duration,
        force: bool,
    ) -> Result<Reserved, InfraError>;

    /// Gives back one attempt reserved at `key` (it succeeded) and lifts the hold it set; with
    /// `forget`, the whole count goes.
    async fn give_back(&self, key: &str, forget: bool) -> Result<(), InfraError>;
}

/// How attempts at one key are held back: none for the first `free - 1`, then `base` after the
/// `free`-th, doubling with every further one, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub free: u64,
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The hold after `attempts` attempts.
    pub fn hold_after(&self, attempts: u64) -> Duration {
        if attempts < self.free.max(1) {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(attempts - self.free.max(1))
            .unwrap_or(u32::MAX)
            .min(30);
        self.base.saturating_mul(1u32 << doublings).min(self.max)
    }
}

/// What a reservation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// Counted: this is the `attempts`-th attempt in the window.
    Granted { attempts: u64 },
    /// An earlier attempt's hold is in force for `retry_after`; nothing was counted.
    Held { retry_after: Duration },
}

/// The key of a client address for limits: an IPv4 address (or an IPv4-mapped IPv6 one) as it
/// is, an IPv6 address as its network of `ipv6_prefix` bits (`2001:db8:1:2::/64`), since one
/// subscriber usually holds a whole /64 and could rotate through it.
pub fn address_key(ip: std::net::IpAddr, ipv6_prefix: u8) -> String {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4.to_string();
            }
            let prefix = ipv6_prefix.clamp(1, 128);
            let mask = if prefix == 128 {
                u128::MAX
            } else {
                !(u128::MAX >> prefix)
            };
            let network = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("{network}/{prefix}")
        }
    }
}

/// A step a login may have to pass when its account is under attack — a proof of work, a
/// CAPTCHA. None is built in: the account-wide signal slows guessing down instead. An
/// implementation is asked whether a step is due and, when it is, the login answers 429 with
/// the code `login_challenge_required` until the client has passed it (out of this service's
/// scope: a front-end or gateway that sets the proof).
pub trait LoginChallenge: Send + Sync {
    /// Whether a login to an account with `failures` recent failures from every address must
    /// pass the step.
    fn required(&self, failures: u64) -> bool;
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
    fn code(&self) -> Code {
        Code::RateLimited
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
    /// Failed logins of one account from one address tolerated before that pair backs off.
    pub login_failures_before_backoff: u64,
    /// The first back-off; each further failure doubles it.
    pub login_backoff_base: Duration,
    pub login_backoff_max: Duration,
    /// How long failures are remembered.
    pub login_failure_window: Duration,
    /// Failed logins from one address (any account), or of one account (any address), before
    /// further attempts there are slowed down.
    pub login_failures_before_slowdown: u64,
    /// The longest an attempt is held back by the slow-down; a longer wait is a 429.
    pub login_slowdown_max: Duration,
    pub registrations_per_ip: Quota,
    pub reads_per_client: Quota,
    pub writes_per_client: Quota,
    /// The bits of an IPv6 address that name its client (see [`address_key`]).
    pub ipv6_prefix: u8,
}

impl Default for RateLimitPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            login_failures_before_backoff: 5,
            login_backoff_base: Duration::from_secs(1),
            login_backoff_max: Duration::from_secs(15 * 60),
            login_failure_window: Duration::from_secs(3600),
            login_failures_before_slowdown: 20,
            login_slowdown_max: Duration::from_secs(10),
            registrations_per_ip: Quota::per_hour(20),
            reads_per_client: Quota::per_minute(600),
            writes_per_client: Quota::per_minute(120),
            ipv6_prefix: 64,
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

/// The most login attempts waiting out a slow-down at one key in one process; more are a flood
/// and refused (429).
pub const MAX_SLOWED: usize = 16;

/// Applies the policy over a store.
pub struct RateLimits {
    store: Arc<dyn RateLimitStore>,
    policy: RateLimitPolicy,
    /// Attempts waiting out a slow-down, by key (this process's).
    slowed: parking_lot::Mutex<std::collections::HashMap<String, usize>>,
}

impl RateLimits {
    pub fn new(store: Arc<dyn RateLimitStore>, policy: RateLimitPolicy) -> Self {
        Self {
            store,
            policy,
            slowed: parking_lot::Mutex::new(std::collections::HashMap::new()),
        }
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

    /// The key of a client address (IPv6 by its network), for budgets keyed by address.
    pub fn address(&self, ip: std::net::IpAddr) -> String {
        address_key(ip, self.policy.ipv6_prefix)
    }

    /// Reserves a login attempt (or a password confirmation) for `account` (its canonical
    /// username) from `address` ([`RateLimits::address`]) before the password is checked.
    /// Refused with 429 while this account has been failing from this address; held back (up
    /// to `login_slowdown_max`) while the address, or the account, has been failing a lot.
    /// The caller reports the outcome: [`LoginAttempt::succeeded`] gives the attempt back; a
    /// failure needs nothing more (it was counted when reserved).
    pub async fn login_attempt(
        &self,
        account: &str,
        address: Option<&str>,
    ) -> Result<LoginAttempt<'_>, Limited> {
        let attempt = LoginAttempt {
            limits: self,
            pair: format!("login:pair:{account}|{}", address.unwrap_or("-")),
            address: address.map(|a| format!("login:addr:{a}")),
            account: format!("login:acct:{account}"),
        };
        if !self.policy.enabled {
            return Ok(attempt);
        }
        let window = self.policy.login_failure_window;
        let pair = Backoff {
            free: self.policy.login_failures_before_backoff,
            base: self.policy.login_backoff_base,
            max: self.policy.login_backoff_max,
        };
        // The first attempt from this address at this account in the window: whoever it is,
        // it has not been failing here, so the account-wide slow-down never refuses it.
        let mut clean = true;
        match self.store.reserve(&attempt.pair, pair, window, false).await {
            Ok(Reserved::Granted { attempts }) => clean = attempts == 1,
            Ok(Reserved::Held { retry_after }) => {
                metrics::counter!("rate_limit_rejections_total", "policy" => "login").increment(1);
                return Err(Limited {
                    retry_after: retry_after.max(Duration::from_secs(1)),
                });
            }
            Err(e) => fail_open(&e),
        }
        let slow = Backoff {
            free: self.policy.login_failures_before_slowdown,
            base: self.policy.login_backoff_base,
            max: self.policy.login_slowdown_max,
        };
        let wide = [
            (attempt.address.as_deref(), false),
            (Some(attempt.account.as_str()), clean),
        ];
        for (key, exempt) in wide {
            let Some(key) = key else { continue };
            if let Err(limited) = self.slowed(key, slow, exempt).await {
                attempt.cancel(key).await;
                return Err(limited);
            }
        }
        Ok(attempt)
    }

    /// An attempt at a key that slows down rather than refuses: while the key is held, the
    /// attempt waits out the hold (at most `login_slowdown_max`) and then goes on, counted. Only
    /// a flood is refused: more than [`MAX_SLOWED`] attempts waiting at one key in this process
    /// — unless `exempt` (the account-wide key, for an address that has not been failing there).
    async fn slowed(&self, key: &str, backoff: Backoff, exempt: bool) -> Result<(), Limited> {
        let window = self.policy.login_failure_window;
        let retry_after = match self.store.reserve(key, backoff, window, false).await {
            Ok(Reserved::Granted { .. }) => return Ok(()),
            Ok(Reserved::Held { retry_after }) => retry_after.min(self.policy.login_slowdown_max),
            Err(e) => {
                fail_open(&e);
                return Ok(());
            }
        };
        {
            let mut waiting = self.slowed.lock();
            let count = waiting.entry(key.to_string()).or_insert(0);
            if *count >= MAX_SLOWED && !exempt {
                metrics::counter!("rate_limit_rejections_total", "policy" => "login").increment(1);
                return Err(Limited {
                    retry_after: retry_after.max(Duration::from_secs(1)),
                });
            }
            *count += 1;
        }
        metrics::counter!("login_slowdowns_total").increment(1);
        tokio::time::sleep(retry_after).await;
        {
            let mut waiting = self.slowed.lock();
            if let Some(count) = waiting.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    waiting.remove(key);
                }
            }
        }
        if let Err(e) = self.store.reserve(key, backoff, window, true).await {
            fail_open(&e);
        }
        Ok(())
    }

    /// The hold after `failures` failures of one account from one address: none up to the
    /// threshold, then base, 2×base, 4×base…
    pub fn backoff(&self, failures: u64) -> Option<Duration> {
        let hold = Backoff {
            free: self.policy.login_failures_before_backoff,
            base: self.policy.login_backoff_base,
            max: self.policy.login_backoff_max,
        }
        .hold_after(failures);
        (!hold.is_zero()).then_some(hold)
    }
}

/// A reserved attempt at a shared secret; see [`RateLimits::secret_attempt`].
pub struct SecretAttempt<'a> {
    limits: &'a RateLimits,
    key: String,
}

impl SecretAttempt<'_> {
    /// The secret was right: the address's failures are forgotten.
    pub async fn succeeded(self) {
        if self.limits.policy.enabled
            && let Err(e) = self.limits.store.give_back(&self.key, true).await
        {
            fail_open(&e);
        }
    }
}

/// A reserved login attempt; see [`RateLimits::login_attempt`].
pub struct LoginAttempt<'a> {
    limits: &'a RateLimits,
    pair: String,
    address: Option<String>,
    account: String,
}

impl LoginAttempt<'_> {
    /// The password was right: the pair's and the account's failures are forgotten (the
    /// owner is in), the address gets this attempt back (one good password does not excuse
    /// a spray across accounts from there).
    pub async fn succeeded(self) {
        if !self.limits.policy.enabled {
            return;
        }
        for (key, forget) in [(Some(&self.pair), true), (Some(&self.account), true)]
            .into_iter()
            .chain([(self.address.as_ref(), false)])
        {
            if let Some(key) = key
                && let Err(e) = self.limits.store.give_back(key, forget).await
            {
                fail_open(&e);
            }
        }
    }

    /// Gives back what was reserved before a later key refused the attempt (so a refused
    /// attempt does not count as a failure).
    async fn cancel(&self, refused: &str) {
        let reserved = [Some(&self.pair), self.address.as_ref(), Some(&self.account)];
        for key in reserved.into_iter().flatten() {
            if key == refused {
                return;
            }
            if let Err(e) = self.limits.store.give_back(key, false).await {
                fail_open(&e);
            }
        }
    }
}

impl RateLimits {
    /// Reserves an attempt at the shared secret `secret` (the `/metrics` token, say) from
    /// `address`, throttled like a login from one address: refused (429) while the address has
    /// been failing, with the login back-off. Report a right secret with
    /// [`SecretAttempt::succeeded`]; a wrong one was counted when reserved.
    pub async fn secret_attempt(
        &self,
        secret: &str,
        address: Option<&str>,
    ) -> Result<SecretAttempt<'_>, Limited> {
        let attempt = SecretAttempt {
            limits: self,
            key: format!("secret:{secret}:{}", address.unwrap_or("-")),
        };
        if !self.policy.enabled {
            return Ok(attempt);
        }
        let backoff = Backoff {
            free: self.policy.login_failures_before_backoff,
            base: self.policy.login_backoff_base,
            max: self.policy.login_backoff_max,
        };
        let window = self.policy.login_failure_window;
        match self
            .store
            .reserve(&attempt.key, backoff, window, false)
            .await
        {
            Ok(Reserved::Granted { .. }) => Ok(attempt),
            Ok(Reserved::Held { retry_after }) => {
                metrics::counter!("rate_limit_rejections_total", "policy" => "secret").increment(1);
                Err(Limited {
                    retry_after: retry_after.max(Duration::from_secs(1)),
                })
            }
            Err(e) => {
                fail_open(&e);
                Ok(attempt)
            }
        }
    }

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
        async fn reserve(
            &self,
            _: &str,
            _: Backoff,
            _: Duration,
            _: bool,
        ) -> Result<Reserved, InfraError> {
            Err(InfraError::unavailable("down"))
        }
        async fn give_back(&self, _: &str, _: bool) -> Result<(), InfraError> {
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
        let attempt = limits.login_attempt("a", Some("1.2.3.4")).await;
        assert!(attempt.is_ok());
        if let Ok(attempt) = attempt {
            attempt.succeeded().await;
        }
    }

    #[test]
    fn ipv6_addresses_are_keyed_by_their_network_and_ipv4_as_they_are() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(address_key(ip("203.0.113.7"), 64), "203.0.113.7");
        assert_eq!(address_key(ip("::ffff:203.0.113.7"), 64), "203.0.113.7");
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), 64),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            address_key(ip("2001:db8:1:2:ffff::1"), 64),
            address_key(ip("2001:db8:1:2::9"), 64),
            "one /64, one key"
        );
        assert_ne!(
            address_key(ip("2001:db8:1:3::1"), 64),
            address_key(ip("2001:db8:1:2::1"), 64)
        );
        assert_eq!(address_key(ip("2001:db8::1"), 128), "2001:db8::1/128");
        assert_eq!(
            address_key(ip("2001:db8:ff00::1"), 40),
            "2001:db8:ff00::/40"
        );
    }

    #[test]
    fn holds_start_at_the_free_count_and_double() {
        let backoff = Backoff {
            free: 3,
            base: Duration::from_secs(2),
            max: Duration::from_secs(10),
        };
        let holds: Vec<u64> = (1..=7).map(|n| backoff.hold_after(n).as_secs()).collect();
        assert_eq!(holds, [0, 0, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(3)), 3);
    }
}
