//! The outbox: events appended in the write unit that makes the change
//! they describe, so an event exists exactly when its change was committed.
//! One row holds a JSON array of events — a batch of claims appends one row
//! for all of them.

use sqlx::AnyConnection;

use couponflow_store::StoreError;
use couponflow_store::time::to_micros;

use super::Event;
use crate::AppResult;

/// The row's insert, `$1` the events as [`encode`] makes them, `$2` the
/// time in microseconds since the epoch. For write paths that do not go
/// through sqlx (the SQLite claim path), which bind the same values.
pub const OUTBOX_INSERT_SQL: &str = "INSERT INTO outbox (events, created_at) VALUES ($1, $2)";

/// The events as the outbox stores them: a JSON array.
pub fn encode(events: &[Event]) -> String {
    // Strings, a time and a JSON value: serialising them cannot fail.
    serde_json::to_string(events).unwrap_or_else(|_| "[]".to_owned())
}

/// Appends one outbox row with `events`, inside the caller's write unit
/// (so in its transaction); nothing when there are none. The row's time is
/// the latest event's.
pub async fn append(connection: &mut AnyConnection, events: &[Event]) -> AppResult<()> {
    let Some(latest) = events.iter().map(|event| event.at).max() else {
        return Ok(());
    };
    sqlx::query(OUTBOX_INSERT_SQL)
        .bind(encode(events))
        .bind(to_micros(latest))
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// Reads an outbox row's events back.
pub fn decode(text: &str) -> Result<Vec<Event>, StoreError> {
    serde_json::from_str(text).map_err(|error| StoreError::Corrupt {
        table: "outbox",
        reason: error.to_string(),
    })
}
