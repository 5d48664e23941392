//! The OpenAI-compatible wire, shared by the language-model adapter (`flashforge-ai`) and the
//! embedding adapter (`flashforge-embed`), so that both talk to a provider the same way:
//!
//! - [`OpenAiClient`]: reqwest with a connect timeout and a timeout per attempt, the key as a
//!   bearer token, retries of 408/429/5xx, timeouts and refused connections with jittered
//!   exponential back-off ([`Backoff`]) that honours `Retry-After` (seconds or an HTTP-date),
//!   both capped;
//! - [`Redactor`]: the one rule that keeps keys out of errors and logs;
//! - [`WireError`] and its [`Failure`] class, which each adapter maps to its port's error;
//! - [`SseDecoder`]: server-sent events decoded from bytes, so that a character the network
//!   splits arrives whole.
//!
//! Written on reqwest rather than a client crate: the protocol surface used is three endpoints,
//! and async-openai would bring a second reqwest major and a tower stack for retries (see
//! docs/ARCHITECTURE.md).

mod client;
mod error;
mod redact;
mod retry;
mod sse;

pub use client::{ClientSettings, OpenAiClient};
pub use error::{Failure, WireError};
pub use redact::{REDACTED, Redactor};
pub use retry::{Backoff, MAX_BACKOFF, MAX_RETRY_AFTER, parse_retry_after};
pub use secrecy::SecretString;
pub use sse::{MAX_EVENT_BYTES, SseDecoder, SseEvent, SseTooLarge, events};
