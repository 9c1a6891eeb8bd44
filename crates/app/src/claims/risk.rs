//! A template's anti-fraud caps and claims-per-minute breaker (SPEC §11.3,
//! §11.4), decided inside the claim batch against counters read in its
//! unit (`risk_counts`), so they hold under any concurrency like the other
//! limits. Templates with risk rules take the sqlx unit on every back end.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use couponflow_core::template::risk::{CapPeriod, Risk};
use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;

use super::Issue;
use super::decide::Refusal;
use crate::notify::{Event, events};
use crate::{AppResult, ClaimRefusal};

/// The breaker's counter key.
const PER_MINUTE: &str = "claims_per_minute";
/// The budget breaker's rule name.
const BUDGET_USED: &str = "budget_used";

/// (key, value, period) of one counter.
pub(crate) type CounterKey = (String, String, i64);

/// The counters a batch decides against, and what it adds to them.
#[derive(Debug, Default)]
pub(crate) struct RiskState {
    counts: HashMap<CounterKey, i64>,
    added: HashMap<CounterKey, i64>,
    day: i64,
    minute: i64,
    /// The breaker paused the template in this batch, and why.
    pub paused: bool,
    pub pause_reason: &'static str,
    /// `risk.alert` events to append.
    pub alerts: Vec<Event>,
}

fn period(per: CapPeriod, day: i64) -> i64 {
    match per {
        CapPeriod::Day => day,
        CapPeriod::Ever => -1,
    }
}

fn minute_of(now: DateTime<Utc>) -> i64 {
    to_micros(now).div_euclid(60_000_000)
}

/// Every counter the batch may touch.
fn keys(risk: &Risk, requests: &[Issue], day: i64, minute: i64) -> Vec<CounterKey> {
    let mut keys = Vec::new();
    for cap in &risk.claim_caps {
        for request in requests {
            if let Some(value) = request.context.get(cap.by) {
                keys.push((
                    cap.by.as_str().to_owned(),
                    value.to_owned(),
                    period(cap.per, day),
                ));
            }
        }
    }
    if risk.claims_per_minute.is_some() {
        keys.push((PER_MINUTE.to_owned(), String::new(), minute));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// Reads the counters of the batch's claims.
pub(crate) async fn load(
    connection: &mut AnyConnection,
    template_id: &str,
    risk: &Risk,
    requests: &[Issue],
    day: i64,
    now: DateTime<Utc>,
) -> AppResult<RiskState> {
    let minute = minute_of(now);
    let mut state = RiskState {
        day,
        minute,
        ..RiskState::default()
    };
    for key in keys(risk, requests, day, minute) {
        let count: Option<i64> = sqlx::query(
            "SELECT count FROM risk_counts WHERE template_id = $1 AND key = $2 AND value = $3 AND period = $4",
        )
        .bind(template_id)
        .bind(&key.0)
        .bind(&key.1)
        .bind(key.2)
        .fetch_optional(&mut *connection)
        .await
        .map_err(StoreError::from)?
        .map(|row| row.try_get("count"))
        .transpose()
        .map_err(StoreError::from)?;
        state.counts.insert(key, count.unwrap_or(0));
    }
    Ok(state)
}

impl RiskState {
    /// The breaker first (a paused template takes nothing more), then the
    /// caps, for one claim.
    pub(crate) fn admit(&self, risk: &Risk, request: &Issue) -> Result<(), Refusal> {
        if self.paused {
            return Err((
                ClaimRefusal::TemplateNotActive,
                "the template was paused by its risk breaker".into(),
            ));
        }
        // Caps watch what users ask for, not what staff and rules give.
        if !request.source.user_asked() {
            return Ok(());
        }
        for cap in &risk.claim_caps {
            let by = cap.by.as_str();
            let Some(value) = request.context.get(cap.by) else {
                return Err((
                    ClaimRefusal::RiskLimit,
                    format!("this coupon's claims must carry context.{by}"),
                ));
            };
            let key = (by.to_owned(), value.to_owned(), period(cap.per, self.day));
            if self.count(&key) >= i64::from(cap.max) {
                let per = match cap.per {
                    CapPeriod::Day => "a day",
                    CapPeriod::Ever => "in all",
                };
                return Err((
                    ClaimRefusal::RiskLimit,
                    format!("at most {} per {by} {per}", cap.max),
                ));
            }
        }
        Ok(())
    }

    fn count(&self, key: &CounterKey) -> i64 {
        self.counts.get(key).copied().unwrap_or(0) + self.added.get(key).copied().unwrap_or(0)
    }

    /// Counts an accepted claim; the claim that crosses the alert level
    /// raises `risk.alert`, the one that reaches the pause level pauses.
    pub(crate) fn accept(
        &mut self,
        risk: &Risk,
        request: &Issue,
        template_id: &str,
        now: DateTime<Utc>,
    ) {
        for cap in &risk.claim_caps {
            if let Some(value) = request.context.get(cap.by) {
                let key = (
                    cap.by.as_str().to_owned(),
                    value.to_owned(),
                    period(cap.per, self.day),
                );
                *self.added.entry(key).or_default() += 1;
            }
        }
        let Some(rate) = &risk.claims_per_minute else {
            return;
        };
        let key = (PER_MINUTE.to_owned(), String::new(), self.minute);
        *self.added.entry(key.clone()).or_default() += 1;
        let count = self.count(&key);
        let alert = |level: &str, threshold: u32| {
            let data = serde_json::json!({"rule": PER_MINUTE, "level": level, "template_id": template_id,
                                          "threshold": threshold, "count": count});
            Event::new(events::RISK_ALERT, now, None, data)
        };
        if let Some(level) = rate.alert.filter(|level| i64::from(*level) == count) {
            self.alerts.push(alert("alert", level));
        }
        if let Some(level) = rate.pause.filter(|level| i64::from(*level) == count) {
            self.alerts.push(alert("pause", level));
            self.paused = true;
            self.pause_reason = "claims per minute reached the breaker's level";
        }
    }

    /// The budget's thresholds (percent of `base`), after an issue moved
    /// the budget used from `before` to `after`: the issue that crosses the
    /// alert level raises `risk.alert`, the one that reaches the pause level
    /// pauses. Every source counts: grants spend the budget too.
    pub(crate) fn spend(
        &mut self,
        risk: &Risk,
        base: Option<i64>,
        (before, after): (i64, i64),
        template_id: &str,
        now: DateTime<Utc>,
    ) {
        let (Some(rate), Some(base)) = (&risk.budget_used, base.filter(|base| *base > 0)) else {
            return;
        };
        // Crossed when before < base × percent / 100 <= after, in integers.
        let crossed = |percent: u32| {
            let level = i128::from(base) * i128::from(percent);
            i128::from(before) * 100 < level && level <= i128::from(after) * 100
        };
        let used_percent = i128::from(after) * 100 / i128::from(base);
        let alert = |level: &str, threshold: u32| {
            let data = serde_json::json!({"rule": BUDGET_USED, "level": level, "template_id": template_id,
                                          "threshold": threshold, "value": used_percent,
                                          "budget": base, "used": after});
            Event::new(events::RISK_ALERT, now, None, data)
        };
        if let Some(level) = rate.alert.filter(|level| crossed(*level)) {
            self.alerts.push(alert("alert", level));
        }
        if let Some(level) = rate.pause.filter(|level| crossed(*level)) {
            self.alerts.push(alert("pause", level));
            self.paused = true;
            self.pause_reason = "the budget used reached the breaker's level";
        }
    }

    /// Adds what the batch counted, in its unit.
    pub(crate) async fn write(
        &self,
        connection: &mut AnyConnection,
        template_id: &str,
    ) -> AppResult<()> {
        for ((key, value, period), added) in &self.added {
            let mut params = Params::for_connection(connection);
            let sql = format!(
                "INSERT INTO risk_counts (template_id, key, value, period, count) VALUES ({}, {}, {}, {}, {}) \
                 ON CONFLICT (template_id, key, value, period) DO UPDATE SET count = risk_counts.count + excluded.count",
                params.next(),
                params.next(),
                params.next(),
                params.next(),
                params.next()
            );
            sqlx::query(&sql)
                .bind(template_id)
                .bind(key)
                .bind(value)
                .bind(*period)
                .bind(*added)
                .execute(&mut *connection)
                .await
                .map_err(StoreError::from)?;
        }
        Ok(())
    }
}
