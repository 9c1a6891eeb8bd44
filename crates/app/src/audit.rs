//! The audit log (SPEC §11.6): every staff action over the API — who (the
//! key and its role), what (method and path), the change asked for (the
//! request body) and the resource as the answer left it (the response
//! body) — recorded by the HTTP layer once the action has been answered.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::{App, AppResult, ids};

/// Entries per page at most.
pub const AUDIT_PAGE_MAX: u32 = 500;

/// One staff action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// The order entries were written in: the page cursor.
    pub seq: i64,
    pub id: String,
    pub at: DateTime<Utc>,
    /// `key:<id>`.
    pub actor: String,
    pub role: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    /// The resource as it stood before the action, when it names one.
    pub before: Option<String>,
    /// The body sent, when it was text.
    pub request: Option<String>,
    /// The body answered, when it was text.
    pub response: Option<String>,
}

/// An action to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub actor: String,
    pub role: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub before: Option<String>,
    pub request: Option<String>,
    pub response: Option<String>,
}

const COLUMNS: &str = "id, at, actor, role, method, path, status, before, request, response";
const READ_COLUMNS: &str =
    "seq, id, at, actor, role, method, path, status, before, request, response";

/// Fields whose values never reach the log: keys shown once, secrets.
const SECRET_FIELDS: [&str; 6] = [
    "key",
    "secret",
    "token",
    "password",
    "captcha_token",
    "user_token_secret",
];

/// `text` with the values of secret fields replaced, when it is JSON;
/// other text (CSV uploads) as it is.
pub fn redact(text: &str) -> String {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    if SECRET_FIELDS.contains(&name.as_str()) && !field.is_null() {
                        *field = serde_json::Value::String("[redacted]".into());
                    } else {
                        walk(field);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut value) => {
            walk(&mut value);
            value.to_string()
        }
        Err(_) => text.to_owned(),
    }
}

impl App {
    /// The resource a staff action on `path` (`/v1/templates/tpl_…/pause`)
    /// is about, as it stands now, redacted: what the audit log records as
    /// `before`. `None` when the path names no single resource or it does
    /// not exist.
    pub async fn audit_before(&self, path: &str) -> Option<String> {
        let path = path.split('?').next().unwrap_or_default();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let json = match parts.as_slice() {
            ["v1", "templates", id, ..] => serde_json::to_string(&self.template(id).await.ok()?),
            ["v1", "campaigns", id, ..] => serde_json::to_string(&self.campaign(id).await.ok()?),
            ["v1", "coupons", code, ..] => serde_json::to_string(&self.coupon(code).await.ok()?),
            ["v1", "orders", id, ..] => serde_json::to_string(&self.order(id).await.ok()?),
            ["v1", "grant-rules", id, ..] => serde_json::to_string(&self.rule(id).await.ok()?),
            ["v1", "api-keys", id, ..] => serde_json::to_string(&self.api_key(id).await.ok()?),
            ["v1", "webhooks", id, ..] => serde_json::to_string(&self.webhook(id).await.ok()?),
            _ => return None,
        };
        json.ok().map(|text| redact(&text))
    }
}

impl App {
    /// Records one staff action.
    pub async fn record_audit(&self, new: NewAuditEntry) -> AppResult<()> {
        let (id, at) = (ids::new_id("aud"), to_micros(self.now()));
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(&format!(
                        "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ))
                    .bind(&id)
                    .bind(at)
                    .bind(&new.actor)
                    .bind(&new.role)
                    .bind(&new.method)
                    .bind(&new.path)
                    .bind(new.status)
                    .bind(new.before.as_deref().map(redact))
                    .bind(new.request.as_deref().map(redact))
                    .bind(new.response.as_deref().map(redact))
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok(())
                })
            })
            .await
    }

    /// The log, newest first, optionally of one actor and under one path
    /// prefix (`/v1/templates/tpl_…`).
    pub async fn audit_entries(
        &self,
        actor: Option<&str>,
        path_prefix: Option<&str>,
        before_seq: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<AuditEntry>> {
        let prefix = path_prefix.map(|p| format!("{}%", p.replace('%', "")));
        let rows = sqlx::query(&format!(
            "SELECT {READ_COLUMNS} FROM audit_log WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR path LIKE $2) \
             AND seq < $3 ORDER BY seq DESC LIMIT $4"
        ))
        .bind(actor.unwrap_or(""))
        .bind(prefix.unwrap_or_default())
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(i64::from(limit.min(AUDIT_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                Ok(AuditEntry {
                    seq: row.try_get("seq").map_err(StoreError::from)?,
                    id: row.try_get("id").map_err(StoreError::from)?,
                    at: from_micros(row.try_get("at").map_err(StoreError::from)?)?,
                    actor: row.try_get("actor").map_err(StoreError::from)?,
                    role: row.try_get("role").map_err(StoreError::from)?,
                    method: row.try_get("method").map_err(StoreError::from)?,
                    path: row.try_get("path").map_err(StoreError::from)?,
                    status: row.try_get("status").map_err(StoreError::from)?,
                    before: row.try_get("before").map_err(StoreError::from)?,
                    request: row.try_get("request").map_err(StoreError::from)?,
                    response: row.try_get("response").map_err(StoreError::from)?,
                })
            })
            .collect()
    }
}
