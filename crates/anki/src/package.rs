//! Writing a package: the collection computed from the cards, written to a temporary SQLite
//! file, and zipped.

use std::io::{Cursor, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectOptions, Database};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use flashforge_domain::InfraError;
use flashforge_domain::flashcards::{DeckFileError, PackageDeck, PackageLimits};

use crate::card::AnkiCard;
use crate::content::Content;
use crate::error::AnkiError;
use crate::fields::normalize_deck_name;
use crate::read::{self, ReadError};

/// Writes `cards` as an Anki package (the bytes of an `.apkg` file) with one deck `deck_name`.
///
/// `deck_name` may name a subdeck with `::` (`Biology::Cells`); surrounding whitespace of each
/// part is trimmed and an empty name or part is an error. `now` stamps the collection: ids are
/// millisecond timestamps from it. Cards are written in the given order; new ones get new-card
/// positions 1, 2, … in that order.
///
/// A review card's due date is kept as a day number: the UTC days from the collection's creation
/// (a UTC midnight) to the due instant. Anki shifts it on import so that it stays as many days
/// after the importing day; since the package does not know the user's time zone, a card can land
/// one day early in the user's own calendar.
///
/// The work that grows with the deck (rendering, checksums, tags, compression) runs on the
/// blocking pool, never on the caller's async thread.
pub async fn write_apkg(
    deck_name: &str,
    cards: Vec<AnkiCard>,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, AnkiError> {
    let deck_name = normalize_deck_name(deck_name)?;
    let content = tokio::task::spawn_blocking(move || Content::build(&deck_name, &cards, now))
        .await
        .map_err(|e| AnkiError::Task(e.to_string()))??;

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("collection.anki2");
    let mut options = ConnectOptions::new(sqlite_url(&path));
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await?;
    let written = content.write(&db).await;
    let closed = db.close().await;
    written?;
    closed?;

    tokio::task::spawn_blocking(move || {
        let collection = std::fs::read(&path)?;
        drop(dir);
        package(&collection)
    })
    .await
    .map_err(|e| AnkiError::Task(e.to_string()))?
}

/// Reads an Anki package (an `.apkg`, or a legacy `.colpkg`): its notes with their note types
/// mapped to the API's kinds, cards with their schedules and reviews, and the names of its media
/// files. The file is untrusted: see [`read`](crate::read) for the limits and checks; what does
/// not parse is [`DeckFileError::Unreadable`] with the reason. Unzipping and conversion run on
/// the blocking pool.
pub async fn read_apkg(
    file: bytes::Bytes,
    limits: PackageLimits,
) -> Result<PackageDeck, DeckFileError> {
    let (dir, path, media) = tokio::task::spawn_blocking(move || {
        let (collection, media) = read::unzip(&file, &limits)?;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("collection.anki2");
        std::fs::write(&path, &collection)?;
        Ok::<_, ReadError>((dir, path, media))
    })
    .await
    .map_err(InfraError::internal)?
    .map_err(read_error)?;
    let read = read::read_collection(&path, &limits).await;
    drop(dir);
    let mut collection = read.map_err(read_error)?;
    collection.media = media;
    tokio::task::spawn_blocking(move || crate::import::deck(collection, &limits))
        .await
        .map_err(|e| DeckFileError::Infra(InfraError::internal(e)))
}

fn read_error(error: ReadError) -> DeckFileError {
    match error {
        ReadError::Unreadable(why) => DeckFileError::Unreadable(why),
        ReadError::Internal(e) => DeckFileError::Infra(InfraError::internal(e)),
    }
}

/// The zip: `collection.anki2`, then `media` (`{}`).
fn package(collection: &[u8]) -> Result<Vec<u8>, AnkiError> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    zip.start_file("collection.anki2", options)?;
    zip.write_all(collection)?;
    zip.start_file("media", options)?;
    zip.write_all(b"{}")?;
    Ok(zip.finish()?.into_inner())
}

/// `sqlite://` URL for a file, created if missing; `%`, `?` and `#` in the path are escaped.
pub(crate) fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for ch in path.to_string_lossy().chars() {
        match ch {
            '%' => url.push_str("%25"),
            '?' => url.push_str("%3F"),
            '#' => url.push_str("%23"),
            _ => url.push(ch),
        }
    }
    url.push_str("?mode=rwc");
    url
}
