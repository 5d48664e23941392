//! Every route, declared once: [`mount`] registers the handlers and collects their OpenAPI
//! operations in the same call.

pub mod auth;
// The prototype's `/health` is marked deprecated for OpenAPI; registering it is not a use.
#[allow(deprecated)]
pub mod health;

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::{App, HttpRequest, HttpResponse};
use utoipa_actix_web::{AppExt, UtoipaApp, scope};

use crate::openapi;
use crate::problem::ApiError;

/// Registers every documented route on `app`.
pub fn mount<T>(app: App<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.into_utoipa_app()
        .openapi(openapi::base())
        .service(health::live)
        .service(health::ready)
        .service(health::legacy)
        .service(scope("/api/v1").service(auth::register))
}

/// No route matched: 405 when the path exists under another method, else 404.
pub async fn fallback(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if req.resource_map().has_resource(req.path()) {
        Err(ApiError::method_not_allowed())
    } else {
        Err(ApiError::not_found())
    }
}
