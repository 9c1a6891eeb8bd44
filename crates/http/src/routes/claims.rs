//! `POST /v1/templates/{id}/claims`: a user claims a coupon straight from a
//! template (SPEC §6.2.1). Each refusal is a 409 with its own `code`; a
//! retried `request_id` gets the first answer, coupon or refusal.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::claims::{ClaimRequest, ClaimUser, ClaimedCoupon};
use couponflow_core::coupon::CouponState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem, coupon_state_schema};
use crate::auth::{Principal, require_user_access};
use crate::error::{ApiError, Problem, codes};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(claim))
}

/// The claiming user as the mall describes them (SPEC §4.4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimUserBody {
    /// At most 128 characters.
    pub id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Region code; an audience's region matches it by prefix.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub new_user: bool,
    /// Days since the user last ordered, for recall audiences.
    #[serde(default)]
    pub inactive_days: Option<u32>,
    /// Where the claim is made (`app`, `mini_program`, `web`, …).
    #[serde(default)]
    pub channel: Option<String>,
}

/// What the risk rules look at (SPEC §11.4); every field optional.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
}

/// A claim (SPEC §13).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    pub user: ClaimUserBody,
    /// The client's id for this claim, 1 to 128 characters: a retry with the
    /// same id gets the first answer instead of a second coupon.
    pub request_id: String,
    #[serde(default)]
    pub context: ClaimContext,
}

/// The coupon a claim put in the user's wallet.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClaimedCouponView {
    pub code: String,
    pub template_id: String,
    pub user_id: String,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    #[schema(schema_with = coupon_state_schema)]
    pub state: CouponState,
}

impl From<ClaimedCoupon> for ClaimedCouponView {
    fn from(coupon: ClaimedCoupon) -> Self {
        ClaimedCouponView {
            code: coupon.code,
            template_id: coupon.template_id,
            user_id: coupon.user_id,
            valid_from: coupon.valid_from,
            valid_until: coupon.valid_until,
            state: coupon.state,
        }
    }
}

impl From<ClaimUserBody> for ClaimUser {
    fn from(user: ClaimUserBody) -> Self {
        ClaimUser {
            id: user.id,
            tags: user.tags,
            region: user.region,
            new_user: user.new_user,
            inactive_days: user.inactive_days,
            channel: user.channel,
        }
    }
}

impl ClaimBody {
    fn into_request(self) -> Result<ClaimRequest, ApiError> {
        let context = serde_json::to_value(&self.context)
            .map_err(|error| ApiError::internal(format!("claim context: {error}")))?;
        Ok(ClaimRequest {
            user: self.user.into(),
            request_id: self.request_id,
            context,
        })
    }
}

/// Claims a coupon of the template for `user`.
///
/// The checks run in order, each refusing with its own code (409):
/// `USER_UNKNOWN`, `TEMPLATE_NOT_ACTIVE`, `CLAIM_NOT_STARTED`, `CLAIM_ENDED`,
/// `NOT_IN_AUDIENCE`, `CHANNEL`, `PER_USER_LIMIT`, `PER_DAY_LIMIT`, `SOLD_OUT`,
/// `BUDGET_EXHAUSTED`, `NO_VALIDITY`. A retry with the same `request_id`
/// answers what the first did (201 with the same coupon, or the same refusal).
/// Request ids are the user's: another user's claim with the same id is a
/// claim of its own.
/// Roles: admin, operator, service; the user themself (user token, `user.id`
/// must be the token's user).
#[utoipa::path(post, path = "/v1/templates/{id}/claims", tag = "claims", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    request_body = ClaimBody,
    responses(
        (status = 201, description = "Claimed (or the replay of a claim that was)", body = ClaimedCouponView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The claim is refused; `code` says why (see above).", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: `request_id` or `user.id` too long or blank", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn claim(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(template_id): ApiPath<String>,
    ApiJson(body): ApiJson<ClaimBody>,
) -> Result<impl IntoResponse, ApiError> {
    require_user_access(&principal, &body.user.id)?;
    let user_id = body.user.id.clone();
    let coupon = app.claim(&template_id, body.into_request()?).await?;
    // A replay answers the first claim's coupon; a request id reused for
    // someone else must not hand over that user's code.
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
