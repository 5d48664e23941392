//! The one place where failures become HTTP answers: RFC 9457 problem details.
//!
//! Domain errors carry an [`ErrorKind`]; [`status_of`] maps each kind to a status, exhaustively.
//! The body never holds internals: causes go to the log.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use flashforge_domain::{DomainError, ErrorKind, FieldError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::constants::REQUEST_ID;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:flashforge:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem (the status's reason phrase).
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in plain words.
    pub detail: String,
    /// The path of the request that failed.
    pub instance: String,
    /// A stable machine-readable code; clients may branch on it.
    pub code: String,
    /// The request's id, as echoed in `X-Request-Id`; quote it when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// One entry per invalid field (422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// The quota the request would pass (403 `quota_exceeded` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<ProblemQuota>,
}

/// A quota a request would pass, and the caller's use of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemQuota {
    /// `storage_bytes`, `documents`, `chunks`, `cards` or `queued_jobs`.
    pub name: String,
    /// The most the caller may have.
    pub limit: u64,
    /// What the caller has now.
    pub used: u64,
    /// What the request would have added.
    pub adding: u64,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    /// The field's name, as sent (`username`, `cursor`, `body`).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

/// The single table from domain error kinds to HTTP statuses.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::QuotaExceeded => StatusCode::FORBIDDEN,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::UpstreamFailed => StatusCode::BAD_GATEWAY,
        ErrorKind::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<ProblemField>,
    /// Seconds until a rate-limited caller may try again (`Retry-After`).
    retry_after: Option<u64>,
    quota: Option<Box<ProblemQuota>>,
    /// Where and for which request it happened, when known before the error left the app.
    context: Option<Box<(String, Option<String>)>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            quota: None,
            context: None,
        }
    }

    /// Records the request's path and id, for an error that leaves as an `Err` rather than a
    /// response (the framework renders those).
    pub fn with_context(mut self, instance: String, request_id: Option<String>) -> Self {
        self.context = Some(Box::new((instance, request_id)));
        self
    }

    /// A 422 naming the bad fields.
    pub fn invalid(errors: &[FieldError]) -> Self {
        let detail = match errors.len() {
            1 => "One field of the request is invalid; see `errors`.".to_string(),
            n => format!("{n} fields of the request are invalid; see `errors`."),
        };
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            detail,
            errors: errors
                .iter()
                .map(|e| ProblemField {
                    field: e.field.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            retry_after: None,
            quota: None,
            context: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "There is nothing at this address.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "This address does not accept this method.",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. It has been logged; quote the request id when reporting it.",
        )
    }

    /// 507: the server's storage is full (a disk or a quota), so what was sent cannot be kept.
    pub fn storage_full() -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage_full",
            "The server has no storage space left to keep this; try again later.",
        )
    }

    /// The generic problem for a status produced outside our handlers (by the framework).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, detail) = match status.as_u16() {
            400 => ("bad_request", "The request could not be read."),
            401 => ("unauthenticated", "Authentication is required."),
            403 => ("forbidden", "This request is not allowed."),
            404 => return Self::not_found(),
            405 => return Self::method_not_allowed(),
            408 => ("request_timeout", "The request took too long to arrive."),
            411 => ("length_required", "Send a Content-Length header."),
            413 => ("payload_too_large", "The request body is too large."),
            414 => ("uri_too_long", "The request address is too long."),
            415 => (
                "unsupported_media_type",
                "The request body's media type is not accepted here.",
            ),
            422 => ("validation_failed", "The request is invalid."),
            429 => ("rate_limited", "Too many requests; slow down."),
            431 => ("headers_too_large", "The request headers are too large."),
            502 => (
                "upstream_failed",
                "A service this request needs answered badly.",
            ),
            504 => (
                "upstream_timeout",
                "A service this request needs did not answer in time.",
            ),
            503 => (
                "dependency_unavailable",
                "A service this request needs is unavailable; try again shortly.",
            ),
            s if s >= 500 => return Self::internal(),
            _ => ("request_failed", "The request failed."),
        };
        Self::new(status, code, detail)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The body, for the request at `instance`.
    pub fn to_problem(&self, instance: &str, request_id: Option<&str>) -> Problem {
        Problem {
            problem_type: format!("urn:flashforge:problem:{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            instance: instance.to_string(),
            code: self.code.to_string(),
            request_id: request_id.map(str::to_string),
            errors: self.errors.clone(),
            quota: self.quota.as_deref().cloned(),
        }
    }

    /// The full response, for the request at `instance`.
    pub fn render(&self, instance: &str, request_id: Option<&str>) -> HttpResponse {
        let body = serde_json::to_vec(&self.to_problem(instance, request_id)).unwrap_or_default();
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(id).ok()) {
            response.insert_header((REQUEST_ID, id));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: say which scheme, and whether the token itself was the problem.
            let challenge = if self.code == "invalid_token" {
                r#"Bearer realm="flashforge", error="invalid_token""#
            } else {
                r#"Bearer realm="flashforge""#
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        response.body(body)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        // Inside the app the problem middleware renders it again with the request's path and id;
        // an error that escapes as `Err` carries them in its context.
        match self.context.as_deref() {
            Some((instance, request_id)) => self.render(instance, request_id.as_deref()),
            None => self.render("", None),
        }
    }
}

/// Every domain error converts, through its kind, code and field errors.
impl<E: DomainError> From<E> for ApiError {
    fn from(error: E) -> Self {
        let kind = error.kind();
        let retry_after = error
            .retry_after()
            .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
        let mut api = match kind {
            ErrorKind::InvalidInput => Self::invalid(error.field_errors()),
            ErrorKind::Internal
            | ErrorKind::Unavailable
            | ErrorKind::UpstreamFailed
            | ErrorKind::UpstreamTimeout => {
                tracing::error!(code = error.code().as_str(), error = %cause_chain(&error), "request failed");
                if matches!(kind, ErrorKind::Internal | ErrorKind::Unavailable)
                    && out_of_space(&error)
                {
                    return Self::storage_full();
                }
                let mut api = Self::from_status(status_of(kind));
                api.code = error.code().as_str();
                api
            }
            _ => Self::new(
                status_of(kind),
                error.code().as_str(),
                capitalize(&error.to_string()),
            ),
        };
        // A busy or unreachable dependency: worth trying again shortly.
        api.retry_after = match (retry_after, api.status) {
            (None, StatusCode::SERVICE_UNAVAILABLE) => Some(1),
            (given, _) => given,
        };
        api.quota = error.quota().map(|q| {
            Box::new(ProblemQuota {
                name: q.quota.as_str().to_string(),
                limit: q.limit,
                used: q.used,
                adding: q.adding,
            })
        });
        api
    }
}

pub use flashforge_domain::error::chain as cause_chain;

/// Whether a disk or a quota is full somewhere down the cause chain (ENOSPC, EDQUOT): the
/// request was fine and the server has no room for it, which clients are told apart (507).
fn out_of_space(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        cause = error.source();
    }
    false
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashforge_domain::{InfraError, ValidationErrors};

    #[test]
    fn every_kind_has_one_status() {
        let cases = [
            (ErrorKind::InvalidInput, 422),
            (ErrorKind::NotFound, 404),
            (ErrorKind::Conflict, 409),
            (ErrorKind::Unauthenticated, 401),
            (ErrorKind::RateLimited, 429),
            (ErrorKind::QuotaExceeded, 403),
            (ErrorKind::Unavailable, 503),
            (ErrorKind::Internal, 500),
            (ErrorKind::UpstreamFailed, 502),
            (ErrorKind::UpstreamTimeout, 504),
        ];
        for (kind, status) in cases {
            assert_eq!(status_of(kind).as_u16(), status);
        }
    }

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_body() {
        let error = InfraError::internal("password=hunter2 leaked into a driver message");
        let problem = ApiError::from(error).to_problem("/x", Some("rid"));
        let body = serde_json::to_string(&problem).unwrap();
        assert!(!body.contains("hunter2"));
        assert_eq!(problem.status, 500);
        assert_eq!(problem.code, "internal_error");
    }

    #[test]
    fn a_full_disk_down_the_cause_chain_is_507_and_other_io_failures_are_not() {
        /// A store's error wrapping the I/O error, as adapters' errors do.
        #[derive(Debug)]
        struct Store(std::io::Error);
        impl std::fmt::Display for Store {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("cannot write the blob")
            }
        }
        impl std::error::Error for Store {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }

        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let problem = ApiError::from(InfraError::unavailable(Store(full))).to_problem("/x", None);
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (507, "storage_full")
        );
        let quota = std::io::Error::from(std::io::ErrorKind::QuotaExceeded);
        assert_eq!(
            ApiError::from(InfraError::internal(quota))
                .status()
                .as_u16(),
            507
        );

        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let unavailable = ApiError::from(InfraError::unavailable(Store(denied)));
        let response = unavailable.render("/x", None);
        assert_eq!(
            response.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "a 503 says when to try again"
        );
        let problem = unavailable.to_problem("/x", None);
        assert_eq!(
            (problem.status, problem.code.as_str()),
            (503, "dependency_unavailable")
        );
    }

    #[test]
    fn validation_errors_list_each_field() {
        let mut errors = ValidationErrors::new();
        errors.push(FieldError::new("a", "bad"));
        errors.push(FieldError::new("b", "worse"));
        let problem = ApiError::from(errors).to_problem("/x", None);
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors.len(), 2);
        assert_eq!(
            problem.problem_type,
            "urn:flashforge:problem:validation_failed"
        );
    }
}
