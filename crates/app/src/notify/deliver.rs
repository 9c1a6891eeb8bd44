//! Sending deliveries: at least once, signed, with exponential back-off.
//!
//! A sender leases the due deliveries in one unit (PostgreSQL: `FOR UPDATE
//! SKIP LOCKED`, so senders on several nodes take different ones), posts
//! them concurrently outside any transaction, and records each outcome in a
//! second unit, only while it still holds the lease. A node that dies
//! between the two leaves the lease to run out; the delivery is then sent
//! again — receivers deduplicate on the event id (the body's `id`) or the
//! `X-Couponflow-Delivery` header.

use chrono::{DateTime, Duration as TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{AnyConnection, Row};

use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::NotifySettings;
use crate::{App, AppError, AppResult, ids};

/// Deliveries one sender round leases and posts at most.
pub const DELIVERIES_PER_ROUND_MAX: i64 = 64;
/// How much longer than the send timeout a lease lasts, for the time to
/// record the outcome.
const LEASE_MARGIN_SECS: i64 = 30;
/// Longest `last_error` kept.
const ERROR_CHARS_MAX: usize = 500;

pub const EVENT_HEADER: &str = "X-Couponflow-Event";
pub const DELIVERY_HEADER: &str = "X-Couponflow-Delivery";
pub const TIMESTAMP_HEADER: &str = "X-Couponflow-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Couponflow-Signature";

/// Lowercase hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `sha256=` and the hex HMAC-SHA256, keyed with `secret`, of
/// `timestamp + "." + body`: the `X-Couponflow-Signature` header.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}

/// The HTTP client deliveries go out with: the configured timeout, no
/// redirects (a redirect is not an acknowledgement), rustls.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    settings: NotifySettings,
}

impl Sender {
    pub fn new(settings: &NotifySettings) -> AppResult<Sender> {
        let client = reqwest::Client::builder()
            .timeout(settings.send_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("couponflow-webhooks")
            .build()
            .map_err(|error| AppError::Store(StoreError::Other(error.to_string())))?;
        Ok(Sender {
            client,
            settings: settings.clone(),
        })
    }
}

/// A leased delivery and where it goes.
struct Leased {
    id: String,
    event_type: String,
    body: String,
    attempts: i64,
    url: String,
    secret: String,
}

/// What one attempt got.
struct Attempt {
    id: String,
    attempts: i64,
    status: Option<i64>,
    error: Option<String>,
}

impl App {
    /// One sender round: leases the due deliveries, posts them, records
    /// the outcomes; answers how many were attempted.
    pub async fn deliver_due(&self, sender: &Sender) -> AppResult<usize> {
        let holder = ids::new_id("lease");
        let now = self.now();
        let lease_until =
            now + TimeDelta::milliseconds(
                i64::try_from(sender.settings.send_timeout_ms).unwrap_or(i64::MAX / 2),
            ) + TimeDelta::seconds(LEASE_MARGIN_SECS);
        let lease_holder = holder.clone();
        let leased = self
            .store
            .write(move |connection| {
                Box::pin(async move { lease(connection, &lease_holder, now, lease_until).await })
            })
            .await?;
        if leased.is_empty() {
            return Ok(0);
        }
        let sends = leased.iter().map(|delivery| send(sender, delivery, now));
        let attempts = futures::future::join_all(sends).await;
        let count = attempts.len();
        let (settings, now) = (sender.settings.clone(), self.now());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    for attempt in &attempts {
                        record(connection, &holder, attempt, &settings, now).await?;
                    }
                    Ok::<_, AppError>(())
                })
            })
            .await?;
        Ok(count)
    }
}

async fn lease(
    connection: &mut AnyConnection,
    holder: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> AppResult<Vec<Leased>> {
    let skip_locked = match Backend::of(connection) {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    sqlx::query(&format!(
        "UPDATE webhook_deliveries SET lease_holder = $1, lease_until = $2 WHERE id IN \
         (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $3 \
          AND (lease_until IS NULL OR lease_until < $3) ORDER BY next_attempt_at LIMIT $4{skip_locked})"
    ))
    .bind(holder)
    .bind(to_micros(until))
    .bind(to_micros(now))
    .bind(DELIVERIES_PER_ROUND_MAX)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let rows = sqlx::query(
        "SELECT d.id, d.event_type, d.body, d.attempts, w.url, w.secret FROM webhook_deliveries d \
         JOIN webhooks w ON w.id = d.webhook_id WHERE d.lease_holder = $1 AND d.status = 'pending'",
    )
    .bind(holder)
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let leased = rows
        .iter()
        .map(|row| {
            Ok(Leased {
                id: row.try_get("id")?,
                event_type: row.try_get("event_type")?,
                body: row.try_get("body")?,
                attempts: row.try_get("attempts")?,
                url: row.try_get("url")?,
                secret: row.try_get("secret")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(leased)
}

async fn send(sender: &Sender, delivery: &Leased, now: DateTime<Utc>) -> Attempt {
    let timestamp = now.timestamp();
    let outcome = sender
        .client
        .post(&delivery.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(EVENT_HEADER, &delivery.event_type)
        .header(DELIVERY_HEADER, &delivery.id)
        .header(TIMESTAMP_HEADER, timestamp.to_string())
        .header(
            SIGNATURE_HEADER,
            signature(&delivery.secret, timestamp, &delivery.body),
        )
        .body(delivery.body.clone())
        .send()
        .await;
    let (status, error) = match outcome {
        Ok(response) if response.status().is_success() => {
            (Some(i64::from(response.status().as_u16())), None)
        }
        Ok(response) => (
            Some(i64::from(response.status().as_u16())),
            Some(format!("the webhook answered {}", response.status())),
        ),
        Err(error) if error.is_timeout() => (None, Some("no answer within the timeout".into())),
        Err(error) => (None, Some(error.to_string())),
    };
    Attempt {
        id: delivery.id.clone(),
        attempts: delivery.attempts + 1,
        status,
        error: error.map(|text| text.chars().take(ERROR_CHARS_MAX).collect()),
    }
}

/// Stores an attempt's outcome, if `holder` still holds the lease:
/// delivered; or pending again after the back-off; or failed when the
/// attempts are used up.
async fn record(
    connection: &mut AnyConnection,
    holder: &str,
    attempt: &Attempt,
    settings: &NotifySettings,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let attempts_used = u32::try_from(attempt.attempts).unwrap_or(u32::MAX);
    let (status, next_attempt_at, delivered_at) = match &attempt.error {
        None => ("delivered", None, Some(to_micros(now))),
        Some(_) if attempts_used >= settings.attempts_max => ("failed", None, None),
        Some(_) => {
            let delay = settings.retry_delay(attempts_used);
            let delay = TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
            ("pending", Some(to_micros(now + delay)), None)
        }
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $3, attempts = $4, last_status = $5, last_error = $6, \
         next_attempt_at = $7, delivered_at = $8, lease_holder = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_holder = $2",
    )
    .bind(&attempt.id)
    .bind(holder)
    .bind(status)
    .bind(attempt.attempts)
    .bind(attempt.status)
    .bind(attempt.error.as_deref())
    .bind(next_attempt_at)
    .bind(delivered_at)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"whsec_test",
        // b'1700000000.{"id":"evt_1"}', hashlib.sha256).hexdigest().
        assert_eq!(
            signature("whsec_test", 1_700_000_000, r#"{"id":"evt_1"}"#),
            "sha256=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
        );
    }
}
