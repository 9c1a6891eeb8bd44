//! The claim centre (活动领券, SPEC §13 user pages): the running campaigns a
//! user can see (audience, channel and rollout pass), each template with
//! its remaining stock and what this user may still claim of it.
//!
//! It is a read: the numbers are what the batcher would see now, not a
//! promise — a claim is decided in its batch.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use sqlx::Row;

use couponflow_core::template::ClaimWindow;
use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_store::StoreError;
use couponflow_store::time::to_micros;

use super::model::{self, Campaign, Entry};
use super::{COLUMNS, CampaignRecord, record_from_row};
use crate::claims::ClaimUser;
use crate::templates::TemplateRecord;
use crate::{App, AppError, AppResult, ClaimRefusal};

/// Running campaigns the centre shows at most, soonest started first.
pub const CENTRE_CAMPAIGNS_MAX: i64 = 100;

/// One running campaign as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct CentreCampaign {
    pub id: String,
    pub campaign: Campaign,
    pub entries: Vec<CentreEntry>,
}

/// One template of a campaign, for this user.
#[derive(Debug, Clone, Serialize)]
pub struct CentreEntry {
    pub template_id: String,
    pub name: String,
    pub points: Option<i64>,
    pub claim_window: Option<ClaimWindow>,
    /// `total - issued - generated` (never below 0); `None` when unlimited.
    pub remaining: Option<i64>,
    /// The user's coupons of the template, ever and today.
    pub held: i64,
    pub held_today: i64,
    /// How many more this user may claim now, under `per_user`,
    /// `per_user_per_day` and the stock; `None` when nothing limits it.
    pub may_claim: Option<i64>,
    /// Why a claim now would be refused, if it would (the first check
    /// that fails); `None` when it can be claimed.
    pub refusal: Option<ClaimRefusal>,
}

/// The user's coupons by template: (ever, on `day`).
type HeldCounts = HashMap<String, (i64, i64)>;

impl App {
    /// The running campaigns `user` can see, with what they may claim.
    pub async fn claim_centre(&self, user: &ClaimUser) -> AppResult<Vec<CentreCampaign>> {
        if user.id.trim().is_empty() || user.id.len() > crate::claims::CLAIM_ID_LENGTH_MAX {
            return Err(AppError::invalid("user", "must be 1 to 128 characters"));
        }
        let now = self.now();
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM campaigns WHERE status = 'scheduled' AND starts_at <= $1 \
             AND ends_at >= $1 ORDER BY starts_at, id LIMIT $2"
        ))
        .bind(to_micros(now))
        .bind(CENTRE_CAMPAIGNS_MAX)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        let visible: Vec<CampaignRecord> = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter(|record| model::visible(&record.id, &record.campaign, user))
            .collect();
        let day = local_day(now, self.settings.time_zone);
        let held = self.held_counts(&user.id, day).await?;
        let mut templates: HashMap<String, Option<TemplateRecord>> = HashMap::new();
        let mut centre = Vec::with_capacity(visible.len());
        for record in visible {
            let mut entries = Vec::with_capacity(record.campaign.templates.len());
            for entry in &record.campaign.templates {
                if !templates.contains_key(&entry.template) {
                    let found = match self.template(&entry.template).await {
                        Ok(template) => Some(template),
                        Err(AppError::TemplateNotFound(_)) => None,
                        Err(other) => return Err(other),
                    };
                    templates.insert(entry.template.clone(), found);
                }
                let Some(Some(template)) = templates.get(&entry.template) else {
                    continue;
                };
                let counts = held.get(&entry.template).copied().unwrap_or((0, 0));
                entries.push(centre_entry(entry, template, counts, user, now));
            }
            centre.push(CentreCampaign {
                id: record.id,
                campaign: record.campaign,
                entries,
            });
        }
        Ok(centre)
    }

    async fn held_counts(&self, user_id: &str, day: i64) -> AppResult<HeldCounts> {
        let rows = sqlx::query(
            "SELECT template_id, day, COUNT(*) AS held FROM coupons WHERE user_id = $1 \
             GROUP BY template_id, day",
        )
        .bind(user_id)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        let mut held = HeldCounts::new();
        for row in rows {
            let template: String = row.try_get("template_id").map_err(StoreError::from)?;
            let coupon_day: Option<i64> = row.try_get("day").map_err(StoreError::from)?;
            let count: i64 = row.try_get("held").map_err(StoreError::from)?;
            let counts = held.entry(template).or_default();
            counts.0 += count;
            if coupon_day == Some(day) {
                counts.1 += count;
            }
        }
        Ok(held)
    }
}

fn centre_entry(
    entry: &Entry,
    template: &TemplateRecord,
    (held, held_today): (i64, i64),
    user: &ClaimUser,
    now: DateTime<Utc>,
) -> CentreEntry {
    let limits = &template.template.get().limits;
    let remaining = limits.total.map(|total| {
        let total = i64::try_from(total).unwrap_or(i64::MAX);
        (total - template.issued - template.generated).max(0)
    });
    let per_user_left = limits.per_user.map(|max| (i64::from(max) - held).max(0));
    let today_left = limits
        .per_user_per_day
        .map(|max| (i64::from(max) - held_today).max(0));
    let may_claim = [remaining, per_user_left, today_left]
        .into_iter()
        .flatten()
        .min();
    let refusal = first_refusal(entry, template, user, now).or_else(|| {
        let exhausted = |left: Option<i64>| left == Some(0);
        let budget_left = limits.budget.map(|budget| budget - template.budget_used);
        let face_value = template.template.face_value().unwrap_or(0);
        if exhausted(per_user_left) {
            Some(ClaimRefusal::PerUserLimit)
        } else if exhausted(today_left) {
            Some(ClaimRefusal::PerDayLimit)
        } else if exhausted(remaining) {
            Some(ClaimRefusal::SoldOut)
        } else if budget_left.is_some_and(|left| left < face_value) {
            Some(ClaimRefusal::BudgetExhausted)
        } else {
            None
        }
    });
    CentreEntry {
        template_id: template.id.clone(),
        name: template.template.get().name.clone(),
        points: entry.points,
        claim_window: entry.claim_window.clone(),
        remaining,
        held,
        held_today,
        may_claim,
        refusal,
    }
}

/// The entry's window and the template's own checks, as a claim would run
/// them (the campaign's were passed to be shown at all).
fn first_refusal(
    entry: &Entry,
    template: &TemplateRecord,
    user: &ClaimUser,
    now: DateTime<Utc>,
) -> Option<ClaimRefusal> {
    let body = template.template.get();
    let windows = [entry.claim_window.as_ref(), body.claim_window.as_ref()];
    match template.status_at(now) {
        TemplateStatus::Active => {}
        TemplateStatus::Approved => return Some(ClaimRefusal::ClaimNotStarted),
        _ => return Some(ClaimRefusal::TemplateNotActive),
    }
    for window in windows.into_iter().flatten() {
        if window.from.is_some_and(|from| now < from) {
            return Some(ClaimRefusal::ClaimNotStarted);
        }
        if window.until.is_some_and(|until| now > until) {
            return Some(ClaimRefusal::ClaimEnded);
        }
    }
    if !model::in_audience(&body.audience, user) {
        return Some(ClaimRefusal::NotInAudience);
    }
    let channel_ok = body.channels.is_empty()
        || user
            .channel
            .as_ref()
            .is_some_and(|channel| body.channels.contains(channel));
    (!channel_ok).then_some(ClaimRefusal::Channel)
}

/// The calendar day of `now` in the deployment's time zone, as days since
/// 1970-01-01 there — the `day` the batcher stores on coupons of templates
/// with a daily limit.
fn local_day(now: DateTime<Utc>, zone: chrono_tz::Tz) -> i64 {
    i64::from(now.with_timezone(&zone).date_naive().num_days_from_ce()) - 719_163
}
