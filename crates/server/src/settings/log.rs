//! `[log]`: the log level and format, and where traces are exported.

use serde::{Deserialize, Serialize};

use super::problems::{Problems, is_http_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
    /// OTLP/HTTP traces endpoint, e.g. `http://otel-collector:4318/v1/traces`: spans are exported
    /// there. Unset or empty: no export.
    #[serde(default)]
    pub otlp_endpoint: Option<String>,
    /// `service.name` of the exported spans.
    #[serde(default = "default_otlp_service_name")]
    pub otlp_service_name: String,
}

fn default_otlp_service_name() -> String {
    "flashforge".into()
}

impl LogSettings {
    /// The OTLP traces endpoint, unless unset or empty.
    pub fn otlp_endpoint(&self) -> Option<&str> {
        self.otlp_endpoint
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }

    /// The rules of `log.*`.
    pub(super) fn validate(&self, problems: &mut Problems) {
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.level) {
            problems.bad("log.level", format!("is not a valid filter: {e}"));
        }
        if let Some(url) = self.otlp_endpoint()
            && !is_http_url(url)
        {
            problems.bad("log.otlp_endpoint", "must start with http:// or https://");
        }
        if self.otlp_service_name.trim().is_empty() {
            problems.bad("log.otlp_service_name", "must not be empty");
        }
    }
}
