//! A chat's messages and the assistant's answers, whole or streamed (SSE).

use actix_web::http::{StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use flashforge_domain::Services;
use flashforge_domain::assistant::{
    AnswerEvent, Ask, Citation, Message, MessageCursor, MessageId, Usage,
};
use flashforge_domain::chats::ChatId;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::pagination::{PageBody, PageQuery};
use crate::problem::{ApiError, Problem};
use crate::responses::{
    BadPage, ModelCallsLimited, NoSuchChat, NoSuchMessage, NotAuthenticated, ProviderFailed,
};
use crate::schemas::{DeltaEvent, EVENT_STREAM, MessageRole, MessageStatus};
use crate::settings::Limits;

#[derive(Deserialize, ToSchema)]
pub struct NewMessageRequest {
    /// The question or message, 1–8000 characters.
    #[schema(
        min_length = 1,
        max_length = 8000,
        example = "What do mitochondria do?"
    )]
    pub content: String,
    /// One of `GET /api/v1/models`; the default when absent.
    #[schema(max_length = 200)]
    pub model: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CitationBody {
    pub document_id: Uuid,
    pub file_name: String,
    pub page: Option<u32>,
    /// What a person sees for the page: "p. 4", "slide 12", "Chapter 3".
    pub page_label: Option<String>,
    pub chunk_id: Uuid,
    /// Words of the passage, verbatim.
    pub quote: String,
}

/// The tokens a model call used.
#[derive(Serialize, ToSchema)]
pub struct TokenUsageBody {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

#[derive(Serialize, ToSchema)]
pub struct MessageBody {
    pub id: Uuid,
    pub chat_id: Uuid,
    #[schema(value_type = MessageRole, example = "assistant")]
    pub role: &'static str,
    pub content: String,
    pub citations: Vec<CitationBody>,
    pub model: Option<String>,
    pub usage: Option<TokenUsageBody>,
    #[schema(value_type = MessageStatus, example = "complete")]
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
}

impl From<Message> for MessageBody {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.as_uuid(),
            chat_id: m.chat_id.as_uuid(),
            role: m.role.as_str(),
            content: m.content,
            citations: m.citations.into_iter().map(citation).collect(),
            model: m.model,
            usage: m.usage.map(usage),
            status: m.status.as_str(),
            created_at: m.created_at,
        }
    }
}

fn citation(c: Citation) -> CitationBody {
    CitationBody {
        document_id: c.document_id,
        file_name: c.file_name,
        page: c.page,
        page_label: c.page_label,
        chunk_id: c.chunk_id,
        quote: c.quote,
    }
}

fn usage(u: Usage) -> TokenUsageBody {
    TokenUsageBody {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
    }
}

/// A question and its answer.
#[derive(Serialize, ToSchema)]
pub struct ExchangeBody {
    pub question: MessageBody,
    pub answer: MessageBody,
}

/// The `question` event, first of an answer's stream: the stored question, and the id of the
/// answer being written (to resume its stream at `…/messages/{answer_id}/stream`).
#[derive(Serialize, ToSchema)]
pub struct QuestionEvent {
    pub question: MessageBody,
    pub answer_id: Uuid,
}

/// The `done` event, last of a stream that succeeded: the stored answer.
#[derive(Serialize, ToSchema)]
pub struct DoneEvent {
    pub answer: MessageBody,
}

#[derive(Serialize, ToSchema)]
pub struct ModelsBody {
    /// Used when a message names no model.
    pub default: String,
    pub models: Vec<String>,
}

/// The models a message may ask for.
#[utoipa::path(
    tag = "assistant",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ModelsBody),
        (status = 401, response = NotAuthenticated),
        (status = 502, description = "The provider failed", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/models")]
pub async fn models(
    services: web::Data<Services>,
    _who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (default, models) = services.assistant.models().await?;
    Ok(HttpResponse::Ok().json(ModelsBody { default, models }))
}

/// A chat's messages, oldest first.
#[utoipa::path(
    tag = "assistant",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id"), PageQuery),
    responses(
        (status = 200, description = "One page of messages", body = PageBody<MessageBody>),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, response = BadPage)
    )
)]
#[get("/chats/{chat_id}/messages")]
pub async fn list_messages(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.parse::<MessageCursor>()?;
    let messages = services
        .assistant
        .messages(who.0, ChatId::from_uuid(id.into_inner()), page)
        .await?;
    Ok(HttpResponse::Ok().json(PageBody::from_page(messages, MessageBody::from)))
}

fn wants_stream(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

fn sse(id: u64, event: &str, data: &impl Serialize) -> Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".to_string());
    Bytes::from(format!("id: {id}\nevent: {event}\ndata: {data}\n\n"))
}

/// Sends a message and answers it from the chat's material, with citations. With
/// `Accept: text/event-stream` the answer streams as server-sent events (see the 200 answer):
/// `question`, `delta` pieces, then `done` or `error`. The answer is completed and stored even
/// if the client disconnects.
#[utoipa::path(
    tag = "assistant",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = NewMessageRequest,
    responses(
        (status = 201, description = "The question and the answer, stored", body = ExchangeBody),
        (status = 200, description = EVENT_STREAM, content_type = "text/event-stream", headers(("X-Answer-Id" = Uuid, description = "The id of the answer being written"))),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "Empty or too long, or an unknown model", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = ModelCallsLimited),
        (status = 502, description = "The model provider failed; the question is stored", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The model provider timed out; the question is stored", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/messages")]
pub async fn send_message(
    req: HttpRequest,
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    body: web::Json<NewMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let ask = Ask::New {
        content: body.content,
        model: body.model,
    };
    let chat = ChatId::from_uuid(chat_id.into_inner());
    answer(&req, &services, who, chat, ask, StatusCode::CREATED).await
}

/// Answers `ask`: `status` with the exchange, or an SSE stream when the client asks for one.
async fn answer(
    req: &HttpRequest,
    services: &Services,
    who: Authenticated,
    chat: ChatId,
    ask: Ask,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    if !wants_stream(req) {
        let exchange = services.assistant.send(who.0, chat, ask).await?;
        return Ok(HttpResponse::build(status).json(ExchangeBody {
            question: exchange.question.into(),
            answer: exchange.answer.into(),
        }));
    }

    let answer = services.assistant.send_streaming(who.0, chat, ask).await?;
    let first = sse(
        0,
        "question",
        &QuestionEvent {
            question: MessageBody::from(answer.question),
            answer_id: answer.answer_id.as_uuid(),
        },
    );
    let events = answer_events(req.path().to_string(), answer.events.follow(0));
    let stream = futures_util::stream::once(async move { Ok::<Bytes, actix_web::Error>(first) })
        .chain(events);
    Ok(event_stream()
        .insert_header(("x-answer-id", answer.answer_id.to_string()))
        .streaming(kept_alive(stream, limits(req))))
}

fn limits(req: &HttpRequest) -> Limits {
    req.app_data::<web::Data<Limits>>()
        .map_or_else(Limits::default, |l| *l.get_ref())
}

/// `events` with a comment line every `sse_keepalive` while the next event is awaited (proxies
/// close connections that look idle), ending when no event came for `sse_idle`.
fn kept_alive<S>(events: S, limits: Limits) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    S: Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    let (every, idle) = (limits.sse_keepalive, limits.sse_idle);
    futures_util::stream::unfold(
        (Box::pin(events), tokio::time::Instant::now()),
        move |(mut events, last)| async move {
            let quiet_until = (last + idle).min(tokio::time::Instant::now() + every);
            match tokio::time::timeout_at(quiet_until, events.next()).await {
                Ok(Some(item)) => Some((item, (events, tokio::time::Instant::now()))),
                Ok(None) => None,
                Err(_) if last.elapsed() >= idle => {
                    tracing::info!("an event stream sent nothing for its idle time; closed");
                    None
                }
                Err(_) => Some((Ok(Bytes::from_static(b": keep-alive\n\n")), (events, last))),
            }
        },
    )
    .fuse()
}

fn event_stream() -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    response
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("x-accel-buffering", "no"));
    response
}

/// An answer's events as SSE: the event at log index `i` has id `i + 1` (0 is the question).
fn answer_events(
    instance: String,
    events: futures_util::stream::BoxStream<'static, (usize, AnswerEvent)>,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    events.map(move |(index, event)| {
        let id = index as u64 + 1;
        Ok(match event {
            AnswerEvent::Delta(text) => sse(id, "delta", &DeltaEvent { text }),
            AnswerEvent::Done(message) => sse(
                id,
                "done",
                &DoneEvent {
                    answer: MessageBody::from(*message),
                },
            ),
            AnswerEvent::Failed(error) => {
                let problem = ApiError::from(Shared(error)).to_problem(&instance, None);
                sse(id, "error", &problem)
            }
        })
    })
}

/// A failure shared between every reader of an answer.
#[derive(Debug)]
struct Shared(std::sync::Arc<flashforge_domain::assistant::AssistantError>);

impl std::fmt::Display for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Shared {}

impl flashforge_domain::DomainError for Shared {
    fn code(&self) -> flashforge_domain::error::Code {
        self.0.code()
    }
}

/// Resumes an answer's event stream after `Last-Event-ID` (0 when absent): live while it is
/// being written, replayed for two minutes after, and later the stored answer as one `done`.
#[utoipa::path(
    tag = "assistant",
    security(("bearer" = [])),
    params(
        ("chat_id" = Uuid, Path, description = "The chat's id"),
        ("message_id" = Uuid, Path, description = "The answer's id (`answer_id` of the `question` event)"),
        ("Last-Event-ID" = Option<u64>, Header, description = "The id of the last event received")
    ),
    responses(
        (status = 200, description = EVENT_STREAM, content_type = "text/event-stream"),
        (status = 401, response = NotAuthenticated),
        (status = 404, description = "No such chat or answer of the caller", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/chats/{chat_id}/messages/{message_id}/stream")]
pub async fn resume_stream(
    req: HttpRequest,
    services: web::Data<Services>,
    who: Authenticated,
    ids: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (chat, message) = ids.into_inner();
    let from = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let events = services
        .assistant
        .resume(
            who.0,
            ChatId::from_uuid(chat),
            MessageId::from_uuid(message),
            from,
        )
        .await?;
    Ok(event_stream().streaming(kept_alive(
        answer_events(req.path().to_string(), events),
        limits(&req),
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct RegenerateRequest {
    /// One of `GET /api/v1/models`; the default when absent.
    #[schema(max_length = 200)]
    pub model: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct EditMessageRequest {
    #[schema(min_length = 1, max_length = 8000)]
    pub content: String,
    #[schema(max_length = 200)]
    pub model: Option<String>,
}

/// Replaces the chat's last answer with a new one (whole, or streamed like a new message). When
/// the model fails, even part-way through a stream, the old answer stays.
#[utoipa::path(
    tag = "assistant",
    security(("bearer" = [])),
    params(
        ("chat_id" = Uuid, Path, description = "The chat's id"),
        ("message_id" = Uuid, Path, description = "The last answer's id")
    ),
    request_body = RegenerateRequest,
    responses(
        (status = 201, description = "The question and its new answer", body = ExchangeBody),
        (status = 200, description = EVENT_STREAM, content_type = "text/event-stream", headers(("X-Answer-Id" = Uuid, description = "The id of the answer being written"))),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchMessage),
        (status = 409, description = "Not the chat's last answer", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = ModelCallsLimited),
        (status = 502, response = ProviderFailed)
    )
)]
#[post("/chats/{chat_id}/messages/{message_id}/regenerate")]
pub async fn regenerate(
    req: HttpRequest,
    services: web::Data<Services>,
    who: Authenticated,
    ids: web::Path<(Uuid, Uuid)>,
    body: Option<web::Json<RegenerateRequest>>,
) -> Result<HttpResponse, ApiError> {
    let (chat, message) = ids.into_inner();
    let ask = Ask::Regenerate {
        answer: MessageId::from_uuid(message),
        model: body.and_then(|b| b.into_inner().model),
    };
    let chat = ChatId::from_uuid(chat);
    answer(&req, &services, who, chat, ask, StatusCode::CREATED).await
}

/// Edits one of the caller's messages; everything after it is replaced by a new answer. When
/// the model fails, the edit stays (as a new question would) with no answer after it.
#[utoipa::path(
    tag = "assistant",
    security(("bearer" = [])),
    params(
        ("chat_id" = Uuid, Path, description = "The chat's id"),
        ("message_id" = Uuid, Path, description = "The message's id")
    ),
    request_body = EditMessageRequest,
    responses(
        (status = 200, description = "The edited message and its new answer (`application/json`); or, with `Accept: text/event-stream`, the new answer as it is written: see the events under `POST /api/v1/chats/{chat_id}/messages`", content(
            (ExchangeBody = "application/json"),
            (String = "text/event-stream")
        ), headers(("X-Answer-Id" = Option<Uuid>, description = "When streamed: the id of the answer being written"))),
        (status = 401, response = NotAuthenticated),
        (status = 404, response = NoSuchMessage),
        (status = 422, description = "Bad content, or not a user message", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = ModelCallsLimited),
        (status = 502, response = ProviderFailed)
    )
)]
#[patch("/chats/{chat_id}/messages/{message_id}")]
pub async fn edit_message(
    req: HttpRequest,
    services: web::Data<Services>,
    who: Authenticated,
    ids: web::Path<(Uuid, Uuid)>,
    body: web::Json<EditMessageRequest>,
) -> Result<HttpResponse, ApiError> {
    let (chat, message) = ids.into_inner();
    let body = body.into_inner();
    let ask = Ask::Edit {
        message: MessageId::from_uuid(message),
        content: body.content,
        model: body.model,
    };
    let chat = ChatId::from_uuid(chat);
    answer(&req, &services, who, chat, ask, StatusCode::OK).await
}
