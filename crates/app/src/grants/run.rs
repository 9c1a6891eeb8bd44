//! The grant runner: one grant at a time per node, chunk after chunk.
//!
//! A round leases the oldest open grant that nobody else holds (its own
//! first: `lease_holder` is this node), with `FOR UPDATE SKIP LOCKED` on
//! PostgreSQL so nodes never queue on each other's rows, reads the next
//! [`GRANT_CHUNK_USERS`] users after the cursor, issues their coupons
//! concurrently (so the template's batcher decides them in full batches),
//! and records the outcomes, counters and new cursor in one unit — only
//! where the lease is still this node's and the cursor still where the
//! chunk started — while the next chunk is being issued. A node that dies
//! leaves its lease to expire after `grant_lease_secs`
//! ([`GRANT_LEASE_SECS_DEFAULT`]); the next holder issues the unrecorded chunk again
//! and the batcher replays each coupon already issued (the request id is
//! `{grant}:{user}`), so the job finishes with every user granted once.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use tokio::sync::Mutex;

use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::{GRANT_COLUMNS, Grant, Outcome, grant_from_row};
use crate::claims::{CLAIM_ID_LENGTH_MAX, ClaimUser, ClaimedCoupon, Issue, Source};
use crate::{App, AppError, AppResult, ClaimRefusal, ids};

/// Users one chunk issues concurrently and records in one unit.
pub const GRANT_CHUNK_USERS: usize = 1_000;
/// How long a lease lasts without a recorded chunk, unless the settings
/// say otherwise (`Settings::grant_lease_secs`). Every chunk renews it; a
/// node that stops renewing (it died) loses the grant to another node this
/// long after its last chunk. A chunk takes well under a second, so this
/// leaves a wide margin before a slow node is taken for dead.
pub const GRANT_LEASE_SECS_DEFAULT: u64 = 10;
/// Rows per `UPDATE … FROM (VALUES …)` of outcomes (4 parameters each).
const UPDATE_ROWS_MAX: usize = 500;

/// This node's identity as a lease holder, the guard that keeps its
/// rounds one at a time, and whether a round was asked for since the
/// running one looked (so a grant created just as a round ends is not
/// left to the next tick).
pub struct GrantRunner {
    holder: String,
    round: Mutex<()>,
    wanted: AtomicBool,
}

impl Default for GrantRunner {
    fn default() -> Self {
        GrantRunner {
            holder: ids::new_id("node"),
            round: Mutex::new(()),
            wanted: AtomicBool::new(false),
        }
    }
}

/// The request id of a user's coupon in a grant: `{grant}:{user}`, or,
/// when that would pass the claim path's 128 bytes (user ids of more than
/// 108 bytes), `{grant}:#` and the user id's SHA-256 in hex (64 digits).
/// Either way the same user of the same grant always gets the same id.
pub fn grant_request_id(grant_id: &str, user_id: &str) -> String {
    let plain = format!("{grant_id}:{user_id}");
    if plain.len() <= CLAIM_ID_LENGTH_MAX {
        return plain;
    }
    let digest = Sha256::digest(user_id.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{grant_id}:#{hex}")
}

/// One user's outcome in a chunk.
struct Decided {
    position: i64,
    outcome: Outcome,
    reason: Option<&'static str>,
    coupon_code: Option<String>,
}

/// A chunk's counters.
#[derive(Default)]
struct Counts {
    granted: i64,
    limit_reached: i64,
    sold_out: i64,
    budget_exhausted: i64,
    not_in_audience: i64,
    failed: i64,
}

impl App {
    /// Works open grants until none is left to this node; answers the
    /// chunks recorded. A call while another runs on this node answers 0
    /// at once, and the running one looks for grants again before it ends.
    pub async fn run_grants(&self) -> AppResult<usize> {
        let runner = &self.grants;
        runner.wanted.store(true, Ordering::SeqCst);
        let mut chunks = 0;
        loop {
            let Ok(round) = runner.round.try_lock() else {
                return Ok(chunks);
            };
            while runner.wanted.swap(false, Ordering::SeqCst) {
                while let Some(grant) = self.lease_grant().await? {
                    chunks += self.work_grant(&grant).await?;
                }
            }
            drop(round);
            // Asked for between the last look and the unlock: look again.
            if !runner.wanted.load(Ordering::SeqCst) {
                return Ok(chunks);
            }
        }
    }

    /// Leases the oldest open grant this node may work: its own, an
    /// unleased one, or one whose lease expired.
    async fn lease_grant(&self) -> AppResult<Option<Grant>> {
        let (now, lease) = (self.now(), self.lease_duration());
        let holder = self.grants.holder.clone();
        self.store
            .write(move |connection| {
                Box::pin(async move { lease_unit(connection, &holder, now, lease).await })
            })
            .await
    }

    /// Works a leased grant to its end, answering the chunks recorded.
    /// Chunk `n` is recorded while chunk `n + 1` is issued: the record
    /// waits on the write pipeline, the issue on the template's batcher.
    /// Each record renews the lease; one that finds the lease or the cursor
    /// moved fails, and this node stops working the grant.
    async fn work_grant(&self, grant: &Grant) -> AppResult<usize> {
        let mut recorded = 0;
        let mut cursor = grant.processed;
        let mut issued = self.issue_chunk(grant, cursor).await?;
        while !issued.is_empty() {
            let next_from = cursor + issued.len() as u64;
            let (record, next) = tokio::join!(
                self.record_chunk(&grant.id, cursor, issued),
                self.issue_chunk(grant, next_from)
            );
            record?;
            recorded += 1;
            cursor = next_from;
            issued = next?;
        }
        Ok(recorded)
    }

    /// Issues the coupons of the chunk after position `after`; answers each
    /// user's outcome (empty past the end of the list).
    async fn issue_chunk(&self, grant: &Grant, after: u64) -> AppResult<Vec<Decided>> {
        let users = self.users_after(&grant.id, after).await?;
        let ids: Vec<String> = users.iter().map(|(_, user)| user.clone()).collect();
        let mut tags = self.user_tags(&ids).await?;
        let issues = users.into_iter().map(|(position, user)| {
            let issue = Issue {
                request_id: grant_request_id(&grant.id, &user),
                user: ClaimUser {
                    tags: tags.remove(&user).unwrap_or_default(),
                    id: user,
                    ..ClaimUser::default()
                },
                source: Source::Grant,
                campaign_id: None,
                points: 0,
                context: Default::default(),
            };
            async move { (position, self.issue(&grant.template_id, issue).await) }
        });
        join_all(issues)
            .await
            .into_iter()
            .map(|(position, answer)| decide(position, answer))
            .collect()
    }

    /// Records a chunk's outcomes starting after position `from`.
    async fn record_chunk(
        &self,
        grant_id: &str,
        from: u64,
        decided: Vec<Decided>,
    ) -> AppResult<()> {
        let (now, holder) = (self.now(), self.grants.holder.clone());
        let until = now + self.lease_duration();
        let id = grant_id.to_owned();
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    record_unit(connection, &id, &holder, from, &decided, (now, until)).await
                })
            })
            .await
    }

    fn lease_duration(&self) -> Duration {
        let secs = i64::try_from(self.settings.grant_lease_secs).unwrap_or(i64::MAX);
        Duration::seconds(secs.clamp(1, 86_400))
    }

    /// The chunk of users after position `after`, in order.
    async fn users_after(&self, grant_id: &str, after: u64) -> AppResult<Vec<(i64, String)>> {
        let rows = sqlx::query(
            "SELECT position, user_id FROM grant_users WHERE grant_id = $1 AND position > $2 \
             ORDER BY position LIMIT $3",
        )
        .bind(grant_id)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(GRANT_CHUNK_USERS as i64)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| Ok((row.try_get("position")?, row.try_get("user_id")?)))
            .collect::<Result<_, StoreError>>()
            .map_err(AppError::from)
    }
}

/// What one issue's answer means for the grant. A store error is not an
/// outcome: the chunk is not recorded and is issued again next round.
fn decide(position: i64, answer: AppResult<ClaimedCoupon>) -> AppResult<Decided> {
    let (outcome, reason, coupon_code) = match answer {
        Ok(coupon) => (Outcome::Granted, None, Some(coupon.code)),
        Err(AppError::Claim { code, .. }) => {
            let outcome = match code {
                ClaimRefusal::PerUserLimit
                | ClaimRefusal::PerDayLimit
                | ClaimRefusal::SoldOut
                | ClaimRefusal::BudgetExhausted
                | ClaimRefusal::NotInAudience => Outcome::Skipped,
                ClaimRefusal::UserUnknown
                | ClaimRefusal::CampaignNotRunning
                | ClaimRefusal::TemplateNotActive
                | ClaimRefusal::ClaimNotStarted
                | ClaimRefusal::ClaimEnded
                | ClaimRefusal::Channel
                | ClaimRefusal::NotInRollout
                | ClaimRefusal::NoValidity
                | ClaimRefusal::RiskLimit
                | ClaimRefusal::CaptchaFailed
                | ClaimRefusal::InsufficientPoints => Outcome::Failed,
            };
            (outcome, Some(code.code()), None)
        }
        Err(error @ AppError::Store(_)) => return Err(error),
        Err(error) => (Outcome::Failed, Some(error.code()), None),
    };
    Ok(Decided {
        position,
        outcome,
        reason,
        coupon_code,
    })
}

impl Counts {
    fn of(decided: &[Decided]) -> Counts {
        let mut counts = Counts::default();
        for user in decided {
            let counter = match (user.outcome, user.reason) {
                (Outcome::Granted, _) => &mut counts.granted,
                (Outcome::Skipped, Some("PER_USER_LIMIT" | "PER_DAY_LIMIT")) => {
                    &mut counts.limit_reached
                }
                (Outcome::Skipped, Some("SOLD_OUT")) => &mut counts.sold_out,
                (Outcome::Skipped, Some("BUDGET_EXHAUSTED")) => &mut counts.budget_exhausted,
                (Outcome::Skipped, _) => &mut counts.not_in_audience,
                (Outcome::Failed, _) => &mut counts.failed,
            };
            *counter += 1;
        }
        counts
    }
}

async fn lease_unit(
    connection: &mut AnyConnection,
    holder: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> AppResult<Option<Grant>> {
    let skip_locked = match Backend::of(connection) {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let free = "status IN ('pending', 'running') \
                AND (lease_holder = $1 OR lease_until IS NULL OR lease_until < $3)";
    let row = sqlx::query(&format!(
        "UPDATE grants SET lease_holder = $1, lease_until = $2, status = 'running', \
         started_at = COALESCE(started_at, $3) \
         WHERE {free} AND id IN (SELECT id FROM grants WHERE {free} \
         ORDER BY created_at, id LIMIT 1{skip_locked}) RETURNING {GRANT_COLUMNS}"
    ))
    .bind(holder)
    .bind(to_micros(now + lease))
    .bind(to_micros(now))
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(row.as_ref().map(grant_from_row).transpose()?)
}

/// Records a chunk: counters and cursor first, guarded by the lease and
/// the cursor the chunk started from (a node that lost its lease records
/// nothing), then each user's outcome.
async fn record_unit(
    connection: &mut AnyConnection,
    grant_id: &str,
    holder: &str,
    from: u64,
    decided: &[Decided],
    (now, lease_until): (DateTime<Utc>, DateTime<Utc>),
) -> AppResult<()> {
    let counts = Counts::of(decided);
    let from = i64::try_from(from).unwrap_or(i64::MAX);
    let to = from + decided.len() as i64;
    let updated = sqlx::query(
        "UPDATE grants SET processed = $1, granted = granted + $2, \
         skipped_limit_reached = skipped_limit_reached + $3, \
         skipped_sold_out = skipped_sold_out + $4, \
         skipped_budget_exhausted = skipped_budget_exhausted + $5, \
         skipped_not_in_audience = skipped_not_in_audience + $6, failed = failed + $7, \
         status = CASE WHEN $1 >= total THEN 'done' ELSE 'running' END, \
         finished_at = CASE WHEN $1 >= total THEN $8 ELSE NULL END, \
         lease_holder = CASE WHEN $1 >= total THEN NULL ELSE lease_holder END, \
         lease_until = CASE WHEN $1 >= total THEN NULL ELSE $9 END \
         WHERE id = $10 AND lease_holder = $11 AND processed = $12 AND status = 'running'",
    )
    .bind(to)
    .bind(counts.granted)
    .bind(counts.limit_reached)
    .bind(counts.sold_out)
    .bind(counts.budget_exhausted)
    .bind(counts.not_in_audience)
    .bind(counts.failed)
    .bind(to_micros(now))
    .bind(to_micros(lease_until))
    .bind(grant_id)
    .bind(holder)
    .bind(from)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    if updated.rows_affected() != 1 {
        return Err(AppError::Conflict(format!(
            "grant {grant_id}: the lease or the cursor moved; another node records this chunk"
        )));
    }
    for chunk in decided.chunks(UPDATE_ROWS_MAX) {
        let mut params = Params::for_connection(connection);
        let values = params.rows(chunk.len(), 4);
        let (grant_param, low, high) = (params.next(), params.next(), params.next());
        // The range keeps the join on the primary key's range rather than
        // the grant's whole list (PostgreSQL would otherwise scan it).
        let sql = format!(
            "UPDATE grant_users SET outcome = v.column2, reason = v.column3, \
             coupon_code = v.column4 FROM (VALUES {values}) AS v \
             WHERE grant_users.grant_id = {grant_param} AND grant_users.position >= {low} \
             AND grant_users.position <= {high} AND grant_users.position = v.column1"
        );
        let mut query = sqlx::query(&sql);
        for user in chunk {
            query = query
                .bind(user.position)
                .bind(user.outcome.as_str())
                .bind(user.reason)
                .bind(user.coupon_code.clone());
        }
        let low = chunk.first().map_or(0, |user| user.position);
        let high = chunk.last().map_or(0, |user| user.position);
        query
            .bind(grant_id)
            .bind(low)
            .bind(high)
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_fit_the_claim_path_for_every_user_id() {
        let grant = "gr_0123456789ABCDEF";
        assert_eq!(grant_request_id(grant, "u-1"), "gr_0123456789ABCDEF:u-1");
        for length in [108, 109, 128] {
            let user = "x".repeat(length);
            let id = grant_request_id(grant, &user);
            assert!(id.len() <= CLAIM_ID_LENGTH_MAX, "{length}: {id}");
            assert_eq!(id, grant_request_id(grant, &user), "stable");
        }
        let (a, b) = ("a".repeat(120), "b".repeat(120));
        assert_ne!(grant_request_id(grant, &a), grant_request_id(grant, &b));
    }

    #[test]
    fn limits_and_audience_are_skips_and_the_rest_failures() {
        let refuse = |code| {
            decide(
                1,
                Err(AppError::Claim {
                    code,
                    detail: String::new(),
                }),
            )
            .unwrap()
        };
        let decided = [
            refuse(ClaimRefusal::PerUserLimit),
            refuse(ClaimRefusal::PerDayLimit),
            refuse(ClaimRefusal::SoldOut),
            refuse(ClaimRefusal::BudgetExhausted),
            refuse(ClaimRefusal::NotInAudience),
            refuse(ClaimRefusal::TemplateNotActive),
        ];
        let counts = Counts::of(&decided);
        assert_eq!(
            (
                counts.limit_reached,
                counts.sold_out,
                counts.budget_exhausted,
                counts.not_in_audience,
                counts.failed,
                counts.granted
            ),
            (2, 1, 1, 1, 1, 0)
        );
        let busy = decide(1, Err(AppError::Store(StoreError::Busy)));
        assert!(
            busy.is_err(),
            "a store error leaves the chunk to be issued again"
        );
    }
}
