//! The collection's rows, computed from the cards before any I/O, and written to SQLite.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};

use crate::card::{AnkiCard, NoteKind};
use crate::error::AnkiError;
use crate::fields::{field_checksum, field_html, guid, tag_string};
use crate::import::DATA_KEY;
use crate::{collection, markdown};

pub(crate) const SECS_PER_DAY: i64 = 86_400;

/// Ids are millisecond timestamps; earlier clocks are raised to 2001-09-09 so that ids stay
/// clear of Anki's small fixed ids (deck 1, option group 1).
const MIN_ID: i64 = 1_000_000_000_000;

struct NoteRow {
    id: i64,
    guid: String,
    model: i64,
    tags: String,
    flds: String,
    sfld: String,
    csum: i64,
    data: String,
}

struct CardRow {
    id: i64,
    nid: i64,
    ord: i64,
    kind: i64,
    queue: i64,
    due: i64,
    ivl: i64,
    factor: i64,
    reps: i64,
    lapses: i64,
    left: i64,
}

struct RevlogRow {
    id: i64,
    cid: i64,
    ease: i64,
    ivl: i64,
    last_ivl: i64,
    factor: i64,
    time: i64,
    kind: i64,
}

/// Everything the collection holds, computed before any I/O.
pub(crate) struct Content {
    crt: i64,
    mod_secs: i64,
    mod_ms: i64,
    deck_id: i64,
    models: String,
    decks: String,
    dconf: String,
    conf: String,
    tags: String,
    notes: Vec<NoteRow>,
    cards: Vec<CardRow>,
    revlog: Vec<RevlogRow>,
}

/// The collection's rows as they are built.
#[derive(Default)]
struct Rows {
    notes: Vec<NoteRow>,
    cards: Vec<CardRow>,
    revlog: Vec<RevlogRow>,
    /// Review log ids (millisecond timestamps) taken: two reviews in one millisecond get
    /// consecutive ids.
    revlog_ids: HashSet<i64>,
    kinds: Vec<NoteKind>,
    tags: Vec<String>,
    known_tags: HashSet<String>,
    new_position: i64,
}

impl Content {
    pub(crate) fn build(
        deck_name: &str,
        cards: &[AnkiCard],
        now: DateTime<Utc>,
    ) -> Result<Self, AnkiError> {
        let mod_secs = now.timestamp();
        let mod_ms = now.timestamp_millis();
        let deck_id = mod_ms.max(MIN_ID);
        // The collection is created at the start of the (UTC) day of `now`, or of an earlier
        // review due date, so review due days are never negative.
        let earliest = cards
            .iter()
            .filter_map(|c| {
                c.schedule
                    .as_ref()
                    .filter(|s| s.review)
                    .map(|s| s.due.timestamp())
            })
            .fold(mod_secs, i64::min);
        let crt = earliest.div_euclid(SECS_PER_DAY) * SECS_PER_DAY;

        let mut rows = Rows::default();
        let mut note_of: HashMap<uuid::Uuid, i64> = HashMap::new();
        for (index, card) in cards.iter().enumerate() {
            let offset = i64::try_from(index)
                .ok()
                .and_then(|i| i.checked_add(1))
                .ok_or(AnkiError::TimeOutOfRange)?;
            let id = deck_id
                .checked_add(offset)
                .ok_or(AnkiError::TimeOutOfRange)?;
            let note_key = if card.note_id.is_nil() {
                card.id
            } else {
                card.note_id
            };
            let nid = match note_of.get(&note_key) {
                Some(nid) => *nid,
                None => {
                    note_of.insert(note_key, id);
                    rows.add_note(id, card);
                    id
                }
            };
            rows.add_card(id, nid, card, crt);
        }

        let tags_json: serde_json::Map<String, serde_json::Value> = rows
            .tags
            .iter()
            .map(|tag| (tag.clone(), serde_json::Value::from(-1)))
            .collect();
        Ok(Self {
            crt,
            mod_secs,
            mod_ms,
            deck_id,
            models: serde_json::to_string(&collection::models(deck_id, &rows.kinds))?,
            decks: serde_json::to_string(&collection::decks(deck_id, deck_name, mod_secs))?,
            dconf: serde_json::to_string(&collection::deck_configs())?,
            conf: serde_json::to_string(&collection::config(deck_id, rows.new_position + 1))?,
            tags: serde_json::to_string(&tags_json)?,
            notes: rows.notes,
            cards: rows.cards,
            revlog: rows.revlog,
        })
    }

    pub(crate) async fn write(&self, db: &DatabaseConnection) -> Result<(), AnkiError> {
        let txn = db.begin().await?;
        txn.execute_unprepared(collection::SCHEMA).await?;
        let stmt = |sql: &str, values: Vec<Value>| {
            Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
        };
        txn.execute_raw(stmt(
            "INSERT INTO col (id, crt, mod, scm, ver, dty, usn, ls, conf, models, decks, dconf, tags) \
             VALUES (1, ?, ?, ?, 11, 0, 0, 0, ?, ?, ?, ?, ?)",
            vec![
                self.crt.into(),
                self.mod_ms.into(),
                self.mod_ms.into(),
                self.conf.clone().into(),
                self.models.clone().into(),
                self.decks.clone().into(),
                self.dconf.clone().into(),
                self.tags.clone().into(),
            ],
        ))
        .await?;
        for note in &self.notes {
            txn.execute_raw(stmt(
                "INSERT INTO notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data) \
                 VALUES (?, ?, ?, ?, -1, ?, ?, ?, ?, 0, ?)",
                vec![
                    note.id.into(),
                    note.guid.clone().into(),
                    note.model.into(),
                    self.mod_secs.into(),
                    note.tags.clone().into(),
                    note.flds.clone().into(),
                    note.sfld.clone().into(),
                    note.csum.into(),
                    note.data.clone().into(),
                ],
            ))
            .await?;
        }
        for card in &self.cards {
            txn.execute_raw(stmt(
                "INSERT INTO cards (id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, \
                 reps, lapses, left, odue, odid, flags, data) \
                 VALUES (?, ?, ?, ?, ?, -1, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, '')",
                vec![
                    card.id.into(),
                    card.nid.into(),
                    self.deck_id.into(),
                    card.ord.into(),
                    self.mod_secs.into(),
                    card.kind.into(),
                    card.queue.into(),
                    card.due.into(),
                    card.ivl.into(),
                    card.factor.into(),
                    card.reps.into(),
                    card.lapses.into(),
                    card.left.into(),
                ],
            ))
            .await?;
        }
        for review in &self.revlog {
            txn.execute_raw(stmt(
                "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type) \
                 VALUES (?, ?, -1, ?, ?, ?, ?, ?, ?)",
                vec![
                    review.id.into(),
                    review.cid.into(),
                    review.ease.into(),
                    review.ivl.into(),
                    review.last_ivl.into(),
                    review.factor.into(),
                    review.time.into(),
                    review.kind.into(),
                ],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

impl Rows {
    /// The note `card` belongs to, with id `id`: its fields rendered, its Markdown kept in
    /// `data` so that FlashForge reads it back exactly.
    fn add_note(&mut self, id: i64, card: &AnkiCard) {
        let front = field_html(&card.question);
        let back = field_html(&card.answer);
        let sfld = markdown::strip_html(&front);
        let tags = tag_string(&card.tags);
        for tag in tags.split_whitespace() {
            if self.known_tags.insert(tag.to_owned()) {
                self.tags.push(tag.to_owned());
            }
        }
        if !self.kinds.contains(&card.kind) {
            self.kinds.push(card.kind);
        }
        let data = serde_json::json!({
            DATA_KEY: { "question": card.question, "answer": card.answer }
        });
        self.notes.push(NoteRow {
            id,
            guid: guid(card.id),
            model: collection::model_id(card.kind),
            tags,
            flds: format!("{front}\x1f{back}"),
            csum: field_checksum(&sfld),
            sfld,
            data: data.to_string(),
        });
    }

    fn add_card(&mut self, id: i64, nid: i64, card: &AnkiCard, crt: i64) {
        let ord = match card.kind {
            NoteKind::Cloze => i64::from(card.ordinal.max(1)) - 1,
            _ => i64::from(card.ordinal),
        };
        let (reps, lapses) = card
            .schedule
            .as_ref()
            .map_or((0, 0), |s| (i64::from(s.reps), i64::from(s.lapses)));
        let mut row = match &card.schedule {
            Some(s) if s.review => CardRow {
                id,
                nid,
                ord,
                kind: 2,
                queue: 2,
                due: (s.due.timestamp() - crt)
                    .div_euclid(SECS_PER_DAY)
                    .clamp(0, i64::from(i32::MAX)),
                ivl: i64::from(s.interval_days).clamp(1, i64::from(i32::MAX)),
                factor: 2500,
                reps,
                lapses,
                left: 0,
            },
            // A learning step is due at a second; one step is left.
            Some(s) if !card.reviews.is_empty() || s.reps > 0 => CardRow {
                id,
                nid,
                ord,
                kind: if s.relearning { 3 } else { 1 },
                queue: 1,
                due: s.due.timestamp().clamp(0, i64::from(i32::MAX)),
                ivl: if s.relearning {
                    i64::from(s.interval_days.max(1))
                } else {
                    0
                },
                factor: 2500,
                reps,
                lapses,
                left: 1,
            },
            _ => {
                self.new_position += 1;
                CardRow {
                    id,
                    nid,
                    ord,
                    kind: 0,
                    queue: 0,
                    due: self.new_position,
                    ivl: 0,
                    factor: 0,
                    reps,
                    lapses,
                    left: 0,
                }
            }
        };
        if card.suspended {
            row.queue = -1;
        }
        let mut last_ivl = 0;
        for review in &card.reviews {
            let mut rid = review.at.timestamp_millis().max(1);
            while !self.revlog_ids.insert(rid) {
                rid += 1;
            }
            let ivl = i64::from(review.interval_days);
            self.revlog.push(RevlogRow {
                id: rid,
                cid: id,
                ease: i64::from(review.ease),
                ivl,
                last_ivl,
                factor: if review.kind == 0 { 0 } else { 2500 },
                time: i64::from(review.duration_ms),
                kind: i64::from(review.kind),
            });
            last_ivl = ivl;
        }
        self.cards.push(row);
    }
}
