//! The in-app inbox (站内信, SPEC §6.3): one message per user-facing event,
//! in Simplified Chinese and English, newest first, with an unread count.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::{from_micros, to_micros};

use super::Event;
use super::events as types;
use crate::{App, AppError, AppResult, ids};

/// Messages one page returns at most.
pub const INBOX_PAGE_MAX: u32 = 500;
/// Messages one insert statement writes at most (10 parameters each).
const INSERT_ROWS_MAX: usize = 200;

/// One message as the user sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub id: String,
    pub user_id: String,
    pub event_id: String,
    pub event_type: String,
    pub title_zh: String,
    pub body_zh: String,
    pub title_en: String,
    pub body_en: String,
    /// The event's data (the coupon's code, template, validity, …).
    pub data: Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// One page of a user's messages and how many of all of them are unread.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxPage {
    pub messages: Vec<Message>,
    pub unread: i64,
}

/// Where a page starts: after the message of this time and id (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCursor {
    pub created_at: DateTime<Utc>,
    pub id: String,
}

/// The message `event` leaves in its user's inbox, if it leaves one.
/// Locks are part of checkout and template or risk events concern staff,
/// so they leave none; nor does a claim, whose result the user saw as they
/// claimed (and a claim storm would write a message per coupon) — a
/// coupon granted without asking does.
pub fn message_for(event: &Event, time_zone: Tz) -> Option<Message> {
    // Checked first: a claim storm passes here once per coupon.
    const KINDS: [&str; 6] = [
        types::COUPON_GRANTED,
        types::COUPON_EXPIRING,
        types::COUPON_EXPIRED,
        types::COUPON_REDEEMED,
        types::COUPON_RETURNED,
        types::COUPON_VOIDED,
    ];
    if !KINDS.contains(&event.kind.as_str()) {
        return None;
    }
    let user_id = event.user_id.clone()?;
    let code = event.data_text("code").unwrap_or_default();
    let until = event
        .data_text("valid_until")
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|until| {
            until
                .with_timezone(&time_zone)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default();
    let (title_zh, body_zh, title_en, body_en) = match event.kind.as_str() {
        types::COUPON_GRANTED => (
            "你获得了一张优惠券".to_owned(),
            format!("优惠券 {code} 已放入你的卡包。"),
            "You received a coupon".to_owned(),
            format!("Coupon {code} is in your wallet."),
        ),
        types::COUPON_EXPIRING => (
            "你的券即将过期".to_owned(),
            format!("优惠券 {code} 将于 {until} 过期，请尽快使用。"),
            "Your coupon expires soon".to_owned(),
            format!("Coupon {code} expires at {until}; use it before then."),
        ),
        types::COUPON_EXPIRED => (
            "你的券已过期".to_owned(),
            format!("优惠券 {code} 已过期。"),
            "Your coupon has expired".to_owned(),
            format!("Coupon {code} has expired."),
        ),
        types::COUPON_REDEEMED => (
            "你的券已使用".to_owned(),
            format!("优惠券 {code} 已使用。"),
            "Your coupon was used".to_owned(),
            format!("Coupon {code} was used."),
        ),
        types::COUPON_RETURNED => (
            "你的券已退回".to_owned(),
            format!("优惠券 {code} 已退回你的卡包，可以再次使用。"),
            "Your coupon is back".to_owned(),
            format!("Coupon {code} is back in your wallet and can be used again."),
        ),
        types::COUPON_VOIDED => (
            "你的券已作废".to_owned(),
            format!("优惠券 {code} 已作废。"),
            "Your coupon was voided".to_owned(),
            format!("Coupon {code} was voided."),
        ),
        _ => return None,
    };
    Some(Message {
        id: ids::new_id("msg"),
        user_id,
        event_id: event.id.clone(),
        event_type: event.kind.clone(),
        title_zh,
        body_zh,
        title_en,
        body_en,
        data: event.data.clone(),
        created_at: event.at,
        read_at: None,
    })
}

/// Writes `messages` in multi-row inserts. A message whose event is there
/// already is skipped (the fan-out runs once; this is the last guard).
pub(super) async fn insert_all(
    connection: &mut AnyConnection,
    messages: &[Message],
) -> AppResult<()> {
    for chunk in messages.chunks(INSERT_ROWS_MAX) {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "INSERT INTO inbox_messages (id, user_id, event_id, event_type, title_zh, body_zh, \
             title_en, body_en, data, created_at) VALUES {} ON CONFLICT (event_id) DO NOTHING",
            params.rows(chunk.len(), 10)
        );
        let mut query = sqlx::query(&sql);
        for message in chunk {
            query = query
                .bind(message.id.as_str())
                .bind(message.user_id.as_str())
                .bind(message.event_id.as_str())
                .bind(message.event_type.as_str())
                .bind(message.title_zh.as_str())
                .bind(message.body_zh.as_str())
                .bind(message.title_en.as_str())
                .bind(message.body_en.as_str())
                .bind(message.data.to_string())
                .bind(to_micros(message.created_at));
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

const COLUMNS: &str = "id, user_id, event_id, event_type, title_zh, body_zh, title_en, body_en, \
    data, created_at, read_at";

fn message_from_row(row: &sqlx::any::AnyRow) -> Result<Message, StoreError> {
    let data: String = row.try_get("data")?;
    let read_at: Option<i64> = row.try_get("read_at")?;
    Ok(Message {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        title_zh: row.try_get("title_zh")?,
        body_zh: row.try_get("body_zh")?,
        title_en: row.try_get("title_en")?,
        body_en: row.try_get("body_en")?,
        data: serde_json::from_str(&data).map_err(|error| StoreError::Corrupt {
            table: "inbox_messages",
            reason: error.to_string(),
        })?,
        created_at: from_micros(row.try_get("created_at")?)?,
        read_at: read_at.map(from_micros).transpose()?,
    })
}

impl App {
    /// A user's messages, newest first, after `cursor`; at most `limit`
    /// (capped at [`INBOX_PAGE_MAX`]), and the user's unread count.
    pub async fn messages(
        &self,
        user_id: &str,
        cursor: Option<&InboxCursor>,
        limit: u32,
    ) -> AppResult<InboxPage> {
        // No cursor: from the end of time (a sentinel rather than a NULL
        // test, so PostgreSQL knows the parameters' types).
        let (before_at, before_id) = match cursor {
            Some(cursor) => (to_micros(cursor.created_at), cursor.id.as_str()),
            None => (i64::MAX, ""),
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM inbox_messages WHERE user_id = $1 \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(user_id)
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(limit.min(INBOX_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        let unread: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM inbox_messages WHERE user_id = $1 AND read_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        let messages = rows
            .iter()
            .map(message_from_row)
            .collect::<Result<_, _>>()?;
        Ok(InboxPage { messages, unread })
    }

    /// Marks a message of `user_id` read (once: reading it again keeps the
    /// first time). Another user's message is reported as not found.
    pub async fn mark_message_read(&self, user_id: &str, message_id: &str) -> AppResult<Message> {
        let now = self.now();
        let (user_id, message_id) = (user_id.to_owned(), message_id.to_owned());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let row = sqlx::query(&format!(
                        "UPDATE inbox_messages SET read_at = COALESCE(read_at, $3) \
                         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
                    ))
                    .bind(&message_id)
                    .bind(&user_id)
                    .bind(to_micros(now))
                    .fetch_optional(&mut *connection)
                    .await
                    .map_err(StoreError::from)?
                    .ok_or_else(|| AppError::MessageNotFound(message_id.clone()))?;
                    Ok(message_from_row(&row)?)
                })
            })
            .await
    }
}
