//! `[server]`: the listener, its limits and timeouts, TLS, CORS and the proxies in front.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::environment::Environment;
use super::problems::{LoadNotes, Problems, is_http_url};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// After SIGTERM/SIGINT, how long the server goes on accepting while readiness reports it
    /// stopping (load balancers take it out), before it closes the listener.
    pub shutdown_delay_ms: u64,
    pub keep_alive_secs: u64,
    pub client_request_timeout_ms: u64,
    /// A request body that makes no progress for this long is cut off (408).
    pub body_timeout_secs: u64,
    /// While an answer streams, a comment line this often keeps proxies from closing it.
    pub sse_keepalive_secs: u64,
    /// A stream that has sent no event for this long ends.
    pub sse_idle_timeout_secs: u64,
    /// The most bytes of header names and values one request may carry.
    pub max_header_bytes: usize,
    pub json_limit_bytes: usize,
    pub body_limit_bytes: usize,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed. A bare address
    /// is its own range: `127.0.0.1` is `127.0.0.1/32`, `::1` is `::1/128`.
    #[serde(default, deserialize_with = "addresses_or_ranges")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins browsers may call the API from.
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    #[serde(default)]
    pub cors_allow_credentials: bool,
    /// PEM certificate chain and private key: both set turns TLS on.
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// With TLS on: a plain-HTTP port that redirects to HTTPS (0 = none).
    #[serde(default)]
    pub http_redirect_port: u16,
    /// A TLS-terminating proxy is in front: send HSTS even though this process speaks HTTP.
    #[serde(default)]
    pub behind_tls_proxy: bool,
}

/// One address or range, or a list of them, each an IP address or a CIDR range.
fn addresses_or_ranges<'de, D>(deserializer: D) -> Result<Vec<ipnet::IpNet>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    };
    items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty())
        .map(|item| parse_address_or_range(item).map_err(serde::de::Error::custom))
        .collect()
}

/// `10.0.0.0/8`, `fd00::/8`, or a bare address as its own range (`/32`, `/128`).
pub(super) fn parse_address_or_range(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            format!("`{text}` is neither an IP address nor a CIDR range such as 10.0.0.0/8")
        })
}

impl ServerSettings {
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert_file.is_some() && self.tls_key_file.is_some()
    }

    /// The rules of `server.*`. A TLS proxy without trusted proxies is an error in production
    /// and a warning elsewhere.
    pub(super) fn validate(
        &self,
        environment: Environment,
        problems: &mut Problems,
        notes: &mut LoadNotes,
    ) {
        if self.behind_tls_proxy && self.trusted_proxies.is_empty() {
            let why = "server.behind_tls_proxy is on but server.trusted_proxies is empty: every client would share the proxy's address (one login back-off and one request budget for everyone). Set FLASHFORGE__SERVER__TRUSTED_PROXIES to the proxies' addresses or ranges (comma-separated)";
            if environment == Environment::Production {
                problems.bad("server.trusted_proxies", why);
            } else {
                notes.warnings.push(why.into());
            }
        }
        if self.host.trim().is_empty() {
            problems.bad("server.host", "must not be empty");
        }
        if self.workers > 1024 {
            problems.bad(
                "server.workers",
                "must be at most 1024 (0 means one per core)",
            );
        }
        if self.shutdown_timeout_secs == 0 || self.shutdown_timeout_secs > 3600 {
            problems.bad("server.shutdown_timeout_secs", "must be between 1 and 3600");
        }
        if self.shutdown_delay_ms > 300_000 {
            problems.bad(
                "server.shutdown_delay_ms",
                "must be at most 300000 (five minutes)",
            );
        }
        if !(1024..=128 * 1024).contains(&self.max_header_bytes) {
            problems.bad(
                "server.max_header_bytes",
                "must be between 1024 and 131072 (the HTTP parser's own bound)",
            );
        }
        if self.body_timeout_secs == 0 || self.body_timeout_secs > 3600 {
            problems.bad("server.body_timeout_secs", "must be between 1 and 3600");
        }
        if self.sse_keepalive_secs == 0 || self.sse_keepalive_secs > 300 {
            problems.bad("server.sse_keepalive_secs", "must be between 1 and 300");
        }
        if self.sse_idle_timeout_secs < self.sse_keepalive_secs || self.sse_idle_timeout_secs > 3600
        {
            problems.bad(
                "server.sse_idle_timeout_secs",
                "must be at least server.sse_keepalive_secs and at most 3600",
            );
        }
        if self.client_request_timeout_ms == 0 {
            problems.bad("server.client_request_timeout_ms", "must be more than 0");
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.json_limit_bytes) {
            problems.bad(
                "server.json_limit_bytes",
                "must be between 1 KiB and 64 MiB",
            );
        }
        if !(1024..=1024 * 1024 * 1024).contains(&self.body_limit_bytes) {
            problems.bad("server.body_limit_bytes", "must be between 1 KiB and 1 GiB");
        }
        self.validate_tls(problems);
        self.validate_cors(problems);
    }

    fn validate_tls(&self, problems: &mut Problems) {
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            problems.bad(
                "server.tls_key_file",
                "TLS needs both server.tls_cert_file and server.tls_key_file",
            );
        }
        for (key, path) in [
            ("server.tls_cert_file", &self.tls_cert_file),
            ("server.tls_key_file", &self.tls_key_file),
        ] {
            if let Some(path) = path
                && !path.is_file()
            {
                problems.bad(key, format!("{} is not a readable file", path.display()));
            }
        }
        if self.http_redirect_port != 0 && !self.tls_enabled() {
            problems.bad(
                "server.http_redirect_port",
                "needs TLS (server.tls_cert_file and server.tls_key_file)",
            );
        }
    }

    fn validate_cors(&self, problems: &mut Problems) {
        if self.cors_allow_credentials && self.cors_allowed_origins.iter().any(|o| o == "*") {
            problems.bad(
                "server.cors_allowed_origins",
                "`*` cannot be combined with server.cors_allow_credentials",
            );
        }
        for origin in &self.cors_allowed_origins {
            let well_formed = origin == "*" || (is_http_url(origin) && !origin.ends_with('/'));
            if !well_formed {
                problems.bad(
                    "server.cors_allowed_origins",
                    format!("`{origin}` is not an origin like https://app.example.com"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_address_or_range;

    #[test]
    fn a_bare_address_is_its_own_range_and_ranges_stay_as_written() {
        for (text, range) in [
            ("127.0.0.1", "127.0.0.1/32"),
            ("::1", "::1/128"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("fd00::/8", "fd00::/8"),
            ("127.0.0.1/32", "127.0.0.1/32"),
        ] {
            assert_eq!(
                parse_address_or_range(text).map(|net| net.to_string()),
                Ok(range.to_string()),
                "{text}"
            );
        }
        for bad in ["localhost", "10.0.0.0/33", "1.2.3", ""] {
            let error = parse_address_or_range(bad).unwrap_err();
            assert!(error.contains("IP address"), "{bad}: {error}");
        }
    }
}
