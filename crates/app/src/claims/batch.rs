//! One template's batcher and the unit that decides a batch in storage.
//!
//! A claim writes no `coupon_history` row: the coupon row itself records the
//! transition (`bound_at`, `source`, `user_id`), and the history view shows
//! it as the first entry. One row fewer per claim is one random page fewer.
//!
//! For the same reason a successful claim's answer is not stored apart: the
//! coupon row keeps its `request_id`, and a retry finds it among the user's
//! coupons of the template — rows the batch reads anyway to count the
//! user's limits, through the per-user index. Only refusals are stored in
//! `claim_requests`, so that a retry gets the first answer even when the
//! counters have moved since.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};

use chrono_tz::Tz;
use couponflow_core::clock::Clock;
use sqlx::{AnyConnection, Row};
use tokio::sync::mpsc;

use couponflow_core::coupon::CouponState;
use couponflow_store::sql::Params;
use couponflow_store::time::{from_micros, to_micros};
use couponflow_store::{Store, StoreError};

use super::decide::{self, Refusal, Stock, UserCounts};
use super::{CLAIM_BATCH_MAX, ClaimAnswer, ClaimRequest, ClaimedCoupon, Pending};
use crate::templates::{self, TemplateRecord};
use crate::{AppError, AppResult, ids};

/// Rows per multi-row INSERT. Every statement is a round trip to the
/// database (on SQLite, two thread hand-offs, which cost tens of
/// microseconds each on a virtual machine), so statements are large; the
/// parameters are positional on SQLite (see `couponflow_store::sql`) so
/// that binding stays linear. 256 rows of 15 columns stays under SQLite's
/// 32,766 parameters and PostgreSQL's 65,535.
const INSERT_ROWS_MAX: usize = 256;
/// Ids per `IN (…)` list.
const IN_LIST_MAX: usize = 512;

/// Takes everything waiting, decides it as one unit, answers each caller.
pub(super) async fn run(
    template_id: String,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    zone: Tz,
    mut receiver: mpsc::Receiver<Pending>,
) {
    let mut waiting = Vec::with_capacity(CLAIM_BATCH_MAX);
    while receiver.recv_many(&mut waiting, CLAIM_BATCH_MAX).await > 0 {
        let batch: Vec<Pending> = std::mem::take(&mut waiting);
        let requests: Vec<ClaimRequest> = batch.iter().map(|p| p.request.clone()).collect();
        let id = template_id.clone();
        let now = clock.now();
        let outcome = if store.native_writes() {
            store
                .write_native(move |connection| {
                    super::native::decide_batch(connection, &id, requests, now, zone)
                })
                .await
        } else {
            store
                .write(move |connection| {
                    Box::pin(
                        async move { decide_batch(connection, &id, requests, now, zone).await },
                    )
                })
                .await
        };
        match outcome {
            Ok(answers) => {
                for (pending, answer) in batch.into_iter().zip(answers) {
                    let _ = pending.reply.send(answer.into_result());
                }
            }
            Err(error) => {
                let shared = error.to_string();
                for pending in batch {
                    let _ = pending.reply.send(Err(copy(&error, &shared)));
                }
            }
        }
    }
}

/// The batch's error for each of its callers.
fn copy(error: &AppError, text: &str) -> AppError {
    match error {
        AppError::TemplateNotFound(id) => AppError::TemplateNotFound(id.clone()),
        AppError::Store(StoreError::Busy) => AppError::Store(StoreError::Busy),
        _ => AppError::Store(StoreError::Unavailable(text.to_owned())),
    }
}

/// What a batch reads before it decides: the template (locked), the
/// refusals stored for these request ids, and what these users hold.
pub(super) struct Loaded {
    pub record: TemplateRecord,
    pub earlier: HashMap<String, (String, ClaimAnswer)>,
    pub held: HashMap<String, Held>,
}

/// What a batch decided: every caller's answer, and what to write.
pub(super) struct Decided {
    pub answers: Vec<ClaimAnswer>,
    pub coupons: Vec<NewCoupon>,
    /// New refusals to store, once per request id: (request id, user id, answer JSON).
    pub refusals: Vec<(String, String, String)>,
    pub face_value: i64,
    /// The claim's local day, when the template has a daily limit (the
    /// daily guard's columns are set only then, so other templates'
    /// coupons stay out of its partial index).
    pub day: Option<i64>,
}

/// The distinct users of a batch.
pub(super) fn batch_users(requests: &[ClaimRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.user.id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect()
}

/// Decides every claim of the batch, in arrival order, and writes them.
async fn decide_batch(
    connection: &mut AnyConnection,
    template_id: &str,
    requests: Vec<ClaimRequest>,
    now: DateTime<Utc>,
    zone: Tz,
) -> AppResult<Vec<ClaimAnswer>> {
    let record = templates::lock(connection, template_id).await?;
    let request_ids: Vec<String> = requests.iter().map(|r| r.request_id.clone()).collect();
    let earlier = earlier_refusals(connection, template_id, &request_ids).await?;
    let users = batch_users(&requests);
    let day = local_day(now, zone);
    let held = held_coupons(connection, template_id, &users, day).await?;
    let loaded = Loaded {
        record,
        earlier,
        held,
    };
    let (record, decided) = decide_all(loaded, &requests, now, zone)?;
    write_coupons(
        connection,
        &record,
        &decided.coupons,
        decided.face_value,
        decided.day,
        now,
    )
    .await?;
    write_refusals(connection, template_id, &decided.refusals, now).await?;
    bump_counters(
        connection,
        template_id,
        decided.coupons.len(),
        decided.face_value,
    )
    .await?;
    Ok(decided.answers)
}

/// The pure part of a batch: each claim in arrival order against the
/// counters as they stand, replays answered from what was loaded.
pub(super) fn decide_all(
    loaded: Loaded,
    requests: &[ClaimRequest],
    now: DateTime<Utc>,
    zone: Tz,
) -> AppResult<(TemplateRecord, Decided)> {
    let Loaded {
        record,
        earlier,
        mut held,
    } = loaded;
    let mut stock = Stock {
        issued: record.issued,
        generated: record.generated,
        budget_used: record.budget_used,
    };
    let face_value = record.template.face_value().unwrap_or(0);
    let mut answers = Vec::with_capacity(requests.len());
    // Refusals decided in this batch by (user, request id), to store and to
    // answer repeats with.
    let mut refused: HashMap<(String, String), ClaimAnswer> = HashMap::new();
    let mut coupons = Vec::new();
    for request in requests {
        let user = held.entry(request.user.id.clone()).or_default();
        if let Some(coupon) = user.claimed.get(&request.request_id) {
            answers.push(ClaimAnswer::Claimed(coupon.clone()));
            continue;
        }
        // Request ids are the user's own: another user's refusal under the
        // same id is not this request's answer.
        let key = (request.user.id.clone(), request.request_id.clone());
        let replay = earlier
            .get(&request.request_id)
            .filter(|(owner, _)| *owner == request.user.id)
            .map(|(_, answer)| answer)
            .or_else(|| refused.get(&key));
        if let Some(answer) = replay {
            answers.push(answer.clone());
            continue;
        }
        let counts = &mut user.counts;
        let answer = match decide_one(&record, request, counts, &stock, face_value, now) {
            Ok(coupon) => {
                counts.total += 1;
                counts.today += 1;
                stock.issued += 1;
                stock.budget_used += face_value;
                coupons.push(NewCoupon {
                    coupon: coupon.clone(),
                    request_id: request.request_id.clone(),
                    user_seq: counts.next_seq,
                    day_seq: counts.next_day_seq,
                });
                counts.next_seq += 1;
                counts.next_day_seq += 1;
                user.claimed
                    .insert(request.request_id.clone(), coupon.clone());
                ClaimAnswer::Claimed(coupon)
            }
            Err((code, detail)) => {
                let answer = ClaimAnswer::Refused { code, detail };
                refused.insert(key, answer.clone());
                answer
            }
        };
        answers.push(answer);
    }
    let refusals = new_refusals(requests, &refused)?;
    let daily = record.template.get().limits.per_user_per_day.is_some();
    let decided = Decided {
        answers,
        coupons,
        refusals,
        face_value,
        day: daily.then(|| local_day(now, zone)),
    };
    Ok((record, decided))
}

/// The batch's refusals to store. A request id is stored once per template:
/// when two users' refused claims share one, the first is kept and the
/// other's retry is decided anew (a refusal changed nothing to replay).
fn new_refusals(
    requests: &[ClaimRequest],
    refused: &HashMap<(String, String), ClaimAnswer>,
) -> AppResult<Vec<(String, String, String)>> {
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for request in requests {
        let key = (request.user.id.clone(), request.request_id.clone());
        let Some(answer) = refused.get(&key) else {
            continue;
        };
        if !seen.insert(request.request_id.as_str()) {
            continue;
        }
        let text = serde_json::to_string(answer).map_err(|e| StoreError::Other(e.to_string()))?;
        rows.push((request.request_id.clone(), request.user.id.clone(), text));
    }
    Ok(rows)
}

fn decide_one(
    record: &TemplateRecord,
    request: &ClaimRequest,
    counts: &UserCounts,
    stock: &Stock,
    face_value: i64,
    now: DateTime<Utc>,
) -> Result<ClaimedCoupon, Refusal> {
    decide::admit(record, &request.user, now)?;
    decide::within_limits(record, counts, stock, face_value)?;
    let (valid_from, valid_until) =
        decide::validity_window(record.template.get().validity.as_ref(), now)?;
    Ok(ClaimedCoupon {
        code: ids::new_coupon_code(),
        template_id: record.id.clone(),
        user_id: request.user.id.clone(),
        valid_from,
        valid_until,
        state: CouponState::Available,
    })
}

/// The calendar day of `now` in the deployment's time zone, as days since
/// 1970-01-01 there.
pub(super) fn local_day(now: DateTime<Utc>, zone: Tz) -> i64 {
    i64::from(now.with_timezone(&zone).date_naive().num_days_from_ce()) - 719_163
}

/// Refusals stored by earlier batches, by request id, with their user.
async fn earlier_refusals(
    connection: &mut AnyConnection,
    template_id: &str,
    request_ids: &[String],
) -> AppResult<HashMap<String, (String, ClaimAnswer)>> {
    let mut found = HashMap::new();
    for chunk in request_ids.chunks(IN_LIST_MAX) {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "SELECT request_id, user_id, answer FROM claim_requests WHERE template_id = {} AND request_id IN ({})",
            params.next(),
            params.list(chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(template_id);
        for id in chunk {
            query = query.bind(id);
        }
        for row in query
            .fetch_all(&mut *connection)
            .await
            .map_err(StoreError::from)?
        {
            let text: String = row.try_get("answer").map_err(StoreError::from)?;
            let answer = serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
                table: "claim_requests",
                reason: e.to_string(),
            })?;
            let owner: String = row.try_get("user_id").map_err(StoreError::from)?;
            found.insert(
                row.try_get("request_id").map_err(StoreError::from)?,
                (owner, answer),
            );
        }
    }
    Ok(found)
}

/// What one user of the batch already holds of the template.
#[derive(Debug, Default)]
pub(super) struct Held {
    pub counts: UserCounts,
    /// Coupons claimed by request id: a retry's first answer.
    pub claimed: HashMap<String, ClaimedCoupon>,
}

/// The users' coupons of the template, read through the per-user index:
/// their counts against the limits and their claims by request id.
async fn held_coupons(
    connection: &mut AnyConnection,
    template_id: &str,
    users: &[String],
    day: i64,
) -> AppResult<HashMap<String, Held>> {
    let mut held: HashMap<String, Held> = HashMap::new();
    for chunk in users.chunks(IN_LIST_MAX) {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "SELECT user_id, code, request_id, source, user_seq, day, day_seq, valid_from, valid_until \
             FROM coupons WHERE user_id IN ({}) AND template_id = {}",
            params.list(chunk.len()),
            params.next()
        );
        let mut query = sqlx::query(&sql);
        for user in chunk {
            query = query.bind(user);
        }
        query = query.bind(template_id);
        for row in query
            .fetch_all(&mut *connection)
            .await
            .map_err(StoreError::from)?
        {
            let user: String = row.try_get("user_id").map_err(StoreError::from)?;
            let entry = held.entry(user.clone()).or_default();
            let counts = &mut entry.counts;
            counts.total += 1;
            let seq: Option<i64> = row.try_get("user_seq").map_err(StoreError::from)?;
            counts.next_seq = counts.next_seq.max(seq.unwrap_or(0) + 1);
            let coupon_day: Option<i64> = row.try_get("day").map_err(StoreError::from)?;
            if coupon_day == Some(day) {
                counts.today += 1;
                let day_seq: Option<i64> = row.try_get("day_seq").map_err(StoreError::from)?;
                counts.next_day_seq = counts.next_day_seq.max(day_seq.unwrap_or(0) + 1);
            }
            let source: String = row.try_get("source").map_err(StoreError::from)?;
            let request: Option<String> = row.try_get("request_id").map_err(StoreError::from)?;
            let (Some(request), "claim") = (request, source.as_str()) else {
                continue;
            };
            let time = |name: &str| -> AppResult<DateTime<Utc>> {
                let micros: Option<i64> = row.try_get(name).map_err(StoreError::from)?;
                Ok(from_micros(micros.unwrap_or_default())?)
            };
            let coupon = ClaimedCoupon {
                code: row.try_get("code").map_err(StoreError::from)?,
                template_id: template_id.to_owned(),
                user_id: user,
                valid_from: time("valid_from")?,
                valid_until: time("valid_until")?,
                // The first answer: the coupon as it was when claimed.
                state: CouponState::Available,
            };
            entry.claimed.insert(request, coupon);
        }
    }
    Ok(held)
}

pub(super) struct NewCoupon {
    pub coupon: ClaimedCoupon,
    pub request_id: String,
    pub user_seq: i64,
    pub day_seq: i64,
}

async fn write_coupons(
    connection: &mut AnyConnection,
    record: &TemplateRecord,
    coupons: &[NewCoupon],
    face_value: i64,
    day: Option<i64>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let now = to_micros(now);
    for chunk in coupons.chunks(INSERT_ROWS_MAX) {
        let sql = format!(
            "INSERT INTO coupons (code, template_id, user_id, state, valid_from, valid_until, face_value, source, \
             request_id, user_seq, day, day_seq, created_at, bound_at, updated_at) VALUES {}",
            Params::for_connection(connection).rows(chunk.len(), 15)
        );
        let mut query = sqlx::query(&sql);
        for new in chunk {
            query = query
                .bind(&new.coupon.code)
                .bind(&record.id)
                .bind(&new.coupon.user_id)
                .bind(CouponState::Available.as_str())
                .bind(to_micros(new.coupon.valid_from))
                .bind(to_micros(new.coupon.valid_until))
                .bind(face_value)
                .bind("claim")
                .bind(&new.request_id)
                .bind(new.user_seq)
                .bind(day)
                .bind(day.map(|_| new.day_seq))
                .bind(now)
                .bind(now)
                .bind(now);
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// Stores the batch's new refusals.
async fn write_refusals(
    connection: &mut AnyConnection,
    template_id: &str,
    refusals: &[(String, String, String)],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for chunk in refusals.chunks(INSERT_ROWS_MAX) {
        let sql = format!(
            "INSERT INTO claim_requests (template_id, request_id, user_id, status, answer, at) VALUES {} \
             ON CONFLICT (template_id, request_id) DO NOTHING",
            Params::for_connection(connection).rows(chunk.len(), 6)
        );
        let mut query = sqlx::query(&sql);
        for (request_id, user_id, answer) in chunk {
            query = query
                .bind(template_id)
                .bind(request_id)
                .bind(user_id)
                .bind(0_i64)
                .bind(answer)
                .bind(to_micros(now));
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

async fn bump_counters(
    connection: &mut AnyConnection,
    template_id: &str,
    issued: usize,
    face_value: i64,
) -> AppResult<()> {
    if issued == 0 {
        return Ok(());
    }
    let issued = i64::try_from(issued).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE templates SET issued = issued + $2, budget_used = budget_used + $3 WHERE id = $1",
    )
    .bind(template_id)
    .bind(issued)
    .bind(issued.saturating_mul(face_value))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}
