//! The caller's own account.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use flashforge_domain::Services;
use flashforge_domain::accounts::{PasswordChange, ProfileChanges};
use flashforge_domain::quotas::QuotaName;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::auth::UserBody;
use crate::auth::{Authenticated, client_info};
use crate::problem::{ApiError, Problem};
use crate::responses::{NotAuthenticated, UsernameTaken};

/// Changes to the profile. A field left out stays as it is; `"email": null` removes the address.
#[derive(Deserialize, ToSchema)]
pub struct ProfilePatch {
    #[schema(min_length = 3, max_length = 50)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 254, format = Email)]
    pub email: Option<Option<String>>,
}

/// Tells "absent" (`None`) from "null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChangeRequest {
    #[schema(max_length = 1024, format = Password)]
    pub current_password: String,
    #[schema(min_length = 12, max_length = 128, format = Password)]
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The current password, to confirm.
    #[schema(max_length = 1024, format = Password)]
    pub password: String,
}

/// The caller's account.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserBody),
        (status = 401, response = NotAuthenticated)
    )
)]
#[get("/me")]
pub async fn me(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let user = services.accounts.me(who.0).await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// A quota's name.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuotaNameBody {
    /// Bytes of original files kept.
    StorageBytes,
    /// Documents, in every chat.
    Documents,
    /// Searchable passages of the documents.
    Chunks,
    /// Flashcards, in every chat.
    Cards,
    /// Ingestions and generations waiting or running.
    QueuedJobs,
}

impl From<QuotaName> for QuotaNameBody {
    fn from(name: QuotaName) -> Self {
        match name {
            QuotaName::StorageBytes => Self::StorageBytes,
            QuotaName::Documents => Self::Documents,
            QuotaName::Chunks => Self::Chunks,
            QuotaName::Cards => Self::Cards,
            QuotaName::QueuedJobs => Self::QueuedJobs,
        }
    }
}

/// One quota and the caller's use of it.
#[derive(Serialize, ToSchema)]
pub struct QuotaBody {
    pub name: QuotaNameBody,
    /// What the caller has now.
    pub used: u64,
    /// The most the caller may have; `null`: no limit.
    pub limit: Option<u64>,
}

/// The caller's use of every quota. A write that would pass one is refused with 403
/// `quota_exceeded` naming it.
#[derive(Serialize, ToSchema)]
pub struct UsageBody {
    pub quotas: Vec<QuotaBody>,
    pub model_tokens: ModelTokensBody,
}

/// The caller's language-model tokens today (answers and flashcard generations, from the usage
/// ledger, with calls under way counted at their worst case until they end). Over the budget,
/// model calls answer 429 `token_budget_spent` until `resets_at`.
#[derive(Serialize, ToSchema)]
pub struct ModelTokensBody {
    pub used: u64,
    /// Tokens per UTC day; `null`: no limit.
    pub limit: Option<u64>,
    /// When today's count starts again (midnight UTC).
    pub resets_at: chrono::DateTime<chrono::Utc>,
}

/// What the caller uses of each quota, and of today's model token budget.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UsageBody),
        (status = 401, response = NotAuthenticated)
    )
)]
#[get("/me/usage")]
pub async fn usage(
    services: web::Data<Services>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let quotas = services.quotas.usage(who.0.user_id).await?;
    let tokens = services.spend.today(who.0.user_id).await?;
    Ok(HttpResponse::Ok().json(UsageBody {
        model_tokens: ModelTokensBody {
            used: tokens.used,
            limit: (tokens.limit > 0).then_some(tokens.limit),
            resets_at: tokens.resets_at,
        },
        quotas: quotas
            .into_iter()
            .map(|q| QuotaBody {
                name: q.name.into(),
                used: q.used,
                limit: q.limit,
            })
            .collect(),
    }))
}

/// Changes the username or e-mail address.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, body = UserBody),
        (status = 401, response = NotAuthenticated),
        (status = 409, response = UsernameTaken),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/me")]
pub async fn update_me(
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<ProfilePatch>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = services
        .accounts
        .update_profile(
            who.0,
            ProfileChanges {
                username: body.username,
                email: body.email,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserBody::from(user)))
}

/// Changes the password. Every other session ends; this one stays.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    request_body = PasswordChangeRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, response = NotAuthenticated),
        (status = 422, description = "The current password is wrong, or the new one too weak", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/me/password")]
pub async fn change_password(
    req: HttpRequest,
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<PasswordChangeRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    services
        .accounts
        .change_password(
            who.0,
            PasswordChange {
                current_password: SecretString::from(body.current_password),
                new_password: SecretString::from(body.new_password),
            },
            &client_info(&req),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes the account and everything it owns. Needs the password.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = NotAuthenticated),
        (status = 422, description = "The password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords from this address", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/me/delete")]
pub async fn delete_account(
    req: HttpRequest,
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<DeleteAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    remove_account(&req, &services, who, body.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove_account(
    req: &HttpRequest,
    services: &Services,
    who: Authenticated,
    body: DeleteAccountRequest,
) -> Result<(), ApiError> {
    services
        .accounts
        .delete_account(who.0, SecretString::from(body.password), &client_info(req))
        .await?;
    Ok(())
}

/// Deletes the account, like `POST /api/v1/me/delete`; deprecated because some clients and
/// proxies drop the body of a `DELETE`. Its answer carries `Deprecation` and a `Link` to the
/// successor.
#[utoipa::path(
    tag = "me",
    security(("bearer" = [])),
    request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = NotAuthenticated),
        (status = 422, description = "The password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords from this address", body = Problem, content_type = "application/problem+json")
    )
)]
#[deprecated = "use POST /api/v1/me/delete"]
#[delete("/me")]
pub async fn delete_me(
    req: HttpRequest,
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<DeleteAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    remove_account(&req, &services, who, body.into_inner()).await?;
    // RFC 9745: deprecated since 2026-12-02.
    Ok(HttpResponse::NoContent()
        .insert_header(("Deprecation", DELETE_ME_DEPRECATED))
        .insert_header(("Link", "</api/v1/me/delete>; rel=\"successor-version\""))
        .finish())
}

/// When `DELETE /api/v1/me` was deprecated (RFC 9745: `@` and seconds since the Unix epoch):
/// 2026-12-02.
pub const DELETE_ME_DEPRECATED: &str = "@1796169600";
