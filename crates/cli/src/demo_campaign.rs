//! The demo's campaign (SPEC §6.1): 双12 领券中心, running, with two free
//! templates and one that costs points, and a few claims through it.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use couponflow_app::App;
use couponflow_app::balances::Adjustment;
use couponflow_app::campaigns::{Campaign, CampaignClaim};
use couponflow_core::template::BalanceKind;

use super::{Author, Fate, Staff, all, claim_user, create_template, relative, spec, user_id};

pub const CAMPAIGN_ID: &str = "demo-campaign-1212";
const CASH_TEMPLATE_ID: &str = "demo-campaign-150-15";
const POINTS_TEMPLATE_ID: &str = "demo-campaign-points-30";
/// What the points entry costs.
const ENTRY_POINTS: i64 = 200;
/// Users who claim the free coupon through the campaign.
const FREE_CLAIMERS: usize = 8;

/// What the campaign step did, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoCampaign {
    pub id: String,
    pub name: String,
    pub status: String,
    pub templates: usize,
    pub claims: usize,
    pub points_claims: usize,
}

fn campaign_body(now: DateTime<Utc>) -> Value {
    let day = Duration::days(1);
    json!({
        "id": CAMPAIGN_ID, "name": "双12 领券中心",
        "description": "活动规则：活动期间每人每券限领一张；积分兑换券消耗200积分，兑换后不退积分。",
        "image": "https://cdn.couponflow.dev/demo/1212-banner.png",
        "starts_at": now - day, "ends_at": now + day * 10,
        "share": {"title": "双12 领券中心", "image": "https://cdn.couponflow.dev/demo/1212-share.png",
                  "text": "满150减15, 积分换30元券, 快来领!"},
        "channels": ["app", "mini_program", "web"],
        "templates": [
            {"template": CASH_TEMPLATE_ID},
            {"template": "demo-tiered", "claim_window": {"from": now - day, "until": now + day * 7}},
            {"template": POINTS_TEMPLATE_ID, "points": ENTRY_POINTS}
        ]
    })
}

/// Creates the campaign's templates and the campaign, schedules it (it is
/// running at once), and claims through it.
pub async fn load(app: &App, staff: &Staff) -> anyhow::Result<DemoCampaign> {
    let now = app.now();
    let templates = [
        json!({"id": CASH_TEMPLATE_ID, "name": "双12 满150减15",
               "description": "双12 领券中心专享, 全场通用",
               "benefit": {"kind": "threshold", "tiers": [{"min_amount": 15000, "off": 1500}]},
               "scope": all(), "validity": relative(15),
               "limits": {"total": 5000, "per_user": 1}}),
        json!({"id": POINTS_TEMPLATE_ID, "name": "积分兑换 30元无门槛券",
               "description": "200积分兑换, 实付至少1元",
               "benefit": {"kind": "cash", "amount": 3000, "min_payable": 100},
               "scope": all(), "validity": relative(30),
               "limits": {"total": 500, "per_user": 1}}),
    ];
    for body in templates {
        create_template(app, staff, spec(Author::Operator, Fate::Approved, body)).await?;
    }
    let campaign: Campaign =
        serde_json::from_value(campaign_body(now)).context("the demo campaign does not parse")?;
    let record = app
        .create_campaign(&staff.operator, campaign)
        .await
        .context("creating the demo campaign")?;
    app.schedule_campaign(&staff.operator, &record.id)
        .await
        .context("scheduling the demo campaign")?;
    let mut claims = 0;
    for index in 0..FREE_CLAIMERS {
        claim(app, index, CASH_TEMPLATE_ID).await?;
        claims += 1;
    }
    let mut points_claims = 0;
    for index in [1, 2] {
        let reward = Adjustment {
            amount: 500,
            reason: "双12 签到积分奖励".into(),
            idempotency_key: format!("demo-1212-points-{}", user_id(index)),
        };
        app.adjust_balance(&staff.finance, &user_id(index), BalanceKind::Points, reward)
            .await
            .context("crediting demo points")?;
        claim(app, index, POINTS_TEMPLATE_ID).await?;
        points_claims += 1;
    }
    let record = app.campaign(&record.id).await?;
    Ok(DemoCampaign {
        id: record.id.clone(),
        name: record.campaign.name.clone(),
        status: record.status_at(now).as_str().to_owned(),
        templates: record.campaign.templates.len(),
        claims: claims + points_claims,
        points_claims,
    })
}

async fn claim(app: &App, index: usize, template: &str) -> anyhow::Result<()> {
    let user = claim_user(index);
    let request = CampaignClaim {
        template: template.to_owned(),
        request_id: format!("demo-1212-{}-{template}", user.id),
        user,
        context: Value::Null,
    };
    app.claim_through_campaign(CAMPAIGN_ID, request)
        .await
        .with_context(|| {
            format!(
                "{} claiming {template} through {CAMPAIGN_ID}",
                user_id(index)
            )
        })?;
    Ok(())
}
