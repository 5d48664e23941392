//! Time as a port, so that tests can stand still or jump ahead.

use chrono::{DateTime, SubsecRound, Utc};

/// Where services read the current time from.
pub trait Clock: Send + Sync {
    /// The current time, truncated to microseconds (what every database we use keeps).
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
