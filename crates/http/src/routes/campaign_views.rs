//! Campaigns as the API shows them: the campaign as `POST` and `PATCH`
//! take it, with the server's fields beside it; and the claim centre.

use chrono::{DateTime, Utc};
use couponflow_app::ClaimRefusal;
use couponflow_app::campaigns::{
    Campaign, CampaignRecord, CampaignStatus, CentreCampaign, CentreEntry, Share,
};
use couponflow_core::template::ClaimWindow;
use serde::Serialize;
use utoipa::ToSchema;

use super::docs::{campaign_status_schema, claim_refusal_schema};

/// A stored campaign.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CampaignView {
    /// The campaign itself, exactly as `PATCH` takes it back.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub campaign: Campaign,
    /// `running` for a scheduled campaign between `starts_at` and
    /// `ends_at`; `ended` past `ends_at`.
    #[schema(schema_with = campaign_status_schema)]
    pub status: CampaignStatus,
    /// Goes up by one with every change.
    pub version: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl CampaignView {
    pub fn at(record: &CampaignRecord, now: DateTime<Utc>) -> CampaignView {
        let mut campaign = record.campaign.clone();
        campaign.id = Some(record.id.clone());
        CampaignView {
            campaign,
            status: record.status_at(now),
            version: record.version,
            created_by: record.created_by.clone(),
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }
}

/// The claim centre of one user (活动领券).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClaimCentreView {
    pub user_id: String,
    /// The running campaigns this user can see, soonest started first.
    pub campaigns: Vec<CentreCampaignView>,
}

/// One running campaign in the claim centre.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CentreCampaignView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub image: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub share: Share,
    pub templates: Vec<CentreEntryView>,
}

/// One template of a campaign, for this user.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CentreEntryView {
    pub template_id: String,
    pub name: String,
    /// Points the coupon costs; absent when free.
    pub points: Option<i64>,
    /// The entry's own claim window inside the campaign's.
    #[schema(value_type = Option<Object>)]
    pub claim_window: Option<ClaimWindow>,
    /// Coupons left: `total - issued - generated`; null when unlimited.
    pub remaining: Option<i64>,
    /// The user's coupons of this template, ever and today.
    pub held: i64,
    pub held_today: i64,
    /// How many more this user may claim now under `per_user`,
    /// `per_user_per_day` and the stock; null when nothing limits it.
    pub may_claim: Option<i64>,
    #[schema(schema_with = claim_refusal_schema)]
    pub refusal: Option<&'static str>,
}

impl From<CentreEntry> for CentreEntryView {
    fn from(entry: CentreEntry) -> Self {
        CentreEntryView {
            template_id: entry.template_id,
            name: entry.name,
            points: entry.points,
            claim_window: entry.claim_window,
            remaining: entry.remaining,
            held: entry.held,
            held_today: entry.held_today,
            may_claim: entry.may_claim,
            refusal: entry.refusal.as_ref().map(ClaimRefusal::code),
        }
    }
}

impl From<CentreCampaign> for CentreCampaignView {
    fn from(centre: CentreCampaign) -> Self {
        let campaign = centre.campaign;
        CentreCampaignView {
            id: centre.id,
            name: campaign.name,
            description: campaign.description,
            image: campaign.image,
            starts_at: campaign.starts_at,
            ends_at: campaign.ends_at,
            share: campaign.share,
            templates: centre.entries.into_iter().map(Into::into).collect(),
        }
    }
}
