//! Cards made from material: inline or as a background generation to poll.

use super::*;
use crate::responses::{ModelCallsLimited, NoSuchChat, NotAuthenticated, QuotaExceeded};

#[derive(Debug, Deserialize, ToSchema)]
pub struct GenerateRequest {
    /// A completed document of the chat (a long one is read in batches of 40 chunks, in the
    /// background)…
    pub document_id: Option<Uuid>,
    /// …or up to 40 chunks of the chat's documents…
    #[schema(max_items = 40)]
    pub chunk_ids: Option<Vec<Uuid>>,
    /// …or text to make cards from (1–20000 characters)…
    #[schema(max_length = 20000)]
    pub text: Option<String>,
    /// …or a topic: the chat's 20 passages most relevant to it (1–500 characters).
    #[schema(max_length = 500)]
    pub topic: Option<String>,
    /// 1–200, default 10. More than 50 cards run in the background.
    #[schema(minimum = 1, maximum = 200)]
    pub count: Option<u32>,
    /// Save the cards (tagged `generated:<generator>`); otherwise they are only returned.
    #[serde(default)]
    pub save: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DraftBody {
    /// `basic`, or `cloze`: the question is a sentence with one gap, `{{c1::term}}`, and the
    /// answer is optional extra text.
    #[schema(value_type = crate::schemas::CardKind)]
    pub kind: String,
    pub question: String,
    pub answer: String,
    pub source: Option<SourceBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedBody {
    /// `language_model`, or `offline` (definition and cloze cards from the material's own
    /// sentences) when no language model that writes structured output is configured.
    #[schema(value_type = crate::schemas::Generator)]
    pub generator: String,
    pub drafts: Vec<DraftBody>,
    /// The saved cards, when `save` was asked.
    pub cards: Option<Vec<CardBody>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationProgress {
    /// Batches of material done (a batch is up to 40 chunks, one language-model call).
    pub batches_done: u32,
    pub batches_total: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GeneratedCardBody {
    /// `basic` or `cloze` (one gap, `{{c1::term}}`).
    #[schema(value_type = crate::schemas::CardKind)]
    pub kind: String,
    pub question: String,
    pub answer: String,
    pub source: Option<SourceBody>,
    /// The saved card, when the generation saves.
    pub card_id: Option<Uuid>,
}

/// A generation running in the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerationBody {
    pub id: Uuid,
    pub chat_id: Uuid,
    #[schema(value_type = crate::schemas::GenerationStatus)]
    pub status: String,
    /// Null until a batch ran.
    #[schema(value_type = Option<crate::schemas::Generator>)]
    pub generator: Option<String>,
    pub progress: GenerationProgress,
    /// The cards made (when completed).
    pub cards: Vec<GeneratedCardBody>,
    /// Why the last attempt failed (a retry is coming while `queued`), or why it failed for good.
    pub error: Option<String>,
    pub count: u32,
    pub save: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn source_body(s: CardSource) -> SourceBody {
    SourceBody {
        document_id: s.document_id.as_uuid(),
        chunk_id: s.chunk_id.map(|c| c.as_uuid()),
        page: s.page,
        page_label: s.page_label,
        quote: s.quote,
    }
}

impl From<Generation> for GenerationBody {
    fn from(g: Generation) -> Self {
        Self {
            id: g.id.as_uuid(),
            chat_id: g.chat_id.as_uuid(),
            status: g.status.as_str().to_string(),
            generator: g.generator,
            progress: GenerationProgress {
                batches_done: g.batches_done,
                batches_total: g.batches_total,
            },
            cards: g
                .cards
                .into_iter()
                .map(|c| GeneratedCardBody {
                    kind: c.kind.as_str().to_string(),
                    question: c.question,
                    answer: c.answer,
                    source: c.source.map(source_body),
                    card_id: c.card_id.map(|id| id.as_uuid()),
                })
                .collect(),
            error: g.error,
            count: g.request.count,
            save: g.request.save,
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// Makes flashcards from the chat's material — a document, chunks, text or a topic — each
/// linked to the chunk and page it came from; near-duplicates of the chat's cards are left out.
/// A long document (more than 40 chunks) or more than 50 cards runs in the background: the
/// answer is `202` with the generation to poll.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("chat_id" = Uuid, Path, description = "The chat's id")),
    request_body = GenerateRequest,
    responses(
        (status = 200, description = "The cards (saved when asked)", body = GeneratedBody),
        (status = 202, description = "Queued; `Location` names the generation to poll", body = GenerationBody, headers(("Location" = String, description = "The generation's URL"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = NotAuthenticated),
        (status = 403, response = QuotaExceeded),
        (status = 404, response = NoSuchChat),
        (status = 422, description = "Not exactly one of document_id, chunk_ids, text and topic; a document not completed; chunks of another chat; a bad count", body = Problem, content_type = "application/problem+json"),
        (status = 429, response = ModelCallsLimited),
        (status = 502, description = "The language model failed", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "The language model did not answer in time", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/chats/{chat_id}/flashcards/generate")]
pub async fn generate_cards(
    services: web::Data<Services>,
    who: Authenticated,
    chat_id: web::Path<Uuid>,
    body: web::Json<GenerateRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let generated = services
        .flashcards
        .generate(
            who.0,
            chat_path(chat_id.into_inner()),
            flashforge_domain::flashcards::GenerateInput {
                document_id: body.document_id,
                chunk_ids: body.chunk_ids,
                text: body.text,
                topic: body.topic,
                count: body.count,
                save: body.save,
            },
        )
        .await?;
    let generated = match generated {
        Generated::Queued(generation) => {
            return Ok(HttpResponse::Accepted()
                .insert_header((
                    "Location",
                    format!("/api/v1/flashcards/generations/{}", generation.id),
                ))
                .json(GenerationBody::from(generation)));
        }
        Generated::Done(generated) => generated,
    };
    Ok(HttpResponse::Ok().json(GeneratedBody {
        generator: generated.generator.as_str().to_string(),
        drafts: generated
            .drafts
            .into_iter()
            .map(|(draft, source)| DraftBody {
                kind: draft.kind.as_str().to_string(),
                question: draft.question,
                answer: draft.answer,
                source: source.map(source_body),
            })
            .collect(),
        cards: generated
            .saved
            .map(|cards| cards.into_iter().map(CardBody::from).collect()),
    }))
}

/// A background generation: its status, progress and, once completed, its cards.
#[utoipa::path(
    tag = "flashcards",
    security(("bearer" = [])),
    params(("generation_id" = Uuid, Path, description = "The generation's id")),
    responses(
        (status = 200, description = "The generation", body = GenerationBody),
        (status = 401, response = NotAuthenticated),
        (status = 404, description = "No such generation of the caller", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/flashcards/generations/{generation_id}")]
pub async fn get_generation(
    services: web::Data<Services>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let generation = services
        .flashcards
        .generation(who.0, GenerationId::from_uuid(id.into_inner()))
        .await?;
    Ok(HttpResponse::Ok().json(GenerationBody::from(generation)))
}
