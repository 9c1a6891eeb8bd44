//! A claim through a campaign (SPEC §6.2.1): the campaign's checks in
//! order (user, running, windows, audience and channel, rollout), then the
//! template's batcher through [`App::issue`], which checks the template and
//! every limit exactly and takes the entry's points.
//!
//! Retries. A request id is the user's own within a campaign and a
//! template. The batcher replays what it decided (the coupon, or its
//! refusal in `claim_requests`) under the issue key derived here; a
//! refusal decided by the campaign's checks is kept in
//! `campaign_claim_refusals`. A retry looks for the first answer of either
//! kind before it would answer anything new, so it gets the first answer
//! even when the campaign has since been paused, resumed or ended.

use std::fmt::Write;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use couponflow_core::coupon::CouponState;
use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use super::model;
use crate::claims::{CLAIM_ID_LENGTH_MAX, ClaimAnswer, ClaimUser, ClaimedCoupon, Issue, Source};
use crate::{App, AppError, AppResult, ClaimRefusal};

/// `POST /v1/campaigns/{id}/claims`.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignClaim {
    /// The template of the campaign to claim.
    pub template: String,
    pub user: ClaimUser,
    pub request_id: String,
    /// Risk context (device, ip, …), for the risk rules of a later step.
    pub context: Value,
}

/// The batcher's key for a campaign claim: scoped to the campaign, so the
/// same client id in another campaign (or a plain template claim) is a
/// claim of its own, and of a fixed length whatever the client sent.
fn issue_request_id(campaign_id: &str, request_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(campaign_id.as_bytes());
    hasher.update([0u8]);
    hasher.update(request_id.as_bytes());
    let mut key = String::from("campaign:");
    for byte in &hasher.finalize()[..16] {
        let _ = write!(key, "{byte:02x}");
    }
    key
}

fn answer_result(answer: ClaimAnswer) -> AppResult<ClaimedCoupon> {
    match answer {
        ClaimAnswer::Claimed(coupon) => Ok(coupon),
        ClaimAnswer::Refused { code, detail } => Err(AppError::Claim { code, detail }),
    }
}

fn check_ids(claim: &CampaignClaim) -> AppResult<()> {
    let request = &claim.request_id;
    if request.trim().is_empty() || request.len() > CLAIM_ID_LENGTH_MAX {
        return Err(AppError::invalid(
            "request_id",
            "must be 1 to 128 characters",
        ));
    }
    if claim.user.id.len() > CLAIM_ID_LENGTH_MAX {
        return Err(AppError::invalid(
            "user.id",
            "must be at most 128 characters",
        ));
    }
    Ok(())
}

impl App {
    /// Claims the campaign's `claim.template` for the user.
    pub async fn claim_through_campaign(
        &self,
        campaign_id: &str,
        claim: CampaignClaim,
    ) -> AppResult<ClaimedCoupon> {
        check_ids(&claim)?;
        let record = self.campaign(campaign_id).await?;
        let entry = record
            .campaign
            .entry(&claim.template)
            .cloned()
            .ok_or_else(|| AppError::TemplateNotInCampaign {
                campaign_id: campaign_id.to_owned(),
                template_id: claim.template.clone(),
            })?;
        let points = entry.points.unwrap_or(0);
        let issue = Issue {
            user: claim.user.clone(),
            request_id: issue_request_id(campaign_id, &claim.request_id),
            source: if points > 0 {
                Source::Exchange
            } else {
                Source::Claim
            },
            campaign_id: Some(campaign_id.to_owned()),
            points,
            context: crate::claims::RiskContext::from_value(&claim.context),
        };
        if let Some(first) = self.campaign_refusal(campaign_id, &claim).await? {
            return answer_result(first);
        }
        let now = self.now();
        let admitted = model::admit(
            campaign_id,
            record.status,
            &record.campaign,
            &entry,
            &claim.user,
            now,
        );
        let (code, detail) = match admitted {
            Ok(()) => return self.issue(&claim.template, issue).await,
            Err(refusal) => refusal,
        };
        if code == ClaimRefusal::UserUnknown {
            return Err(AppError::Claim { code, detail });
        }
        if let Some(first) = self.issued_answer(&claim.template, &issue).await? {
            return answer_result(first);
        }
        let answer = ClaimAnswer::Refused { code, detail };
        self.keep_campaign_refusal(campaign_id, &claim, &answer)
            .await?;
        answer_result(answer)
    }

    /// The refusal the campaign's checks gave this request first, if any.
    async fn campaign_refusal(
        &self,
        campaign_id: &str,
        claim: &CampaignClaim,
    ) -> AppResult<Option<ClaimAnswer>> {
        let row = sqlx::query(
            "SELECT answer FROM campaign_claim_refusals \
             WHERE campaign_id = $1 AND template_id = $2 AND user_id = $3 AND request_id = $4",
        )
        .bind(campaign_id)
        .bind(&claim.template)
        .bind(&claim.user.id)
        .bind(&claim.request_id)
        .fetch_optional(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        row.map(|row| parse_answer(&row, "campaign_claim_refusals"))
            .transpose()
    }

    /// What the template's batcher answered this request before: its
    /// coupon, or its stored refusal.
    async fn issued_answer(
        &self,
        template_id: &str,
        issue: &Issue,
    ) -> AppResult<Option<ClaimAnswer>> {
        let reader = self.store.reader();
        let coupon = sqlx::query(
            "SELECT code, valid_from, valid_until FROM coupons \
             WHERE user_id = $1 AND template_id = $2 AND request_id = $3 AND source = $4",
        )
        .bind(&issue.user.id)
        .bind(template_id)
        .bind(&issue.request_id)
        .bind(issue.source.as_str())
        .fetch_optional(reader)
        .await
        .map_err(StoreError::from)?;
        if let Some(row) = coupon {
            let time = |name: &str| -> AppResult<_> {
                let micros: Option<i64> = row.try_get(name).map_err(StoreError::from)?;
                Ok(from_micros(micros.unwrap_or_default())?)
            };
            return Ok(Some(ClaimAnswer::Claimed(ClaimedCoupon {
                code: row.try_get("code").map_err(StoreError::from)?,
                template_id: template_id.to_owned(),
                user_id: issue.user.id.clone(),
                valid_from: time("valid_from")?,
                valid_until: time("valid_until")?,
                state: CouponState::Available,
            })));
        }
        let refusal = sqlx::query(
            "SELECT answer FROM claim_requests WHERE template_id = $1 AND request_id = $2 AND user_id = $3",
        )
        .bind(template_id)
        .bind(issue.refusal_key())
        .bind(&issue.user.id)
        .fetch_optional(reader)
        .await
        .map_err(StoreError::from)?;
        refusal
            .map(|row| parse_answer(&row, "claim_requests"))
            .transpose()
    }

    async fn keep_campaign_refusal(
        &self,
        campaign_id: &str,
        claim: &CampaignClaim,
        answer: &ClaimAnswer,
    ) -> AppResult<()> {
        let text = serde_json::to_string(answer).map_err(|e| StoreError::Other(e.to_string()))?;
        let keys = (
            campaign_id.to_owned(),
            claim.template.clone(),
            claim.user.id.clone(),
            claim.request_id.clone(),
        );
        let now = to_micros(self.now());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let (campaign, template, user, request) = keys;
                    sqlx::query(
                        "INSERT INTO campaign_claim_refusals \
                         (campaign_id, template_id, user_id, request_id, answer, at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    )
                    .bind(campaign)
                    .bind(template)
                    .bind(user)
                    .bind(request)
                    .bind(text)
                    .bind(now)
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok(())
                })
            })
            .await
    }
}

fn parse_answer(row: &sqlx::any::AnyRow, table: &'static str) -> AppResult<ClaimAnswer> {
    let text: String = row.try_get("answer").map_err(StoreError::from)?;
    serde_json::from_str(&text).map_err(|e| {
        AppError::Store(StoreError::Corrupt {
            table,
            reason: e.to_string(),
        })
    })
}
