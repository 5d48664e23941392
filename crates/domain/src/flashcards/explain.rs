//! Source-aware cards: a card explained from the passage it came from and that passage's
//! neighbours, by the assistant's language model, grounded and cited — so a student who fails a
//! card sees where it came from.

use super::error::FlashcardError;
use super::models::FlashcardId;
use super::service::{Flashcards, SourceStatus};
use crate::accounts::Principal;
use crate::assistant::{Citation, LlmError, Passage, Prompt, PromptPassage, cite};
use crate::knowledge::Chunk;
use crate::pagination::{Limit, PageRequest};
use crate::spend::{Purpose, Spent};

/// Passages the material search adds for a card whose own passage is gone.
const SEARCHED_PASSAGES: usize = 4;

const INSTRUCTIONS: &str = "You help a student who got a flashcard wrong understand its answer. \
Explain, in a few sentences and in the language of the card, why the answer is right, using \
only the numbered passages of the student's own material; cite each passage you use with its \
number in brackets, like [1]. If the passages do not support the answer, say so.";

/// A card explained.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub text: String,
    pub citations: Vec<Citation>,
    pub model: String,
    /// Whether the card's source is still there (`None`: it has none).
    pub source_status: Option<SourceStatus>,
}

impl Flashcards {
    /// Explains a card from its source passage and the passages around it (or, when it has
    /// none left, from the chat's passages nearest its question), with citations.
    pub async fn explain(
        &self,
        who: Principal,
        id: FlashcardId,
    ) -> Result<Explanation, FlashcardError> {
        let owner = who.user_id;
        let card = self
            .cards
            .find(owner, id)
            .await?
            .ok_or(FlashcardError::NotFound)?;
        let now = self.clock.now();
        let study = self
            .study(card.clone(), now, &self.study_settings(owner).await?)
            .await?;
        let mut passages = self.source_passages(&card).await?;
        if passages.is_empty() {
            passages = self
                .passages
                .search(owner, card.chat_id, &card.front(), SEARCHED_PASSAGES)
                .await?;
        }
        let passages: Vec<PromptPassage> = passages
            .into_iter()
            .enumerate()
            .map(|(i, passage)| PromptPassage {
                number: i + 1,
                passage,
            })
            .collect();
        let prompt = Prompt {
            instructions: INSTRUCTIONS.to_string(),
            passages,
            history: Vec::new(),
            question: format!(
                "The flashcard asks:\n{}\n\nIts answer is:\n{}\n\nExplain the answer.",
                card.front(),
                card.back()
            ),
            model: None,
        };
        let mut reservation = self
            .spend
            .reserve(owner, Purpose::Explanation, &prompt)
            .await
            .map_err(FlashcardError::Spend)?;
        let asked = self.language_model.default_model().to_string();
        reservation.started(&asked);
        let outcome = self.language_model.complete(&prompt).await;
        let spent = Spent {
            model: outcome
                .as_ref()
                .map(|c| c.model.clone())
                .unwrap_or_else(|_| asked.clone()),
            usage: outcome.as_ref().ok().map(|c| c.usage),
            completion_chars: outcome
                .as_ref()
                .map(|c| c.text.chars().count())
                .unwrap_or(0),
            refused: matches!(outcome, Err(LlmError::Rejected(_))),
        };
        if let Err(e) = reservation.settle(spent).await {
            tracing::error!(error = %e, "cannot record a model call in the usage ledger");
        }
        let completion = match outcome {
            Ok(completion) => completion,
            Err(LlmError::Timeout) => return Err(FlashcardError::Upstream(true)),
            Err(e) => {
                tracing::warn!(error = %e, "the language model failed to explain a card");
                return Err(FlashcardError::Upstream(false));
            }
        };
        Ok(Explanation {
            citations: cite(&completion.text, &prompt.passages),
            text: completion.text,
            model: completion.model,
            source_status: study.source_status,
        })
    }

    /// The card's source chunk with the chunks before and after it, in order (the first three
    /// of a document for its first chunk); none when the card has no source chunk or it is
    /// gone.
    async fn source_passages(
        &self,
        card: &super::models::Flashcard,
    ) -> Result<Vec<Passage>, FlashcardError> {
        let Some(chunk_id) = card.source.as_ref().and_then(|s| s.chunk_id) else {
            return Ok(Vec::new());
        };
        let owner = card.user_id;
        let Some((chunk, file_name)) = self
            .documents
            .chunks_by_ids(owner, &[chunk_id])
            .await?
            .into_iter()
            .next()
        else {
            return Ok(Vec::new());
        };
        let around = PageRequest {
            limit: Limit::parse(Some(3)).unwrap_or_default(),
            after: chunk.index.checked_sub(2),
        };
        let mut chunks: Vec<Chunk> = self
            .documents
            .chunks(owner, chunk.document_id, around)
            .await?
            .items;
        if !chunks.iter().any(|c| c.id == chunk.id) {
            chunks = vec![chunk];
        }
        let file_name = file_name.as_str().to_string();
        Ok(chunks
            .into_iter()
            .map(|c| Passage {
                chunk_id: c.id.as_uuid(),
                document_id: c.document_id.as_uuid(),
                file_name: file_name.clone(),
                page: Some(c.page),
                page_label: c.page_label,
                text: c.text,
            })
            .collect())
    }
}
