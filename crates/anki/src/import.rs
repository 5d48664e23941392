//! A read collection as the domain's [`PackageDeck`]: notes by their note types, fields from
//! Anki's HTML to Markdown, cards with their state and due date, reviews from the review log.

use std::collections::HashMap;

use chrono::DateTime;
use flashforge_domain::flashcards::{
    CardKind, CardState, PackageCard, PackageDeck, PackageLimits, PackageNote, PackageReview,
    Rating,
};

use crate::content::SECS_PER_DAY;
use crate::markdown;
use crate::models::NoteType;
use crate::read::{CardRow, Collection, NoteRow, RevlogRow};

/// Where our own export keeps a note's Markdown (its fields hold the rendered HTML): the note's
/// `data` column, `{"flashforge": {"question": …, "answer": …}}`.
pub(crate) const DATA_KEY: &str = "flashforge";

/// Longest review Anki can log, a day: longer times are clamped.
const MAX_REVIEW_MS: i64 = 24 * 3600 * 1000;

/// The deck in the collection.
pub(crate) fn deck(collection: Collection, limits: &PackageLimits) -> PackageDeck {
    let mut reviews: HashMap<i64, Vec<&RevlogRow>> = HashMap::new();
    for row in &collection.revlog {
        reviews.entry(row.cid).or_default().push(row);
    }
    let mut cards: HashMap<i64, Vec<&CardRow>> = HashMap::new();
    for card in &collection.cards {
        cards.entry(card.nid).or_default().push(card);
    }
    let unknown = NoteType::unknown();
    let notes = collection
        .notes
        .iter()
        .map(|row| {
            let note_type = collection.note_types.get(&row.mid).unwrap_or(&unknown);
            let note_cards = cards.get(&row.id).map(Vec::as_slice).unwrap_or_default();
            let log = (collection.crt, collection.v1_answers);
            note(row, note_type, note_cards, &reviews, log, limits)
        })
        .collect();
    PackageDeck {
        media: collection.media,
        notes,
    }
}

fn note(
    row: &NoteRow,
    note_type: &NoteType,
    cards: &[&CardRow],
    reviews: &HashMap<i64, Vec<&RevlogRow>>,
    (crt, v1_answers): (i64, bool),
    limits: &PackageLimits,
) -> PackageNote {
    let fields: Vec<&str> = row.flds.split('\x1f').collect();
    let field = |i: Option<usize>| {
        i.and_then(|i| fields.get(i))
            .map(|html| {
                if html.chars().count() > limits.max_field_chars {
                    // Too long to store anyway: passed on as it is, for the card limits to refuse.
                    (*html).to_owned()
                } else {
                    markdown::from_html(html)
                }
            })
            .unwrap_or_default()
    };
    let (mut question, mut answer) = (field(Some(note_type.question)), field(note_type.answer));
    if let Some((q, a)) = own_markdown(row, &fields, note_type) {
        (question, answer) = (q, a);
    }
    let kind = note_type.kind;
    let cards = cards
        .iter()
        .filter_map(|card| {
            let ordinal = match kind {
                CardKind::Cloze => u32::try_from(card.ord).ok()?.checked_add(1)?,
                CardKind::Reversed if card.ord == 0 || card.ord == 1 => card.ord as u32,
                _ if card.ord == 0 => 0,
                // Other templates of a converted note type: only its first card is kept.
                _ => return None,
            };
            let log = reviews.get(&card.id).map(Vec::as_slice).unwrap_or_default();
            Some(package_card(card, ordinal, log, crt, v1_answers))
        })
        .collect();
    PackageNote {
        kind,
        question,
        answer,
        tags: row.tags.split_whitespace().map(str::to_owned).collect(),
        converted_from: (!note_type.native).then(|| note_type.name.clone()),
        cards,
    }
}

/// The Markdown our export kept in the note's `data`, when the fields still hold what it
/// renders to (a note edited in Anki since is read from its fields).
fn own_markdown(row: &NoteRow, fields: &[&str], note_type: &NoteType) -> Option<(String, String)> {
    if !row.data.starts_with('{') {
        return None;
    }
    let data: serde_json::Value = serde_json::from_str(&row.data).ok()?;
    let ours = data.get(DATA_KEY)?;
    let question = ours["question"].as_str()?.to_owned();
    let answer = ours["answer"].as_str()?.to_owned();
    let rendered_q = crate::fields::field_html(&question);
    let rendered_a = crate::fields::field_html(&answer);
    let stored_a = note_type
        .answer
        .and_then(|i| fields.get(i))
        .copied()
        .unwrap_or("");
    (fields.get(note_type.question) == Some(&rendered_q.as_str()) && stored_a == rendered_a)
        .then_some((question, answer))
}

fn package_card(
    card: &CardRow,
    ordinal: u32,
    log: &[&RevlogRow],
    crt: i64,
    v1_answers: bool,
) -> PackageCard {
    // A card in a filtered deck keeps its home deck's due date in `odue`.
    let due_number = if card.odid != 0 && card.odue != 0 {
        card.odue
    } else {
        card.due
    };
    let state = match card.kind {
        1 => CardState::Learning,
        2 => CardState::Review,
        3 => CardState::Relearning,
        _ => CardState::New,
    };
    let due = match state {
        CardState::New => None,
        // Learning steps are due at a second since the epoch; a day-learning one (queue 3) and
        // a review card on a day counted from the collection's creation.
        _ if due_number > 1_000_000_000 => DateTime::from_timestamp(due_number, 0),
        _ => due_number
            .checked_mul(SECS_PER_DAY)
            .and_then(|days| crt.checked_add(days))
            .and_then(|secs| DateTime::from_timestamp(secs, 0)),
    };
    PackageCard {
        ordinal,
        suspended: card.queue == -1,
        state,
        due,
        reps: clamp_u32(card.reps),
        lapses: clamp_u32(card.lapses),
        reviews: history(log, v1_answers),
        interval_days: clamp_u32(card.ivl),
        ease_factor: clamp_u32(card.factor),
    }
}

/// The reviews of a card's log, oldest first: answers only (ease 1–4 of a learning, review,
/// relearning or filtered-deck review); manual reschedules and rows that do not parse are left
/// out. In a log of Anki's first scheduler (`v1_answers`) a learning or relearning step had
/// three buttons, so its ease 2 is good and 3 easy, as Anki reads it when it upgrades.
fn history(log: &[&RevlogRow], v1_answers: bool) -> Vec<PackageReview> {
    let mut out: Vec<PackageReview> = Vec::with_capacity(log.len());
    for row in log {
        let ease = match (v1_answers, row.kind, row.ease) {
            (true, 0 | 2, 2 | 3) => row.ease + 1,
            _ => row.ease,
        };
        let rating = match ease {
            1 => Rating::Again,
            2 => Rating::Hard,
            3 => Rating::Good,
            4 => Rating::Easy,
            _ => continue,
        };
        let state_before = match (row.kind, out.is_empty()) {
            (0, true) => CardState::New,
            (0, false) => CardState::Learning,
            (1 | 3, _) => CardState::Review,
            (2, _) => CardState::Relearning,
            _ => continue,
        };
        let Some(at) = DateTime::from_timestamp_millis(row.id) else {
            continue;
        };
        out.push(PackageReview {
            at,
            rating,
            state_before,
            duration_ms: row.time.clamp(0, MAX_REVIEW_MS) as u32,
        });
    }
    out.sort_by_key(|r| r.at);
    out
}

fn clamp_u32(value: i64) -> u32 {
    value.clamp(0, i64::from(u32::MAX)) as u32
}
