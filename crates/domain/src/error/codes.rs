//! The single table of what can go wrong: every [`ErrorKind`], and every [`Code`] a domain error
//! answers with, its kind and what it means. The HTTP crate maps kinds to statuses and lists this
//! table in the OpenAPI document, so a code clients branch on is declared here and nowhere else.

/// What kind of failure an error is. The HTTP crate maps each kind to exactly one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input broke a rule; the caller can fix it (usually with per-field errors).
    InvalidInput,
    /// The resource does not exist for this caller (another user's resource included).
    NotFound,
    /// The request conflicts with the current state (a duplicate, say).
    Conflict,
    /// The upload is larger than the configured maximum (413).
    PayloadTooLarge,
    /// The upload is of a kind the service does not take (415).
    UnsupportedMediaType,
    /// The caller is not authenticated, or their credentials are wrong.
    Unauthenticated,
    /// The caller has sent too much; try again later.
    RateLimited,
    /// The write would pass one of the caller's quotas (403); see
    /// [`DomainError::quota`](super::DomainError::quota).
    QuotaExceeded,
    /// A dependency (database, vector index, model server) is down or timed out.
    Unavailable,
    /// An upstream service we called on the caller's behalf failed (502).
    UpstreamFailed,
    /// An upstream service we called on the caller's behalf did not answer in time (504).
    UpstreamTimeout,
    /// A bug or an unexpected state; details go to the log, never to the caller.
    Internal,
}

/// Writes [`Code`] and its table from one list: variant, wire code, kind, meaning.
macro_rules! codes {
    ($($variant:ident = $code:literal, $kind:ident, $meaning:literal;)*) => {
        /// A stable machine-readable error code; clients may branch on it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(#[doc = $meaning] $variant,)*
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code on the wire, such as `username_taken`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $code,)*
                }
            }

            /// The kind of failure the code is, and so its HTTP status.
            pub fn kind(self) -> ErrorKind {
                match self {
                    $(Code::$variant => ErrorKind::$kind,)*
                }
            }

            /// What the code means, in plain words.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(Code::$variant => $meaning,)*
                }
            }
        }
    };
}

codes! {
    ValidationFailed = "validation_failed", InvalidInput, "One or more fields are invalid; `errors` names each.";
    EmptyFile = "empty_file", InvalidInput, "The uploaded file has no bytes.";
    NotEnoughReviews = "not_enough_reviews", InvalidInput, "Too few reviews to optimize the schedule's parameters yet.";
    NotFound = "not_found", NotFound, "The resource does not exist for the caller.";
    ChatNotFound = "chat_not_found", NotFound, "The chat does not exist for the caller.";
    MessageNotFound = "message_not_found", NotFound, "The message does not exist in this chat.";
    DocumentNotFound = "document_not_found", NotFound, "The document does not exist for the caller.";
    FlashcardNotFound = "flashcard_not_found", NotFound, "The flashcard does not exist for the caller.";
    GenerationNotFound = "generation_not_found", NotFound, "The flashcard generation does not exist for the caller.";
    ImportNotFound = "import_not_found", NotFound, "The deck import does not exist for the caller.";
    UsernameTaken = "username_taken", Conflict, "Another account has this username.";
    NotLastAnswer = "not_last_answer", Conflict, "Only the last answer of a chat can be regenerated.";
    AnswerAbandoned = "answer_abandoned", Conflict, "The answer was stopped because nobody was reading it.";
    ReviewConflict = "review_conflict", Conflict, "The card changed since it was read; read it again and retry.";
    NothingToUndo = "nothing_to_undo", Conflict, "The caller has no review of today left to undo.";
    OptimizationRunning = "optimization_running", Conflict, "An optimization of the caller's schedule is already running.";
    IdempotencyKeyReused = "idempotency_key_reused", Conflict, "The Idempotency-Key was already used for a different request.";
    DocumentNotRetryable = "document_not_retryable", Conflict, "Only a failed document can be retried.";
    FileTooLarge = "file_too_large", PayloadTooLarge, "The uploaded file is larger than the limit.";
    UnsupportedFileType = "unsupported_file_type", UnsupportedMediaType, "The uploaded file is of a kind the service does not read.";
    InvalidCredentials = "invalid_credentials", Unauthenticated, "Wrong username or password.";
    InvalidRefreshToken = "invalid_refresh_token", Unauthenticated, "The refresh token is invalid, expired or revoked; log in again.";
    MissingToken = "missing_token", Unauthenticated, "No access token was sent.";
    InvalidToken = "invalid_token", Unauthenticated, "The access token is invalid, expired or its session has ended.";
    RateLimited = "rate_limited", RateLimited, "Too many requests; retry after `Retry-After` seconds.";
    TokenBudgetSpent = "token_budget_spent", RateLimited, "Today's model token budget is spent; it resets at midnight UTC.";
    ModelCallsBusy = "model_calls_busy", RateLimited, "Too many model calls of the caller's are under way.";
    QuotaExceeded = "quota_exceeded", QuotaExceeded, "The write would pass one of the caller's quotas; `quota` names it.";
    DependencyUnavailable = "dependency_unavailable", Unavailable, "A dependency is down or busy; retry after `Retry-After` seconds.";
    ModelUnavailable = "model_unavailable", UpstreamFailed, "The language model could not be reached.";
    ModelRejected = "model_rejected", UpstreamFailed, "The language model refused the request.";
    UpstreamFailed = "upstream_failed", UpstreamFailed, "A service called on the caller's behalf failed.";
    ModelTimeout = "model_timeout", UpstreamTimeout, "The language model did not answer in time.";
    UpstreamTimeout = "upstream_timeout", UpstreamTimeout, "A service called on the caller's behalf did not answer in time.";
    InternalError = "internal_error", Internal, "An unexpected failure; quote `request_id` when reporting it.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_written_once_in_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} is in the table twice");
            assert!(
                text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{text} is not snake_case"
            );
            assert!(code.meaning().ends_with('.'), "{text}: {}", code.meaning());
        }
    }
}
