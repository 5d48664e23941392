//! `[metrics]`: the Prometheus metrics listener and the API port's `/metrics` token.

use serde::{Deserialize, Serialize};

use super::problems::Problems;
use super::secret::Secret;

/// Prometheus metrics: on a listener of their own (for the private network), and/or at
/// `/metrics` on the API's port behind a bearer token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    /// The metrics listener, e.g. `0.0.0.0:9464`; empty: none.
    #[serde(default)]
    pub bind: String,
    /// With a token, the API's port also serves `/metrics` to `Authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Option<Secret>,
}

impl MetricsSettings {
    /// The rules of `metrics.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if !self.bind.is_empty() && self.bind.parse::<std::net::SocketAddr>().is_err() {
            problems.bad(
                "metrics.bind",
                "must be an address and port such as 0.0.0.0:9464, or empty",
            );
        }
        if self.token.as_ref().is_some_and(|t| t.expose().len() < 16) {
            problems.bad("metrics.token", "must be at least 16 characters");
        }
    }
}
