//! `/v1/coupons/{code}`: one coupon with its history; void by staff (SPEC §5.2).

use std::sync::Arc;

use axum::extract::State;
use couponflow_app::App;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::body::OptionalJson;
use super::coupon_views::{CouponView, CouponWithHistory};
use super::docs::{AuthProblems, BadRequestProblem};
use super::{COUPON_VOIDERS, STAFF_READERS, actor, check_reason};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(get_coupon))
        .routes(routes!(void_coupon))
}

/// Why a coupon is voided; the body may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    /// Kept in the coupon's history. At most 1000 characters.
    pub reason: Option<String>,
}

/// Reads one coupon with its history.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/coupons/{code}", tag = "coupons", security(("bearer" = [])),
    params(("code" = String, Path, description = "The coupon's code")),
    responses(
        (status = 200, description = "The coupon and its history", body = CouponWithHistory),
        (status = 404, description = "`COUPON_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_coupon(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(code): ApiPath<String>,
) -> Result<ApiJson<CouponWithHistory>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let coupon = app.coupon(&code).await?;
    let history = app.coupon_history(&code).await?;
    Ok(ApiJson(CouponWithHistory {
        coupon: coupon.into(),
        history: history.into_iter().map(Into::into).collect(),
    }))
}

/// Voids a coupon: it can no longer be used. Any state but `deleted`.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/coupons/{code}/void", tag = "coupons", security(("bearer" = [])),
    params(("code" = String, Path, description = "The coupon's code")),
    request_body(content = Option<VoidRequest>, description = "Optional: why"),
    responses(
        (status = 200, description = "Voided", body = CouponView),
        (status = 404, description = "`COUPON_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`COUPON_STATE`: already voided or deleted", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: the reason is too long", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn void_coupon(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(code): ApiPath<String>,
    OptionalJson(body): OptionalJson<VoidRequest>,
) -> Result<ApiJson<CouponView>, ApiError> {
    require_role(&principal, COUPON_VOIDERS)?;
    let reason = body.unwrap_or_default().reason;
    check_reason(reason.as_deref())?;
    let coupon = app.void_coupon(&actor(&principal), &code, reason).await?;
    Ok(ApiJson(coupon.into()))
}
