//! `?limit=&cursor=` on every list, and the `{items, next_cursor}` body.

use flashforge_domain::pagination::{Page, PageRequest};
use flashforge_domain::{FieldError, ValidationErrors};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::ApiError;

/// The paging parameters of a list. Both are optional; a bad one is a 422 naming it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page: 1 to 200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page; absent for the first page.
    #[param(max_length = 512)]
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Validates both parameters for a list ordered by keys of type `K`.
    pub fn parse<K: DeserializeOwned>(&self) -> Result<PageRequest<K>, ApiError> {
        let mut errors = ValidationErrors::new();
        let limit = parse_limit(self.limit.as_deref(), 200, &mut errors);
        if !errors.is_empty() {
            // Report it alongside any cursor problem.
            if let Some(raw) = self.cursor.as_deref() {
                let _ = errors.check(flashforge_domain::pagination::Cursor::decode::<K>(raw));
            }
            return Err(errors.into());
        }
        Ok(PageRequest::parse(limit, self.cursor.as_deref())?)
    }
}

/// A `limit` query parameter: `None` when absent, the number when it is a whole number (its
/// range is checked where it is used), and otherwise a field error naming `limit` and the range
/// `1..=max` in `errors`.
pub fn parse_limit(raw: Option<&str>, max: u32, errors: &mut ValidationErrors) -> Option<u32> {
    match raw.map(str::parse::<u32>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            errors.push(FieldError::new(
                "limit",
                format!("must be a whole number between 1 and {max}"),
            ));
            None
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageBody<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> PageBody<T> {
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> Self {
        let next_cursor = page.next_cursor.as_ref().map(|c| c.as_str().to_string());
        Self {
            items: page.items.into_iter().map(f).collect(),
            next_cursor,
        }
    }
}
