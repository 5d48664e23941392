//! The prototype web client's flashcard maker: `POST /sendmessage` with `{model_name,
//! user_message}`, answered in the shape of an Ollama chat reply whose content is the JSON text
//! `{"flashcards": [{"question", "answer"}]}` — made by the same generator as
//! `POST /api/v1/chats/{chat_id}/flashcards/generate` with `text`, so the old client works
//! unchanged.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::error::ValidationErrors;
use flashforge_domain::flashcards::{CardKind, cloze_answer, render_cloze};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::legacy::deprecated;
use crate::auth::Authenticated;
use crate::problem::ApiError;
use crate::responses::LegacyProblem;

/// The most characters of `user_message` (the generator's limit for pasted text).
const MAX_USER_MESSAGE_CHARS: usize = 20_000;
/// How many cards one message asks for (the generator's default).
const CARDS_PER_MESSAGE: u32 = 10;
/// The most characters of `model_name`.
const MAX_MODEL_NAME_CHARS: usize = 200;

/// What the prototype's client posts.
#[derive(Deserialize, ToSchema)]
pub struct LegacySendMessage {
    /// The Ollama model the prototype asked for; the configured generator is used instead.
    #[schema(max_length = 200)]
    pub model_name: Option<String>,
    /// The text to make flashcards from (1–20000 characters).
    #[schema(max_length = 20000)]
    pub user_message: String,
}

/// An Ollama chat reply.
#[derive(Serialize, ToSchema)]
pub struct LegacyChatReply {
    /// The model named in the request (`flashforge` when none was).
    pub model: String,
    pub created_at: DateTime<Utc>,
    pub message: LegacyReplyMessage,
    /// Always `true`: the reply is whole.
    pub done: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LegacyReplyMessage {
    /// Always `assistant`.
    pub role: String,
    /// JSON text: `{"flashcards": [{"question": "…", "answer": "…"}]}`.
    pub content: String,
}

#[derive(Serialize)]
struct Flashcards {
    flashcards: Vec<Card>,
}

#[derive(Serialize)]
struct Card {
    question: String,
    answer: String,
}

/// The prototype's flashcard maker. Use `POST /api/v1/chats/{chat_id}/flashcards/generate`.
#[utoipa::path(
    tag = "legacy",
    operation_id = "legacy_send_message",
    security(("bearer" = [])),
    request_body = LegacySendMessage,
    responses(
        (status = 200, body = LegacyChatReply),
        (status = 400, response = LegacyProblem),
        (status = 401, response = LegacyProblem),
        (status = 422, response = LegacyProblem),
        (status = 429, response = LegacyProblem),
        (status = 502, response = LegacyProblem),
        (status = 504, response = LegacyProblem)
    )
)]
#[deprecated = "use POST /api/v1/chats/{chat_id}/flashcards/generate"]
#[post("/sendmessage")]
pub async fn send_message(
    services: web::Data<Services>,
    who: Authenticated,
    body: web::Json<LegacySendMessage>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut errors = ValidationErrors::new();
    let chars = body.user_message.chars().count();
    if body.user_message.trim().is_empty() || chars > MAX_USER_MESSAGE_CHARS {
        errors.push(flashforge_domain::error::FieldError::new(
            "user_message",
            format!("must be 1 to {MAX_USER_MESSAGE_CHARS} characters"),
        ));
    }
    let model = body.model_name.unwrap_or_else(|| "flashforge".into());
    if model.chars().count() > MAX_MODEL_NAME_CHARS {
        errors.push(flashforge_domain::error::FieldError::new(
            "model_name",
            format!("must be at most {MAX_MODEL_NAME_CHARS} characters"),
        ));
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let (_, drafts) = services
        .flashcards
        .draft_from_text(who.0, body.user_message, CARDS_PER_MESSAGE)
        .await?;
    let content = serde_json::to_string(&Flashcards {
        flashcards: drafts
            .iter()
            // The prototype knows questions and answers: a cloze card shows its gap as the
            // question and what the gap hides as the answer.
            .map(|d| match d.kind {
                CardKind::Cloze => Card {
                    question: render_cloze(&d.question, 1, false),
                    answer: cloze_answer(&d.question, 1),
                },
                _ => Card {
                    question: d.question.clone(),
                    answer: d.answer.clone(),
                },
            })
            .collect(),
    })
    .map_err(|_| ApiError::internal())?;
    // The successor's URL names a chat, which the prototype never had: the link is to the
    // successor's documentation.
    Ok(
        deprecated(HttpResponse::Ok(), "/docs/#/flashcards/generate_cards")
            .insert_header(("cache-control", "no-store"))
            .json(LegacyChatReply {
                model,
                created_at: Utc::now(),
                message: LegacyReplyMessage {
                    role: "assistant".into(),
                    content,
                },
                done: true,
            }),
    )
}
