//! Chats: the study workspaces.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::chats::{Chat, ChatCursor, ChatFilter, ChatId, ChatUpdate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::pagination::{PageBody, PageQuery};
use crate::problem::{ApiError, Problem};
use crate::responses::{BadChatName, NoSuchChat, NotAuthenticated};

#[derive(Deserialize, ToSchema)]
pub struct NewChatRequest {
    /// 1–255 characters.
    #[schema(min_length = 1, max_length = 255, example = "Cell biology")]
    pub name: String,
}

/// Changes to a chat; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
pub struct ChatPatch {
    #[schema(min_length = 1, max_length = 255)]
    pub name: Option<String>,
    pub archived: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChatListFilter {
    /// `true`: archived chats only; `false`: active only; absent: both.
    pub archived: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ChatBody {
    pub id: Uuid,
    pub name: String,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When something last happened in the chat; the list is sorted by it, newest first.
    pub last_activity_at: DateTime<Utc>,
}

impl From<Chat> for ChatBody {
    fn from(chat: Chat) -> Self {
        Self {
            id: chat.id.as_uuid(),
            name: chat.name.as_str().to_string(),
            archived: chat.archived,
            created_at: chat.created_at,
            updated_at: chat.updated_at,
            last_activity_at: chat.last_activity_at,
        }
    }
}

/// Opens a new chat.
#[utoipa::path(
    tag = "chats",
    security(("bearer" = [])),
    request_body = NewChatRequest,
    responses(
        (status = 201, description = "The new chat; `Location` names it", body = ChatBody, headers(("Location" = String, description = "The new chat's URL"))),
        (status = 401, response = NotAuthenticated),
        (status = 422, response = BadChatName)
    )
)]
#[post("/chats")]
pub async fn create_chat(
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<NewChatRequest>,
) -> Result<HttpResponse, ApiError> {
    let chat = services.chats.create(who.0, &body.name).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/chats/{}", chat.id)))
        .json(ChatBody::from(chat)))
}

/// The caller's chats, newest activity first.
#[utoipa::path(
    tag = "chats",
    security(("bearer" = [])),
    params(PageQuery, ChatListFilter),
    responses(
        (status = 200, description = "One page of chats", body = PageBody<ChatBody>),
        (status = 401, response = NotAuthenticated),
        (status = 422, description = "A bad `limit`, `cursor` or `archived`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/chats")]
pub async fn list_chats(
    services: web::Data<Services>,
    who: Authenticated,
    page: web::Query<PageQuery>,
    filter: web::Query<ChatListFilter>,
) -> Result<HttpResponse, ApiError> {
    let page = page.parse::<ChatCursor>()?;
    let chats = services
        .chats
        .list(
            who.0,
            ChatFilter {
                archived: filter.archived,
            },
            page,
        )
        .await?;
    Ok(HttpResponse::Ok().json(PageBody::from_page(chats, ChatBody::from)))
}

/// One chat.
#[utoipa::path(
    tag = "chats",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    responses(
        (status = 200, body = ChatBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat)
    )
)]
#[get("/chats/{chat_id}")]
pub async fn get_chat(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let chat = services
        .chats
        .get(who.0, ChatId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(ChatBody::from(chat)))
}

/// Renames or (un)archives a chat.
#[utoipa::path(
    tag = "chats",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = ChatPatch,
    responses(
        (status = 200, body = ChatBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, response = BadChatName)
    )
)]
#[patch("/chats/{chat_id}")]
pub async fn update_chat(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: web::Json<ChatPatch>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let chat = services
        .chats
        .update(
            who.0,
            ChatId::from_uuid(id.into_inner()),
            ChatUpdate {
                name: body.name,
                archived: body.archived,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(ChatBody::from(chat)))
}

/// Deletes a chat and everything it owns.
#[utoipa::path(
    tag = "chats",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat)
    )
)]
#[delete("/chats/{chat_id}")]
pub async fn delete_chat(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    services
        .chats
        .delete(who.0, ChatId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
