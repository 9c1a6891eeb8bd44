//! Idempotency of the order calls (SPEC §8): the request's canonical JSON
//! hash and the answer are stored in `idempotency` in the same unit as the
//! effect. The same call again gets the stored answer and changes nothing;
//! the same key with other content is refused.
//!
//! Only successes are stored: a refused call changed nothing, so trying it
//! again simply decides again.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::time::to_micros;

use crate::{AppError, AppResult};

/// The status stored with an answer: only successes are stored.
const STATUS_OK: i64 = 200;

/// One idempotency key: the call's scope, the client's key, and the hash
/// of what the client sent.
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
    let stored_hash: String = row.try_get("request_hash").map_err(StoreError::from)?;
    if stored_hash != key.request_hash {
        return Err(AppError::IdempotencyConflict { scope: key.scope });
    }
    let answer: String = row.try_get("answer").map_err(StoreError::from)?;
    let answer = serde_json::from_str(&answer).map_err(|e| StoreError::Corrupt {
        table: "idempotency",
        reason: e.to_string(),
    })?;
    Ok(Some(answer))
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
