//! Webhooks (SPEC §6.3): URLs admins register for event types, with the
//! secret their deliveries are signed with, and each one's delivery log.
//!
//! The secret is kept as given (it signs every delivery, so it cannot be
//! hashed) and answered only once, at registration.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use super::deliver::hex;
use super::events::{is_known_pattern, pattern_matches};
use crate::{Actor, App, AppError, AppResult, ids};

pub const URL_CHARS_MAX: usize = 2_048;
pub const PATTERNS_MAX: usize = 64;
pub const SECRET_CHARS_MIN: usize = 16;
pub const SECRET_CHARS_MAX: usize = 256;
/// Webhooks or deliveries one page returns at most.
pub const WEBHOOK_PAGE_MAX: u32 = 500;

/// A webhook as stored, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    /// Event types or patterns (`*`, `coupon.*`).
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Webhook {
    pub fn wants(&self, kind: &str) -> bool {
        self.events
            .iter()
            .any(|pattern| pattern_matches(pattern, kind))
    }
}

/// What an admin registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    /// Generated when absent.
    pub secret: Option<String>,
}

/// One delivery of one event to one webhook, as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered`, `failed` (attempts exhausted) or
    /// `cancelled` (the webhook was deleted first).
    pub status: String,
    pub attempts: i64,
    /// The HTTP status of the last attempt, when it got an answer.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Where a page of deliveries starts (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

fn check(webhook: &NewWebhook) -> AppResult<()> {
    let url = reqwest::Url::parse(&webhook.url)
        .map_err(|error| AppError::invalid("url", format!("is not a URL: {error}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::invalid("url", "must be an http or https URL"));
    }
    if webhook.url.len() > URL_CHARS_MAX {
        return Err(AppError::invalid("url", "must be at most 2048 characters"));
    }
    if webhook.events.is_empty() || webhook.events.len() > PATTERNS_MAX {
        return Err(AppError::invalid("events", "must name 1 to 64 event types"));
    }
    if let Some(unknown) = webhook.events.iter().find(|p| !is_known_pattern(p)) {
        return Err(AppError::invalid(
            "events",
            format!("`{unknown}` is not an event type, `*` or a family such as `coupon.*`"),
        ));
    }
    let secret_ok = webhook.secret.as_ref().is_none_or(|secret| {
        (SECRET_CHARS_MIN..=SECRET_CHARS_MAX).contains(&secret.chars().count())
    });
    if !secret_ok {
        return Err(AppError::invalid("secret", "must be 16 to 256 characters"));
    }
    Ok(())
}

fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("whsec_{}", hex(&bytes))
}

const COLUMNS: &str = "id, url, events, created_by, created_at";

fn webhook_from_row(row: &sqlx::any::AnyRow) -> Result<Webhook, StoreError> {
    let events: String = row.try_get("events")?;
    Ok(Webhook {
        id: row.try_get("id")?,
        url: row.try_get("url")?,
        events: serde_json::from_str(&events).map_err(|error| StoreError::Corrupt {
            table: "webhooks",
            reason: error.to_string(),
        })?,
        created_by: row.try_get("created_by")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}

/// The subscriptions of the webhooks not deleted: one JSON list each.
pub(crate) const SUBSCRIPTIONS_SQL: &str = "SELECT events FROM webhooks WHERE deleted_at IS NULL";

/// Whether any of `subscriptions` (rows of [`SUBSCRIPTIONS_SQL`]) wants
/// events of `kind`. A row that does not parse counts as wanting it: an
/// event sent for nothing is cheaper than one never sent.
pub(crate) fn any_wants<'a>(subscriptions: impl IntoIterator<Item = &'a str>, kind: &str) -> bool {
    subscriptions.into_iter().any(|text| {
        serde_json::from_str::<Vec<String>>(text).map_or(true, |patterns| {
            patterns
                .iter()
                .any(|pattern| pattern_matches(pattern, kind))
        })
    })
}

/// Whether any webhook not deleted wants events of `kind`, read in the
/// caller's unit (so a webhook registered before the unit is seen).
pub(crate) async fn wanted(connection: &mut AnyConnection, kind: &str) -> AppResult<bool> {
    let rows = sqlx::query(SUBSCRIPTIONS_SQL)
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    let texts = rows
        .iter()
        .map(|row| row.try_get::<String, _>("events"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::from)?;
    Ok(any_wants(texts.iter().map(String::as_str), kind))
}

/// The webhooks not deleted, for the fan-out.
pub(super) async fn active(connection: &mut AnyConnection) -> AppResult<Vec<Webhook>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE deleted_at IS NULL ORDER BY id"
    ))
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(rows
        .iter()
        .map(webhook_from_row)
        .collect::<Result<_, _>>()?)
}

impl App {
    /// Registers a webhook; answers it and its secret (shown this once).
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        webhook: NewWebhook,
    ) -> AppResult<(Webhook, String)> {
        check(&webhook)?;
        let secret = webhook.secret.clone().unwrap_or_else(new_secret);
        let record = Webhook {
            id: ids::new_id("wh"),
            url: webhook.url,
            events: webhook.events,
            created_by: actor.as_str().to_owned(),
            created_at: self.now(),
        };
        let events =
            serde_json::to_string(&record.events).map_err(|e| StoreError::Other(e.to_string()))?;
        let (stored, key) = (record.clone(), secret.clone());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO webhooks (id, url, events, secret, created_by, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&stored.id)
                    .bind(&stored.url)
                    .bind(&events)
                    .bind(&key)
                    .bind(&stored.created_by)
                    .bind(to_micros(stored.created_at))
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        Ok((record, secret))
    }

    /// The webhooks not deleted, in id order after `after`.
    pub async fn webhooks(&self, after: Option<&str>, limit: u32) -> AppResult<Vec<Webhook>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE deleted_at IS NULL AND id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.min(WEBHOOK_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        Ok(rows
            .iter()
            .map(webhook_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// A webhook not deleted.
    pub async fn webhook(&self, id: &str) -> AppResult<Webhook> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webhooks WHERE id = $1 AND deleted_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(self.store.reader())
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::WebhookNotFound(id.to_owned()))?;
        Ok(webhook_from_row(&row)?)
    }

    /// Deletes a webhook: it gets nothing more, and its pending deliveries
    /// are cancelled. Its log stays in the database.
    pub async fn delete_webhook(&self, id: &str) -> AppResult<Webhook> {
        let (now, id) = (self.now(), id.to_owned());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let row = sqlx::query(&format!(
                        "UPDATE webhooks SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL \
                         RETURNING {COLUMNS}"
                    ))
                    .bind(&id)
                    .bind(to_micros(now))
                    .fetch_optional(&mut *connection)
                    .await
                    .map_err(StoreError::from)?
                    .ok_or_else(|| AppError::WebhookNotFound(id.clone()))?;
                    sqlx::query(
                        "UPDATE webhook_deliveries SET status = 'cancelled', next_attempt_at = NULL \
                         WHERE webhook_id = $1 AND status = 'pending'",
                    )
                    .bind(&id)
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok(webhook_from_row(&row)?)
                })
            })
            .await
    }

    /// A webhook's delivery log, newest first, after `cursor`.
    pub async fn webhook_deliveries(
        &self,
        webhook_id: &str,
        cursor: Option<&DeliveryCursor>,
        limit: u32,
    ) -> AppResult<Vec<Delivery>> {
        self.webhook(webhook_id).await?;
        let (before_at, before_id) = match cursor {
            Some(cursor) => (to_micros(cursor.created_at), cursor.id.as_str()),
            None => (i64::MAX, ""),
        };
        let rows = sqlx::query(
            "SELECT id, webhook_id, event_id, event_type, status, attempts, last_status, last_error, \
             next_attempt_at, delivered_at, created_at FROM webhook_deliveries WHERE webhook_id = $1 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4",
        )
        .bind(webhook_id)
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(limit.min(WEBHOOK_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        Ok(rows
            .iter()
            .map(delivery_from_row)
            .collect::<Result<_, _>>()?)
    }
}

fn delivery_from_row(row: &sqlx::any::AnyRow) -> Result<Delivery, StoreError> {
    let time = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        let micros: Option<i64> = row.try_get(column)?;
        micros.map(from_micros).transpose()
    };
    Ok(Delivery {
        id: row.try_get("id")?,
        webhook_id: row.try_get("webhook_id")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_status: row.try_get("last_status")?,
        last_error: row.try_get("last_error")?,
        next_attempt_at: time("next_attempt_at")?,
        delivered_at: time("delivered_at")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}
