//! `[health]`: how readiness checks the dependencies.

use serde::{Deserialize, Serialize};

use super::problems::Problems;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    pub readiness_timeout_ms: u64,
}

impl HealthSettings {
    /// The rules of `health.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if self.readiness_timeout_ms == 0 {
            problems.bad("health.readiness_timeout_ms", "must be more than 0");
        }
    }
}
