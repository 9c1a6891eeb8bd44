//! A claim batch on SQLite's native connection (`couponflow_store::native`):
//! the same reads, decision and writes as the sqlx unit in `batch.rs`, as
//! prepared statements run one row at a time on the writer thread. With no
//! hand-off per statement, one small statement per row costs less than
//! building and binding a multi-row text, and every text stays prepared.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use couponflow_core::coupon::CouponState;
use couponflow_store::StoreError;
use couponflow_store::native::rusqlite::types::Value;
use couponflow_store::native::rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use couponflow_store::time::{from_micros, to_micros};

use super::batch::{Decided, Held, Loaded, batch_users, decide_all, local_day};
use super::{ClaimAnswer, ClaimedCoupon, Issue, Source};
use crate::notify::{events, outbox, webhooks};
use crate::templates::{COLUMNS, TemplateRecord, TemplateRow};
use crate::{AppError, AppResult, stats};

/// Decides every claim of the batch, in arrival order, and writes them.
/// Batches that take points run as sqlx units instead (see `batch::run`),
/// and so do those of a template with risk rules: this hands their
/// requests back (`Err`), having written nothing.
pub(super) fn decide_batch(
    connection: &Connection,
    template_id: &str,
    requests: Vec<Issue>,
    now: DateTime<Utc>,
    zone: Tz,
) -> AppResult<Result<Vec<ClaimAnswer>, Vec<Issue>>> {
    // The writer is SQLite's only one: reading the row inside its
    // transaction is the lock.
    let record = read_template(connection, template_id)?;
    if record.template.get().risk.counts_claims() {
        return Ok(Err(requests));
    }
    let earlier = earlier_refusals(connection, template_id, &requests)?;
    let held = held_coupons(
        connection,
        template_id,
        &batch_users(&requests),
        local_day(now, zone),
    )?;
    let loaded = Loaded {
        record,
        earlier,
        held,
        points: HashMap::new(),
        risk: Default::default(),
        claim_events_wanted: claim_events_wanted(connection)?,
    };
    let (record, decided) = decide_all(loaded, &requests, now, zone)?;
    write(connection, &record, &decided, now)?;
    Ok(Ok(decided.answers))
}

/// Whether a webhook wants `coupon.claimed` (see [`Loaded`]).
fn claim_events_wanted(connection: &Connection) -> AppResult<bool> {
    let mut statement = connection
        .prepare_cached(webhooks::SUBSCRIPTIONS_SQL)
        .map_err(StoreError::from)?;
    let texts = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(StoreError::from)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(StoreError::from)?;
    Ok(webhooks::any_wants(
        texts.iter().map(String::as_str),
        events::COUPON_CLAIMED,
    ))
}

fn read_template(connection: &Connection, template_id: &str) -> AppResult<TemplateRecord> {
    let mut statement = connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM templates WHERE id = ?1"))
        .map_err(StoreError::from)?;
    let row = statement
        .query_row([template_id], |row| {
            Ok(TemplateRow {
                id: row.get(0)?,
                body: row.get(1)?,
                status: row.get(2)?,
                review_step: row.get(3)?,
                version: row.get(4)?,
                created_by: row.get(5)?,
                created_at: row.get(6)?,
                updated_at: row.get(7)?,
                issued: row.get(8)?,
                generated: row.get(9)?,
                budget_used: row.get(10)?,
            })
        })
        .optional()
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::TemplateNotFound(template_id.to_owned()))?;
    Ok(row.into_record()?)
}

/// Refusals stored by earlier batches, by request id, with their user.
fn earlier_refusals(
    connection: &Connection,
    template_id: &str,
    requests: &[Issue],
) -> AppResult<HashMap<String, (String, ClaimAnswer)>> {
    let mut statement = connection
        .prepare_cached(
            "SELECT user_id, answer FROM claim_requests WHERE template_id = ?1 AND request_id = ?2",
        )
        .map_err(StoreError::from)?;
    let mut found = HashMap::new();
    for request in requests {
        let key = request.refusal_key();
        let row: Option<(String, String)> = statement
            .query_row(params![template_id, key], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .map_err(StoreError::from)?;
        let Some((owner, text)) = row else {
            continue;
        };
        let answer = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
            table: "claim_requests",
            reason: e.to_string(),
        })?;
        found.insert(key, (owner, answer));
    }
    Ok(found)
}

/// One coupon row as the limits and replays need it.
struct HeldRow {
    code: String,
    request_id: Option<String>,
    source: String,
    user_seq: Option<i64>,
    day: Option<i64>,
    day_seq: Option<i64>,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
}

/// The users' coupons of the template, through the per-user index.
fn held_coupons(
    connection: &Connection,
    template_id: &str,
    users: &[String],
    day: i64,
) -> AppResult<HashMap<String, Held>> {
    let mut statement = connection
        .prepare_cached(
            "SELECT code, request_id, source, user_seq, day, day_seq, valid_from, valid_until \
             FROM coupons WHERE user_id = ?1 AND template_id = ?2",
        )
        .map_err(StoreError::from)?;
    let mut held: HashMap<String, Held> = HashMap::with_capacity(users.len());
    for user in users {
        let rows = statement
            .query_map(params![user, template_id], |row| {
                Ok(HeldRow {
                    code: row.get(0)?,
                    request_id: row.get(1)?,
                    source: row.get(2)?,
                    user_seq: row.get(3)?,
                    day: row.get(4)?,
                    day_seq: row.get(5)?,
                    valid_from: row.get(6)?,
                    valid_until: row.get(7)?,
                })
            })
            .map_err(StoreError::from)?;
        for row in rows {
            let row = row.map_err(StoreError::from)?;
            let entry = held.entry(user.clone()).or_default();
            count(entry, template_id, user, row, day)?;
        }
    }
    Ok(held)
}

/// Adds one held coupon to the user's counts (and replays, for claims).
fn count(entry: &mut Held, template_id: &str, user: &str, row: HeldRow, day: i64) -> AppResult<()> {
    let counts = &mut entry.counts;
    counts.total += 1;
    counts.next_seq = counts.next_seq.max(row.user_seq.unwrap_or(0) + 1);
    if row.day == Some(day) {
        counts.today += 1;
        counts.next_day_seq = counts.next_day_seq.max(row.day_seq.unwrap_or(0) + 1);
    }
    let (Some(request), Some(source)) = (row.request_id, Source::parse(&row.source)) else {
        return Ok(());
    };
    let coupon = ClaimedCoupon {
        code: row.code,
        template_id: template_id.to_owned(),
        user_id: user.to_owned(),
        valid_from: from_micros(row.valid_from.unwrap_or_default())?,
        valid_until: from_micros(row.valid_until.unwrap_or_default())?,
        // The first answer: the coupon as it was when claimed.
        state: CouponState::Available,
    };
    entry.claimed.insert((source, request), coupon);
    Ok(())
}

/// The batch's coupons, refusals and the template's counters.
fn write(
    connection: &Connection,
    record: &TemplateRecord,
    decided: &Decided,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let now = to_micros(now);
    let mut insert = connection
        .prepare_cached(
            "INSERT INTO coupons (code, template_id, user_id, state, valid_from, valid_until, face_value, \
             source, request_id, user_seq, day, day_seq, created_at, bound_at, updated_at, campaign_id, phone_masked) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?13, ?14, ?15)",
        )
        .map_err(StoreError::from)?;
    for new in &decided.coupons {
        insert
            .execute(params![
                new.coupon.code,
                record.id,
                new.coupon.user_id,
                CouponState::Available.as_str(),
                to_micros(new.coupon.valid_from),
                to_micros(new.coupon.valid_until),
                decided.face_value,
                new.source.as_str(),
                new.request_id,
                new.user_seq,
                decided.day,
                decided.day.map(|_| new.day_seq),
                now,
                new.campaign_id,
                new.phone_masked,
            ])
            .map_err(StoreError::from)?;
    }
    let mut refuse = connection
        .prepare_cached(
            "INSERT INTO claim_requests (template_id, request_id, user_id, status, answer, at) \
             VALUES (?1, ?2, ?3, 0, ?4, ?5) ON CONFLICT (template_id, request_id) DO NOTHING",
        )
        .map_err(StoreError::from)?;
    for (request_id, user_id, answer) in &decided.refusals {
        refuse
            .execute(params![record.id, request_id, user_id, answer, now])
            .map_err(StoreError::from)?;
    }
    if !decided.events.is_empty() {
        connection
            .prepare_cached(outbox::OUTBOX_INSERT_SQL)
            .map_err(StoreError::from)?
            .execute(params![outbox::encode(&decided.events), now])
            .map_err(StoreError::from)?;
    }
    let mut upsert = connection
        .prepare_cached(stats::STATS_UPSERT_SQL)
        .map_err(StoreError::from)?;
    for ((template, campaign, hour), c) in &decided.deltas {
        let key = [
            Value::from(template.clone()),
            Value::from(campaign.clone()),
            Value::from(*hour),
        ];
        let counts = c.in_column_order().map(Value::from);
        upsert
            .execute(params_from_iter(key.into_iter().chain(counts)))
            .map_err(StoreError::from)?;
    }
    let issued = i64::try_from(decided.coupons.len()).unwrap_or(i64::MAX);
    if issued > 0 {
        connection
            .prepare_cached(
                "UPDATE templates SET issued = issued + ?2, budget_used = budget_used + ?3 WHERE id = ?1",
            )
            .map_err(StoreError::from)?
            .execute(params![
                record.id,
                issued,
                issued.saturating_mul(decided.face_value)
            ])
            .map_err(StoreError::from)?;
    }
    Ok(())
}
