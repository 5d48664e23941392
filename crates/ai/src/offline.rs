//! The offline extractive assistant: no network, no model, no invention. It quotes the passages
//! retrieval found, each with its citation marker, so the usual citation path links them.

use async_trait::async_trait;
use flashforge_domain::assistant::{
    Completion, LanguageModel, LlmError, Prompt, StreamEvent, Usage,
};
use futures_util::stream::{self, BoxStream, StreamExt};

/// How many passages an offline answer quotes.
const QUOTED: usize = 3;
/// The longest quote, in characters.
const QUOTE_CHARS: usize = 400;

#[derive(Debug, Default, Clone, Copy)]
pub struct OfflineModel;

impl OfflineModel {
    pub const NAME: &'static str = "offline-extractive";

    /// The answer to `prompt`.
    pub fn answer(prompt: &Prompt) -> String {
        if prompt.passages.is_empty() {
            return "No language model is configured on this server, so I can only quote your \
                    material, and none of the material in this chat matches your question. \
                    Upload course material to this chat, or ask your administrator to configure \
                    a language model."
                .to_string();
        }
        let mut answer = String::from(
            "No language model is configured on this server, so here are the passages of your \
             material that best match your question:",
        );
        for p in prompt.passages.iter().take(QUOTED) {
            let text: String = p
                .passage
                .text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let quote = plain_start(&text.chars().take(QUOTE_CHARS).collect::<String>());
            let ellipsis = if text.chars().count() > QUOTE_CHARS {
                "…"
            } else {
                ""
            };
            let page = p
                .passage
                .place()
                .map(|place| format!(", {place}"))
                .unwrap_or_default();
            answer.push_str(&format!(
                "\n\n> {quote}{ellipsis} [{}]\n\n— {}{page}",
                p.number, p.passage.file_name
            ));
        }
        answer
    }
}

/// `line` as the text of a paragraph: a heading, list, quote, fence or table marker at its start
/// (a slide's passage begins `# Title`) is escaped, so the quote shows as the words it is.
fn plain_start(line: &str) -> String {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    match line.as_bytes().get(digits) {
        // "1. " or "1) " would start an ordered list.
        Some(b'.' | b')') if digits > 0 => format!("{}\\{}", &line[..digits], &line[digits..]),
        // CommonMark lets a backslash escape any ASCII punctuation.
        Some(b) if digits == 0 && b.is_ascii_punctuation() => format!("\\{line}"),
        _ => line.to_string(),
    }
}

#[async_trait]
impl LanguageModel for OfflineModel {
    fn default_model(&self) -> &str {
        Self::NAME
    }

    async fn models(&self) -> Result<Vec<String>, LlmError> {
        Ok(vec![Self::NAME.to_string()])
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, LlmError> {
        Ok(Completion {
            text: Self::answer(prompt),
            model: Self::NAME.to_string(),
            // No model ran: nothing is spent.
            usage: Usage::default(),
        })
    }

    async fn stream(
        &self,
        prompt: &Prompt,
    ) -> Result<BoxStream<'static, Result<StreamEvent, LlmError>>, LlmError> {
        let answer = Self::answer(prompt);
        let mut events: Vec<Result<StreamEvent, LlmError>> = answer
            .split_inclusive("\n\n")
            .map(|piece| Ok(StreamEvent::Delta(piece.to_string())))
            .collect();
        events.push(Ok(StreamEvent::Done {
            model: Self::NAME.to_string(),
            usage: Usage::default(),
        }));
        Ok(stream::iter(events).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flashforge_domain::assistant::{Passage, PromptPassage, cite};

    fn prompt(passages: Vec<PromptPassage>) -> Prompt {
        Prompt {
            instructions: String::new(),
            passages,
            history: Vec::new(),
            question: "What do mitochondria do?".into(),
            model: None,
        }
    }

    #[tokio::test]
    async fn it_says_plainly_that_no_model_is_configured_and_finds_nothing_when_there_is_nothing() {
        let answer = OfflineModel.complete(&prompt(vec![])).await.unwrap();
        assert!(answer.text.contains("No language model is configured"));
        assert!(answer.text.contains("none of the material"));
        assert_eq!(answer.usage, Usage::default());
    }

    #[tokio::test]
    async fn it_quotes_the_best_passages_with_markers_that_become_citations() {
        let passages: Vec<PromptPassage> = (1..=4)
            .map(|n| PromptPassage {
                number: n,
                passage: Passage {
                    chunk_id: uuid::Uuid::now_v7(),
                    document_id: uuid::Uuid::now_v7(),
                    file_name: format!("notes{n}.pdf"),
                    page: Some(n as u32),
                    page_label: None,
                    text: format!("Mitochondria produce ATP, passage {n}."),
                },
            })
            .collect();
        let prompt = prompt(passages.clone());
        let answer = OfflineModel.complete(&prompt).await.unwrap();
        assert!(answer.text.contains("[1]") && answer.text.contains("[3]"));
        assert!(!answer.text.contains("[4]"), "three passages at most");
        let citations = cite(&answer.text, &prompt.passages);
        assert_eq!(citations.len(), 3);
        assert!(passages[0].passage.text.contains(&citations[0].quote));

        let streamed: Vec<_> = OfflineModel.stream(&prompt).await.unwrap().collect().await;
        let text: String = streamed
            .iter()
            .filter_map(|e| match e {
                Ok(StreamEvent::Delta(t)) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, answer.text);
        assert!(matches!(
            streamed.last(),
            Some(Ok(StreamEvent::Done { .. }))
        ));
    }

    #[tokio::test]
    async fn a_slide_is_quoted_as_plain_text_and_named_by_its_label() {
        let slide = PromptPassage {
            number: 1,
            passage: Passage {
                chunk_id: uuid::Uuid::now_v7(),
                document_id: uuid::Uuid::now_v7(),
                file_name: "lecture.pptx".into(),
                page: Some(3),
                page_label: Some("slide 3".into()),
                text: "# Railways\n- Rocket won the Rainhill trials in 1829.".into(),
            },
        };
        let answer = OfflineModel.complete(&prompt(vec![slide])).await.unwrap();
        assert!(
            answer
                .text
                .contains("> \\# Railways - Rocket won the Rainhill trials in 1829. [1]\n\n— lecture.pptx, slide 3"),
            "{}",
            answer.text
        );
    }

    #[test]
    fn only_a_block_marker_at_the_start_is_escaped() {
        assert_eq!(plain_start("# Title - point"), "\\# Title - point");
        assert_eq!(plain_start("- point"), "\\- point");
        assert_eq!(plain_start("> quoted"), "\\> quoted");
        assert_eq!(plain_start("12. Twelfth"), "12\\. Twelfth");
        assert_eq!(plain_start("1829 was the year"), "1829 was the year");
        assert_eq!(
            plain_start("Mitochondria # not a heading"),
            "Mitochondria # not a heading"
        );
    }
}
