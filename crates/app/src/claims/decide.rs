//! The pure part of a claim: the checks of SPEC §6.2.1 in order, against
//! the counters as they stand in this batch.

use chrono::{DateTime, Duration, Utc};

use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_core::template::{Audience, Validity};

use super::{ClaimUser, Source};
use crate::ClaimRefusal;
use crate::templates::TemplateRecord;

/// What one user holds of the template: ever, and on the claim's day.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserCounts {
    pub total: i64,
    pub next_seq: i64,
    pub today: i64,
    pub next_day_seq: i64,
}

impl Default for UserCounts {
    /// A user who holds none: the next sequence numbers are 1.
    fn default() -> Self {
        UserCounts {
            total: 0,
            next_seq: 1,
            today: 0,
            next_day_seq: 1,
        }
    }
}

/// The template's counters within the batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stock {
    pub issued: i64,
    pub generated: i64,
    pub budget_used: i64,
}

pub(crate) type Refusal = (ClaimRefusal, String);

/// Checks everything but the counters, in the order of §6.2.1. A grant
/// (`source` not asked for by the user) skips the claim window and the
/// channel: staff and rules may put an approved template's coupons in a
/// wallet before its window opens.
pub(crate) fn admit(
    record: &TemplateRecord,
    user: &ClaimUser,
    source: Source,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    let asked = source.user_asked();
    let template = record.template.get();
    if user.id.trim().is_empty() {
        return Err((ClaimRefusal::UserUnknown, "the claim names no user".into()));
    }
    match record.status_at(now) {
        TemplateStatus::Active => {}
        TemplateStatus::Approved if !asked => {}
        // Approved, its claim window not yet open.
        TemplateStatus::Approved => {
            return Err((
                ClaimRefusal::ClaimNotStarted,
                "claiming has not started".into(),
            ));
        }
        status => {
            let status = status.as_str();
            return Err((
                ClaimRefusal::TemplateNotActive,
                format!("the template is {status}"),
            ));
        }
    }
    if let Some(window) = template.claim_window.as_ref().filter(|_| asked) {
        if window.from.is_some_and(|from| now < from) {
            return Err((
                ClaimRefusal::ClaimNotStarted,
                "claiming has not started".into(),
            ));
        }
        if window.until.is_some_and(|until| now > until) {
            return Err((ClaimRefusal::ClaimEnded, "claiming has ended".into()));
        }
    }
    if let Some(Validity::Absolute { until, .. }) = &template.validity {
        if now > *until {
            return Err((
                ClaimRefusal::ClaimEnded,
                "the coupons' validity has ended".into(),
            ));
        }
    }
    if !in_audience(&template.audience, user) {
        return Err((
            ClaimRefusal::NotInAudience,
            "the user is not in this coupon's audience".into(),
        ));
    }
    let channel_ok = !asked
        || template.channels.is_empty()
        || user
            .channel
            .as_ref()
            .is_some_and(|c| template.channels.contains(c));
    if !channel_ok {
        return Err((
            ClaimRefusal::Channel,
            "this coupon cannot be claimed in this channel".into(),
        ));
    }
    Ok(())
}

/// The limits, in order: per user, per day, stock, budget.
pub(crate) fn within_limits(
    record: &TemplateRecord,
    counts: &UserCounts,
    stock: &Stock,
    face_value: i64,
) -> Result<(), Refusal> {
    let limits = &record.template.get().limits;
    if limits
        .per_user
        .is_some_and(|max| counts.total >= i64::from(max))
    {
        return Err((
            ClaimRefusal::PerUserLimit,
            "the user already holds as many as allowed".into(),
        ));
    }
    if limits
        .per_user_per_day
        .is_some_and(|max| counts.today >= i64::from(max))
    {
        return Err((
            ClaimRefusal::PerDayLimit,
            "the user reached today's limit".into(),
        ));
    }
    let total = limits.total.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    if total.is_some_and(|max| stock.issued + stock.generated >= max) {
        return Err((ClaimRefusal::SoldOut, "no coupons are left".into()));
    }
    if limits
        .budget
        .is_some_and(|budget| stock.budget_used + face_value > budget)
    {
        return Err((ClaimRefusal::BudgetExhausted, "the budget is spent".into()));
    }
    Ok(())
}

fn in_audience(audience: &Audience, user: &ClaimUser) -> bool {
    let has = |tag: &String| user.tags.contains(tag);
    (audience.tags_any.is_empty() || audience.tags_any.iter().any(has))
        && audience.tags_all.iter().all(has)
        && (audience.regions.is_empty()
            || user.region.as_ref().is_some_and(|r| {
                audience
                    .regions
                    .iter()
                    .any(|prefix| r.starts_with(prefix.as_str()))
            }))
        && (!audience.new_users_only || user.new_user)
        && audience
            .inactive_days_min
            .is_none_or(|min| user.inactive_days.is_some_and(|days| days >= min))
}

/// The coupon's own validity, computed at claim (SPEC §4.5).
pub(crate) fn validity_window(
    validity: Option<&Validity>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Refusal> {
    match validity {
        Some(Validity::Absolute { from, until }) => Ok((*from, *until)),
        Some(Validity::Relative {
            days,
            start_after_days,
        }) => {
            let from = now + Duration::days(i64::from(*start_after_days));
            Ok((from, from + Duration::days(i64::from(*days))))
        }
        None => Err((
            ClaimRefusal::NoValidity,
            "the template has no validity".into(),
        )),
    }
}
