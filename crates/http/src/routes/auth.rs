//! Accounts: registration.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::accounts::{RegisterCommand, User};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::problem::{ApiError, Problem};

/// A new account. The password is never stored or logged, only its argon2id hash.
#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// 3–50 letters, digits, `_`, `.` or `-`; unique regardless of case.
    #[schema(min_length = 3, max_length = 50, example = "ada.lovelace")]
    pub username: String,
    /// 12–128 characters; a passphrase of several words is easy to remember.
    #[schema(min_length = 12, max_length = 128, format = Password, example = "correct horse battery staple")]
    pub password: String,
    #[schema(max_length = 254, format = Email, example = "ada@example.com")]
    pub email: Option<String>,
}

/// An account as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.as_uuid(),
            username: user.username.as_str().to_string(),
            email: user.email.map(|e| e.as_str().to_string()),
            created_at: user.created_at,
            last_login_at: user.last_login_at,
        }
    }
}

/// Opens an account.
#[utoipa::path(
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account was created", body = UserBody),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid; `errors` names each", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/auth/register")]
pub async fn register(
    services: web::Data<Services>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = services
        .accounts
        .register(RegisterCommand {
            username: body.username,
            password: SecretString::from(body.password),
            email: body.email,
        })
        .await?;
    Ok(HttpResponse::Created().json(UserBody::from(user)))
}
