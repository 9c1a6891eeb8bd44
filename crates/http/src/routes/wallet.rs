//! `/v1/users/{user}/coupons`: a user's wallet, and hiding a spent coupon
//! from it (SPEC §5.2 `deleted`). A user reaches only their own wallet.

use std::sync::Arc;

use axum::extract::State;
use couponflow_app::App;
use couponflow_core::coupon::CouponState;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::actor;
use super::coupon_views::CouponView;
use super::docs::{AuthProblems, BadRequestProblem, coupon_state_schema};
use crate::auth::{Principal, require_user_access};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::Page;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(wallet))
        .routes(routes!(hide_coupon))
}

/// `?state=` of the wallet.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WalletQuery {
    /// Only coupons in this state (`available` = 待使用, `redeemed` = 已使用, `expired` = 已过期).
    #[param(schema_with = coupon_state_schema)]
    pub state: Option<CouponState>,
}

#[derive(Debug, Deserialize)]
struct WalletPath {
    user: String,
}

#[derive(Debug, Deserialize)]
struct WalletCouponPath {
    user: String,
    code: String,
}

/// A user's coupons: usable first, soonest to expire first; hidden ones left out.
///
/// One page of at most 500 coupons. Roles: the user themself (user token); admin, operator, service.
#[utoipa::path(get, path = "/v1/users/{user}/coupons", tag = "wallet", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id"), WalletQuery),
    responses(
        (status = 200, description = "The wallet", body = Page<CouponView>),
        AuthProblems, BadRequestProblem))]
async fn wallet(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<WalletPath>,
    ApiQuery(query): ApiQuery<WalletQuery>,
) -> Result<ApiJson<Page<CouponView>>, ApiError> {
    require_user_access(&principal, &path.user)?;
    let coupons = app.wallet(&path.user, query.state).await?;
    Ok(ApiJson(Page {
        items: coupons.into_iter().map(CouponView::from).collect(),
        next_cursor: None,
    }))
}

/// Hides a redeemed, expired or voided coupon from the wallet (`deleted`).
///
/// Roles: the user themself (user token); admin, operator, service.
#[utoipa::path(delete, path = "/v1/users/{user}/coupons/{code}", tag = "wallet", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id"), ("code" = String, Path, description = "The coupon's code")),
    responses(
        (status = 200, description = "Hidden; the coupon is now `deleted`", body = CouponView),
        (status = 404, description = "`COUPON_NOT_FOUND`: no such coupon in this wallet", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`COUPON_STATE`: still usable, or locked by an order", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn hide_coupon(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<WalletCouponPath>,
) -> Result<ApiJson<CouponView>, ApiError> {
    require_user_access(&principal, &path.user)?;
    let coupon = app
        .hide_coupon(&actor(&principal), &path.user, &path.code)
        .await?;
    Ok(ApiJson(coupon.into()))
}
