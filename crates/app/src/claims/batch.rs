//! One template's batcher and the unit that decides a batch in storage.
//!
//! A claim writes no `coupon_history` row: the coupon row itself records the
//! transition (`bound_at`, `source`, `user_id`), and the history view shows
//! it as the first entry. One row fewer per claim is one random page fewer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Utc};

use chrono_tz::Tz;
use couponflow_core::clock::Clock;
use sqlx::{AnyConnection, Row};
use tokio::sync::mpsc;

use couponflow_core::coupon::CouponState;
use couponflow_store::time::to_micros;
use couponflow_store::{Store, StoreError};

use super::decide::{self, Refusal, Stock, UserCounts};
use super::{CLAIM_BATCH_MAX, ClaimAnswer, ClaimRequest, ClaimedCoupon, Pending};
use crate::templates::{self, TemplateRecord};
use crate::{AppError, AppResult, ClaimRefusal, ids};

/// Rows per multi-row INSERT. Small on purpose: sqlx resolves every `$N`
/// of a SQLite statement through `sqlite3_bind_parameter_name`, which is
/// linear in the statement's parameters, so binding costs grow with the
/// square of the statement's size (measured: 36% of the claim path at 100
/// rows of 15 columns).
const INSERT_ROWS_MAX: usize = 16;
/// Ids per `IN (…)` list (small for the same reason).
const IN_LIST_MAX: usize = 64;

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
        let outcome = store
            .write(move |connection| {
                Box::pin(async move { decide_batch(connection, &id, requests, now, zone).await })
            })
            .await;
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
    let earlier = earlier_answers(connection, template_id, &request_ids).await?;
    let users: Vec<String> = requests
        .iter()
        .map(|r| r.user.id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let day = local_day(now, zone);
    let mut counts = user_counts(connection, template_id, &users, day).await?;
    let mut stock = Stock {
        issued: record.issued,
        generated: record.generated,
        budget_used: record.budget_used,
    };
    let face_value = record.template.face_value().unwrap_or(0);
    let mut answers = Vec::with_capacity(requests.len());
    let mut fresh: HashMap<String, (String, ClaimAnswer)> = HashMap::new();
    let mut coupons = Vec::new();
    for request in &requests {
        let replay = earlier
            .get(&request.request_id)
            .or_else(|| fresh.get(&request.request_id));
        if let Some((owner, answer)) = replay {
            answers.push(if *owner == request.user.id {
                answer.clone()
            } else {
                reused_elsewhere()
            });
            continue;
        }
        let user_counts = counts.entry(request.user.id.clone()).or_default();
        let answer = match decide_one(&record, request, user_counts, &stock, face_value, now) {
            Ok(coupon) => {
                user_counts.total += 1;
                user_counts.today += 1;
                stock.issued += 1;
                stock.budget_used += face_value;
                coupons.push(NewCoupon {
                    coupon: coupon.clone(),
                    request_id: request.request_id.clone(),
                    user_seq: user_counts.next_seq,
                    day_seq: user_counts.next_day_seq,
                });
                user_counts.next_seq += 1;
                user_counts.next_day_seq += 1;
                ClaimAnswer::Claimed(coupon)
            }
            Err((code, detail)) => ClaimAnswer::Refused { code, detail },
        };
        fresh.insert(
            request.request_id.clone(),
            (request.user.id.clone(), answer.clone()),
        );
        answers.push(answer);
    }
    // The daily guard's columns are set only when there is a daily limit,
    // so other templates' coupons stay out of its (partial) index.
    let daily = record.template.get().limits.per_user_per_day.is_some();
    let day = daily.then_some(day);
    write_coupons(connection, &record, &coupons, face_value, day, now).await?;
    write_answers(connection, template_id, &requests, &fresh, now).await?;
    bump_counters(connection, template_id, coupons.len(), face_value).await?;
    Ok(answers)
}

/// The answer to a request id another user already used (never stored).
fn reused_elsewhere() -> ClaimAnswer {
    ClaimAnswer::Refused {
        code: ClaimRefusal::RequestIdReused,
        detail: "this request id was used for another user's claim".into(),
    }
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
fn local_day(now: DateTime<Utc>, zone: Tz) -> i64 {
    i64::from(now.with_timezone(&zone).date_naive().num_days_from_ce()) - 719_163
}

fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn earlier_answers(
    connection: &mut AnyConnection,
    template_id: &str,
    request_ids: &[String],
) -> AppResult<HashMap<String, (String, ClaimAnswer)>> {
    let mut found = HashMap::new();
    for chunk in request_ids.chunks(IN_LIST_MAX) {
        let sql = format!(
            "SELECT request_id, user_id, answer FROM claim_requests WHERE template_id = $1 AND request_id IN ({})",
            placeholders(2, chunk.len())
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

async fn user_counts(
    connection: &mut AnyConnection,
    template_id: &str,
    users: &[String],
    day: i64,
) -> AppResult<HashMap<String, UserCounts>> {
    let mut counts: HashMap<String, UserCounts> = HashMap::new();
    for chunk in users.chunks(IN_LIST_MAX) {
        let sql = format!(
            "SELECT user_id, COUNT(*) AS held, COALESCE(MAX(user_seq), 0) AS seq, \
             SUM(CASE WHEN day = $2 THEN 1 ELSE 0 END) AS today, \
             COALESCE(MAX(CASE WHEN day = $2 THEN day_seq END), 0) AS day_seq \
             FROM coupons WHERE template_id = $1 AND user_id IN ({}) GROUP BY user_id",
            placeholders(3, chunk.len())
        );
        let mut query = sqlx::query(&sql).bind(template_id).bind(day);
        for user in chunk {
            query = query.bind(user);
        }
        for row in query
            .fetch_all(&mut *connection)
            .await
            .map_err(StoreError::from)?
        {
            let user: String = row.try_get("user_id").map_err(StoreError::from)?;
            let get = |name: &str| row.try_get::<i64, _>(name).map_err(StoreError::from);
            counts.insert(
                user,
                UserCounts {
                    total: get("held")?,
                    next_seq: get("seq")? + 1,
                    today: get("today")?,
                    next_day_seq: get("day_seq")? + 1,
                },
            );
        }
    }
    for user in users {
        counts.entry(user.clone()).or_insert(UserCounts {
            next_seq: 1,
            next_day_seq: 1,
            ..UserCounts::default()
        });
    }
    Ok(counts)
}

struct NewCoupon {
    coupon: ClaimedCoupon,
    request_id: String,
    user_seq: i64,
    day_seq: i64,
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
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * 15 + 1, 15)))
            .collect();
        let sql = format!(
            "INSERT INTO coupons (code, template_id, user_id, state, valid_from, valid_until, face_value, source, \
             request_id, user_seq, day, day_seq, created_at, bound_at, updated_at) VALUES {}",
            rows.join(", ")
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

async fn write_answers(
    connection: &mut AnyConnection,
    template_id: &str,
    requests: &[ClaimRequest],
    fresh: &HashMap<String, (String, ClaimAnswer)>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut seen = HashSet::new();
    let new: Vec<(&ClaimRequest, &ClaimAnswer)> = requests
        .iter()
        .filter(|r| seen.insert(r.request_id.as_str()))
        .filter_map(|r| fresh.get(&r.request_id).map(|(_, a)| (r, a)))
        .collect();
    for chunk in new.chunks(INSERT_ROWS_MAX) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("({})", placeholders(i * 6 + 1, 6)))
            .collect();
        let sql = format!(
            "INSERT INTO claim_requests (template_id, request_id, user_id, status, answer, at) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for (request, answer) in chunk {
            let text =
                serde_json::to_string(answer).map_err(|e| StoreError::Other(e.to_string()))?;
            let claimed = i64::from(matches!(answer, ClaimAnswer::Claimed(_)));
            query = query
                .bind(template_id)
                .bind(&request.request_id)
                .bind(&request.user.id)
                .bind(claimed)
                .bind(text)
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
