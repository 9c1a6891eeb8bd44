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
use sqlx::{AnyConnection, Row};

use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::webhooks::{self, Webhook};
use super::{Event, inbox, outbox};
use crate::{App, AppResult, ids, stats};

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
    /// Fans out the oldest outbox rows no unit has claimed yet; answers
    /// how many events they held (0: nothing was waiting).
    ///
    /// The rows are read and decoded outside the write unit — a claim
    /// batch's row holds hundreds of events, and decoding them inside would
    /// hold the single writer (and every claim behind it) — then the unit
    /// claims them and writes the fan-out of those it claimed.
    pub async fn dispatch_outbox(&self) -> AppResult<usize> {
        let (now, time_zone) = (self.now(), self.settings.time_zone);
        let rows = sqlx::query(
            "SELECT id, events FROM outbox WHERE dispatched_at IS NULL ORDER BY id LIMIT $1",
        )
        .bind(OUTBOX_ROWS_PER_UNIT_MAX)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut decoded = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id").map_err(StoreError::from)?;
            let text: String = row.try_get("events").map_err(StoreError::from)?;
            let events = outbox::decode(&text).unwrap_or_else(|error| {
                // Retrying cannot mend the row, and keeping it would stop
                // the dispatcher at it for good: it is logged and passed.
                tracing::error!(outbox_id = id, %error, "skipping a corrupt outbox row");
                Vec::new()
            });
            let messages: Vec<inbox::Message> = events
                .iter()
                .filter_map(|event| inbox::message_for(event, time_zone))
                .collect();
            let deltas = stats::deltas_of(&self.store, &events).await?;
            decoded.push(Decoded {
                id,
                events,
                messages,
                deltas,
            });
        }
        self.store
            .write(move |connection| {
                Box::pin(async move { dispatch_unit(connection, decoded, now).await })
            })
            .await
    }
}

/// One outbox row, decoded, with the inbox messages its events leave.
struct Decoded {
    id: i64,
    events: Vec<Event>,
    messages: Vec<inbox::Message>,
    /// What its events add to the statistics' roll-ups.
    deltas: stats::Deltas,
}

async fn dispatch_unit(
    connection: &mut AnyConnection,
    decoded: Vec<Decoded>,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    let ids: Vec<i64> = decoded.iter().map(|row| row.id).collect();
    let claimed = claim_rows(connection, &ids, now).await?;
    let rows: Vec<Decoded> = decoded
        .into_iter()
        .filter(|row| claimed.contains(&row.id))
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let hooks = webhooks::active(connection).await?;
    let mut deliveries = Vec::new();
    for event in rows.iter().flat_map(|row| &row.events) {
        for webhook in hooks.iter().filter(|hook| hook.wants(&event.kind)) {
            let body = serde_json::to_string(&event.published())
                .map_err(|e| StoreError::Other(e.to_string()))?;
            deliveries.push(NewDelivery {
                webhook,
                event,
                body,
            });
        }
    }
    let messages: Vec<inbox::Message> = rows
        .iter()
        .flat_map(|row| row.messages.iter().cloned())
        .collect();
    inbox::insert_all(connection, &messages).await?;
    insert_deliveries(connection, &deliveries, now).await?;
    let dispatched: Vec<&Event> = rows.iter().flat_map(|row| &row.events).collect();
    crate::alerts::record(connection, &dispatched).await?;
    let mut deltas = stats::Deltas::new();
    for (key, counts) in rows.iter().flat_map(|row| &row.deltas) {
        deltas.entry(key.clone()).or_default().add(counts);
    }
    stats::apply(connection, &deltas).await?;
    Ok(rows.iter().map(|row| row.events.len()).sum())
}

/// Claims those of `ids` no other unit has claimed: their ids. On
/// PostgreSQL rows another node's unit holds are skipped, not waited for.
async fn claim_rows(
    connection: &mut AnyConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> AppResult<Vec<i64>> {
    let skip_locked = match Backend::of(connection) {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let mut params = Params::for_connection(connection);
    let at = params.next();
    let sql = format!(
        "UPDATE outbox SET dispatched_at = {at} WHERE dispatched_at IS NULL AND id IN \
         (SELECT id FROM outbox WHERE dispatched_at IS NULL AND id IN ({}){skip_locked}) \
         RETURNING id",
        params.list(ids.len())
    );
    let mut query = sqlx::query(&sql).bind(to_micros(now));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(rows
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(StoreError::from)?)
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
