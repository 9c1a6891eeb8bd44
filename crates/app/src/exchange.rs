//! Redemption codes (兑换码, SPEC §6.2.4): a user types an unbound code from
//! a code batch and it becomes theirs, within the template's limits.
//!
//! An exchange is its own write unit: lock the template (the lock claim
//! batches take, so the user's counts cannot move underneath), read the
//! code and what the user already holds, decide with the claim path's own
//! checks, then bind the code. The code was counted against `total` when
//! it was generated, so binding moves it from `generated` to `issued`;
//! `per_user`, `per_user_per_day` and `budget` are checked as for a claim.
//!
//! Every failed attempt — a malformed code, an unknown one, one another
//! user holds — is counted per user and per IP address and local day in
//! `code_failures`, for the look-up limits of §11.5.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::code;
use couponflow_core::coupon::{CouponEvent, CouponState};
use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::claims::batch::{held_coupons, local_day};
use crate::claims::decide::{self, Stock};
use crate::claims::{ClaimUser, ClaimedCoupon, Source};
use crate::coupons::{COLUMNS, Change, append_history, record_from_row};
use crate::notify::{Event, outbox};
use crate::{Actor, App, AppError, AppResult, ClaimRefusal, templates};

/// The longest code accepted for a look-up.
const TYPED_CODE_MAX: usize = 64;

/// Today's failed attempts of one subject (`user:<id>` or `ip:<addr>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeFailures {
    pub subject: String,
    /// Failures on the current local day.
    pub today: i64,
    /// Failures on every day kept.
    pub total: i64,
    pub last_at: Option<DateTime<Utc>>,
}

impl App {
    /// Binds the unbound redemption code `typed` to `user` (SPEC §6.2.4).
    /// The same user exchanging the same code again gets the same coupon.
    /// `ip` is counted with the user when the attempt fails.
    pub async fn exchange_code(
        &self,
        typed: &str,
        user: ClaimUser,
        ip: Option<&str>,
    ) -> AppResult<ClaimedCoupon> {
        if user.id.trim().is_empty() || user.id.len() > crate::claims::CLAIM_ID_LENGTH_MAX {
            return Err(AppError::invalid("user.id", "must be 1 to 128 characters"));
        }
        let subjects = subjects(&user.id, ip);
        self.check_cooldown(&subjects).await?;
        let normalised = code::normalise(typed);
        let well_formed = typed.len() <= TYPED_CODE_MAX && code::plausible(&normalised).is_ok();
        let outcome = match well_formed {
            false => Err(AppError::CodeMalformed),
            true => self.bind_code(&normalised, &user).await,
        };
        // A failed attempt is counted before the refusal is answered.
        if matches!(
            outcome,
            Err(AppError::CodeMalformed | AppError::CodeNotFound(_) | AppError::CodeTaken(_))
        ) {
            self.count_failure(subjects).await?;
        }
        outcome
    }

    async fn bind_code(&self, code: &str, user: &ClaimUser) -> AppResult<ClaimedCoupon> {
        // Which template: read outside the unit (a code never changes
        // template), so the unit can take the template's lock first, in
        // the order claim batches take theirs.
        let template_id: String = sqlx::query("SELECT template_id FROM coupons WHERE code = $1")
            .bind(code)
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| AppError::CodeNotFound(code.to_owned()))?
            .try_get("template_id")
            .map_err(StoreError::from)?;
        let code = code.to_owned();
        let user = user.clone();
        let now = self.clock.now();
        let zone = self.settings.time_zone;
        self.store
            .write(move |connection| {
                Box::pin(
                    async move { bind(connection, &template_id, &code, &user, now, zone).await },
                )
            })
            .await
    }

    /// Refuses a subject past today's failure limit until its cool-down
    /// (counted from its last failure) is over.
    async fn check_cooldown(&self, subjects: &[String]) -> AppResult<()> {
        let limit = self.settings.code_failures_limit;
        let cooldown = self.settings.code_cooldown_secs;
        let now = to_micros(self.clock.now());
        for subject in subjects {
            let failures = self.code_failures(subject).await?;
            let Some(last_at) = failures.last_at else {
                continue;
            };
            let waited = (now - to_micros(last_at)) / 1_000_000;
            if failures.today >= limit && waited < cooldown {
                return Err(AppError::CodeAttemptsExceeded {
                    subject: subject.clone(),
                    retry_after_secs: cooldown - waited,
                });
            }
        }
        Ok(())
    }

    /// Counts a failed attempt for each subject; the attempt that reaches
    /// the limit also raises `risk.alert`, in the same unit.
    async fn count_failure(&self, subjects: Vec<String>) -> AppResult<()> {
        let now = self.clock.now();
        let day = local_day(now, self.settings.time_zone);
        let limit = self.settings.code_failures_limit;
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let mut alerts = Vec::new();
                    for subject in &subjects {
                        let failures: i64 = sqlx::query(
                            "INSERT INTO code_failures (subject, day, failures, last_at) VALUES ($1, $2, 1, $3) \
                             ON CONFLICT (subject, day) DO UPDATE SET failures = code_failures.failures + 1, \
                             last_at = excluded.last_at RETURNING failures",
                        )
                        .bind(subject)
                        .bind(day)
                        .bind(to_micros(now))
                        .fetch_one(&mut *connection)
                        .await
                        .map_err(StoreError::from)?
                        .try_get("failures")
                        .map_err(StoreError::from)?;
                        if failures == limit {
                            let data = serde_json::json!({"rule": "code_guessing", "subject": subject,
                                                          "failures": failures, "limit": limit});
                            alerts.push(Event::new(crate::notify::events::RISK_ALERT, now, None, data));
                        }
                    }
                    outbox::append(connection, &alerts).await
                })
            })
            .await
    }

    /// The failed code attempts counted for `subject` (`user:<id>`,
    /// `ip:<addr>`).
    pub async fn code_failures(&self, subject: &str) -> AppResult<CodeFailures> {
        let day = local_day(self.clock.now(), self.settings.time_zone);
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN day = $2 THEN failures ELSE 0 END), 0) AS BIGINT) AS today, \
             CAST(COALESCE(SUM(failures), 0) AS BIGINT) AS total, MAX(last_at) AS last_at \
             FROM code_failures WHERE subject = $1",
        )
        .bind(subject)
        .bind(day)
        .fetch_one(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        let last_at: Option<i64> = row.try_get("last_at").map_err(StoreError::from)?;
        Ok(CodeFailures {
            subject: subject.to_owned(),
            today: row.try_get("today").map_err(StoreError::from)?,
            total: row.try_get("total").map_err(StoreError::from)?,
            last_at: last_at.map(from_micros).transpose()?,
        })
    }
}

/// Whose failures an attempt counts: the user's, and the address's.
fn subjects(user_id: &str, ip: Option<&str>) -> Vec<String> {
    let mut subjects = vec![format!("user:{user_id}")];
    if let Some(ip) = ip.filter(|ip| !ip.is_empty() && ip.len() <= 64) {
        subjects.push(format!("ip:{ip}"));
    }
    subjects
}

/// The exchange's unit: decide under the template's lock, then bind.
async fn bind(
    connection: &mut AnyConnection,
    template_id: &str,
    code: &str,
    user: &ClaimUser,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
) -> AppResult<ClaimedCoupon> {
    let record = templates::lock(connection, template_id).await?;
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM coupons WHERE code = $1"))
        .bind(code)
        .fetch_optional(&mut *connection)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::CodeNotFound(code.to_owned()))?;
    let coupon = record_from_row(&row)?;
    if coupon.state != CouponState::Unbound {
        // The same user again: the first answer.
        let mine = coupon.user_id.as_deref() == Some(user.id.as_str());
        return match (mine, coupon.valid_from, coupon.valid_until) {
            (true, Some(valid_from), Some(valid_until)) if coupon.source == "batch" => {
                Ok(ClaimedCoupon {
                    code: coupon.code,
                    template_id: coupon.template_id,
                    user_id: user.id.clone(),
                    valid_from,
                    valid_until,
                    state: CouponState::Available,
                })
            }
            _ => Err(AppError::CodeTaken(code.to_owned())),
        };
    }
    let refuse = |(code, detail): (ClaimRefusal, String)| AppError::Claim { code, detail };
    decide::admit(&record, user, Source::Claim, now).map_err(refuse)?;
    let day = local_day(now, zone);
    let held = held_coupons(connection, template_id, std::slice::from_ref(&user.id), day).await?;
    let counts = held.get(&user.id).map(|h| h.counts).unwrap_or_default();
    // `total` counted the code when it was made; only the user's limits
    // and the budget are left to check.
    let face_value = coupon.face_value;
    let stock = Stock {
        issued: 0,
        generated: 0,
        budget_used: record.budget_used,
    };
    decide::within_limits(&record, &counts, &stock, face_value).map_err(refuse)?;
    let (valid_from, valid_until) =
        decide::validity_window(record.template.get().validity.as_ref(), now).map_err(refuse)?;
    let daily = record.template.get().limits.per_user_per_day.is_some();
    let day = daily.then_some(day);
    let bound = sqlx::query(
        "UPDATE coupons SET user_id = $2, state = 'available', valid_from = $3, valid_until = $4, \
         user_seq = $5, day = $6, day_seq = $7, bound_at = $8, updated_at = $8 \
         WHERE code = $1 AND state = 'unbound'",
    )
    .bind(code)
    .bind(&user.id)
    .bind(to_micros(valid_from))
    .bind(to_micros(valid_until))
    .bind(counts.next_seq)
    .bind(day)
    .bind(day.map(|_| counts.next_day_seq))
    .bind(to_micros(now))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    if bound.rows_affected() != 1 {
        return Err(AppError::CodeTaken(code.to_owned()));
    }
    sqlx::query(
        "UPDATE templates SET issued = issued + 1, generated = generated - 1, \
         budget_used = budget_used + $2 WHERE id = $1",
    )
    .bind(template_id)
    .bind(face_value)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let actor = Actor(format!("user:{}", user.id));
    let change = Change {
        event: CouponEvent::Bind,
        reason: "exchanged",
        order_id: None,
        actor: &actor,
        now,
    };
    append_history(
        connection,
        code,
        Some(CouponState::Unbound),
        CouponState::Available,
        &change,
    )
    .await?;
    let claimed = ClaimedCoupon {
        code: code.to_owned(),
        template_id: template_id.to_owned(),
        user_id: user.id.clone(),
        valid_from,
        valid_until,
        state: CouponState::Available,
    };
    let data = serde_json::json!({
        "code": claimed.code, "template_id": claimed.template_id, "state": "available",
        "face_value": face_value, "valid_from": valid_from, "valid_until": valid_until,
        "source": "code",
    });
    let event = Event::new(
        crate::notify::events::COUPON_CLAIMED,
        now,
        Some(user.id.clone()),
        data,
    );
    outbox::append(connection, &[event]).await?;
    Ok(claimed)
}
