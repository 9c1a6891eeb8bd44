//! Cursor pagination for every list.
//!
//! A cursor is opaque to clients: base64url of a small JSON value that the
//! list's handler chooses (usually the sort key of the last item sent). Pages
//! never use offsets, so a list that grows while a client walks it neither
//! skips nor repeats items.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, codes};

/// The page size when the client names none.
pub const PAGE_LIMIT_DEFAULT: u32 = 50;
/// The largest page a client may ask for.
pub const PAGE_LIMIT_MAX: u32 = 500;
/// Longer cursors are refused before decoding.
pub const CURSOR_CHARS_MAX: usize = 1024;

/// The `?limit=&cursor=` part of a list request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size, or 422 `VALIDATION_FAILED` when out of range.
    pub fn limit(&self) -> Result<u32, ApiError> {
        let limit = self.limit.unwrap_or(PAGE_LIMIT_DEFAULT);
        if limit == 0 || limit > PAGE_LIMIT_MAX {
            let reason = format!("must be between 1 and {PAGE_LIMIT_MAX}");
            return Err(
                ApiError::validation(format!("limit {reason}")).with_field_error("limit", reason)
            );
        }
        Ok(limit)
    }

    /// The decoded cursor, `None` on the first page, or 400 `BAD_CURSOR`.
    pub fn cursor<K: DeserializeOwned>(&self) -> Result<Option<K>, ApiError> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }
}

/// Makes an opaque cursor of a position.
pub fn encode_cursor<K: Serialize>(position: &K) -> String {
    // A cursor position is a small plain value; serialising it cannot fail.
    let json = serde_json::to_vec(position).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Reads a cursor back into a position, or 400 `BAD_CURSOR`.
pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, ApiError> {
    let bad = || {
        ApiError::from_code(
            codes::BAD_CURSOR,
            "the cursor is not one this list gave out",
        )
    };
    if cursor.len() > CURSOR_CHARS_MAX {
        return Err(bad());
    }
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    serde_json::from_slice(&json).map_err(|_| bad())
}

/// One page of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` rows fetched: the extra row only says
    /// whether there is a next page, and is not sent.
    pub fn from_overfetch<K: Serialize>(
        mut rows: Vec<T>,
        limit: u32,
        position_of: impl Fn(&T) -> K,
    ) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if rows.len() <= limit {
            return Page {
                items: rows,
                next_cursor: None,
            };
        }
        rows.truncate(limit);
        let next_cursor = rows.last().map(|last| encode_cursor(&position_of(last)));
        Page {
            items: rows,
            next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Position {
        created_at: String,
        id: String,
    }

    #[test]
    fn cursor_round_trips_and_is_url_safe() {
        let position = Position {
            created_at: "2026-01-01T00:00:00Z".into(),
            id: "c-1/+?".into(),
        };
        let cursor = encode_cursor(&position);
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode_cursor::<Position>(&cursor).unwrap(), position);
    }

    #[test]
    fn foreign_or_damaged_cursor_is_bad_cursor() {
        let wrong_shape = encode_cursor(&42);
        for cursor in ["***", "bm90IGpzb24", wrong_shape.as_str()] {
            let error = decode_cursor::<Position>(cursor).unwrap_err();
            assert_eq!(error.code(), "BAD_CURSOR", "{cursor}");
            assert_eq!(error.status().as_u16(), 400);
        }
        let long = "a".repeat(CURSOR_CHARS_MAX + 1);
        assert!(decode_cursor::<Position>(&long).is_err());
    }

    #[test]
    fn limit_defaults_to_50_and_must_be_1_to_500() {
        assert_eq!(PageQuery::default().limit().unwrap(), PAGE_LIMIT_DEFAULT);
        let query = |limit| PageQuery {
            limit: Some(limit),
            cursor: None,
        };
        assert_eq!(query(500).limit().unwrap(), 500);
        assert_eq!(query(1).limit().unwrap(), 1);
        assert_eq!(query(0).limit().unwrap_err().code(), "VALIDATION_FAILED");
        assert_eq!(query(501).limit().unwrap_err().code(), "VALIDATION_FAILED");
    }

    #[test]
    fn query_cursor_is_optional() {
        assert_eq!(PageQuery::default().cursor::<u64>().unwrap(), None);
        let query = PageQuery {
            limit: None,
            cursor: Some(encode_cursor(&7u64)),
        };
        assert_eq!(query.cursor::<u64>().unwrap(), Some(7));
    }

    #[test]
    fn overfetched_row_becomes_the_next_cursor_of_the_last_item_sent() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, |item| *item);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(
            decode_cursor::<i32>(page.next_cursor.as_deref().unwrap()).unwrap(),
            2
        );
        let last = Page::from_overfetch(vec![1, 2], 2, |item| *item);
        assert_eq!(last.next_cursor, None);
        let json = serde_json::to_value(&last).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"items": [1, 2], "next_cursor": null})
        );
    }
}
