//! Coupons in storage: reading one with its history, a user's wallet, and
//! the one way a coupon changes state — lock its row, apply the pure
//! transition of `core::coupon`, save, append the history row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::coupon::{CouponEvent, CouponState, CouponTimes, transition};
use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::notify::{Event, events, outbox};
use crate::{Actor, App, AppError, AppResult};

/// Coupons one wallet page returns at most.
pub const WALLET_PAGE_MAX: u32 = 500;

#[derive(Debug, Clone, Serialize)]
pub struct CouponRecord {
    pub code: String,
    pub template_id: String,
    pub user_id: Option<String>,
    pub state: CouponState,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub face_value: i64,
    /// How it reached its owner: `claim`, `grant`, `exchange`, or `batch` (unbound).
    pub source: String,
    pub order_id: Option<String>,
    pub hidden: bool,
    pub store_id: Option<String>,
    pub staff_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub bound_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl CouponRecord {
    pub fn times(&self) -> CouponTimes {
        CouponTimes {
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        }
    }
}

/// One row of a coupon's history (SPEC §5.2: from, to, when, why, order, actor).
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub seq: i64,
    pub from: Option<CouponState>,
    pub to: CouponState,
    pub at: DateTime<Utc>,
    pub reason: String,
    pub order_id: Option<String>,
    pub actor: Option<String>,
}

pub(crate) const COLUMNS: &str = "code, template_id, user_id, state, valid_from, valid_until, face_value, \
    source, order_id, hidden, store_id, staff_id, created_at, bound_at, updated_at";

pub fn parse_state(text: &str) -> Result<CouponState, StoreError> {
    CouponState::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| StoreError::Corrupt {
            table: "coupons",
            reason: format!("state {text}"),
        })
}

fn optional_time(micros: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    micros.map(from_micros).transpose()
}

pub(crate) fn record_from_row(row: &sqlx::any::AnyRow) -> Result<CouponRecord, StoreError> {
    let state: String = row.try_get("state")?;
    let hidden: i64 = row.try_get("hidden")?;
    Ok(CouponRecord {
        code: row.try_get("code")?,
        template_id: row.try_get("template_id")?,
        user_id: row.try_get("user_id")?,
        state: parse_state(&state)?,
        valid_from: optional_time(row.try_get("valid_from")?)?,
        valid_until: optional_time(row.try_get("valid_until")?)?,
        face_value: row.try_get("face_value")?,
        source: row.try_get("source")?,
        order_id: row.try_get("order_id")?,
        hidden: hidden != 0,
        store_id: row.try_get("store_id")?,
        staff_id: row.try_get("staff_id")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        bound_at: optional_time(row.try_get("bound_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

/// Loads a coupon for change, locking its row until the batch commits.
pub(crate) async fn lock(connection: &mut AnyConnection, code: &str) -> AppResult<CouponRecord> {
    let row = sqlx::query(&format!(
        "UPDATE coupons SET updated_at = updated_at WHERE code = $1 RETURNING {COLUMNS}"
    ))
    .bind(code)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::CouponNotFound(code.to_owned()))?;
    Ok(record_from_row(&row)?)
}

/// What a state change records besides the state.
pub(crate) struct Change<'a> {
    pub event: CouponEvent,
    pub reason: &'a str,
    pub order_id: Option<&'a str>,
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
}

/// The coupon as `change` leaves it: the pure transition, and the order
/// that holds it (set by a lock or payment, cleared when it comes back).
/// Pure, so that a batch of orders can decide in memory before it writes.
pub(crate) fn transitioned(coupon: &CouponRecord, change: &Change<'_>) -> AppResult<CouponRecord> {
    let to = transition(coupon.state, change.event, &coupon.times(), change.now)?;
    let mut after = coupon.clone();
    after.state = to;
    after.updated_at = change.now;
    after.order_id = match (change.event, change.order_id) {
        (CouponEvent::Lock | CouponEvent::Pay, Some(order)) => Some(order.to_owned()),
        (CouponEvent::Release | CouponEvent::Return, _) => None,
        _ => after.order_id,
    };
    Ok(after)
}

/// Applies `change` to a locked coupon: the pure transition, the new row,
/// and the history entry. Refused transitions change nothing.
pub(crate) async fn apply(
    connection: &mut AnyConnection,
    coupon: &mut CouponRecord,
    change: &Change<'_>,
) -> AppResult<()> {
    let from = coupon.state;
    *coupon = transitioned(coupon, change)?;
    let to = coupon.state;
    sqlx::query(
        "UPDATE coupons SET state = $2, order_id = $3, store_id = $4, staff_id = $5, hidden = $6, \
         updated_at = $7 WHERE code = $1",
    )
    .bind(&coupon.code)
    .bind(to.as_str())
    .bind(coupon.order_id.as_deref())
    .bind(coupon.store_id.as_deref())
    .bind(coupon.staff_id.as_deref())
    .bind(i64::from(coupon.hidden))
    .bind(to_micros(change.now))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    // The ledger moves with the coupon, in the same unit.
    crate::ledger::post::on_coupon_change(connection, from, coupon, change.now).await?;
    append_history(connection, &coupon.code, Some(from), to, change).await
}

pub(crate) async fn append_history(
    connection: &mut AnyConnection,
    code: &str,
    from: Option<CouponState>,
    to: CouponState,
    change: &Change<'_>,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO coupon_history (code, seq, from_state, to_state, at, reason, order_id, actor) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM coupon_history WHERE code = $1), $2, $3, $4, $5, $6, $7)",
    )
    .bind(code)
    .bind(from.map(|s| s.as_str()))
    .bind(to.as_str())
    .bind(to_micros(change.now))
    .bind(change.reason)
    .bind(change.order_id)
    .bind(change.actor.as_str())
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

impl App {
    pub async fn coupon(&self, code: &str) -> AppResult<CouponRecord> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM coupons WHERE code = $1"))
            .bind(code)
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| AppError::CouponNotFound(code.to_owned()))?;
        Ok(record_from_row(&row)?)
    }

    /// A coupon's history, oldest first. A claimed coupon's first entry
    /// comes from its own row (claims write no history row; see
    /// `claims::batch`).
    pub async fn coupon_history(&self, code: &str) -> AppResult<Vec<HistoryEntry>> {
        let coupon = self.coupon(code).await?;
        let mut entries = Vec::new();
        if let (Some(at), "claim") = (coupon.bound_at, coupon.source.as_str()) {
            entries.push(HistoryEntry {
                seq: 0,
                from: Some(CouponState::Unbound),
                to: CouponState::Available,
                at,
                reason: "claimed".to_owned(),
                order_id: None,
                actor: coupon.user_id.as_ref().map(|user| format!("user:{user}")),
            });
        }
        entries.extend(self.recorded_history(code).await?);
        Ok(entries)
    }

    async fn recorded_history(&self, code: &str) -> AppResult<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT seq, from_state, to_state, at, reason, order_id, actor FROM coupon_history \
             WHERE code = $1 ORDER BY seq",
        )
        .bind(code)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| -> Result<HistoryEntry, StoreError> {
                let from: Option<String> = row.try_get("from_state")?;
                let to: String = row.try_get("to_state")?;
                Ok(HistoryEntry {
                    seq: row.try_get("seq")?,
                    from: from.as_deref().map(parse_state).transpose()?,
                    to: parse_state(&to)?,
                    at: from_micros(row.try_get("at")?)?,
                    reason: row.try_get("reason")?,
                    order_id: row.try_get("order_id")?,
                    actor: row.try_get("actor")?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(AppError::from)
    }

    /// A user's coupons (SPEC §13 wallet): optionally of one state, hidden
    /// ones left out; usable first, soonest-expiring first, then by code.
    pub async fn wallet(
        &self,
        user_id: &str,
        state: Option<CouponState>,
    ) -> AppResult<Vec<CouponRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM coupons WHERE user_id = $1 AND state <> 'deleted' \
             AND ($2 IS NULL OR state = $2) \
             ORDER BY CASE WHEN state = 'available' THEN 0 ELSE 1 END, valid_until, code LIMIT $3"
        ))
        .bind(user_id)
        .bind(state.map(|s| s.as_str()))
        .bind(i64::from(WALLET_PAGE_MAX))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| record_from_row(row).map_err(AppError::from))
            .collect()
    }
}

impl App {
    /// Staff void (SPEC §5.2): any state but `deleted` → `voided`.
    pub async fn void_coupon(
        &self,
        actor: &Actor,
        code: &str,
        reason: Option<String>,
    ) -> AppResult<CouponRecord> {
        self.change_coupon(
            actor,
            code,
            CouponEvent::Void,
            reason.unwrap_or_else(|| "voided by staff".into()),
            None,
        )
        .await
    }

    /// Hides a spent, expired or voided coupon from its owner's wallet
    /// (`deleted`); `user_id` must own it.
    pub async fn hide_coupon(
        &self,
        actor: &Actor,
        user_id: &str,
        code: &str,
    ) -> AppResult<CouponRecord> {
        self.change_coupon(
            actor,
            code,
            CouponEvent::Delete,
            "hidden from the wallet".into(),
            Some(user_id.to_owned()),
        )
        .await
    }

    /// Lock → transition → save → history, in one unit. With `owner`, the
    /// coupon must belong to that user (else it is reported as not found,
    /// so codes of others are not revealed).
    async fn change_coupon(
        &self,
        actor: &Actor,
        code: &str,
        event: CouponEvent,
        reason: String,
        owner: Option<String>,
    ) -> AppResult<CouponRecord> {
        let now = self.now();
        let code = code.to_owned();
        let actor = actor.clone();
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let mut coupon = lock(connection, &code).await?;
                    if owner.is_some() && coupon.user_id != owner {
                        return Err(AppError::CouponNotFound(code));
                    }
                    let change = Change {
                        event,
                        reason: &reason,
                        order_id: None,
                        actor: &actor,
                        now,
                    };
                    apply(connection, &mut coupon, &change).await?;
                    // Hiding is the owner's own tidying: no one is told.
                    if event == CouponEvent::Void {
                        let voided = Event::coupon(events::COUPON_VOIDED, &coupon, now);
                        outbox::append(connection, &[voided]).await?;
                    }
                    Ok(coupon)
                })
            })
            .await
    }
}
