//! Names several layers share: the header a request id travels in and where the OpenAPI
//! document is served. A leaf: it imports nothing from the crate.

use actix_web::http::header::HeaderName;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Where the OpenAPI document is served.
pub const SPEC_PATH: &str = "/api/v1/openapi.json";
