//! The dispatcher: fans outbox rows out, oldest first, into inbox messages
//! and webhook deliveries — once per row, however many nodes run it.
//!
//! A unit claims rows with one conditional update (`dispatched_at` from
//! NULL to now) and writes their fan-out in the same transaction: if the
//! unit fails, the claim rolls back with the fan-out and the rows are
//! taken again; if it commits, no other unit can claim them. On PostgreSQL
//! the rows are picked `FOR UPDATE SKIP LOCKED`, so dispatchers on several
//! nodes take different rows instead of waiting on each other. Rows are
//! chosen by their flag, not by an id high-water mark, so a row whose
//! transaction committed after a later one's is never skipped.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::{AnyConnection, Row};

use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::webhooks::{self, Webhook};
use super::{Event, inbox, outbox};
use crate::{App, AppResult, ids};

/// Outbox rows one unit fans out at most. A claim batch's row can hold
/// thousands of events, so this stays small.
pub const OUTBOX_ROWS_PER_UNIT_MAX: i64 = 8;
/// Deliveries one insert statement writes at most (9 parameters each).
const INSERT_ROWS_MAX: usize = 200;

/// A delivery to write for one (webhook, event).
struct NewDelivery<'a> {
    webhook: &'a Webhook,
    event: &'a Event,
    body: String,
}

impl App {
    /// Fans out the oldest outbox rows no unit has claimed yet, in one
    /// unit; answers how many events they held (0: nothing was waiting).
    pub async fn dispatch_outbox(&self) -> AppResult<usize> {
        let (now, time_zone) = (self.now(), self.settings.time_zone);
        self.store
            .write(move |connection| {
                Box::pin(async move { dispatch_unit(connection, now, time_zone).await })
            })
            .await
    }
}

async fn dispatch_unit(
    connection: &mut AnyConnection,
    now: DateTime<Utc>,
    time_zone: Tz,
) -> AppResult<usize> {
    let rows = claim_rows(connection, now).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut events = Vec::new();
    for (id, text) in &rows {
        match outbox::decode(text) {
            Ok(decoded) => events.extend(decoded),
            // Retrying cannot mend the row, and keeping it would stop the
            // dispatcher at it for good: it is logged and passed.
            Err(error) => tracing::error!(outbox_id = id, %error, "skipping a corrupt outbox row"),
        }
    }
    let hooks = webhooks::active(connection).await?;
    let messages: Vec<inbox::Message> = events
        .iter()
        .filter_map(|event| inbox::message_for(event, time_zone))
        .collect();
    let mut deliveries = Vec::new();
    for event in &events {
        for webhook in hooks.iter().filter(|hook| hook.wants(&event.kind)) {
            let body =
                serde_json::to_string(event).map_err(|e| StoreError::Other(e.to_string()))?;
            deliveries.push(NewDelivery {
                webhook,
                event,
                body,
            });
        }
    }
    inbox::insert_all(connection, &messages).await?;
    insert_deliveries(connection, &deliveries, now).await?;
    Ok(events.len())
}

/// Claims the oldest unclaimed rows: their ids and events, in id order.
async fn claim_rows(
    connection: &mut AnyConnection,
    now: DateTime<Utc>,
) -> AppResult<Vec<(i64, String)>> {
    let skip_locked = match Backend::of(connection) {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let rows = sqlx::query(&format!(
        "UPDATE outbox SET dispatched_at = $1 WHERE dispatched_at IS NULL AND id IN \
         (SELECT id FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT $2{skip_locked}) \
         RETURNING id, events"
    ))
    .bind(to_micros(now))
    .bind(OUTBOX_ROWS_PER_UNIT_MAX)
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let mut claimed = rows
        .iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("events")?)))
        .collect::<Result<Vec<(i64, String)>, StoreError>>()?;
    claimed.sort_by_key(|(id, _)| *id);
    Ok(claimed)
}

async fn insert_deliveries(
    connection: &mut AnyConnection,
    deliveries: &[NewDelivery<'_>],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for chunk in deliveries.chunks(INSERT_ROWS_MAX) {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, event_type, body, status, \
             attempts, next_attempt_at, created_at) VALUES {} \
             ON CONFLICT (webhook_id, event_id) DO NOTHING",
            params.rows(chunk.len(), 9)
        );
        let mut query = sqlx::query(&sql);
        for delivery in chunk {
            query = query
                .bind(ids::new_id("dlv"))
                .bind(delivery.webhook.id.as_str())
                .bind(delivery.event.id.as_str())
                .bind(delivery.event.kind.as_str())
                .bind(delivery.body.as_str())
                .bind("pending")
                .bind(0_i64)
                .bind(to_micros(now))
                .bind(to_micros(now));
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}
