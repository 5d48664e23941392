//! Cursor (keyset) pagination, used by every list.
//!
//! A list is ordered by a unique key (for most lists the time-ordered UUIDv7 id, or a
//! `(timestamp, id)` pair). A page asks for `limit` items strictly after the key in its cursor, so
//! a page deep in a list costs the same as the first one. Cursors are opaque to clients:
//! URL-safe base64 of the key's JSON.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{FieldError, ValidationErrors};

/// The number of items a page holds when the client does not say.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// The most items a client may ask for in one page.
pub const MAX_PAGE_LIMIT: u32 = 200;
/// Longer cursors are refused before any decoding.
const MAX_CURSOR_LEN: usize = 512;

/// How many items a page holds: 1 to [`MAX_PAGE_LIMIT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(u32);

impl Limit {
    pub fn parse(value: Option<u32>) -> Result<Self, FieldError> {
        match value {
            None => Ok(Self(DEFAULT_PAGE_LIMIT)),
            Some(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(Self(n)),
            Some(_) => Err(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_PAGE_LIMIT}"),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// One more than the limit: adapters fetch this many to learn whether another page exists.
    pub fn fetch_count(self) -> u64 {
        u64::from(self.0) + 1
    }
}

impl Default for Limit {
    fn default() -> Self {
        Self(DEFAULT_PAGE_LIMIT)
    }
}

/// An opaque position in a list, as handed to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Cursor(String);

impl Cursor {
    /// Encodes the key of the last item of a page.
    pub fn encode<K: Serialize>(key: &K) -> Self {
        // Serializing plain keys (ids, timestamps, tuples of them) to JSON cannot fail.
        let json = serde_json::to_vec(key).unwrap_or_default();
        Self(URL_SAFE_NO_PAD.encode(json))
    }

    /// Decodes a client's cursor into the key type of the list it belongs to.
    pub fn decode<K: DeserializeOwned>(raw: &str) -> Result<K, FieldError> {
        let invalid = || {
            FieldError::new(
                "cursor",
                "is not a cursor from this list; use the next_cursor of a previous page",
            )
        };
        if raw.is_empty() || raw.len() > MAX_CURSOR_LEN {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        serde_json::from_slice(&bytes).map_err(|_| invalid())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request for one page of a list ordered by keys of type `K`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<K> {
    pub limit: Limit,
    /// Items strictly after this key; `None` for the first page.
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageRequest<K> {
    /// Validates a client's `limit` and `cursor`, naming each bad one.
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let limit = errors.check(Limit::parse(limit));
        let after = match cursor {
            None => Some(None),
            Some(raw) => errors.check(Cursor::decode::<K>(raw)).map(Some),
        };
        match (limit, after) {
            (Some(limit), Some(after)) if errors.is_empty() => Ok(Self { limit, after }),
            _ => Err(errors),
        }
    }
}

impl<K> PageRequest<K> {
    pub fn first(limit: Limit) -> Self {
        Self { limit, after: None }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts, or `None` on the last page.
    pub next_cursor: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` items fetched in list order: the extra item, when
    /// present, only proves that another page exists and is dropped.
    pub fn from_overfetch<K: Serialize>(
        mut items: Vec<T>,
        limit: Limit,
        key: impl Fn(&T) -> K,
    ) -> Self {
        let limit = limit.get() as usize;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| Cursor::encode(&key(last)))
        } else {
            None
        };
        Self { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_cursor_round_trips_its_key() {
        let key = (chrono::DateTime::UNIX_EPOCH, Uuid::now_v7());
        let cursor = Cursor::encode(&key);
        let back: (chrono::DateTime<chrono::Utc>, Uuid) = Cursor::decode(cursor.as_str()).unwrap();
        assert_eq!(back, key);
    }

    #[test]
    fn garbage_or_foreign_cursors_are_field_errors() {
        for raw in ["", "!!!", "bm90IGpzb24", &"a".repeat(600)] {
            let err = Cursor::decode::<Uuid>(raw).unwrap_err();
            assert_eq!(err.field, "cursor", "{raw}");
        }
        // A valid cursor of another list's key type is refused too.
        let other = Cursor::encode(&42u64);
        assert!(Cursor::decode::<Uuid>(other.as_str()).is_err());
    }

    #[test]
    fn limit_has_a_default_and_a_maximum() {
        assert_eq!(Limit::parse(None).unwrap().get(), DEFAULT_PAGE_LIMIT);
        assert_eq!(Limit::parse(Some(1)).unwrap().get(), 1);
        assert_eq!(
            Limit::parse(Some(MAX_PAGE_LIMIT)).unwrap().get(),
            MAX_PAGE_LIMIT
        );
        assert!(Limit::parse(Some(0)).is_err());
        assert!(Limit::parse(Some(MAX_PAGE_LIMIT + 1)).is_err());
    }

    #[test]
    fn page_request_names_every_bad_parameter() {
        let errors = PageRequest::<Uuid>::parse(Some(0), Some("zz")).unwrap_err();
        let fields: Vec<_> = errors.fields().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "cursor"]);
        let ok = PageRequest::<Uuid>::parse(None, None).unwrap();
        assert_eq!(ok, PageRequest::first(Limit::default()));
    }

    #[test]
    fn overfetched_items_make_a_next_cursor_from_the_last_kept_item() {
        let limit = Limit::parse(Some(2)).unwrap();
        let page = Page::from_overfetch(vec![1u32, 2, 3], limit, |n| *n);
        assert_eq!(page.items, [1, 2]);
        let next: u32 = Cursor::decode(page.next_cursor.unwrap().as_str()).unwrap();
        assert_eq!(next, 2);

        let last = Page::from_overfetch(vec![1u32, 2], limit, |n| *n);
        assert_eq!(last.items, [1, 2]);
        assert_eq!(last.next_cursor, None);
    }
}
