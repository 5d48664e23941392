//! Packages of Anki 2.1.50 and later (Anki's default export since): `collection.anki21b` is a
//! schema-18 collection compressed with zstd, whose note types live in their own tables
//! (`notetypes`, `fields`, `templates`) with protobuf configs; the `media` map is
//! zstd-compressed protobuf. Decompression is bounded like inflation; protobuf that does not
//! decode is a reason to refuse the package, never a panic.

use std::collections::HashMap;
use std::io::Read;

use sea_orm::DatabaseConnection;

use crate::models::{NoteType, Shape, classify};
use crate::read::{ReadError, bounded, get, query, unreadable};

/// The first bytes of a zstd frame.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// `bytes` decompressed, refused once past `limit` (whatever the frame claims).
pub(crate) fn decompress(bytes: &[u8], limit: u64, name: &str) -> Result<Vec<u8>, ReadError> {
    let cannot =
        |e: std::io::Error| unreadable(format!("the package's {name} cannot be decompressed: {e}"));
    let decoder = zstd::stream::read::Decoder::new(bytes).map_err(cannot)?;
    let mut out = Vec::new();
    decoder
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(cannot)?;
    if out.len() as u64 > limit {
        return Err(unreadable(format!(
            "the package's {name} is larger than {} MiB uncompressed",
            limit / (1024 * 1024)
        )));
    }
    Ok(out)
}

#[derive(Clone, PartialEq, prost::Message)]
struct MediaEntries {
    #[prost(message, repeated, tag = "1")]
    entries: Vec<MediaEntry>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct MediaEntry {
    #[prost(string, tag = "1")]
    name: String,
}

/// The file names of a zstd-compressed protobuf media map; one that does not read lists
/// nothing (media is not imported either way).
pub(crate) fn media_names(map: &[u8]) -> Vec<String> {
    let Ok(bytes) = decompress(map, 8 * 1024 * 1024, "media") else {
        return Vec::new();
    };
    <MediaEntries as prost::Message>::decode(bytes.as_slice())
        .map(|m| m.entries.into_iter().map(|e| e.name).collect())
        .unwrap_or_default()
}

/// A note type's config: only its kind is read (1: cloze).
#[derive(Clone, PartialEq, prost::Message)]
struct NotetypeConfig {
    #[prost(int32, tag = "1")]
    kind: i32,
}

/// A template's config: its question and answer formats.
#[derive(Clone, PartialEq, prost::Message)]
struct TemplateConfig {
    #[prost(string, tag = "1")]
    q_format: String,
    #[prost(string, tag = "2")]
    a_format: String,
}

/// Note types, fields and templates a collection may hold.
const MAX_NOTE_TYPES: usize = 1_000;
const MAX_FIELDS: usize = 20_000;

/// The note types of a schema-18 collection, by id.
pub(crate) async fn note_types(
    db: &DatabaseConnection,
) -> Result<HashMap<i64, NoteType>, ReadError> {
    let tables = query(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name IN ('notetypes', 'fields', 'templates')",
    )
    .await?;
    if tables.len() != 3 {
        return Err(unreadable(
            "not an Anki collection: it has no note types (col.models nor a notetypes table)",
        ));
    }
    let mut shapes: HashMap<i64, Shape> = HashMap::new();
    for row in bounded(
        db,
        "SELECT id, name, config FROM notetypes ORDER BY id",
        MAX_NOTE_TYPES,
        "note types",
    )
    .await?
    {
        let config: Vec<u8> = get(&row, "config")?;
        let config = <NotetypeConfig as prost::Message>::decode(config.as_slice())
            .map_err(|_| unreadable("a note type's config cannot be read"))?;
        shapes.insert(
            get(&row, "id")?,
            Shape {
                name: get(&row, "name")?,
                cloze: config.kind == 1,
                ..Shape::default()
            },
        );
    }
    for row in bounded(
        db,
        "SELECT ntid, name FROM fields ORDER BY ntid, ord",
        MAX_FIELDS,
        "fields",
    )
    .await?
    {
        if let Some(shape) = shapes.get_mut(&get::<i64>(&row, "ntid")?) {
            shape.fields.push(get(&row, "name")?);
        }
    }
    for row in bounded(
        db,
        "SELECT ntid, config FROM templates ORDER BY ntid, ord",
        MAX_FIELDS,
        "templates",
    )
    .await?
    {
        let config: Vec<u8> = get(&row, "config")?;
        let config = <TemplateConfig as prost::Message>::decode(config.as_slice())
            .map_err(|_| unreadable("a card template's config cannot be read"))?;
        if let Some(shape) = shapes.get_mut(&get::<i64>(&row, "ntid")?) {
            shape.templates.push((config.q_format, config.a_format));
        }
    }
    Ok(shapes
        .into_iter()
        .map(|(id, shape)| (id, classify(&shape)))
        .collect())
}
