//! The collection's rows, computed from the cards before any I/O, and written to SQLite.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait, Value};

use crate::card::AnkiCard;
use crate::error::AnkiError;
use crate::fields::{field_checksum, field_html, guid, tag_string};
use crate::{collection, markdown};

pub(crate) const SECS_PER_DAY: i64 = 86_400;

/// Ids are millisecond timestamps; earlier clocks are raised to 2001-09-09 so that ids stay
/// clear of Anki's small fixed ids (deck 1, option group 1).
const MIN_ID: i64 = 1_000_000_000_000;

struct NoteRow {
    id: i64,
    guid: String,
    tags: String,
    flds: String,
    sfld: String,
    csum: i64,
}

struct CardRow {
    kind: i64,
    queue: i64,
    due: i64,
    ivl: i64,
    factor: i64,
    reps: i64,
    lapses: i64,
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
    rows: Vec<(NoteRow, CardRow)>,
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

        let mut rows = Vec::with_capacity(cards.len());
        let mut new_position = 0i64;
        // Every tag once, in first-seen order: a set to look up, a list to keep the order.
        let mut all_tags: Vec<String> = Vec::new();
        let mut known_tags: HashSet<String> = HashSet::new();
        for (index, card) in cards.iter().enumerate() {
            let offset = i64::try_from(index)
                .ok()
                .and_then(|i| i.checked_add(1))
                .ok_or(AnkiError::TimeOutOfRange)?;
            let id = deck_id
                .checked_add(offset)
                .ok_or(AnkiError::TimeOutOfRange)?;
            let front = field_html(&card.question);
            let back = field_html(&card.answer);
            let sfld = markdown::strip_html(&front);
            let tags = tag_string(&card.tags);
            for tag in tags.split_whitespace() {
                if known_tags.insert(tag.to_owned()) {
                    all_tags.push(tag.to_owned());
                }
            }
            let note = NoteRow {
                id,
                guid: guid(card.id),
                tags,
                flds: format!("{front}\x1f{back}"),
                csum: field_checksum(&sfld),
                sfld,
            };
            let (reps, lapses) = card
                .schedule
                .as_ref()
                .map_or((0, 0), |s| (i64::from(s.reps), i64::from(s.lapses)));
            let card_row = match &card.schedule {
                Some(s) if s.review => CardRow {
                    kind: 2,
                    queue: 2,
                    due: (s.due.timestamp() - crt)
                        .div_euclid(SECS_PER_DAY)
                        .clamp(0, i64::from(i32::MAX)),
                    ivl: i64::from(s.interval_days).clamp(1, i64::from(i32::MAX)),
                    factor: 2500,
                    reps,
                    lapses,
                },
                _ => {
                    new_position += 1;
                    CardRow {
                        kind: 0,
                        queue: 0,
                        due: new_position,
                        ivl: 0,
                        factor: 0,
                        reps,
                        lapses,
                    }
                }
            };
            rows.push((note, card_row));
        }

        let tags_json: serde_json::Map<String, serde_json::Value> = all_tags
            .into_iter()
            .map(|tag| (tag, serde_json::Value::from(-1)))
            .collect();
        Ok(Self {
            crt,
            mod_secs,
            mod_ms,
            deck_id,
            models: serde_json::to_string(&collection::models(deck_id))?,
            decks: serde_json::to_string(&collection::decks(deck_id, deck_name, mod_secs))?,
            dconf: serde_json::to_string(&collection::deck_configs())?,
            conf: serde_json::to_string(&collection::config(deck_id, new_position + 1))?,
            tags: serde_json::to_string(&tags_json)?,
            rows,
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
        for (note, card) in &self.rows {
            txn.execute_raw(stmt(
                "INSERT INTO notes (id, guid, mid, mod, usn, tags, flds, sfld, csum, flags, data) \
                 VALUES (?, ?, ?, ?, -1, ?, ?, ?, ?, 0, '')",
                vec![
                    note.id.into(),
                    note.guid.clone().into(),
                    collection::MODEL_ID.into(),
                    self.mod_secs.into(),
                    note.tags.clone().into(),
                    note.flds.clone().into(),
                    note.sfld.clone().into(),
                    note.csum.into(),
                ],
            ))
            .await?;
            txn.execute_raw(stmt(
                "INSERT INTO cards (id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, \
                 reps, lapses, left, odue, odid, flags, data) \
                 VALUES (?, ?, ?, 0, ?, -1, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, '')",
                vec![
                    note.id.into(),
                    note.id.into(),
                    self.deck_id.into(),
                    self.mod_secs.into(),
                    card.kind.into(),
                    card.queue.into(),
                    card.due.into(),
                    card.ivl.into(),
                    card.factor.into(),
                    card.reps.into(),
                    card.lapses.into(),
                ],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
