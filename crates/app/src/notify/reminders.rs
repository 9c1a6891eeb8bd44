//! Expiry reminders (SPEC §6.3): one `coupon.expiring` per available
//! coupon whose `valid_until` comes within the lead time, once.
//!
//! The reminder's row in `expiry_reminders` (primary key: the code) is
//! written in the unit that appends the event, and the event is appended
//! only for the rows the insert actually wrote: on PostgreSQL a second node
//! inserting the same code waits for the first one's commit and then
//! writes nothing, so it sends nothing.

use std::collections::HashSet;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;

use super::{Event, events, outbox};
use crate::coupons::{COLUMNS, CouponRecord, record_from_row};
use crate::{App, AppResult};

/// Reminders one unit sends at most.
pub const REMINDERS_PER_UNIT_MAX: i64 = 500;

impl App {
    /// Sends the reminders due now, in one unit of at most
    /// [`REMINDERS_PER_UNIT_MAX`]; answers how many. Run it until it answers 0.
    pub async fn send_expiry_reminders(&self) -> AppResult<usize> {
        let now = self.now();
        let lead_secs = i64::try_from(self.settings.notify.reminder_lead_secs).unwrap_or(i64::MAX);
        let horizon = now + TimeDelta::seconds(lead_secs.min(super::REMINDER_LEAD_SECS_MAX as i64));
        self.store
            .write(move |connection| {
                Box::pin(async move { remind_unit(connection, now, horizon).await })
            })
            .await
    }
}

async fn remind_unit(
    connection: &mut AnyConnection,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
) -> AppResult<usize> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM coupons WHERE state = 'available' AND valid_until IS NOT NULL \
         AND valid_until >= $1 AND valid_until <= $2 \
         AND NOT EXISTS (SELECT 1 FROM expiry_reminders r WHERE r.code = coupons.code) \
         ORDER BY valid_until, code LIMIT $3"
    ))
    .bind(to_micros(now))
    .bind(to_micros(horizon))
    .bind(REMINDERS_PER_UNIT_MAX)
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let due: Vec<CouponRecord> = rows.iter().map(record_from_row).collect::<Result<_, _>>()?;
    if due.is_empty() {
        return Ok(0);
    }
    let mut params = Params::for_connection(connection);
    let sql = format!(
        "INSERT INTO expiry_reminders (code, reminded_at) VALUES {} \
         ON CONFLICT (code) DO NOTHING RETURNING code",
        params.rows(due.len(), 2)
    );
    let mut query = sqlx::query(&sql);
    for coupon in &due {
        query = query.bind(coupon.code.as_str()).bind(to_micros(now));
    }
    let written = query
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    let mut codes = HashSet::with_capacity(written.len());
    for row in &written {
        codes.insert(row.try_get::<String, _>("code").map_err(StoreError::from)?);
    }
    let reminders: Vec<Event> = due
        .iter()
        .filter(|coupon| codes.contains(&coupon.code))
        .map(|coupon| Event::coupon(events::COUPON_EXPIRING, coupon, now))
        .collect();
    outbox::append(connection, &reminders).await?;
    Ok(reminders.len())
}
