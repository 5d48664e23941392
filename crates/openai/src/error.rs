//! What can go wrong on the wire, and what each failure means to a caller.

use std::time::Duration;

use crate::sse::SseTooLarge;

/// A failed exchange with the provider. Texts from the provider (a status's body) are
/// redacted and shortened before they are put in; the key is never in an error.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
    #[error("{url} did not answer within {} ms", after.as_millis())]
    Timeout { url: String, after: Duration },
    #[error("cannot reach {url}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered HTTP {status}: {detail}")]
    Status {
        url: String,
        status: u16,
        /// The start of the answer's body, redacted.
        detail: String,
        /// The wait the provider asked for, if it did.
        retry_after: Option<Duration>,
    },
    #[error("the answer of {url} was cut")]
    Body {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("the answer of {url} is not the expected JSON")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the answer stream of {url} is malformed")]
    Stream {
        url: String,
        #[source]
        source: SseTooLarge,
    },
}

/// What a failure means to the caller, for its own error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No answer in time.
    Timeout,
    /// The provider failed or could not be reached (5xx, 429, a refused connection, a cut
    /// answer): another try, later, may work.
    Unavailable,
    /// The provider refused the request itself (4xx): retrying will not help.
    Rejected,
    /// The provider answered 2xx with something that is not what the protocol says.
    Malformed,
}

impl WireError {
    /// What this failure means.
    pub fn failure(&self) -> Failure {
        match self {
            WireError::Timeout { .. } => Failure::Timeout,
            WireError::Build(_) | WireError::Connect { .. } | WireError::Body { .. } => {
                Failure::Unavailable
            }
            WireError::Status { status, .. } if is_transient_status(*status) => {
                Failure::Unavailable
            }
            WireError::Status { .. } => Failure::Rejected,
            WireError::Decode { .. } | WireError::Stream { .. } => Failure::Malformed,
        }
    }

    /// Whether another try may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, WireError::Build(_))
            && matches!(self.failure(), Failure::Timeout | Failure::Unavailable)
    }

    /// The wait the provider asked for, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            WireError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error and its causes on one line, for a log or an error message that holds text.
    pub fn describe(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// 408, 429 and every 5xx are worth another try.
fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> WireError {
        WireError::Status {
            url: "http://p/v1/x".into(),
            status: code,
            detail: "nope".into(),
            retry_after: Some(Duration::from_secs(2)),
        }
    }

    #[test]
    fn statuses_are_classified_for_retrying() {
        for code in [408, 429, 500, 502, 503, 504] {
            assert_eq!(status(code).failure(), Failure::Unavailable, "{code}");
            assert!(status(code).is_retryable(), "{code}");
        }
        for code in [400, 401, 403, 404, 422] {
            assert_eq!(status(code).failure(), Failure::Rejected, "{code}");
            assert!(!status(code).is_retryable(), "{code}");
        }
        let timeout = WireError::Timeout {
            url: "u".into(),
            after: Duration::from_secs(1),
        };
        assert!(timeout.is_retryable());
        assert_eq!(timeout.failure(), Failure::Timeout);
        assert_eq!(status(429).retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn a_decode_error_keeps_its_source_and_is_not_retried() {
        let source = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let error = WireError::Decode {
            url: "http://p/v1/embeddings".into(),
            source,
        };
        assert_eq!(error.failure(), Failure::Malformed);
        assert!(!error.is_retryable());
        assert!(std::error::Error::source(&error).is_some());
        assert!(
            error
                .describe()
                .starts_with("the answer of http://p/v1/embeddings is not the expected JSON: EOF")
        );
    }
}
