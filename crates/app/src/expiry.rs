//! The expiry job (SPEC §5.2, §14): coupons whose validity has passed
//! without use move to `expired`, with history, a batch per unit.
//!
//! The job is a convenience, not the guard: a coupon past `valid_until` is
//! never usable before it runs either — the quote reports it `EXPIRED` and
//! the state machine refuses to lock or verify it.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use couponflow_core::coupon::{CouponEvent, transition};
use couponflow_store::StoreError;
use couponflow_store::time::to_micros;

use crate::coupons::{self, Change};
use crate::notify::{Event, events, outbox};
use crate::{Actor, App, AppResult};

/// Coupons one unit of the job expires at most.
pub const EXPIRY_BATCH_MAX: usize = 1_000;
/// Who the history names for the job's transitions.
pub const EXPIRY_ACTOR: &str = "system:expiry";

impl App {
    /// Expires up to `limit` (at most [`EXPIRY_BATCH_MAX`]) available or
    /// unbound coupons whose `valid_until` has passed, in one unit; answers
    /// how many. Run it until it answers 0. Safe on several nodes at once:
    /// each coupon is re-checked under its row lock, and one another node
    /// expired first is skipped.
    pub async fn expire_due(&self, limit: usize) -> AppResult<usize> {
        let limit = limit.min(EXPIRY_BATCH_MAX);
        if limit == 0 {
            return Ok(0);
        }
        let now = self.now();
        self.store
            .write(move |connection| {
                Box::pin(async move { expire_batch(connection, limit, now).await })
            })
            .await
    }
}

async fn expire_batch(
    connection: &mut AnyConnection,
    limit: usize,
    now: DateTime<Utc>,
) -> AppResult<usize> {
    // `valid_until < now` is `now > valid_until`: the last instant is valid.
    let rows = sqlx::query(
        "SELECT code FROM coupons WHERE state IN ('available', 'unbound') \
         AND valid_until IS NOT NULL AND valid_until < $1 ORDER BY valid_until, code LIMIT $2",
    )
    .bind(to_micros(now))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let actor = Actor(EXPIRY_ACTOR.to_owned());
    let mut expired = Vec::new();
    for row in &rows {
        let code: String = row.try_get("code").map_err(StoreError::from)?;
        let mut coupon = coupons::lock(connection, &code).await?;
        if transition(coupon.state, CouponEvent::Expire, &coupon.times(), now).is_err() {
            continue;
        }
        let change = Change {
            event: CouponEvent::Expire,
            reason: "validity passed without use",
            order_id: None,
            actor: &actor,
            now,
        };
        coupons::apply(connection, &mut coupon, &change).await?;
        expired.push(Event::coupon(events::COUPON_EXPIRED, &coupon, now));
    }
    outbox::append(connection, &expired).await?;
    Ok(expired.len())
}
