//! Risk alerts (SPEC §11.3, §11.5), as staff read them: every `risk.alert`
//! event, recorded by the outbox dispatcher in the unit that dispatches it
//! (so once, on any number of nodes), newest first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::{from_micros, to_micros};

use crate::notify::{Event, events};
use crate::{App, AppResult};

/// Alerts per page at most.
pub const ALERTS_PAGE_MAX: u32 = 500;

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskAlert {
    /// The order alerts were recorded in: the page cursor.
    pub seq: i64,
    /// The `risk.alert` event's id.
    pub id: String,
    pub at: DateTime<Utc>,
    /// `claims_per_minute`, `redemptions_per_minute`, `budget_used`, `code_guessing`.
    pub rule: String,
    /// `alert`, or `pause` when the breaker paused the template.
    pub level: String,
    pub template_id: Option<String>,
    /// Who tripped it, for rules about a subject (`ip:…`, `user:…`).
    pub subject: Option<String>,
    /// What was counted when it tripped, and the level it reached.
    pub value: Option<i64>,
    pub threshold: Option<i64>,
    /// The event's data as emitted.
    pub data: Value,
}

fn text(data: &Value, field: &str) -> Option<String> {
    data.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn number(data: &Value, fields: &[&str]) -> Option<i64> {
    fields
        .iter()
        .find_map(|field| data.get(*field).and_then(Value::as_i64))
}

/// Records the `risk.alert` events among `dispatched`, in the dispatcher's unit.
pub(crate) async fn record(connection: &mut AnyConnection, dispatched: &[&Event]) -> AppResult<()> {
    for event in dispatched.iter().filter(|e| e.kind == events::RISK_ALERT) {
        let data = &event.data;
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "INSERT INTO risk_alerts (id, at, rule, level, template_id, subject, value, threshold, data) \
             VALUES ({}) ON CONFLICT (id) DO NOTHING",
            params.list(9)
        );
        sqlx::query(&sql)
            .bind(&event.id)
            .bind(to_micros(event.at))
            .bind(text(data, "rule").unwrap_or_else(|| "unknown".into()))
            .bind(text(data, "level").unwrap_or_else(|| "alert".into()))
            .bind(text(data, "template_id"))
            .bind(text(data, "subject"))
            .bind(number(data, &["value", "count", "failures"]))
            .bind(number(data, &["threshold", "limit"]))
            .bind(data.to_string())
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

impl App {
    /// The alerts, newest first, optionally of one template.
    pub async fn risk_alerts(
        &self,
        template_id: Option<&str>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<RiskAlert>> {
        let rows = sqlx::query(
            "SELECT seq, id, at, rule, level, template_id, subject, value, threshold, data FROM risk_alerts \
             WHERE ($1 = '' OR template_id = $1) AND seq < $2 ORDER BY seq DESC LIMIT $3",
        )
        .bind(template_id.unwrap_or(""))
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(i64::from(limit.min(ALERTS_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                let data: String = row.try_get("data").map_err(StoreError::from)?;
                Ok(RiskAlert {
                    seq: row.try_get("seq").map_err(StoreError::from)?,
                    id: row.try_get("id").map_err(StoreError::from)?,
                    at: from_micros(row.try_get("at").map_err(StoreError::from)?)?,
                    rule: row.try_get("rule").map_err(StoreError::from)?,
                    level: row.try_get("level").map_err(StoreError::from)?,
                    template_id: row.try_get("template_id").map_err(StoreError::from)?,
                    subject: row.try_get("subject").map_err(StoreError::from)?,
                    value: row.try_get("value").map_err(StoreError::from)?,
                    threshold: row.try_get("threshold").map_err(StoreError::from)?,
                    data: serde_json::from_str(&data).map_err(|e| StoreError::Corrupt {
                        table: "risk_alerts",
                        reason: e.to_string(),
                    })?,
                })
            })
            .collect()
    }
}
