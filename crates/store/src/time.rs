//! Times are stored as microseconds since the Unix epoch (UTC) on both back
//! ends, so one query text serves both.

use chrono::{DateTime, Utc};

use crate::StoreError;

pub fn to_micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

pub fn from_micros(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Corrupt {
        table: "(time)",
        reason: format!("{micros} is not a representable time"),
    })
}
