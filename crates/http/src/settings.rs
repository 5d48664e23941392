//! What the composing binary configures: limits on requests and transport security. A leaf: it
//! imports nothing from the crate.

use std::time::Duration;

/// Limits on request bodies and on how long connections may be held.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest JSON body accepted, in bytes.
    pub json_bytes: usize,
    /// The largest body of any other kind, in bytes.
    pub body_bytes: usize,
    /// A body that makes no progress for this long is cut off (408).
    pub body_timeout: Duration,
    /// While a stream waits for its next event, a comment line this often.
    pub sse_keepalive: Duration,
    /// A stream that has sent no event for this long ends.
    pub sse_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            json_bytes: 64 * 1024,
            body_bytes: 1024 * 1024,
            body_timeout: Duration::from_secs(30),
            sse_keepalive: Duration::from_secs(15),
            sse_idle: Duration::from_secs(120),
        }
    }
}

/// Transport security settings.
#[derive(Debug, Clone, Default)]
pub struct HttpSecurity {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins a browser may call the API from; `*` allows any (never with credentials).
    pub cors_allowed_origins: Vec<String>,
    pub cors_allow_credentials: bool,
    /// Send `Strict-Transport-Security` (TLS here, or a TLS proxy in front).
    pub hsts: bool,
    /// The most bytes of header names and values a request may carry (431 beyond).
    pub max_header_bytes: usize,
}
