//! Accounts and sessions: register, log in, refresh, log out, list and end sessions.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::accounts::{
    LoginCommand, RegisterCommand, Session, SessionCursor, SessionId, TokenPair, User,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{Authenticated, client_info};
use crate::pagination::{PageBody, PageQuery};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadPage, NotAuthenticated, UsernameTaken};

/// A new account. The password is never stored or logged, only its argon2id hash.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–50 letters, digits, `_`, `.` or `-`; unique regardless of case.
    #[schema(min_length = 3, max_length = 50, example = "ada.lovelace")]
    pub username: String,
    /// 12–128 characters, not easy to guess (no common words alone, not the username).
    #[schema(min_length = 12, max_length = 128, format = Password, example = "correct horse battery staple")]
    pub password: String,
    #[schema(max_length = 254, format = Email, example = "ada@example.com")]
    pub email: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(max_length = 50, example = "ada.lovelace")]
    pub username: String,
    #[schema(max_length = 1024, format = Password)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// The refresh token of the last pair; it is single-use.
    #[schema(max_length = 256)]
    pub refresh_token: String,
}

/// An account as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            username: user.username.as_str().to_string(),
            email: user.email.map(|e| e.as_str().to_string()),
            created_at: user.created_at,
            updated_at: user.updated_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// A token pair: a short-lived access JWT and a single-use refresh token.
#[derive(Serialize, ToSchema)]
pub struct TokenBody {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; each works once.
    pub refresh_token: String,
    #[schema(value_type = crate::schemas::TokenType, example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

impl From<TokenPair> for TokenBody {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token.expose().to_string(),
            token_type: "Bearer",
            expires_in: pair.expires_in.as_secs(),
        }
    }
}

/// The user and their first (or new) token pair.
#[derive(Serialize, ToSchema)]
pub struct AuthBody {
    pub user: UserBody,
    #[serde(flatten)]
    pub tokens: TokenBody,
}

/// One login of the caller.
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

fn session_body(session: Session, current: SessionId) -> SessionBody {
    SessionBody {
        id: session.id.as_uuid(),
        created_at: session.created_at,
        last_used_at: session.last_used_at,
        expires_at: session.expires_at,
        user_agent: session.user_agent,
        ip: session.ip,
        current: session.id == current,
    }
}

/// Opens an account and its first session.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account and its first token pair", body = AuthBody),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, response = UsernameTaken),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many registrations from this address", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/register")]
pub async fn register(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (user, pair) = services
        .accounts
        .register(
            RegisterCommand {
                username: body.username,
                password: SecretString::from(body.password),
                email: body.email,
            },
            &client_info(&req),
        )
        .await?;
    Ok(HttpResponse::Created().json(AuthBody {
        user: user.into(),
        tokens: pair.into(),
    }))
}

/// Logs in. An unknown user and a wrong password get the same answer.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A new session's token pair", body = AuthBody),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; see `Retry-After`", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    services: web::Data<Services>,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let (user, pair) = services
        .accounts
        .login(
            LoginCommand {
                username: body.username,
                password: SecretString::from(body.password),
            },
            &client_info(&req),
        )
        .await?;
    Ok(HttpResponse::Ok().json(AuthBody {
        user: user.into(),
        tokens: pair.into(),
    }))
}

/// Exchanges a refresh token for a new pair. Presenting a token a second time ends its session.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenBody),
        (status = 401, description = "The refresh token is invalid, expired, used or revoked", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    services: web::Data<Services>,
    body: web::Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let pair = services.accounts.refresh(&body.refresh_token).await?;
    Ok(HttpResponse::Ok().json(TokenBody::from(pair)))
}

/// Ends the session of the calling token.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, response = NotAuthenticated)
    )
)]
#[post("/auth/logout")]
pub async fn logout(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    services.accounts.logout(who.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session of the caller, this one included.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Every session has ended"),
        (status = 401, response = NotAuthenticated)
    )
)]
#[post("/auth/logout-all")]
pub async fn logout_all(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    services.accounts.logout_all(who.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's active sessions, newest first.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of sessions", body = PageBody<SessionBody>),
        (status = 401, response = NotAuthenticated),
        (status = 422, response = BadPage)
    )
)]
#[get("/auth/sessions")]
pub async fn sessions(
    services: web::Data<Services>,
    who: Authenticated,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.parse::<SessionCursor>()?;
    let current = who.0.session_id;
    let page = services.accounts.sessions(who.0, page).await?;
    Ok(HttpResponse::Ok().json(PageBody::from_page(page, |s| session_body(s, current))))
}

/// Ends one of the caller's sessions.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    params(("session_id" = Uuid, Path, description = "The session's id")),
    responses(
        (status = 204, description = "The session has ended"),
        (status = 401, response = NotAuthenticated),
        (status = 404, description = "No such session of the caller", body = Problem, content_type = "application/problem+json")
    )
)]
#[delete("/auth/sessions/{session_id}")]
pub async fn end_session(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    services
        .accounts
        .end_session(who.0, SessionId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
