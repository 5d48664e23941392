//! Making flashcards from material: with the language model's structured output when it can,
//! or offline from the material's own sentences (definition and cloze cards). Every card keeps
//! the chunk and page it came from; near-duplicates of the chat's cards are dropped.

use std::collections::HashSet;

use super::notes::{CardKind, cloze_numbers};
use crate::assistant::{Passage, PromptPassage};
use crate::knowledge::{Chunk, ChunkId};

/// A generated card before it is saved.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// Basic (question → answer) or cloze: the question is a sentence with one gap,
    /// `{{c1::term}}`, and the answer is optional extra text.
    pub kind: CardKind,
    pub question: String,
    pub answer: String,
    /// The chunk it came from (`None` for cards from pasted text).
    pub chunk: Option<ChunkId>,
    pub quote: Option<String>,
}

/// Who made the cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    LanguageModel,
    /// The offline generator: definition and cloze cards from the material's sentences.
    Offline,
}

impl Generator {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "language_model" => Some(Generator::LanguageModel),
            "offline" => Some(Generator::Offline),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Generator::LanguageModel => "language_model",
            Generator::Offline => "offline",
        }
    }
}

/// The JSON schema of the model's answer.
pub fn schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["flashcards"],
        "properties": {
            "flashcards": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["kind", "question", "answer", "source_chunk_id"],
                    "properties": {
                        "kind": {"type": "string", "enum": ["basic", "cloze"]},
                        "question": {"type": "string"},
                        "answer": {"type": "string"},
                        "source_chunk_id": {"type": ["string", "null"]}
                    }
                }
            }
        }
    })
}

pub const INSTRUCTIONS: &str = "You write flashcards for spaced-repetition study from the numbered passages of the student's material. Each card tests one fact or idea: a precise question and a short, complete answer taken from the passage, never from general knowledge. For a definition or a key term, a cloze card may serve better: kind \"cloze\", the question is the passage's sentence with the term written as {{c1::term}} (one gap, always c1) and the answer is empty or a short hint; otherwise kind \"basic\". Give each card the chunk id shown with its passage as source_chunk_id. Answer only with JSON matching the schema.";

/// The passages of a prompt for `chunks` (each with its document's file name), each with its
/// chunk id in the text.
pub fn prompt_passages(chunks: &[(Chunk, String)]) -> Vec<PromptPassage> {
    chunks
        .iter()
        .enumerate()
        .map(|(i, (chunk, file_name))| PromptPassage {
            number: i + 1,
            passage: Passage {
                chunk_id: chunk.id.as_uuid(),
                document_id: chunk.document_id.as_uuid(),
                file_name: file_name.clone(),
                page: Some(chunk.page),
                page_label: chunk.page_label.clone(),
                text: format!("(chunk id {}) {}", chunk.id, chunk.text),
            },
        })
        .collect()
}

/// Reads the model's answer; cards that are not strings or name no known chunk lose only that.
pub fn parse_answer(value: &serde_json::Value, chunks: &[(Chunk, String)]) -> Vec<Draft> {
    let known: HashSet<String> = chunks.iter().map(|(c, _)| c.id.to_string()).collect();
    value["flashcards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|card| {
            let question = card["question"].as_str()?.trim().to_string();
            let kind = match card["kind"].as_str() {
                Some("cloze") => CardKind::Cloze,
                _ => CardKind::Basic,
            };
            // A cloze card must be one gap, c1: what the generated card is saved as.
            if kind == CardKind::Cloze && cloze_numbers("question", &question).ok()? != [1] {
                return None;
            }
            let answer = card["answer"].as_str()?.trim().to_string();
            let chunk = card["source_chunk_id"]
                .as_str()
                .filter(|id| known.contains(*id))
                .and_then(|id| uuid::Uuid::parse_str(id).ok())
                .map(ChunkId::from_uuid);
            Some(Draft {
                kind,
                question,
                answer,
                chunk,
                quote: None,
            })
        })
        .collect()
}

fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.split_inclusive(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| s.split_whitespace().count() >= 5 && s.chars().count() <= 400)
}

const COPULAS: &[&str] = &[" is ", " are ", " was ", " were ", " means ", " refers to "];

/// A definition longer than this (in words) becomes a cloze card asking for the term.
pub const LONG_DEFINITION_WORDS: usize = 12;

/// Cards from the material's own sentences: "X is Y." becomes "What is X?" / "Y", or, when the
/// definition is long (more than [`LONG_DEFINITION_WORDS`] words: too much to recall as an
/// answer), a cloze card that asks for the term, "{{c1::X}} is Y."; another sentence becomes a
/// cloze card with its longest uncommon word as the gap.
pub fn offline(material: &[(Option<ChunkId>, String)], count: usize) -> Vec<Draft> {
    let mut drafts = Vec::new();
    for (chunk, text) in material {
        for sentence in sentences(text) {
            if drafts.len() >= count {
                return drafts;
            }
            let body = sentence.trim_end_matches(['.', '!', '?']);
            let definition = COPULAS.iter().find_map(|copula| {
                let (subject, rest) = body.split_once(copula)?;
                let words = subject.split_whitespace().count();
                (1..=6).contains(&words).then(|| {
                    let (subject, rest) = (subject.trim(), rest.trim());
                    if rest.split_whitespace().count() > LONG_DEFINITION_WORDS {
                        (
                            CardKind::Cloze,
                            format!("{{{{c1::{subject}}}}}{copula}{rest}."),
                            String::new(),
                        )
                    } else {
                        (
                            CardKind::Basic,
                            format!("What {} {subject}?", copula.trim()),
                            rest.to_string(),
                        )
                    }
                })
            });
            let card = definition.or_else(|| {
                let word = body
                    .split(|c: char| !c.is_alphanumeric() && c != '-')
                    .filter(|w| w.chars().count() >= 6)
                    .filter(|w| crate::knowledge::sparse::terms(w).next().is_some())
                    .max_by_key(|w| w.chars().count())?;
                Some((
                    CardKind::Cloze,
                    format!(
                        "{}.",
                        body.replacen(word, &format!("{{{{c1::{word}}}}}"), 1)
                    ),
                    String::new(),
                ))
            });
            if let Some((kind, question, answer)) = card
                && (kind == CardKind::Cloze || !answer.is_empty())
            {
                drafts.push(Draft {
                    kind,
                    question,
                    answer,
                    chunk: *chunk,
                    quote: Some(sentence.to_string()),
                });
            }
        }
    }
    drafts
}

fn words(text: &str) -> HashSet<String> {
    crate::knowledge::sparse::terms(text).collect()
}

/// Whether two questions are near-duplicates: the same words, give or take a fifth.
pub fn similar(a: &str, b: &str) -> bool {
    let (a, b) = (words(a), words(b));
    if a.is_empty() || b.is_empty() {
        return a == b;
    }
    let shared = a.intersection(&b).count() as f32;
    shared / (a.len().max(b.len()) as f32) >= 0.8
}

/// Drops drafts that repeat an existing question or an earlier draft.
pub fn dedup(drafts: Vec<Draft>, existing: &[String]) -> Vec<Draft> {
    dedup_by(drafts, existing, |d| &d.question)
}

/// [`dedup`] for anything with a question.
pub fn dedup_by<T>(items: Vec<T>, existing: &[String], question: impl Fn(&T) -> &str) -> Vec<T> {
    let mut kept: Vec<T> = Vec::new();
    for item in items {
        let q = question(&item);
        let repeats =
            existing.iter().any(|e| similar(e, q)) || kept.iter().any(|k| similar(question(k), q));
        if !repeats {
            kept.push(item);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_cards_are_definitions_or_clozes_of_the_material() {
        let material = vec![(
            None,
            "Mitochondria are the organelles that produce ATP for the cell. Ribosomes translate messenger RNA into chains of amino acids.".to_string(),
        )];
        let cards = offline(&material, 10);
        assert_eq!(cards.len(), 2);
        assert_eq!(cards[0].question, "What are Mitochondria?");
        assert_eq!(
            cards[0].answer,
            "the organelles that produce ATP for the cell"
        );
        assert_eq!(cards[0].kind, CardKind::Basic);
        // Not a definition: a cloze card, its gap the longest uncommon word.
        assert_eq!(cards[1].kind, CardKind::Cloze);
        assert_eq!(
            cards[1].question.replace("{{c1::", "").replace("}}", ""),
            "Ribosomes translate messenger RNA into chains of amino acids."
        );
        assert_eq!(cloze_numbers("question", &cards[1].question).unwrap(), [1]);
        assert_eq!(cards[1].answer, "");
        assert_eq!(offline(&material, 1).len(), 1);
        // A long definition asks for the term.
        let long = vec![(
            None,
            "Osmosis is the movement of water molecules through a membrane that lets water but not the dissolved salts pass.".to_string(),
        )];
        let cards = offline(&long, 10);
        assert_eq!(cards[0].kind, CardKind::Cloze);
        assert!(
            cards[0]
                .question
                .starts_with("{{c1::Osmosis}} is the movement"),
            "{}",
            cards[0].question
        );
    }

    #[test]
    fn near_duplicates_are_dropped() {
        assert!(similar(
            "What are mitochondria?",
            "what ARE the mitochondria"
        ));
        assert!(!similar("What are mitochondria?", "What are ribosomes?"));
        let drafts = vec![
            Draft {
                kind: CardKind::Basic,
                question: "What are mitochondria?".into(),
                answer: "a".into(),
                chunk: None,
                quote: None,
            },
            Draft {
                kind: CardKind::Basic,
                question: "What are ribosomes?".into(),
                answer: "b".into(),
                chunk: None,
                quote: None,
            },
            Draft {
                kind: CardKind::Basic,
                question: "What are ribosomes".into(),
                answer: "c".into(),
                chunk: None,
                quote: None,
            },
        ];
        let kept = dedup(drafts, &["what are the mitochondria?".to_string()]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].answer, "b");
    }
}
