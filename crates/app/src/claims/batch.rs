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
use tokio::sync::{Semaphore, mpsc};

use couponflow_core::coupon::CouponState;
use couponflow_store::sql::Params;
use couponflow_store::time::{from_micros, to_micros};
use couponflow_store::{Answered, Backend, Store, StoreError};

use super::decide::{self, Refusal, Stock, UserCounts};
use super::risk::RiskState;
use super::{CLAIM_BATCH_MAX, ClaimAnswer, ClaimedCoupon, Issue, Pending, Source};
use crate::balances::ledger;
use crate::notify::{Event, events, outbox, webhooks};
use crate::templates::{self, TemplateRecord};
use crate::{Actor, AppError, AppResult, ClaimRefusal, ids, stats};

/// Rows per multi-row INSERT. Every statement is a round trip to the
/// database (on SQLite, two thread hand-offs, which cost tens of
/// microseconds each on a virtual machine), so statements are large; the
/// parameters are positional on SQLite (see `couponflow_store::sql`) so
/// that binding stays linear. 256 rows of 15 columns stays under SQLite's
/// 32,766 parameters and PostgreSQL's 65,535.
const INSERT_ROWS_MAX: usize = 256;
/// Ids per `IN (…)` list.
const IN_LIST_MAX: usize = 512;

/// Batches of one template queued for the writer at once. The writer runs
/// them in order, each against what the one before it wrote, so the next
/// batch is decided while the last one's commit is being synced.
pub(super) const BATCHES_IN_FLIGHT_MAX: usize = 4;

/// Takes everything waiting, decides it as one sqlx unit, answers each
/// caller. The batcher serves PostgreSQL, claims that take points and, on
/// SQLite, templates with risk rules; other claims on a SQLite file go
/// straight to the writer (`queue`).
pub(super) async fn run(
    template_id: String,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
    zone: Tz,
    mut receiver: mpsc::Receiver<Pending>,
) {
    let template_id: Arc<str> = template_id.into();
    let in_flight = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT_MAX));
    let mut waiting = Vec::with_capacity(CLAIM_BATCH_MAX);
    loop {
        // A free slot first, so that what arrives meanwhile joins the batch.
        let Ok(slot) = in_flight.clone().acquire_owned().await else {
            return;
        };
        if receiver.recv_many(&mut waiting, CLAIM_BATCH_MAX).await == 0 {
            return;
        }
        let (requests, replies): (Vec<Issue>, Vec<_>) = waiting
            .drain(..)
            .map(|pending| (pending.issue, pending.reply))
            .unzip();
        // Queued here, in the batcher's own order: the writer runs units in
        // the order queued, so each batch is decided after the one before.
        let unit = queue_sqlx(template_id.clone(), &store, requests, clock.now(), zone).await;
        tokio::spawn(async move {
            let outcome = unit.await;
            drop(slot);
            answer(replies, outcome);
        });
    }
}

pub(super) type Reply = tokio::sync::oneshot::Sender<AppResult<ClaimedCoupon>>;

pub(super) async fn queue_sqlx(
    template_id: Arc<str>,
    store: &Store,
    requests: Vec<Issue>,
    now: DateTime<Utc>,
    zone: Tz,
) -> Answered<Vec<ClaimAnswer>, AppError> {
    store
        .queue_write(move |connection| {
            Box::pin(
                async move { decide_batch(connection, &template_id, requests, now, zone).await },
            )
        })
        .await
}

/// Hands each caller its answer, or the batch's error.
pub(super) fn answer(replies: Vec<Reply>, outcome: AppResult<Vec<ClaimAnswer>>) {
    match outcome {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer.into_result());
            }
        }
        Err(error) => {
            let shared = error.to_string();
            for reply in replies {
                let _ = reply.send(Err(copy(&error, &shared)));
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
/// refusals stored for these requests (by [`Issue::refusal_key`]), what
/// these users hold, and the points balances of those who pay in points.
pub(super) struct Loaded {
    pub record: TemplateRecord,
    pub earlier: HashMap<String, (String, ClaimAnswer)>,
    pub held: HashMap<String, Held>,
    pub points: HashMap<String, i64>,
    pub risk: RiskState,
    /// Whether a webhook wants `coupon.claimed`: only then do claims write
    /// their events to the outbox (their statistics are counted in the
    /// batch, and they leave no inbox message).
    pub claim_events_wanted: bool,
}

/// What a batch decided: every caller's answer, and what to write.
pub(super) struct Decided {
    pub answers: Vec<ClaimAnswer>,
    pub coupons: Vec<NewCoupon>,
    /// New refusals to store, once per key: (refusal key, user id, answer JSON).
    pub refusals: Vec<(String, String, String)>,
    /// `coupon.claimed` / `coupon.granted`, one per new coupon, and the
    /// risk alerts, for the outbox.
    pub events: Vec<Event>,
    /// The risk counters' additions, and whether the breaker paused.
    pub risk: RiskState,
    /// What the issued coupons add to the statistics' roll-ups.
    pub deltas: stats::Deltas,
    pub face_value: i64,
    /// The claim's local day, when the template has a daily limit (the
    /// daily guard's columns are set only then, so other templates'
    /// coupons stay out of its partial index).
    pub day: Option<i64>,
}

/// The distinct users of a batch.
pub(super) fn batch_users(requests: &[Issue]) -> Vec<String> {
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
    requests: Vec<Issue>,
    now: DateTime<Utc>,
    zone: Tz,
) -> AppResult<Vec<ClaimAnswer>> {
    let record = templates::lock(connection, template_id).await?;
    let keys: Vec<String> = requests.iter().map(Issue::refusal_key).collect();
    let earlier = earlier_refusals(connection, template_id, &keys).await?;
    let users = batch_users(&requests);
    let day = local_day(now, zone);
    let held = held_coupons(connection, template_id, &users, day).await?;
    let payers: Vec<String> = requests
        .iter()
        .filter(|r| r.points > 0)
        .map(|r| r.user.id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let points = points_balances(connection, &payers).await?;
    let risk = super::risk::load(
        connection,
        template_id,
        &record.template.get().risk,
        &requests,
        day,
        now,
    )
    .await?;
    let claim_events_wanted = webhooks::wanted(connection, events::COUPON_CLAIMED).await?;
    let loaded = Loaded {
        record,
        earlier,
        held,
        points,
        risk,
        claim_events_wanted,
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
    for new in decided.coupons.iter().filter(|new| new.points > 0) {
        let user = &new.coupon.user_id;
        let key = format!("{template_id}:{}", new.coupon.code);
        let actor = Actor(format!("user:{user}"));
        ledger::debit_points_for_exchange(connection, user, new.points, &key, &actor, now).await?;
    }
    outbox::append(connection, &decided.events).await?;
    stats::apply(connection, &decided.deltas).await?;
    decided.risk.write(connection, template_id).await?;
    if decided.risk.paused {
        templates::pause_by_breaker(connection, template_id, now, decided.risk.pause_reason)
            .await?;
    }
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
    requests: &[Issue],
    now: DateTime<Utc>,
    zone: Tz,
) -> AppResult<(TemplateRecord, Decided)> {
    let Loaded {
        record,
        earlier,
        mut held,
        mut points,
        mut risk,
        claim_events_wanted,
    } = loaded;
    let rules = record.template.get().risk.clone();
    let mut stock = Stock {
        issued: record.issued,
        generated: record.generated,
        budget_used: record.budget_used,
    };
    let face_value = record.template.face_value().unwrap_or(0);
    let budget_base = record.template.budget_base();
    let mut answers = Vec::with_capacity(requests.len());
    // Refusals decided in this batch by (user, request id), to store and to
    // answer repeats with.
    let mut refused: HashMap<(String, String), ClaimAnswer> = HashMap::new();
    let mut coupons = Vec::new();
    let mut events = Vec::new();
    for request in requests {
        let user = held.entry(request.user.id.clone()).or_default();
        let replay_key = (request.source, request.request_id.clone());
        if let Some(coupon) = user.claimed.get(&replay_key) {
            answers.push(ClaimAnswer::Claimed(coupon.clone()));
            continue;
        }
        // Request ids are the user's own: another user's refusal under the
        // same id is not this request's answer.
        let key = (request.user.id.clone(), request.refusal_key());
        let replay = earlier
            .get(&key.1)
            .filter(|(owner, _)| *owner == request.user.id)
            .map(|(_, answer)| answer)
            .or_else(|| refused.get(&key));
        if let Some(answer) = replay {
            answers.push(answer.clone());
            continue;
        }
        let counts = &mut user.counts;
        let balance = points.get(&request.user.id).copied().unwrap_or(0);
        let decision = decide_one(
            &record,
            request,
            counts,
            &stock,
            face_value,
            now,
            |request| risk.admit(&rules, request),
        )
        .and_then(|coupon| pay(request, balance).map(|()| coupon));
        let answer = match decision {
            Ok(coupon) => {
                if request.points > 0 {
                    points.insert(request.user.id.clone(), balance - request.points);
                }
                risk.accept(&rules, request, &record.id, now);
                if claim_events_wanted || request.source.event() != events::COUPON_CLAIMED {
                    events.push(issued_event(&coupon, request, face_value, now));
                }
                counts.total += 1;
                counts.today += 1;
                stock.issued += 1;
                let spent = (stock.budget_used, stock.budget_used + face_value);
                stock.budget_used += face_value;
                risk.spend(&rules, budget_base, spent, &record.id, now);
                coupons.push(NewCoupon {
                    coupon: coupon.clone(),
                    request_id: request.request_id.clone(),
                    source: request.source,
                    campaign_id: request.campaign_id.clone(),
                    phone_masked: request.context.phone.as_deref().map(mask_phone),
                    points: request.points,
                    new_user: request.user.new_user,
                    user_seq: counts.next_seq,
                    day_seq: counts.next_day_seq,
                });
                counts.next_seq += 1;
                counts.next_day_seq += 1;
                user.claimed.insert(replay_key, coupon.clone());
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
    let deltas = stats::issued(
        &record.id,
        coupons.iter().map(|new| {
            let asked = new.source.user_asked();
            (new.campaign_id.clone(), asked, asked && new.new_user)
        }),
        now,
    );
    let daily = record.template.get().limits.per_user_per_day.is_some();
    events.append(&mut risk.alerts);
    let decided = Decided {
        answers,
        coupons,
        refusals,
        events,
        risk,
        deltas,
        face_value,
        day: daily.then(|| local_day(now, zone)),
    };
    Ok((record, decided))
}

/// The batch's refusals to store. A request id is stored once per template:
/// when two users' refused claims share one, the first is kept and the
/// other's retry is decided anew (a refusal changed nothing to replay).
fn new_refusals(
    requests: &[Issue],
    refused: &HashMap<(String, String), ClaimAnswer>,
) -> AppResult<Vec<(String, String, String)>> {
    let mut seen = HashSet::new();
    let mut rows = Vec::new();
    for request in requests {
        let key = (request.user.id.clone(), request.refusal_key());
        let Some(answer) = refused.get(&key) else {
            continue;
        };
        if !seen.insert(key.1.clone()) {
            continue;
        }
        let text = serde_json::to_string(answer).map_err(|e| StoreError::Other(e.to_string()))?;
        rows.push((key.1, request.user.id.clone(), text));
    }
    Ok(rows)
}

/// A phone as the records show it: the first three and last four digits
/// (138****5678); anything shorter than eight characters shows nothing.
pub(crate) fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 8 {
        return "****".to_owned();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// The points check, last (§6.2.5): a short balance refuses this claim only.
fn pay(request: &Issue, balance: i64) -> Result<(), Refusal> {
    if request.points > balance {
        return Err((
            ClaimRefusal::InsufficientPoints,
            format!(
                "the coupon costs {} points and the balance is {balance}",
                request.points
            ),
        ));
    }
    Ok(())
}

/// The outbox event of a newly issued coupon.
fn issued_event(
    coupon: &ClaimedCoupon,
    request: &Issue,
    face_value: i64,
    now: DateTime<Utc>,
) -> Event {
    let mut data = serde_json::json!({
        "code": coupon.code,
        "template_id": coupon.template_id,
        "state": coupon.state.as_str(),
        "face_value": face_value,
        "valid_from": coupon.valid_from,
        "valid_until": coupon.valid_until,
        "source": request.source.as_str(),
    });
    if let Some(campaign) = &request.campaign_id {
        data["campaign_id"] = serde_json::json!(campaign);
    }
    if request.user.new_user {
        data["new_user"] = serde_json::json!(true);
    }
    // Counted in the batch's own unit (see `stats::issued`).
    let mut event = Event::new(
        request.source.event(),
        now,
        Some(coupon.user_id.clone()),
        data,
    );
    event.counted = true;
    event
}

fn decide_one(
    record: &TemplateRecord,
    request: &Issue,
    counts: &UserCounts,
    stock: &Stock,
    face_value: i64,
    now: DateTime<Utc>,
    risk: impl FnOnce(&Issue) -> Result<(), Refusal>,
) -> Result<ClaimedCoupon, Refusal> {
    // §6.2.1's order: the template's own checks, risk, the limits.
    decide::admit(record, &request.user, request.source, now)?;
    risk(request)?;
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
pub(crate) fn local_day(now: DateTime<Utc>, zone: Tz) -> i64 {
    i64::from(now.with_timezone(&zone).date_naive().num_days_from_ce()) - 719_163
}

/// Refusals stored by earlier batches, by key, with their user.
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
pub(crate) struct Held {
    pub counts: UserCounts,
    /// Coupons issued by (source, request id): a retry's first answer.
    pub claimed: HashMap<(Source, String), ClaimedCoupon>,
}

/// The users' coupons of the template, read through the per-user index:
/// their counts against the limits and their claims by request id.
pub(crate) async fn held_coupons(
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
            let (Some(request), Some(source)) = (request, Source::parse(&source)) else {
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
            entry.claimed.insert((source, request), coupon);
        }
    }
    Ok(held)
}

/// The points balances of the users who pay in points, locked on
/// PostgreSQL so that what is decided is what the ledger then takes.
async fn points_balances(
    connection: &mut AnyConnection,
    users: &[String],
) -> AppResult<HashMap<String, i64>> {
    let mut balances = HashMap::new();
    for chunk in users.chunks(IN_LIST_MAX) {
        let mut params = Params::for_connection(connection);
        let lock = match Backend::of(connection) {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT user_id, balance FROM balances WHERE kind = 'points' AND user_id IN ({}){lock}",
            params.list(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for user in chunk {
            query = query.bind(user);
        }
        for row in query
            .fetch_all(&mut *connection)
            .await
            .map_err(StoreError::from)?
        {
            balances.insert(
                row.try_get("user_id").map_err(StoreError::from)?,
                row.try_get("balance").map_err(StoreError::from)?,
            );
        }
    }
    Ok(balances)
}

pub(super) struct NewCoupon {
    pub coupon: ClaimedCoupon,
    pub request_id: String,
    pub source: Source,
    pub campaign_id: Option<String>,
    /// The claimer's phone, masked, for the claim records (SPEC §10).
    pub phone_masked: Option<String>,
    pub points: i64,
    pub new_user: bool,
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
             request_id, user_seq, day, day_seq, created_at, bound_at, updated_at, campaign_id, phone_masked) VALUES {}",
            Params::for_connection(connection).rows(chunk.len(), 17)
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
                .bind(new.source.as_str())
                .bind(&new.request_id)
                .bind(new.user_seq)
                .bind(day)
                .bind(day.map(|_| new.day_seq))
                .bind(now)
                .bind(now)
                .bind(now)
                .bind(&new.campaign_id)
                .bind(&new.phone_masked);
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

#[cfg(test)]
mod mask_tests {
    use super::mask_phone;

    #[test]
    fn phones_keep_their_first_three_and_last_four_digits() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "+86****5678");
        assert_eq!(mask_phone("1234567"), "****");
        assert_eq!(mask_phone(""), "****");
    }
}
