//! Staff grants (人工发放, SPEC §6.2.2): one template's coupons given to a
//! list of users, or to the members of a tag segment the mall has sent, as
//! a background job with progress.
//!
//! Creating a grant stores it (`pending`) and its distinct users, in upload
//! order, in one unit; nothing is issued yet. The runner (`run`) leases one
//! open grant at a time per node and works it in chunks: it issues a
//! chunk's coupons concurrently through [`App::issue`] with
//! `Source::Grant` and request id `{grant}:{user}` ([`grant_request_id`]), then records the
//! chunk's outcomes, the counters and the cursor in one unit, guarded by
//! the lease and the cursor it started from. A chunk cut short by a crash
//! is issued again: every coupon it had issued is replayed by the
//! template's batcher, so nobody is granted twice.
//!
//! Segments (`segments`) are the user tags the mall sends; a grant checks
//! the template's audience against the tags stored for each user.

mod run;
mod segments;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::{from_micros, to_micros};

use crate::claims::CLAIM_ID_LENGTH_MAX;
use crate::templates::{self, TemplateRecord};
use crate::{Actor, App, AppError, AppResult, ids};

pub use run::{GRANT_CHUNK_USERS, GRANT_LEASE_SECS_DEFAULT, GrantRunner, grant_request_id};
pub use segments::{SEGMENT_MEMBERS_MAX, Segment, TAG_CHARS_MAX, check_tag};

/// Users one grant holds at most (after duplicates are dropped).
pub const GRANT_USERS_MAX: usize = 1_000_000;
/// Longest `reason` a grant may carry.
pub const GRANT_REASON_CHARS_MAX: usize = 1_000;
/// Grants one list call returns at most.
pub const GRANT_PAGE_MAX: u32 = 500;
/// Results one page returns at most.
pub const GRANT_RESULTS_PAGE_MAX: u32 = 10_000;
/// Rows per multi-row INSERT of a grant's users (3 parameters each).
const INSERT_ROWS_MAX: usize = 1_000;

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Stored; no node has started it yet.
    Pending,
    /// A node is working it (or one died and its lease will expire).
    Running,
    /// Every user has an outcome.
    Done,
}

impl GrantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantStatus::Pending => "pending",
            GrantStatus::Running => "running",
            GrantStatus::Done => "done",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            GrantStatus::Pending,
            GrantStatus::Running,
            GrantStatus::Done,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// Users skipped, by reason: the template's limits or audience said no.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// `PER_USER_LIMIT` or `PER_DAY_LIMIT`: the user holds as many as allowed.
    pub limit_reached: u64,
    /// `SOLD_OUT`: `limits.total` was reached.
    pub sold_out: u64,
    /// `BUDGET_EXHAUSTED`: `limits.budget` was reached.
    pub budget_exhausted: u64,
    /// `NOT_IN_AUDIENCE`: the user's stored tags do not match the audience.
    pub not_in_audience: u64,
}

impl Skipped {
    pub fn total(&self) -> u64 {
        self.limit_reached + self.sold_out + self.budget_exhausted + self.not_in_audience
    }
}

/// A grant and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub id: String,
    pub template_id: String,
    /// The tag whose members were granted, for a segment grant.
    pub segment: Option<String>,
    pub reason: Option<String>,
    pub status: GrantStatus,
    /// Distinct users.
    pub total: u64,
    /// Users listed more than once, granted (at most) once.
    pub duplicates: u64,
    /// Users with an outcome so far.
    pub processed: u64,
    /// Users granted a coupon.
    pub granted: u64,
    pub skipped: Skipped,
    /// Users the template refused for another reason (it was paused or
    /// ended during the grant, …): see their results.
    pub failed: u64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Grant {
    /// Whole percent processed, rounded down (100 only when done).
    pub fn progress_percent(&self) -> u64 {
        match self.total {
            0 => 100,
            total => self.processed.saturating_mul(100) / total,
        }
    }
}

/// What happened to one user of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Granted,
    Skipped,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Outcome::Granted, Outcome::Skipped, Outcome::Failed]
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }
}

/// One user's line of a grant's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantResult {
    /// 1-based, in upload order (duplicates dropped).
    pub position: u64,
    pub user_id: String,
    /// `None` while the user's chunk is still to come.
    pub outcome: Option<Outcome>,
    /// The refusal's code for a skipped or failed user (`PER_USER_LIMIT`, …).
    pub reason: Option<String>,
    /// The coupon a granted user received.
    pub coupon_code: Option<String>,
}

/// Whom to grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// User ids in upload order; duplicates are dropped (and counted).
    Users(Vec<String>),
    /// The members of a tag segment as stored when the grant is created.
    Segment(String),
}

/// A grant to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub template_id: String,
    pub recipients: Recipients,
    pub reason: Option<String>,
}

pub(crate) const GRANT_COLUMNS: &str = "id, template_id, segment, reason, status, total, duplicates, \
     processed, granted, skipped_limit_reached, skipped_sold_out, skipped_budget_exhausted, \
     skipped_not_in_audience, failed, created_by, created_at, started_at, finished_at";

fn count(row: &sqlx::any::AnyRow, column: &str) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        table: "grants",
        reason: format!("negative {column} {value}"),
    })
}

pub(crate) fn grant_from_row(row: &sqlx::any::AnyRow) -> Result<Grant, StoreError> {
    let status: String = row.try_get("status")?;
    let time = |column: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
        let micros: Option<i64> = row.try_get(column)?;
        micros.map(from_micros).transpose()
    };
    Ok(Grant {
        id: row.try_get("id")?,
        template_id: row.try_get("template_id")?,
        segment: row.try_get("segment")?,
        reason: row.try_get("reason")?,
        status: GrantStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: "grants",
            reason: format!("status {status}"),
        })?,
        total: count(row, "total")?,
        duplicates: count(row, "duplicates")?,
        processed: count(row, "processed")?,
        granted: count(row, "granted")?,
        skipped: Skipped {
            limit_reached: count(row, "skipped_limit_reached")?,
            sold_out: count(row, "skipped_sold_out")?,
            budget_exhausted: count(row, "skipped_budget_exhausted")?,
            not_in_audience: count(row, "skipped_not_in_audience")?,
        },
        failed: count(row, "failed")?,
        created_by: row.try_get("created_by")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        started_at: time("started_at")?,
        finished_at: time("finished_at")?,
    })
}

/// A user id a grant accepts: 1 to 128 characters, not blank, no control
/// characters (it is shown in CSV exports and the console).
pub fn check_user_id(id: &str) -> Result<(), &'static str> {
    if id.trim().is_empty() {
        return Err("is empty");
    }
    if id.len() > CLAIM_ID_LENGTH_MAX {
        return Err("is longer than 128 bytes");
    }
    if id.chars().any(char::is_control) {
        return Err("holds a control character");
    }
    Ok(())
}

/// Checks every id and drops repeats (the first occurrence keeps its
/// place); answers the distinct ids and how many repeats were dropped.
fn distinct_users(users: Vec<String>) -> AppResult<(Vec<String>, u64)> {
    if users.is_empty() {
        return Err(AppError::invalid("users", "must name at least one user"));
    }
    let listed = users.len();
    let mut seen = HashSet::with_capacity(listed);
    let mut distinct = Vec::with_capacity(listed);
    for (index, user) in users.into_iter().enumerate() {
        if let Err(why) = check_user_id(&user) {
            return Err(AppError::invalid(format!("users[{index}]"), why));
        }
        if seen.insert(user.clone()) {
            distinct.push(user);
        }
    }
    if distinct.len() > GRANT_USERS_MAX {
        return Err(AppError::invalid(
            "users",
            format!("a grant has at most {GRANT_USERS_MAX} distinct users"),
        ));
    }
    let duplicates = (listed - distinct.len()) as u64;
    Ok((distinct, duplicates))
}

fn check_reason(reason: Option<&str>) -> AppResult<()> {
    match reason {
        Some(text) if text.chars().count() > GRANT_REASON_CHARS_MAX => Err(AppError::invalid(
            "reason",
            format!("must be at most {GRANT_REASON_CHARS_MAX} characters"),
        )),
        _ => Ok(()),
    }
}

/// A grant needs a template that passed review and can still issue:
/// approved (its claim window need not be open) or active.
fn ensure_grantable(record: &TemplateRecord, now: DateTime<Utc>) -> AppResult<()> {
    match record.status_at(now) {
        TemplateStatus::Approved | TemplateStatus::Active => Ok(()),
        status @ (TemplateStatus::Draft
        | TemplateStatus::PendingReview
        | TemplateStatus::Rejected
        | TemplateStatus::Paused
        | TemplateStatus::Ended) => Err(AppError::TemplateNotGrantable {
            id: record.id.clone(),
            status: status.as_str(),
        }),
    }
}

impl App {
    /// Stores a grant and its users (`pending`) and answers it; the runner
    /// issues the coupons in the background.
    pub async fn create_grant(&self, actor: &Actor, new: NewGrant) -> AppResult<Grant> {
        check_reason(new.reason.as_deref())?;
        let recipients = match new.recipients {
            Recipients::Users(users) => {
                let (users, duplicates) = distinct_users(users)?;
                Stored::Users { users, duplicates }
            }
            Recipients::Segment(tag) => {
                check_tag(&tag).map_err(|why| AppError::invalid("segment", why))?;
                Stored::Segment(tag)
            }
        };
        let now = self.now();
        let grant = Grant {
            id: ids::new_id("gr"),
            template_id: new.template_id,
            segment: None,
            reason: new.reason,
            status: GrantStatus::Pending,
            total: 0,
            duplicates: 0,
            processed: 0,
            granted: 0,
            skipped: Skipped::default(),
            failed: 0,
            created_by: actor.as_str().to_owned(),
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        self.store
            .write(move |connection| {
                Box::pin(async move { store_grant(connection, grant, recipients, now).await })
            })
            .await
    }

    /// A grant with its progress.
    pub async fn grant(&self, id: &str) -> AppResult<Grant> {
        let row = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| AppError::GrantNotFound(id.to_owned()))?;
        Ok(grant_from_row(&row)?)
    }

    /// Grants newest first, after `after` (the `(created_at, id)` of the
    /// last one of the previous page).
    pub async fn grants(
        &self,
        after: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> AppResult<Vec<Grant>> {
        let limit = i64::from(limit.clamp(1, GRANT_PAGE_MAX + 1));
        let sql = match after {
            Some(_) => format!(
                "SELECT {GRANT_COLUMNS} FROM grants WHERE created_at < $1 OR \
                 (created_at = $1 AND id < $2) ORDER BY created_at DESC, id DESC LIMIT $3"
            ),
            None => format!(
                "SELECT {GRANT_COLUMNS} FROM grants ORDER BY created_at DESC, id DESC LIMIT $1"
            ),
        };
        let query = match &after {
            Some((created_at, id)) => sqlx::query(&sql)
                .bind(to_micros(*created_at))
                .bind(id.clone())
                .bind(limit),
            None => sqlx::query(&sql).bind(limit),
        };
        let rows = query
            .fetch_all(self.store.reader())
            .await
            .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| grant_from_row(row).map_err(AppError::from))
            .collect()
    }

    /// A page of a grant's results in upload order, after position `after`.
    pub async fn grant_results(
        &self,
        grant_id: &str,
        after: u64,
        limit: u32,
    ) -> AppResult<Vec<GrantResult>> {
        self.grant(grant_id).await?;
        let rows = sqlx::query(
            "SELECT position, user_id, outcome, reason, coupon_code FROM grant_users \
             WHERE grant_id = $1 AND position > $2 ORDER BY position LIMIT $3",
        )
        .bind(grant_id)
        .bind(i64::try_from(after).unwrap_or(i64::MAX))
        .bind(i64::from(limit.clamp(1, GRANT_RESULTS_PAGE_MAX + 1)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| result_from_row(row).map_err(AppError::from))
            .collect()
    }
}

fn result_from_row(row: &sqlx::any::AnyRow) -> Result<GrantResult, StoreError> {
    let outcome: Option<String> = row.try_get("outcome")?;
    let outcome = outcome
        .map(|text| {
            Outcome::parse(&text).ok_or_else(|| StoreError::Corrupt {
                table: "grant_users",
                reason: format!("outcome {text}"),
            })
        })
        .transpose()?;
    Ok(GrantResult {
        position: count(row, "position")?,
        user_id: row.try_get("user_id")?,
        outcome,
        reason: row.try_get("reason")?,
        coupon_code: row.try_get("coupon_code")?,
    })
}

/// The recipients as checked, before they are stored.
enum Stored {
    Users { users: Vec<String>, duplicates: u64 },
    Segment(String),
}

async fn store_grant(
    connection: &mut AnyConnection,
    mut grant: Grant,
    recipients: Stored,
    now: DateTime<Utc>,
) -> AppResult<Grant> {
    let record = templates::lock(connection, &grant.template_id).await?;
    ensure_grantable(&record, now)?;
    match recipients {
        Stored::Users { users, duplicates } => {
            insert_users(connection, &grant.id, &users).await?;
            grant.total = users.len() as u64;
            grant.duplicates = duplicates;
        }
        Stored::Segment(tag) => {
            let members = segments::copy_members(connection, &grant.id, &tag).await?;
            if members == 0 {
                return Err(AppError::invalid(
                    "segment",
                    format!("segment {tag} has no members"),
                ));
            }
            grant.total = members;
            grant.segment = Some(tag);
        }
    }
    sqlx::query(
        "INSERT INTO grants (id, template_id, segment, reason, status, total, duplicates, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&grant.id)
    .bind(&grant.template_id)
    .bind(grant.segment.clone())
    .bind(grant.reason.clone())
    .bind(grant.status.as_str())
    .bind(i64::try_from(grant.total).unwrap_or(i64::MAX))
    .bind(i64::try_from(grant.duplicates).unwrap_or(i64::MAX))
    .bind(&grant.created_by)
    .bind(to_micros(grant.created_at))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(grant)
}

async fn insert_users(
    connection: &mut AnyConnection,
    grant_id: &str,
    users: &[String],
) -> AppResult<()> {
    for (chunk_index, chunk) in users.chunks(INSERT_ROWS_MAX).enumerate() {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "INSERT INTO grant_users (grant_id, position, user_id) VALUES {}",
            params.rows(chunk.len(), 3)
        );
        let mut query = sqlx::query(&sql);
        let first = chunk_index * INSERT_ROWS_MAX + 1;
        for (offset, user) in chunk.iter().enumerate() {
            query = query
                .bind(grant_id)
                .bind(i64::try_from(first + offset).unwrap_or(i64::MAX))
                .bind(user.as_str());
        }
        query
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
    fn repeats_are_dropped_and_counted_keeping_the_first_place() {
        let users = ["b", "a", "b", "c", "a"].map(String::from).to_vec();
        let (distinct, duplicates) = distinct_users(users).unwrap();
        assert_eq!(distinct, ["b", "a", "c"]);
        assert_eq!(duplicates, 2);
    }

    #[test]
    fn bad_ids_are_refused_naming_their_place() {
        let long = "x".repeat(129);
        for (users, field) in [
            (vec![], "users"),
            (vec!["a".to_owned(), " ".to_owned()], "users[1]"),
            (vec![long], "users[0]"),
            (vec!["a\u{7}".to_owned()], "users[0]"),
        ] {
            match distinct_users(users) {
                Err(AppError::Invalid { field: got, .. }) => assert_eq!(got, field),
                other => panic!("expected a refusal of {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn progress_is_whole_percent_rounded_down() {
        let mut grant = Grant {
            id: "gr_1".into(),
            template_id: "t".into(),
            segment: None,
            reason: None,
            status: GrantStatus::Running,
            total: 3,
            duplicates: 0,
            processed: 2,
            granted: 2,
            skipped: Skipped::default(),
            failed: 0,
            created_by: "key:k".into(),
            created_at: DateTime::UNIX_EPOCH,
            started_at: None,
            finished_at: None,
        };
        assert_eq!(grant.progress_percent(), 66);
        grant.processed = 3;
        assert_eq!(grant.progress_percent(), 100);
    }
}
