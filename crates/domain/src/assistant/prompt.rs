//! Grounding: which passages an answer cites, and how much conversation fits the context.

use std::collections::BTreeSet;

use super::models::{Citation, Message};
use super::ports::PromptPassage;

/// The longest quote kept from a passage.
const MAX_QUOTE_CHARS: usize = 300;

/// The citations of an answer: one per passage number `[n]` it mentions that really was in the
/// prompt (numbers that were not are ignored), in order of first mention. Each quote is the
/// sentence of the passage that shares the most words with the answer, so it appears in the
/// passage word for word.
pub fn cite(answer: &str, passages: &[PromptPassage]) -> Vec<Citation> {
    let mut seen = BTreeSet::new();
    let mut citations = Vec::new();
    for number in markers(answer) {
        let Some(p) = passages.iter().find(|p| p.number == number) else {
            continue;
        };
        if !seen.insert(number) {
            continue;
        }
        citations.push(Citation {
            document_id: p.passage.document_id,
            file_name: p.passage.file_name.clone(),
            page: p.passage.page,
            page_label: p.passage.page_label.clone(),
            chunk_id: p.passage.chunk_id,
            quote: best_sentence(&p.passage.text, answer),
        });
    }
    citations
}

/// The numbers in `[1]`, `[2, 3]` and `[4][5]` markers, in order.
fn markers(text: &str) -> Vec<usize> {
    let mut numbers = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find(']') else { break };
        let inside = &rest[..close];
        if inside.len() <= 40 {
            let parsed: Option<Vec<usize>> = inside
                .split(',')
                .map(|n| n.trim().parse::<usize>().ok())
                .collect();
            if let Some(parsed) = parsed {
                numbers.extend(parsed);
            }
        }
        rest = &rest[close + 1..];
    }
    numbers
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .collect()
}

fn best_sentence(passage: &str, answer: &str) -> String {
    let answer_words = words(answer);
    let sentences = passage
        .split_inclusive(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let best = sentences
        .max_by_key(|s| words(s).intersection(&answer_words).count())
        .unwrap_or(passage.trim());
    cut(best, MAX_QUOTE_CHARS)
}

/// At most `max` characters, cut at a word boundary when there is one.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let prefix: String = text.chars().take(max).collect();
    match prefix.rfind(char::is_whitespace) {
        Some(space) if space > max / 2 => prefix[..space].to_string(),
        _ => prefix,
    }
}

/// The newest messages whose contents fit in `budget_chars`, oldest first.
pub fn fit_history(recent: Vec<Message>, budget_chars: usize) -> Vec<Message> {
    let mut kept = Vec::new();
    let mut used = 0;
    for message in recent.into_iter().rev() {
        let size = message.content.chars().count();
        if used + size > budget_chars {
            break;
        }
        used += size;
        kept.push(message);
    }
    kept.reverse();
    kept
}

#[cfg(test)]
mod tests {
    use super::super::ports::Passage;
    use super::*;
    use uuid::Uuid;

    fn passage(number: usize, text: &str) -> PromptPassage {
        PromptPassage {
            number,
            passage: Passage {
                chunk_id: Uuid::now_v7(),
                document_id: Uuid::now_v7(),
                file_name: format!("doc{number}.pdf"),
                page: Some(number as u32),
                page_label: Some(format!("slide {number}")),
                text: text.to_string(),
            },
        }
    }

    #[test]
    fn citations_name_only_passages_in_the_prompt_with_quotes_from_them() {
        let passages = [
            passage(1, "Mitochondria make ATP. They have their own DNA."),
            passage(2, "The nucleus holds chromosomes."),
        ];
        let answer = "Cells get energy from ATP made by mitochondria [1]. See also [2, 7] and [1] again, [x].";
        let citations = cite(answer, &passages);
        assert_eq!(citations.len(), 2);
        assert_eq!(citations[0].chunk_id, passages[0].passage.chunk_id);
        assert_eq!(citations[0].quote, "Mitochondria make ATP.");
        assert_eq!(citations[1].page, Some(2));
        assert_eq!(citations[1].page_label.as_deref(), Some("slide 2"));
        for c in &citations {
            let source = passages
                .iter()
                .find(|p| p.passage.chunk_id == c.chunk_id)
                .unwrap();
            assert!(source.passage.text.contains(&c.quote));
        }
    }

    #[test]
    fn long_quotes_are_cut_at_a_word_boundary_and_stay_substrings() {
        let text = "word ".repeat(200);
        let quote = best_sentence(&text, "word");
        assert!(quote.chars().count() <= MAX_QUOTE_CHARS);
        assert!(text.contains(&quote));
    }
}
