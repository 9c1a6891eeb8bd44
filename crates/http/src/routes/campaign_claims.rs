//! `POST /v1/campaigns/{id}/claims` (SPEC §6.2.1) and the claim centre,
//! `GET /v1/users/{user}/claim-centre`: what a user can claim where.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use couponflow_app::App;
use couponflow_app::campaigns::CampaignClaim;
use couponflow_app::claims::ClaimUser;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::CLAIM_CENTRE_READERS;
use super::campaign_views::{CentreCampaignView, ClaimCentreView};
use super::claims::{ClaimContext, ClaimUserBody, ClaimedCouponView};
use super::docs::{AuthProblems, BadRequestProblem};
use crate::auth::{Principal, require_role, require_user_access};
use crate::error::{ApiError, Problem, codes};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(claim_through_campaign))
        .routes(routes!(claim_centre))
}

/// A claim through a campaign.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignClaimBody {
    /// The id of one of the campaign's templates.
    pub template: String,
    pub user: ClaimUserBody,
    /// The client's id for this claim, 1 to 128 characters: a retry with the
    /// same id (same campaign, template and user) gets the first answer.
    pub request_id: String,
    #[serde(default)]
    pub context: ClaimContext,
}

fn claim_user(user: ClaimUserBody) -> ClaimUser {
    ClaimUser {
        id: user.id,
        tags: user.tags,
        region: user.region,
        new_user: user.new_user,
        inactive_days: user.inactive_days,
        channel: user.channel,
    }
}

/// Claims one of the campaign's templates for `user`.
///
/// The checks run in order, each refusing with its own code (409):
/// `USER_UNKNOWN`; `CAMPAIGN_NOT_RUNNING` (draft, paused or ended);
/// `CLAIM_NOT_STARTED` / `CLAIM_ENDED` (the campaign's window, then the
/// entry's); `NOT_IN_AUDIENCE`, `CHANNEL` (the campaign's); `NOT_IN_ROLLOUT`;
/// then the template's own checks and limits: `TEMPLATE_NOT_ACTIVE`,
/// `CLAIM_NOT_STARTED`, `CLAIM_ENDED`, `NOT_IN_AUDIENCE`, `CHANNEL`,
/// `PER_USER_LIMIT`, `PER_DAY_LIMIT`, `SOLD_OUT`, `BUDGET_EXHAUSTED`,
/// `NO_VALIDITY`, and `INSUFFICIENT_POINTS` for an entry that costs points.
/// A retry with the same `request_id` answers what the first did.
/// Roles: admin, operator, service; the user themself (user token, `user.id`
/// must be the token's user).
#[utoipa::path(post, path = "/v1/campaigns/{id}/claims", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id")),
    request_body = CampaignClaimBody,
    responses(
        (status = 201, description = "Claimed (or the replay of a claim that was)", body = ClaimedCouponView),
        (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The claim is refused; `code` says why (see above).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`TEMPLATE_NOT_IN_CAMPAIGN`; `VALIDATION_FAILED`: `request_id` or `user.id` too long or blank", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn claim_through_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(campaign_id): ApiPath<String>,
    ApiJson(body): ApiJson<CampaignClaimBody>,
) -> Result<impl IntoResponse, ApiError> {
    require_user_access(&principal, &body.user.id)?;
    let user_id = body.user.id.clone();
    let context = serde_json::to_value(&body.context)
        .map_err(|error| ApiError::internal(format!("claim context: {error}")))?;
    let claim = CampaignClaim {
        template: body.template,
        user: claim_user(body.user),
        request_id: body.request_id,
        context,
    };
    let coupon = app.claim_through_campaign(&campaign_id, claim).await?;
    if coupon.user_id != user_id {
        return Err(ApiError::from_code(
            codes::IDEMPOTENCY_CONFLICT,
            "this request_id was used for another user's claim",
        ));
    }
    let location = format!("/v1/coupons/{}", coupon.code);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(ClaimedCouponView::from(coupon)),
    ))
}

/// The user as the mall describes them, in the query string (the mall
/// owns user profiles).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClaimCentreQuery {
    /// The user's tags, comma-separated (audiences and tag rollouts); at most 64.
    pub tags: Option<String>,
    /// The user's region code.
    pub region: Option<String>,
    /// Whether the user is new; `false` when absent.
    pub new_user: Option<bool>,
    /// Days since the user last ordered.
    pub inactive_days: Option<u32>,
    /// The channel the user looks from (`app`, `mini_program`, `web`, …).
    pub channel: Option<String>,
}

/// Tags one query may list at most.
const QUERY_TAGS_MAX: usize = 64;

#[derive(Debug, Deserialize)]
struct CentrePath {
    user: String,
}

/// The running campaigns the user can see, each template with its stock
/// and what this user may still claim.
///
/// A campaign is shown when it is running and its audience, channel and
/// rollout admit the user. For each template: `remaining` stock (null when
/// unlimited), the user's `held` and `held_today` coupons, `may_claim` (the
/// least of what `per_user`, `per_user_per_day` and the stock leave; null
/// when nothing limits it) and `refusal`, the code a claim now would get.
/// Roles: the user themself (user token); admin, operator, reviewer, finance, service.
#[utoipa::path(get, path = "/v1/users/{user}/claim-centre", tag = "campaigns", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id"), ClaimCentreQuery),
    responses(
        (status = 200, description = "The claim centre", body = ClaimCentreView),
        (status = 422, description = "`VALIDATION_FAILED`: too many tags, or a user id too long", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn claim_centre(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<CentrePath>,
    ApiQuery(query): ApiQuery<ClaimCentreQuery>,
) -> Result<ApiJson<ClaimCentreView>, ApiError> {
    // Staff readers and the mall's backend see any user's centre; a user
    // only their own.
    match principal.role() {
        Some(_) => require_role(&principal, CLAIM_CENTRE_READERS)?,
        None => require_user_access(&principal, &path.user)?,
    }
    let tags: Vec<String> = query
        .tags
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_owned)
        .collect();
    if tags.len() > QUERY_TAGS_MAX {
        let why = format!("must list at most {QUERY_TAGS_MAX} tags");
        return Err(ApiError::validation(format!("tags {why}")).with_field_error("tags", why));
    }
    let user = ClaimUser {
        id: path.user.clone(),
        tags,
        region: query.region,
        new_user: query.new_user.unwrap_or(false),
        inactive_days: query.inactive_days,
        channel: query.channel,
    };
    let campaigns = app.claim_centre(&user).await?;
    Ok(ApiJson(ClaimCentreView {
        user_id: path.user,
        campaigns: campaigns
            .into_iter()
            .map(CentreCampaignView::from)
            .collect(),
    }))
}
