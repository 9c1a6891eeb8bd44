//! Campaigns (活动, SPEC §6.1): create as draft, change, schedule, pause,
//! resume, end — each step one write unit with its `campaign.*` event in
//! the outbox. A scheduled campaign is `running` between `starts_at` and
//! `ends_at`, computed at read time from the clock.
//!
//! Claims through a campaign are in `claim`, the claim centre in `centre`;
//! the pure rules in `model`.

mod centre;
mod claim;
pub mod model;
mod validate;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::notify::{Event, outbox};
use crate::{Actor, App, AppError, AppResult, ids, templates};

pub use centre::{CentreCampaign, CentreEntry};
pub use claim::CampaignClaim;
pub use model::{Campaign, CampaignAction, CampaignStatus, Entry, Rollout, Share};

/// Campaigns one list call returns at most.
pub const CAMPAIGN_PAGE_MAX: u32 = 500;

/// A stored campaign with its server-owned fields.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignRecord {
    pub id: String,
    pub campaign: Campaign,
    /// As stored: `draft`, `scheduled`, `paused` or `ended`.
    pub status: CampaignStatus,
    pub version: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CampaignRecord {
    /// The status as it stands at `now` (`running` inside the window).
    pub fn status_at(&self, now: DateTime<Utc>) -> CampaignStatus {
        model::status_at(self.status, &self.campaign, now)
    }
}

const COLUMNS: &str = "id, body, status, version, created_by, created_at, updated_at";

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<CampaignRecord, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        table: "campaigns",
        reason,
    };
    let body: String = row.try_get("body")?;
    let status: String = row.try_get("status")?;
    Ok(CampaignRecord {
        id: row.try_get("id")?,
        campaign: serde_json::from_str(&body).map_err(|e| corrupt(e.to_string()))?,
        status: CampaignStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("status {status}")))?,
        version: row.try_get("version")?,
        created_by: row.try_get("created_by")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

/// Loads a campaign for change, locking its row until the unit commits.
async fn lock(connection: &mut AnyConnection, id: &str) -> AppResult<CampaignRecord> {
    let row = sqlx::query(&format!(
        "UPDATE campaigns SET version = version WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::CampaignNotFound(id.to_owned()))?;
    Ok(record_from_row(&row)?)
}

async fn save(connection: &mut AnyConnection, record: &CampaignRecord) -> AppResult<()> {
    let body =
        serde_json::to_string(&record.campaign).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "UPDATE campaigns SET body = $2, status = $3, version = $4, starts_at = $5, ends_at = $6, \
         updated_at = $7 WHERE id = $1",
    )
    .bind(&record.id)
    .bind(body)
    .bind(record.status.as_str())
    .bind(record.version)
    .bind(to_micros(record.campaign.starts_at))
    .bind(to_micros(record.campaign.ends_at))
    .bind(to_micros(record.updated_at))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

/// `campaign.<action>` in the outbox, in the caller's unit.
async fn record_event(
    connection: &mut AnyConnection,
    record: &CampaignRecord,
    action: &str,
    actor: &Actor,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let data = json!({"campaign_id": record.id, "name": record.campaign.name,
                      "status": record.status_at(at).as_str(), "actor": actor.as_str()});
    let event = Event::new(&format!("campaign.{action}"), at, None, data);
    outbox::append(connection, &[event]).await
}

/// The rules of [`model::validate`], then every entry's template: it must
/// exist and be approved or active.
async fn check_campaign(
    connection: &mut AnyConnection,
    campaign: &Campaign,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut problems = validate::validate(campaign);
    for (index, entry) in campaign.templates.iter().enumerate() {
        let field = format!("templates[{index}].template");
        let row = sqlx::query(&format!(
            "SELECT {} FROM templates WHERE id = $1",
            templates::COLUMNS
        ))
        .bind(&entry.template)
        .fetch_optional(&mut *connection)
        .await
        .map_err(StoreError::from)?;
        let Some(row) = row else {
            problems.push((field, format!("template {} does not exist", entry.template)));
            continue;
        };
        let status = templates::record_from_row(&row)?.status_at(now);
        if !matches!(status, TemplateStatus::Approved | TemplateStatus::Active) {
            let why = format!(
                "template {} is {}: only approved or active templates can be offered",
                entry.template,
                status.as_str()
            );
            problems.push((field, why));
        }
    }
    match validate::into_problems(problems) {
        Some(problems) => Err(AppError::InvalidCampaign(problems)),
        None => Ok(()),
    }
}

impl App {
    /// Saves a new campaign as a draft.
    pub async fn create_campaign(
        &self,
        actor: &Actor,
        campaign: Campaign,
    ) -> AppResult<CampaignRecord> {
        let mut campaign = campaign;
        let id = campaign.id.clone().unwrap_or_else(|| ids::new_id("cmp"));
        campaign.id = Some(id.clone());
        let now = self.now();
        let actor = actor.clone();
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    check_campaign(connection, &campaign, now).await?;
                    let body = serde_json::to_string(&campaign)
                        .map_err(|e| StoreError::Other(e.to_string()))?;
                    sqlx::query(
                        "INSERT INTO campaigns (id, body, status, version, starts_at, ends_at, created_by, \
                         created_at, updated_at) VALUES ($1, $2, 'draft', 1, $3, $4, $5, $6, $6)",
                    )
                    .bind(&id)
                    .bind(body)
                    .bind(to_micros(campaign.starts_at))
                    .bind(to_micros(campaign.ends_at))
                    .bind(actor.as_str())
                    .bind(to_micros(now))
                    .execute(&mut *connection)
                    .await
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::Conflict { .. } => {
                            AppError::Conflict(format!("campaign {id} already exists"))
                        }
                        other => AppError::Store(other),
                    })?;
                    let record = lock(connection, &id).await?;
                    record_event(connection, &record, "created", &actor, now).await?;
                    Ok(record)
                })
            })
            .await
    }

    pub async fn campaign(&self, id: &str) -> AppResult<CampaignRecord> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| AppError::CampaignNotFound(id.to_owned()))?;
        Ok(record_from_row(&row)?)
    }

    /// Campaigns in id order after `after`.
    pub async fn campaigns(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<CampaignRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM campaigns WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.min(CAMPAIGN_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| record_from_row(row).map_err(AppError::from))
            .collect()
    }

    /// Replaces a campaign's fields (not its status). An ended campaign
    /// cannot change.
    pub async fn update_campaign(
        &self,
        actor: &Actor,
        id: &str,
        campaign: Campaign,
    ) -> AppResult<CampaignRecord> {
        let mut campaign = campaign;
        campaign.id = Some(id.to_owned());
        self.change_campaign(actor, id, CampaignAction::Change, Some(campaign))
            .await
    }

    /// draft → scheduled: the campaign runs once `starts_at` comes.
    pub async fn schedule_campaign(&self, actor: &Actor, id: &str) -> AppResult<CampaignRecord> {
        self.change_campaign(actor, id, CampaignAction::Schedule, None)
            .await
    }

    pub async fn pause_campaign(&self, actor: &Actor, id: &str) -> AppResult<CampaignRecord> {
        self.change_campaign(actor, id, CampaignAction::Pause, None)
            .await
    }

    pub async fn resume_campaign(&self, actor: &Actor, id: &str) -> AppResult<CampaignRecord> {
        self.change_campaign(actor, id, CampaignAction::Resume, None)
            .await
    }

    pub async fn end_campaign(&self, actor: &Actor, id: &str) -> AppResult<CampaignRecord> {
        self.change_campaign(actor, id, CampaignAction::End, None)
            .await
    }

    /// Lock → decide (pure) → check → save → event, in one unit.
    async fn change_campaign(
        &self,
        actor: &Actor,
        id: &str,
        action: CampaignAction,
        replacement: Option<Campaign>,
    ) -> AppResult<CampaignRecord> {
        let now = self.now();
        let id = id.to_owned();
        let actor = actor.clone();
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let mut record = lock(connection, &id).await?;
                    let current = record.status_at(now);
                    let status = model::next(current, action).ok_or(AppError::CampaignState {
                        id: id.clone(),
                        status: current.as_str(),
                        action: action.name(),
                    })?;
                    if let Some(campaign) = replacement {
                        record.campaign = campaign;
                    }
                    if matches!(
                        action,
                        CampaignAction::Schedule | CampaignAction::Resume | CampaignAction::Change
                    ) {
                        check_campaign(connection, &record.campaign, now).await?;
                    }
                    if action == CampaignAction::Schedule {
                        check_schedulable(&record.campaign, now)?;
                    }
                    record.status = status;
                    record.version += 1;
                    record.updated_at = now;
                    save(connection, &record).await?;
                    record_event(connection, &record, action.name(), &actor, now).await?;
                    Ok(record)
                })
            })
            .await
    }
}

/// A campaign is scheduled only with something to offer and time left.
fn check_schedulable(campaign: &Campaign, now: DateTime<Utc>) -> AppResult<()> {
    if campaign.templates.is_empty() {
        return Err(AppError::invalid(
            "templates",
            "a campaign needs at least one template to be scheduled",
        ));
    }
    if campaign.ends_at < now {
        return Err(AppError::invalid(
            "ends_at",
            "has passed: a campaign that is over cannot be scheduled",
        ));
    }
    Ok(())
}
