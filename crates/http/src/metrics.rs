//! `GET /metrics` (Prometheus text) on the API's port, for a scraper holding the configured
//! bearer token. Without a configured token the route answers 404, as for any unknown path: the
//! public never sees metrics. (A metrics listener of its own, for the private network, is the
//! server crate's.)

use std::sync::Arc;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use async_trait::async_trait;

use crate::problem::ApiError;

/// Renders the metrics text.
#[async_trait]
pub trait MetricsSource: Send + Sync {
    async fn render(&self) -> String;
}

/// The metrics and the token that unlocks them on the API's port.
#[derive(Clone)]
pub struct MetricsEndpoint {
    pub source: Arc<dyn MetricsSource>,
    pub token: String,
}

/// What the app holds: the endpoint when this port serves metrics.
pub struct MetricsGate(pub Option<MetricsEndpoint>);

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Equal in time whatever the first difference, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The metrics, for the holder of the token. Wrong tokens are throttled per client address
/// like failed logins (429 with `Retry-After` while the address has been failing), so the token
/// cannot be guessed at request rate.
pub async fn metrics(
    req: HttpRequest,
    gate: web::Data<MetricsGate>,
    services: web::Data<flashforge_domain::Services>,
) -> Result<HttpResponse, ApiError> {
    let Some(endpoint) = &gate.0 else {
        return Err(ApiError::not_found());
    };
    let address = req
        .extensions()
        .get::<crate::auth::ClientIp>()
        .and_then(|c| c.0)
        .map(|ip| services.limits.address(ip));
    let attempt = services
        .limits
        .secret_attempt("metrics", address.as_deref())
        .await?;
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same(presented.as_bytes(), endpoint.token.as_bytes()) {
        return Err(ApiError::not_found());
    }
    attempt.succeeded().await;
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(endpoint.source.render().await))
}
