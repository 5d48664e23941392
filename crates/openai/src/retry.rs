//! When to try again: exponential back-off with jitter, capped, and the server's `Retry-After`
//! (seconds or an HTTP-date) when it sends one.

use std::time::{Duration, SystemTime};

/// The longest exponential back-off between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait a `Retry-After` header can impose.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long to wait before each retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The back-off before the first retry (before jitter); doubled each retry.
    pub base: Duration,
    /// The longest back-off.
    pub cap: Duration,
    /// The longest wait a `Retry-After` header can impose.
    pub retry_after_cap: Duration,
}

impl Backoff {
    /// Doubling from `base`, with the default caps.
    pub fn new(base: Duration) -> Self {
        Self {
            base,
            cap: MAX_BACKOFF,
            retry_after_cap: MAX_RETRY_AFTER,
        }
    }

    /// The wait before retry number `attempt + 1`, with a random jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        self.delay_with(attempt, retry_after, fastrand::f64())
    }

    /// The wait before retry number `attempt + 1`, `unit` (in `[0, 1)`) choosing the jitter.
    ///
    /// A `Retry-After` is the server's word: it is honoured as given, up to its cap. Otherwise
    /// "equal jitter": half the exponential back-off, plus a random part of the other half, so
    /// that clients that failed together do not retry together, yet each waits at least half.
    pub fn delay_with(&self, attempt: u32, retry_after: Option<Duration>, unit: f64) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.retry_after_cap);
        }
        let exponential = self
            .base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap);
        let half = exponential / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// A `Retry-After` header's wait: whole (or fractional) seconds, or an HTTP-date (`now` to it;
/// zero when it is past). `None` for anything else.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // Bounded before the conversion, which panics past `Duration::MAX`; capped later anyway.
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn the_back_off_doubles_from_the_base_with_jitter_in_its_upper_half() {
        let backoff = Backoff::new(MS(100));
        assert_eq!(backoff.delay_with(0, None, 0.0), MS(50));
        assert_eq!(
            backoff.delay_with(0, None, 0.999_999),
            MS(100) - Duration::from_nanos(50)
        );
        assert_eq!(backoff.delay_with(1, None, 0.0), MS(100));
        assert_eq!(backoff.delay_with(3, None, 0.5), MS(600));
        for attempt in 0..8 {
            let full = MS(100) * (1 << attempt);
            let wait = backoff.delay(attempt, None);
            assert!(wait >= full / 2 && wait <= full, "{attempt}: {wait:?}");
        }
    }

    #[test]
    fn the_back_off_is_capped_even_after_many_attempts() {
        let backoff = Backoff::new(Duration::from_secs(1));
        assert_eq!(backoff.delay_with(5, None, 1.0), MAX_BACKOFF);
        assert_eq!(backoff.delay_with(u32::MAX, None, 1.0), MAX_BACKOFF);
        assert_eq!(backoff.delay_with(u32::MAX, None, 0.0), MAX_BACKOFF / 2);
        let huge = Backoff::new(Duration::MAX);
        assert_eq!(huge.delay_with(10, None, 1.0), MAX_BACKOFF);
    }

    #[test]
    fn retry_after_wins_without_jitter_and_is_capped() {
        let backoff = Backoff::new(MS(10));
        assert_eq!(backoff.delay_with(0, Some(MS(1500)), 0.3), MS(1500));
        assert_eq!(
            backoff.delay_with(4, Some(Duration::ZERO), 0.9),
            Duration::ZERO
        );
        assert_eq!(
            backoff.delay_with(0, Some(Duration::from_secs(3600)), 0.0),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 02 Dec 2026 16:00:00 GMT").unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5", now), Some(MS(1500)));
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 16:00:20 GMT", now),
            Some(Duration::from_secs(20))
        );
        // A date already past: retry at once.
        assert_eq!(
            parse_retry_after("Wed, 02 Dec 2026 15:59:00 GMT", now),
            Some(Duration::ZERO)
        );
        for nonsense in [
            "",
            "-3",
            "soon",
            "NaN",
            "inf",
            "Wed, 32 Dec 2026 16:00:00 GMT",
        ] {
            assert_eq!(parse_retry_after(nonsense, now), None, "{nonsense:?}");
        }
    }
}
