//! Notes and their cards: a basic note makes one card, a basic-and-reversed note two (front →
//! back and back → front), a cloze note one per cloze number (`{{c1::mitochondria}}`). Cards of
//! one note are siblings: they share the note's id and texts.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::uuid_id;

uuid_id!(
    /// A note: what one or more sibling cards are made from.
    NoteId
);

/// The most cards one cloze note makes.
pub const MAX_CLOZES: usize = 50;
/// The highest cloze number.
pub const MAX_CLOZE_NUMBER: u32 = 500;

/// What kind of note a card belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardKind {
    /// One card: question → answer.
    #[default]
    Basic,
    /// Two cards: question → answer (ordinal 0) and answer → question (ordinal 1).
    Reversed,
    /// One card per cloze number in the question; the answer is extra text shown on the back.
    Cloze,
}

impl CardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Reversed => "reversed",
            Self::Cloze => "cloze",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "basic" => Some(Self::Basic),
            "reversed" => Some(Self::Reversed),
            "cloze" => Some(Self::Cloze),
            _ => None,
        }
    }
}

/// A card's place in its note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoteRef {
    pub id: NoteId,
    pub kind: CardKind,
    /// Basic: 0; reversed: 0 (forward) or 1 (backward); cloze: the cloze number.
    pub ordinal: u32,
}

impl NoteRef {
    /// A new basic note of one card.
    pub fn basic() -> Self {
        Self {
            id: NoteId::new(),
            kind: CardKind::Basic,
            ordinal: 0,
        }
    }
}

/// One `{{cN::text}}` or `{{cN::text::hint}}` in a cloze text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cloze<'a> {
    /// Byte range of the whole marker.
    start: usize,
    end: usize,
    number: u32,
    text: &'a str,
    hint: Option<&'a str>,
}

/// The cloze markers of `text`, in order. Markers do not nest; an unclosed `{{c1::` is text.
fn clozes(text: &str) -> Vec<Cloze<'_>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = text[at..].find("{{c") {
        let start = at + found;
        let rest = &text[start + 3..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let after = &rest[digits..];
        let (Ok(number), true) = (rest[..digits].parse::<u32>(), after.starts_with("::")) else {
            at = start + 3;
            continue;
        };
        let body_start = start + 3 + digits + 2;
        let Some(close) = text[body_start..].find("}}") else {
            break;
        };
        let body = &text[body_start..body_start + close];
        let (inner, hint) = match body.split_once("::") {
            Some((inner, hint)) => (inner, Some(hint)),
            None => (body, None),
        };
        out.push(Cloze {
            start,
            end: body_start + close + 2,
            number,
            text: inner,
            hint,
        });
        at = body_start + close + 2;
    }
    out
}

/// The cloze numbers a cloze text makes cards for, checked.
pub fn cloze_numbers(field: &str, text: &str) -> Result<Vec<u32>, FieldError> {
    let numbers: BTreeSet<u32> = clozes(text).iter().map(|c| c.number).collect();
    if numbers.is_empty() {
        return Err(FieldError::new(
            field,
            "a cloze card needs at least one cloze such as {{c1::mitochondria}}",
        ));
    }
    if numbers.contains(&0) || numbers.iter().any(|n| *n > MAX_CLOZE_NUMBER) {
        return Err(FieldError::new(
            field,
            format!("cloze numbers run from c1 to c{MAX_CLOZE_NUMBER}"),
        ));
    }
    if numbers.len() > MAX_CLOZES {
        return Err(FieldError::new(
            field,
            format!("at most {MAX_CLOZES} different clozes in one note"),
        ));
    }
    Ok(numbers.into_iter().collect())
}

/// The cloze text as card `number` shows it: that cloze hidden as `[...]` (or `[hint]`) on the
/// front, in bold on the back; every other cloze as its plain text.
pub fn render_cloze(text: &str, number: u32, reveal: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for cloze in clozes(text) {
        out.push_str(&text[at..cloze.start]);
        match (cloze.number == number, reveal) {
            (false, _) => out.push_str(cloze.text),
            (true, true) => {
                out.push_str("**");
                out.push_str(cloze.text);
                out.push_str("**");
            }
            (true, false) => {
                out.push('[');
                out.push_str(cloze.hint.unwrap_or("..."));
                out.push(']');
            }
        }
        at = cloze.end;
    }
    out.push_str(&text[at..]);
    out
}

/// What the gaps of cloze `number` hide, joined by `, `: a cloze card's answer in a
/// question-and-answer shape.
pub fn cloze_answer(text: &str, number: u32) -> String {
    clozes(text)
        .iter()
        .filter(|c| c.number == number)
        .map(|c| c.text)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cloze_answer_is_what_its_gaps_hide() {
        let text = "{{c1::Mitochondria}} make {{c2::ATP::a molecule}} by {{c1::respiration}}.";
        assert_eq!(cloze_answer(text, 1), "Mitochondria, respiration");
        assert_eq!(cloze_answer(text, 2), "ATP");
        assert_eq!(cloze_answer(text, 3), "");
    }

    #[test]
    fn each_cloze_number_makes_a_card_showing_only_its_gap() {
        let text = "{{c1::Mitochondria}} make {{c2::ATP::a molecule}} by {{c1::respiration}}.";
        assert_eq!(cloze_numbers("q", text).unwrap(), [1, 2]);
        assert_eq!(render_cloze(text, 1, false), "[...] make ATP by [...].");
        assert_eq!(
            render_cloze(text, 1, true),
            "**Mitochondria** make ATP by **respiration**."
        );
        assert_eq!(
            render_cloze(text, 2, false),
            "Mitochondria make [a molecule] by respiration."
        );
        assert_eq!(
            render_cloze(text, 2, true),
            "Mitochondria make **ATP** by respiration."
        );
    }

    #[test]
    fn malformed_markers_are_text_and_bad_numbers_are_refused() {
        assert!(cloze_numbers("q", "no clozes here").is_err());
        assert!(cloze_numbers("q", "{{c0::zero}}").is_err());
        assert!(cloze_numbers("q", "{{c501::far}}").is_err());
        let many: String = (1..=51).map(|n| format!("{{{{c{n}::x}}}} ")).collect();
        assert!(cloze_numbers("q", &many).is_err());
        let odd = "{{c::x}} {{cx::y}} {{c1:z}} {{c2::open";
        assert!(cloze_numbers("q", odd).is_err());
        assert_eq!(render_cloze(odd, 1, false), odd);
        assert_eq!(
            render_cloze("{{c1::a}} and {{c3::é}}", 3, false),
            "a and [...]"
        );
    }
}
