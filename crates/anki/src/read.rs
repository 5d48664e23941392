//! Reading a package: an `.apkg` (or a legacy `.colpkg`) zip holding a schema-11 collection,
//! untrusted from the first byte. The zip's entry count and the collection's uncompressed size
//! are bounded before anything is inflated past them; the collection is written to a private
//! temporary file, checked to be an SQLite database whose tables are plain tables (a view could
//! run a query of any cost), opened read-only, and read with row limits. Everything that does
//! not parse is an [`Unreadable`](ReadError) answer, never a panic.

use std::collections::HashMap;
use std::io::{Cursor, Read};

use flashforge_domain::flashcards::PackageLimits;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, QueryResult,
    Statement,
};

use crate::error::AnkiError;
use crate::models::{NoteType, note_types};

/// What reading found before conversion: the collection's rows.
pub(crate) struct Collection {
    pub(crate) crt: i64,
    pub(crate) note_types: HashMap<i64, NoteType>,
    pub(crate) notes: Vec<NoteRow>,
    pub(crate) cards: Vec<CardRow>,
    pub(crate) revlog: Vec<RevlogRow>,
    pub(crate) media: Vec<String>,
    /// The review log was written by Anki's first scheduler (`schedVer` 1, or none: genanki's
    /// collections), whose learning steps had three buttons: there ease 2 is good and 3 easy.
    pub(crate) v1_answers: bool,
}

pub(crate) struct NoteRow {
    pub(crate) id: i64,
    pub(crate) mid: i64,
    pub(crate) tags: String,
    pub(crate) flds: String,
    pub(crate) data: String,
}

pub(crate) struct CardRow {
    pub(crate) id: i64,
    pub(crate) nid: i64,
    pub(crate) ord: i64,
    pub(crate) kind: i64,
    pub(crate) queue: i64,
    pub(crate) due: i64,
    pub(crate) ivl: i64,
    pub(crate) factor: i64,
    pub(crate) reps: i64,
    pub(crate) lapses: i64,
    pub(crate) odue: i64,
    pub(crate) odid: i64,
}

pub(crate) struct RevlogRow {
    pub(crate) id: i64,
    pub(crate) cid: i64,
    pub(crate) ease: i64,
    pub(crate) time: i64,
    pub(crate) kind: i64,
}

/// Why a package could not be read: a message for the client, or a failure of ours.
#[derive(Debug)]
pub(crate) enum ReadError {
    Unreadable(String),
    Internal(AnkiError),
}

impl<E: Into<AnkiError>> From<E> for ReadError {
    fn from(e: E) -> Self {
        Self::Internal(e.into())
    }
}

pub(crate) fn unreadable(why: impl Into<String>) -> ReadError {
    ReadError::Unreadable(why.into())
}

/// The collection entries a package may hold, the one read first first:
/// `collection.anki21b` (Anki 2.1.50 and later, zstd-compressed; such a package also holds a
/// stub `collection.anki2` that only tells old versions to update), then the legacy ones.
const COLLECTIONS: [&str; 3] = [
    "collection.anki21b",
    "collection.anki21",
    "collection.anki2",
];

/// The collection's bytes and the media names, out of the zip.
pub(crate) fn unzip(
    file: &[u8],
    limits: &PackageLimits,
) -> Result<(Vec<u8>, Vec<String>), ReadError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(file))
        .map_err(|_| unreadable("not an Anki package: the file is not a zip archive"))?;
    if archive.len() > limits.max_entries {
        return Err(unreadable(format!(
            "the package has {} files; at most {} are read",
            archive.len(),
            limits.max_entries
        )));
    }
    let Some(name) = COLLECTIONS
        .iter()
        .find(|name| archive.index_for_name(name).is_some())
    else {
        return Err(unreadable(
            "not an Anki package: it holds no collection.anki2",
        ));
    };
    let collection = if *name == "collection.anki21b" {
        // Compressed: read as stored (bounded by the limit too), then decompressed within it.
        let compressed = read_entry(&mut archive, name, limits.max_collection_bytes)?;
        crate::modern::decompress(&compressed, limits.max_collection_bytes, name)?
    } else {
        read_entry(&mut archive, name, limits.max_collection_bytes)?
    };
    let media = match archive.index_for_name("media") {
        Some(_) => {
            let map = read_entry(&mut archive, "media", 8 * 1024 * 1024)?;
            if map.starts_with(&crate::modern::ZSTD_MAGIC) {
                crate::modern::media_names(&map)
            } else {
                media_names(&map)
            }
        }
        None => Vec::new(),
    };
    Ok((collection, media))
}

/// An entry's bytes, refused once it inflates past `limit` (whatever its header claims).
fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, ReadError> {
    let entry = archive
        .by_name(name)
        .map_err(|e| unreadable(format!("the package's {name} cannot be read: {e}")))?;
    let mut bytes = Vec::new();
    entry
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(format!("the package's {name} cannot be read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(unreadable(format!(
            "the package's {name} is larger than {} MiB uncompressed",
            limit / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// The media map (`{"0": "cell.png", …}`) as file names in the order of their numbers; a map
/// that does not parse lists nothing (media is not imported either way).
fn media_names(map: &[u8]) -> Vec<String> {
    let Ok(serde_json::Value::Object(entries)) = serde_json::from_slice(map) else {
        return Vec::new();
    };
    let mut named: Vec<(u64, String)> = entries
        .into_iter()
        .filter_map(|(number, name)| Some((number.parse().ok()?, name.as_str()?.to_owned())))
        .collect();
    named.sort();
    named.into_iter().map(|(_, name)| name).collect()
}

/// Reads the collection database at `path` (already written), read-only.
pub(crate) async fn read_collection(
    path: &std::path::Path,
    limits: &PackageLimits,
) -> Result<Collection, ReadError> {
    let mut header = [0u8; 16];
    std::fs::File::open(path)?.read_exact(&mut header).ok();
    if &header != b"SQLite format 3\0" {
        return Err(unreadable(
            "not an Anki package: its collection is not an SQLite database",
        ));
    }
    let mut options = ConnectOptions::new(readonly_url(path));
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(|e| unreadable(format!("the collection cannot be opened: {e}")))?;
    let read = read_rows(&db, limits).await;
    db.close().await.ok();
    read
}

async fn read_rows(
    db: &DatabaseConnection,
    limits: &PackageLimits,
) -> Result<Collection, ReadError> {
    let tables = query(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('col', 'notes', 'cards', 'revlog')",
    )
    .await?;
    if tables.len() != 4 {
        return Err(unreadable(
            "not an Anki collection: it lacks the col, notes, cards or revlog table",
        ));
    }
    let col = query(db, "SELECT crt, models, conf FROM col LIMIT 1").await?;
    let col = col
        .first()
        .ok_or_else(|| unreadable("not an Anki collection: its col table is empty"))?;
    let crt: i64 = get(col, "crt")?;
    let models: String = get(col, "models")?;
    let conf: String = get::<Option<String>>(col, "conf")?.unwrap_or_default();
    // Schema 18 keeps its note types in tables and leaves `models` empty.
    let modern = models.trim().is_empty();
    let note_types = if modern {
        crate::modern::note_types(db).await?
    } else {
        note_types(&models).map_err(unreadable)?
    };
    // Schema 18 postdates the first scheduler: its logs are always of four buttons.
    let v1_answers = !modern
        && serde_json::from_str::<serde_json::Value>(&conf)
            .ok()
            .and_then(|c| c["schedVer"].as_i64())
            .is_none_or(|version| version < 2);

    let notes = bounded(
        db,
        "SELECT id, mid, tags, flds, data FROM notes ORDER BY id",
        limits.max_notes,
        "notes",
    )
    .await?
    .iter()
    .map(|row| {
        Ok(NoteRow {
            id: get(row, "id")?,
            mid: get(row, "mid")?,
            tags: get(row, "tags")?,
            flds: get(row, "flds")?,
            data: get::<Option<String>>(row, "data")?.unwrap_or_default(),
        })
    })
    .collect::<Result<Vec<_>, ReadError>>()?;
    let cards = bounded(
        db,
        "SELECT id, nid, ord, type, queue, due, ivl, factor, reps, lapses, odue, odid \
         FROM cards ORDER BY nid, ord, id",
        limits.max_cards,
        "cards",
    )
    .await?
    .iter()
    .map(|row| {
        Ok(CardRow {
            id: get(row, "id")?,
            nid: get(row, "nid")?,
            ord: get(row, "ord")?,
            kind: get(row, "type")?,
            queue: get(row, "queue")?,
            due: get(row, "due")?,
            ivl: get(row, "ivl")?,
            factor: get(row, "factor")?,
            reps: get(row, "reps")?,
            lapses: get(row, "lapses")?,
            odue: get(row, "odue")?,
            odid: get(row, "odid")?,
        })
    })
    .collect::<Result<Vec<_>, ReadError>>()?;
    let revlog = bounded(
        db,
        "SELECT id, cid, ease, time, type FROM revlog ORDER BY cid, id",
        limits.max_reviews,
        "reviews",
    )
    .await?
    .iter()
    .map(|row| {
        Ok(RevlogRow {
            id: get(row, "id")?,
            cid: get(row, "cid")?,
            ease: get(row, "ease")?,
            time: get(row, "time")?,
            kind: get(row, "type")?,
        })
    })
    .collect::<Result<Vec<_>, ReadError>>()?;
    Ok(Collection {
        crt,
        note_types,
        notes,
        cards,
        revlog,
        media: Vec::new(),
        v1_answers,
    })
}

pub(crate) async fn query(
    db: &DatabaseConnection,
    sql: &str,
) -> Result<Vec<QueryResult>, ReadError> {
    db.query_all_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await
        .map_err(|e| unreadable(format!("the collection cannot be read: {e}")))
}

/// The rows of `sql`, refused when there are more than `limit` (one more is read to know).
pub(crate) async fn bounded(
    db: &DatabaseConnection,
    sql: &str,
    limit: usize,
    what: &str,
) -> Result<Vec<QueryResult>, ReadError> {
    let rows = query(db, &format!("{sql} LIMIT {}", limit + 1)).await?;
    if rows.len() > limit {
        return Err(unreadable(format!(
            "the package has more than {limit} {what}; at most {limit} are imported at once"
        )));
    }
    Ok(rows)
}

pub(crate) fn get<T: sea_orm::TryGetable>(row: &QueryResult, column: &str) -> Result<T, ReadError> {
    row.try_get_by::<T, _>(column).map_err(|_| {
        unreadable(format!(
            "the collection's {column} column holds a bad value"
        ))
    })
}

/// `sqlite://` URL opening an existing file read-only; `%`, `?` and `#` in the path escaped.
fn readonly_url(path: &std::path::Path) -> String {
    let url = crate::package::sqlite_url(path);
    match url.strip_suffix("?mode=rwc") {
        Some(base) => format!("{base}?mode=ro"),
        None => url,
    }
}
