//! The templates' rules on use (SPEC §11.3, §11.4), decided in the order
//! batch like its other checks: caps on uses per device, IP, phone,
//! address or payment account (per day or ever), and the redemptions-per-
//! minute breaker, which alerts, then pauses the template and holds the
//! use of its coupons until staff resume it.
//!
//! A use is a coupon locked into an order: it counts from the lock (so two
//! orders placed at once cannot both pass a cap) and is given back when the
//! order is released and the coupon returns. Refunds do not give uses back:
//! the coupon was used. The counters live in `risk_counts` under
//! `use:<key>`; the hold is a row `use_hold` whose count is the template's
//! version when the breaker paused it, so a resume (which changes the
//! version) lifts it.
//!
//! Batches whose templates have no such rules read and write nothing here.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sqlx::{AnyConnection, Row};

use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_core::template::risk::{CapPeriod, Context, Risk};
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::decide::{Call, OrderRequest};
use crate::checkout::TemplateCache;
use crate::claims::batch::local_day;
use crate::notify::{Event, events};
use crate::templates::TemplateRecord;
use crate::{AppError, AppResult, ClaimRefusal};

const PER_MINUTE: &str = "redemptions_per_minute";
const HOLD: &str = "use_hold";

/// (template, key, value, period) of one counter.
type CounterKey = (String, String, String, i64);

fn use_key(by: &str) -> String {
    format!("use:{by}")
}

fn period(per: CapPeriod, now: DateTime<Utc>, zone: Tz) -> i64 {
    match per {
        CapPeriod::Day => local_day(now, zone),
        CapPeriod::Ever => -1,
    }
}

fn minute_of(now: DateTime<Utc>) -> i64 {
    to_micros(now).div_euclid(60_000_000)
}

/// What a batch read of the counters, and what its calls add.
#[derive(Debug, Clone, Default)]
pub(super) struct UseRisk {
    counts: HashMap<CounterKey, i64>,
    /// Holds as read: template → the version it was held at.
    holds: HashMap<String, i64>,
    added: HashMap<CounterKey, i64>,
    /// Templates the breaker paused in this batch.
    pub paused: BTreeSet<String>,
    /// `risk.alert` events to append.
    pub alerts: Vec<Event>,
}

fn rules(record: &TemplateRecord) -> &Risk {
    &record.template.get().risk
}

impl UseRisk {
    /// Reads every counter the batch's calls may touch, for the templates
    /// of the coupons it read (`cache`).
    pub(super) async fn load(
        connection: &mut AnyConnection,
        cache: &TemplateCache,
        template_ids: &[String],
        requests: &[OrderRequest],
    ) -> AppResult<UseRisk> {
        let mut keys: BTreeSet<CounterKey> = BTreeSet::new();
        let mut held = Vec::new();
        for id in template_ids {
            let record = cache.cached(id)?;
            let risk = rules(&record);
            if !risk.counts_uses() {
                continue;
            }
            for request in requests {
                match &request.call {
                    Call::Lock(cart) => {
                        for cap in &risk.use_caps {
                            if let Some(value) = cart.context.get(cap.by) {
                                keys.insert((
                                    id.clone(),
                                    use_key(cap.by.as_str()),
                                    value.to_owned(),
                                    period(cap.per, request.now, request.zone),
                                ));
                            }
                        }
                    }
                    Call::Redeem if risk.redemptions_per_minute.is_some() => {
                        keys.insert((
                            id.clone(),
                            PER_MINUTE.into(),
                            String::new(),
                            minute_of(request.now),
                        ));
                    }
                    Call::Redeem | Call::Release => {}
                }
            }
            if risk.redemptions_per_minute.is_some() {
                held.push(id.clone());
            }
        }
        let mut state = UseRisk::default();
        // On PostgreSQL the counters are locked (in key order, after the
        // batch's orders and before its coupons, as every batch does), so
        // batches on two nodes count one after the other.
        let shared = Backend::of(connection) == Backend::Postgres;
        for key in keys {
            if shared {
                let at = (key.0.as_str(), key.1.as_str(), key.2.as_str(), key.3);
                upsert(connection, at, 0, "risk_counts.count").await?;
            }
            let count = read(connection, &key, shared).await?;
            state.counts.insert(key, count.unwrap_or(0));
        }
        for id in held {
            let key = (id.clone(), HOLD.to_owned(), String::new(), -1);
            if let Some(version) = read(connection, &key, false).await? {
                state.holds.insert(id, version);
            }
        }
        Ok(state)
    }

    fn count(&self, key: &CounterKey) -> i64 {
        self.counts.get(key).copied().unwrap_or(0) + self.added.get(key).copied().unwrap_or(0)
    }

    /// Why this template's coupons cannot be used in `cart`'s order now, if
    /// they cannot: its use is held by the breaker, the checkout lacks the
    /// context a cap needs, or a cap is reached.
    pub(super) fn refusal(
        &self,
        record: &TemplateRecord,
        context: &Context,
        now: DateTime<Utc>,
        zone: Tz,
    ) -> Option<String> {
        let risk = rules(record);
        if !risk.counts_uses() {
            return None;
        }
        let held_at = self.holds.get(&record.id).copied();
        let paused_now = record.status_at(now) == TemplateStatus::Paused;
        if self.paused.contains(&record.id) || (paused_now && held_at == Some(record.version)) {
            return Some(format!(
                "the use of template {}'s coupons is held by risk control until staff resume it",
                record.id
            ));
        }
        for cap in &risk.use_caps {
            let by = cap.by.as_str();
            let Some(value) = context.get(cap.by) else {
                return Some(format!("orders using this coupon must carry context.{by}"));
            };
            let key = (
                record.id.clone(),
                use_key(by),
                value.to_owned(),
                period(cap.per, now, zone),
            );
            if self.count(&key) >= i64::from(cap.max) {
                let per = match cap.per {
                    CapPeriod::Day => "a day",
                    CapPeriod::Ever => "in all",
                };
                return Some(format!("at most {} uses per {by} {per}", cap.max));
            }
        }
        None
    }

    /// The refusal of a lock whose explicit selection names a coupon of a
    /// refused template.
    pub(super) fn refused(detail: String) -> AppError {
        AppError::Claim {
            code: ClaimRefusal::RiskLimit,
            detail,
        }
    }

    /// Counts (`step` 1) or gives back (`step` -1) one use of a coupon of
    /// `record` by `context`, in the period of `at` (the lock's time).
    pub(super) fn count_use(
        &mut self,
        record: &TemplateRecord,
        context: &Context,
        at: DateTime<Utc>,
        zone: Tz,
        step: i64,
    ) {
        for cap in &rules(record).use_caps {
            if let Some(value) = context.get(cap.by) {
                let key = (
                    record.id.clone(),
                    use_key(cap.by.as_str()),
                    value.to_owned(),
                    period(cap.per, at, zone),
                );
                *self.added.entry(key).or_default() += step;
            }
        }
    }

    /// Counts a redemption of a coupon of `record`: the one that crosses the
    /// alert level raises `risk.alert`, the one that reaches the pause level
    /// pauses the template and holds its use.
    pub(super) fn redeemed(&mut self, record: &TemplateRecord, now: DateTime<Utc>) {
        let Some(rate) = &rules(record).redemptions_per_minute else {
            return;
        };
        let key = (
            record.id.clone(),
            PER_MINUTE.to_owned(),
            String::new(),
            minute_of(now),
        );
        *self.added.entry(key.clone()).or_default() += 1;
        let count = self.count(&key);
        let alert = |level: &str, threshold: u32| {
            let data = serde_json::json!({"rule": PER_MINUTE, "level": level, "template_id": record.id,
                                          "threshold": threshold, "value": count});
            Event::new(events::RISK_ALERT, now, None, data)
        };
        if let Some(level) = rate.alert.filter(|level| i64::from(*level) == count) {
            self.alerts.push(alert("alert", level));
        }
        if let Some(level) = rate.pause.filter(|level| i64::from(*level) == count) {
            self.alerts.push(alert("pause", level));
            self.paused.insert(record.id.clone());
        }
    }

    /// Writes what the batch counted, pauses what the breaker tripped and
    /// holds its use, in the batch's unit.
    pub(super) async fn write(
        &self,
        connection: &mut AnyConnection,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        for ((template, key, value, period), added) in &self.added {
            if *added != 0 {
                upsert(
                    connection,
                    (template, key, value, *period),
                    *added,
                    "risk_counts.count + excluded.count",
                )
                .await?;
            }
        }
        for template in &self.paused {
            let reason = "redemptions per minute reached the breaker's level";
            let version =
                crate::templates::pause_by_breaker(connection, template, now, reason).await?;
            upsert(
                connection,
                (template, HOLD, "", -1),
                version,
                "excluded.count",
            )
            .await?;
        }
        Ok(())
    }
}

async fn read(
    connection: &mut AnyConnection,
    key: &CounterKey,
    for_update: bool,
) -> AppResult<Option<i64>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT count FROM risk_counts WHERE template_id = $1 AND key = $2 AND value = $3 AND period = $4{lock}",
    ))
    .bind(&key.0)
    .bind(&key.1)
    .bind(&key.2)
    .bind(key.3)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(row
        .map(|row| row.try_get::<i64, _>("count"))
        .transpose()
        .map_err(StoreError::from)?)
}

async fn upsert(
    connection: &mut AnyConnection,
    (template, key, value, period): (&str, &str, &str, i64),
    count: i64,
    update: &str,
) -> AppResult<()> {
    let mut params = Params::for_connection(connection);
    let sql = format!(
        "INSERT INTO risk_counts (template_id, key, value, period, count) VALUES ({}) \
         ON CONFLICT (template_id, key, value, period) DO UPDATE SET count = {update}",
        params.list(5)
    );
    sqlx::query(&sql)
        .bind(template)
        .bind(key)
        .bind(value)
        .bind(period)
        .bind(count)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}
