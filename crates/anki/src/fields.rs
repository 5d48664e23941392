//! Names, fields and tags in the forms Anki stores them.

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha1::{Digest, Sha1};

use crate::error::AnkiError;
use crate::markdown;

/// The deck name with control characters removed and each `::` part trimmed.
pub(crate) fn normalize_deck_name(name: &str) -> Result<String, AnkiError> {
    let cleaned: String = name.chars().filter(|c| !c.is_control()).collect();
    if cleaned.trim().is_empty() {
        return Err(AnkiError::EmptyDeckName);
    }
    let parts: Vec<&str> = cleaned.split("::").map(str::trim).collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err(AnkiError::EmptyDeckNamePart(name.to_owned()));
    }
    Ok(parts.join("::"))
}

/// Anki's tag string: `" tag1 tag2 "`, or empty without tags.
pub(crate) fn tag_string(tags: &[String]) -> String {
    let mut seen: HashSet<String> = HashSet::with_capacity(tags.len());
    let mut out = String::new();
    for tag in tags {
        let tag: String = tag
            .trim()
            .chars()
            .filter(|c| !c.is_control() || c.is_whitespace())
            .map(|c| if c.is_whitespace() { '_' } else { c })
            .collect();
        if tag.is_empty() || !seen.insert(tag.to_lowercase()) {
            continue;
        }
        out.push(' ');
        out.push_str(&tag);
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out
}

/// A field's HTML: Markdown rendered, without the control characters that would break the
/// field list (`\x1f` separates fields).
pub(crate) fn field_html(markdown: &str) -> String {
    let cleaned: String = markdown
        .chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\t' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect();
    markdown::to_html(&cleaned)
}

/// Anki's note checksum: the first 8 hex digits of the SHA-1 of the stripped first field, as an
/// integer.
pub(crate) fn field_checksum(stripped: &str) -> i64 {
    let digest = Sha1::digest(stripped.as_bytes());
    i64::from(u32::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

/// The note's GUID: the card id's 16 bytes in URL-safe base64 (22 characters).
pub(crate) fn guid(id: uuid::Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}
