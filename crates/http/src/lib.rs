//! FlashForge's REST API on actix-web.
//!
//! Handlers are thin: extract, call a domain service, map the result. Every failure, from a
//! domain error to an unknown route, a malformed body or a panic, leaves as one RFC 9457
//! `application/problem+json` body ([`problem`]). Routes and the OpenAPI document come from the
//! same declarations ([`openapi`]).
//!
//! Modules import in one direction only, from the top down: this file composes the app;
//! [`openapi`] assembles the document from [`routes`]; routes, [`middleware`] and [`metrics`]
//! use [`auth`], [`extract`], [`pagination`] and [`responses`]; all of them use [`problem`];
//! [`constants`] and [`settings`] are leaves.

pub mod auth;
pub mod constants;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod responses;
pub mod routes;
pub mod schemas;
pub mod settings;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, web};
use flashforge_domain::Services;

pub use problem::{ApiError, Problem};
pub use settings::{HttpSecurity, Limits};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    pub limits: Limits,
    pub security: HttpSecurity,
    /// `/metrics` on this port, behind a token; `None`: not served here.
    pub metrics: Option<metrics::MetricsEndpoint>,
}

fn cors(security: &HttpSecurity) -> actix_cors::Cors {
    use actix_web::http::header;
    let mut cors = actix_cors::Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("x-request-id"),
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            header::LOCATION,
            header::WWW_AUTHENTICATE,
            // A download's file name, and the answer id of a streamed answer.
            header::CONTENT_DISPOSITION,
            header::HeaderName::from_static("x-answer-id"),
            // What a deprecated route says about itself.
            header::HeaderName::from_static("deprecation"),
            header::LINK,
        ])
        .max_age(3600);
    for origin in &security.cors_allowed_origins {
        cors = if origin == "*" {
            cors.allow_any_origin().send_wildcard()
        } else {
            cors.allowed_origin(origin)
        };
    }
    if security.cors_allow_credentials {
        cors = cors.supports_credentials();
    }
    cors
}

/// Extra routes mounted beside the API: the test harness uses it for routes that exist only in
/// tests (a handler that panics, say). Production passes [`no_extra_routes`].
pub type ExtraRoutes = fn(&mut web::ServiceConfig);

/// Mounts nothing.
pub fn no_extra_routes(_: &mut web::ServiceConfig) {}

/// Builds the actix `App`: the one used by `flashforge serve` and by every test.
pub fn create_app(
    state: AppState,
    extra: ExtraRoutes,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    openapi::documented_app(App::new().service(openapi::spec_service()))
        .into_app()
        .app_data(web::Data::from(state.services.clone()))
        .app_data(web::Data::new(state.security.clone()))
        .app_data(web::Data::new(state.limits))
        .app_data(web::Data::new(metrics::MetricsGate(state.metrics.clone())))
        .app_data(extract::json_config(state.limits.json_bytes))
        .app_data(extract::payload_config(state.limits.body_bytes))
        .app_data(extract::query_config())
        .app_data(extract::path_config())
        .service(openapi::docs_service())
        .route("/metrics", web::get().to(metrics::metrics))
        .configure(extra)
        // The study app: `/`, its client-side routes and `/assets/…`; an asset that is not
        // embedded matches nothing here and gets the fallback's 404 problem.
        .configure(flashforge_web::routes)
        .default_service(web::to(routes::fallback))
        .wrap(from_fn(middleware::catch_panics))
        .wrap(from_fn(middleware::body_timeout))
        .wrap(from_fn(middleware::header_limit))
        .wrap(from_fn(middleware::rate_limit))
        .wrap(cors(&state.security))
        .wrap(from_fn(middleware::problem_responses))
        .wrap(from_fn(middleware::security_headers))
        .wrap(from_fn(middleware::request_context))
}
