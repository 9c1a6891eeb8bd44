//! Idempotency of the order calls (SPEC §8): the request's canonical JSON
//! hash and the answer are stored in `idempotency` in the same unit as the
//! effect. The same call again gets the stored answer and changes nothing;
//! the same key with other content is refused.
//!
//! Only successes are stored: a refused call changed nothing, so trying it
//! again simply decides again.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::statements::{Statement, Value as Bound, padded_chunks};
use crate::{AppError, AppResult};

/// The status stored with an answer: only successes are stored.
const STATUS_OK: i64 = 200;

/// One idempotency key: the call's scope, the client's key, and the hash
/// of what the client sent.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    pub scope: &'static str,
    pub key: String,
    pub request_hash: String,
}

impl Key {
    pub(crate) fn new<T: Serialize>(scope: &'static str, key: &str, request: &T) -> AppResult<Key> {
        let value = serde_json::to_value(request).map_err(|e| StoreError::Other(e.to_string()))?;
        let mut text = String::new();
        canonical(&value, &mut text);
        let digest = Sha256::digest(text.as_bytes());
        let mut request_hash = String::with_capacity(64);
        for byte in digest {
            let _ = write!(request_hash, "{byte:02x}");
        }
        Ok(Key {
            scope,
            key: key.to_owned(),
            request_hash,
        })
    }
}

/// JSON with object keys sorted at every level and no spaces, so the same
/// content always hashes the same whatever order the client wrote it in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (name, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(name.clone()).to_string());
                out.push(':');
                canonical(item, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The stored answer for `key`, if the call was made before; a conflict if
/// the key was used with other content.
pub(crate) async fn replay<T: DeserializeOwned>(
    connection: &mut AnyConnection,
    key: &Key,
) -> AppResult<Option<T>> {
    let row =
        sqlx::query("SELECT request_hash, answer FROM idempotency WHERE scope = $1 AND key = $2")
            .bind(key.scope)
            .bind(&key.key)
            .fetch_optional(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored = StoredAnswer {
        request_hash: row.try_get("request_hash").map_err(StoreError::from)?,
        answer: row.try_get("answer").map_err(StoreError::from)?,
    };
    stored.replay(key).map(Some)
}

/// An answer stored by an earlier call, read for a batch of calls. It is
/// parsed only when replayed, so a bad row fails its own call alone.
pub(crate) struct StoredAnswer {
    request_hash: String,
    answer: String,
}

impl StoredAnswer {
    /// The stored answer when `key` carries the same content; a conflict
    /// when the key was used with other content.
    pub(crate) fn replay<T: DeserializeOwned>(&self, key: &Key) -> AppResult<T> {
        let answer = serde_json::from_str(self.checked(key)?).map_err(|e| StoreError::Corrupt {
            table: "idempotency",
            reason: e.to_string(),
        })?;
        Ok(answer)
    }
}

impl StoredAnswer {
    /// The stored answer's text when `key` carries the same content; a
    /// conflict when the key was used with other content.
    pub(crate) fn checked(&self, key: &Key) -> AppResult<&str> {
        if self.request_hash != key.request_hash {
            return Err(AppError::IdempotencyConflict { scope: key.scope });
        }
        Ok(&self.answer)
    }
}

/// Reads the stored answers of `keys` as `part = 'answer'` rows: one
/// statement per scope of `scopes` (every one, so that the text is the
/// same for every batch), its keys padded to `size`, through the primary
/// key.
pub(crate) fn stored_statements<'a>(
    backend: Backend,
    scopes: &[&'static str],
    keys: &[&'a Key],
    size: usize,
) -> Vec<Statement<'a>> {
    let mut by_scope: BTreeMap<&'static str, BTreeSet<&'a str>> = BTreeMap::new();
    for key in keys {
        by_scope
            .entry(key.scope)
            .or_default()
            .insert(key.key.as_str());
    }
    let mut statements = Vec::new();
    for scope in scopes {
        let names: Vec<&'a str> = by_scope
            .remove(scope)
            .map(|names| names.into_iter().collect())
            .unwrap_or_default();
        for chunk in padded_chunks(&names, size) {
            let mut params = Params::new(backend);
            let mut statement = Statement::new(format!(
                "SELECT 'answer' AS part, scope, key, request_hash, answer FROM idempotency \
                 WHERE scope = {} AND key IN ({})",
                params.next(),
                params.list(size)
            ));
            statement.bind(Bound::Text(scope));
            for name in chunk {
                statement.bind(Bound::Text(name));
            }
            statement.pad(size - chunk.len(), &Bound::NullText);
            statements.push(statement);
        }
    }
    statements
}

/// A `part = 'answer'` row: its (scope, key) and the stored answer.
pub(crate) fn stored_from_row(
    row: &sqlx::any::AnyRow,
) -> Result<((String, String), StoredAnswer), StoreError> {
    let scope: String = row.try_get("scope")?;
    let name: String = row.try_get("key")?;
    let stored = StoredAnswer {
        request_hash: row.try_get("request_hash")?,
        answer: row.try_get("answer")?,
    };
    Ok(((scope, name), stored))
}

/// One answer to store: the call's key and its answer as JSON.
pub(crate) struct NewAnswer<'a> {
    pub key: &'a Key,
    pub answer: String,
    pub at: DateTime<Utc>,
}

/// The statements that store the answers of the calls of a batch that
/// succeeded, in the unit of their effects, in `VALUES` lists padded to
/// `size` rows (the NULL rows are left out).
pub(crate) fn remember_statements<'a>(
    backend: Backend,
    answers: &'a [NewAnswer<'a>],
    size: usize,
) -> Vec<Statement<'a>> {
    let mut statements = Vec::new();
    for chunk in padded_chunks(answers, size) {
        let mut statement = Statement::new(format!(
            "INSERT INTO idempotency (scope, key, request_hash, status, answer, at) \
             SELECT new.column1, new.column2, new.column3, new.column4, new.column5, new.column6 \
             FROM (VALUES {}) AS new WHERE new.column1 IS NOT NULL",
            Params::new(backend).rows(size, 6)
        ));
        for new in chunk {
            statement
                .bind(Bound::Text(new.key.scope))
                .bind(Bound::Text(&new.key.key))
                .bind(Bound::Text(&new.key.request_hash))
                .bind(Bound::Integer(STATUS_OK))
                .bind(Bound::Text(&new.answer))
                .bind(Bound::Integer(to_micros(new.at)));
        }
        let row = [
            Bound::NullText,
            Bound::NullText,
            Bound::NullText,
            Bound::NullInteger,
            Bound::NullText,
            Bound::NullInteger,
        ];
        statement.pad_rows(chunk.len(), size, &row);
        statements.push(statement);
    }
    statements
}

/// Stores the answer of a call that succeeded, in the unit of its effect.
pub(crate) async fn remember<T: Serialize>(
    connection: &mut AnyConnection,
    key: &Key,
    answer: &T,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let answer = serde_json::to_string(answer).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "INSERT INTO idempotency (scope, key, request_hash, status, answer, at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(key.scope)
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(STATUS_OK)
    .bind(answer)
    .bind(to_micros(now))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_content_in_another_key_order_hashes_the_same() {
        let a = Key::new(
            "s",
            "k",
            &serde_json::json!({"b": [1, {"y": 2, "x": 1}], "a": "é"}),
        )
        .unwrap();
        let b = Key::new(
            "s",
            "k",
            &serde_json::json!({"a": "é", "b": [1, {"x": 1, "y": 2}]}),
        )
        .unwrap();
        let c = Key::new(
            "s",
            "k",
            &serde_json::json!({"a": "é", "b": [{"x": 1, "y": 2}, 1]}),
        )
        .unwrap();
        assert_eq!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, c.request_hash);
        assert_eq!(a.request_hash.len(), 64);
    }
}
