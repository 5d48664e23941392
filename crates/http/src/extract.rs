//! Extractor settings whose failures answer in the problem format: a malformed body is 400, a
//! body of the wrong type 415, a body too large 413, a body of the wrong shape 422.

use actix_web::error::{JsonPayloadError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::web;
use flashforge_domain::FieldError;

use crate::problem::ApiError;

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|error, _req| json_error(error).into())
}

pub fn payload_config(limit: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit)
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _req| {
        let message = match error {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            _ => "could not be read".to_string(),
        };
        ApiError::invalid(&[FieldError::new("query", message)]).into()
    })
}

/// A path that does not parse (an id that is not a UUID, say) names nothing that exists.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_error, _req| ApiError::not_found().into())
}

fn json_error(error: JsonPayloadError) -> ApiError {
    match error {
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as JSON, with `Content-Type: application/json`.",
        ),
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => too_large(limit),
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
        }
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::invalid(&[FieldError::new(field_of(&e.to_string()), e.to_string())])
        }
        JsonPayloadError::Deserialize(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("The body is not valid JSON: {e}."),
        ),
        JsonPayloadError::Serialize(_) => ApiError::internal(),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "unreadable_body",
            "The request body could not be read.",
        ),
    }
}

pub(crate) fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The body is larger than the {limit}-byte limit of this endpoint."),
    )
}

/// serde names the field in backticks for missing, unknown and duplicate fields; other data
/// errors are about the body as a whole.
fn field_of(message: &str) -> String {
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.split_once(prefix))
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(field, _)| field.to_string());
    named.unwrap_or_else(|| "body".to_string())
}

/// The `Idempotency-Key` header, if any; a value that is not visible ASCII is a 422.
pub fn idempotency_key(
    req: &actix_web::HttpRequest,
) -> Result<Option<String>, crate::problem::ApiError> {
    match req.headers().get("Idempotency-Key") {
        None => Ok(None),
        Some(value) => value.to_str().map(|v| Some(v.to_string())).map_err(|_| {
            flashforge_domain::ValidationErrors::single(
                "Idempotency-Key",
                "must be visible ASCII characters",
            )
            .into()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn serde_messages_name_their_field() {
        assert_eq!(
            field_of("missing field `password` at line 1 column 20"),
            "password"
        );
        assert_eq!(field_of("unknown field `x`, expected `a`"), "x");
        assert_eq!(
            field_of("invalid type: integer `5`, expected a string"),
            "body"
        );
    }
}
