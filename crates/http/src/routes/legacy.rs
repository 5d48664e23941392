//! The prototype's routes, kept so today's web client works while it moves to `/api/v1`. Each
//! answer carries `Deprecation` and a `Link` to its successor.

use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, get, post, web};
use flashforge_domain::Services;
use flashforge_domain::accounts::{LoginCommand, RegisterCommand};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Authenticated, client_info};
use crate::problem::ApiError;
use crate::responses::LegacyProblem;

/// The prototype's credentials body.
#[derive(Deserialize, ToSchema)]
pub struct LegacyCredentials {
    #[schema(max_length = 50)]
    pub username: String,
    #[schema(max_length = 1024, format = Password)]
    pub password: String,
}

/// The prototype's token answer: an access token only (15 minutes; no refresh).
#[derive(Serialize, ToSchema)]
pub struct LegacyToken {
    pub token: String,
}

#[derive(Serialize, ToSchema)]
pub struct LegacyProfile {
    pub user_id: Uuid,
    pub username: String,
}

pub(super) fn deprecated(
    mut response: HttpResponseBuilder,
    successor: &str,
) -> HttpResponseBuilder {
    // RFC 9745: deprecated since 2026-11-25.
    response.insert_header(("Deprecation", "@1795564800"));
    response.insert_header(("Link", format!("<{successor}>; rel=\"successor-version\"")));
    response
}

/// The prototype's registration. Use `POST /api/v1/auth/register`.
#[utoipa::path(
    tag = "legacy",
    operation_id = "legacy_register",
    request_body = LegacyCredentials,
    responses(
        (status = 201, body = LegacyToken),
        (status = 409, response = LegacyProblem),
        (status = 422, response = LegacyProblem)
    )
)]
#[deprecated = "use POST /api/v1/auth/register"]
#[post("/register")]
pub async fn register(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<LegacyCredentials>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (_, pair) = services
        .accounts
        .register(
            RegisterCommand {
                username: body.username,
                password: SecretString::from(body.password),
                email: None,
            },
            &client_info(&req),
        )
        .await?;
    Ok(
        deprecated(HttpResponse::Created(), "/api/v1/auth/register").json(LegacyToken {
            token: pair.access_token,
        }),
    )
}

/// The prototype's login. Use `POST /api/v1/auth/login`.
#[utoipa::path(
    tag = "legacy",
    operation_id = "legacy_login",
    request_body = LegacyCredentials,
    responses(
        (status = 200, body = LegacyToken),
        (status = 401, response = LegacyProblem)
    )
)]
#[deprecated = "use POST /api/v1/auth/login"]
#[post("/login")]
pub async fn login(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<LegacyCredentials>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (_, pair) = services
        .accounts
        .login(
            LoginCommand {
                username: body.username,
                password: SecretString::from(body.password),
            },
            &client_info(&req),
        )
        .await?;
    Ok(
        deprecated(HttpResponse::Ok(), "/api/v1/auth/login").json(LegacyToken {
            token: pair.access_token,
        }),
    )
}

/// The prototype's profile. Use `GET /api/v1/me`.
#[utoipa::path(
    tag = "legacy",
    operation_id = "legacy_profile",
    security(("bearer" = [])),
    responses(
        (status = 200, body = LegacyProfile),
        (status = 401, response = LegacyProblem)
    )
)]
#[deprecated = "use GET /api/v1/me"]
#[get("/profile")]
pub async fn profile(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = services.accounts.me(who.0).await?;
    Ok(
        deprecated(HttpResponse::Ok(), "/api/v1/me").json(LegacyProfile {
            user_id: user.id.as_uuid(),
            username: user.username.as_str().to_string(),
        }),
    )
}
