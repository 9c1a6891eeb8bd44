//! `/v1/verifications`: counter verification (线下核销, SPEC §9). Staff,
//! merchants and partners type or scan a code, see what it is and whether it
//! can be used here, and confirm to spend it. What a key may verify is its
//! scope: platform staff everything, a merchant what its shops may accept,
//! a partner the templates shared with it.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::verify::{VerificationPreview, VerifierScope};
use couponflow_core::coupon::CouponState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem, coupon_state_schema};
use super::{VERIFIERS, actor};
use crate::auth::{Principal, Role, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(preview_verification))
        .routes(routes!(confirm_verification))
}

/// A code typed or scanned at a counter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// As typed: case and `-` or spaces between groups do not matter.
    pub code: String,
    /// The store where it is shown, 1 to 128 characters.
    pub store: String,
}

/// The spend at a counter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The store where it is spent, 1 to 128 characters.
    pub store: String,
    /// The staff member who took it, 1 to 128 characters.
    pub staff: String,
}

/// What the coupon is and whether it can be used here.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct VerificationView {
    pub code: String,
    pub template_id: String,
    pub template_name: String,
    pub description: String,
    /// The benefit's kind (`gift`, `trial`, `cash`, …).
    pub benefit_kind: String,
    /// What the holder gets, for `gift` and `trial`.
    pub item: Option<String>,
    #[schema(schema_with = coupon_state_schema)]
    pub state: CouponState,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub usable: bool,
    /// Why not, when not usable: `NOT_AVAILABLE`, `NOT_STARTED`, `EXPIRED` or `CHANNEL`.
    pub reason: Option<String>,
    /// Set once verified: where and by whom.
    pub store_id: Option<String>,
    pub staff_id: Option<String>,
}

impl From<VerificationPreview> for VerificationView {
    fn from(preview: VerificationPreview) -> Self {
        VerificationView {
            code: preview.code,
            template_id: preview.template_id,
            template_name: preview.template_name,
            description: preview.description,
            benefit_kind: preview.benefit_kind,
            item: preview.item,
            state: preview.state,
            valid_from: preview.valid_from,
            valid_until: preview.valid_until,
            usable: preview.usable,
            reason: preview.reason,
            store_id: preview.store_id,
            staff_id: preview.staff_id,
        }
    }
}

/// What the caller may verify: refuses every role but the verifiers.
fn verifier_scope(principal: &Principal) -> Result<VerifierScope, ApiError> {
    require_role(principal, VERIFIERS)?;
    match principal {
        Principal::Staff {
            role: Role::Merchant,
            shops,
            ..
        } => Ok(VerifierScope::Merchant {
            shops: shops.clone(),
        }),
        Principal::Staff {
            role: Role::Partner,
            templates,
            ..
        } => Ok(VerifierScope::Partner {
            templates: templates.clone(),
        }),
        Principal::Staff { .. } => Ok(VerifierScope::Staff),
        Principal::User { .. } => Err(ApiError::forbidden("users cannot verify coupons")),
    }
}

/// Shows what a coupon is and whether it can be used at this counter.
///
/// Changes nothing. Roles: admin, operator; merchant, for coupons its shops
/// may accept (the issuing shop, a scope naming the shop, or platform
/// coupons allowed at its stores); partner, for the templates shared with
/// its key.
#[utoipa::path(post, path = "/v1/verifications", tag = "verifications", security(("bearer" = [])),
    request_body = PreviewBody,
    responses(
        (status = 200, description = "The coupon; `usable` says whether it can be spent here", body = VerificationView),
        (status = 404, description = "`COUPON_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: a mistyped code (its check character is wrong), or a missing store", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn preview_verification(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<ApiJson<VerificationView>, ApiError> {
    let scope = verifier_scope(&principal)?;
    let preview = app
        .preview_verification(&scope, &body.code, &body.store)
        .await?;
    Ok(ApiJson(preview.into()))
}

/// Spends a coupon at a counter.
///
/// `available → redeemed`, with the store and the staff member recorded.
/// Roles: admin, operator; merchant, for coupons its shops may accept;
/// partner, for the templates shared with its key.
#[utoipa::path(post, path = "/v1/verifications/{code}/confirm", tag = "verifications", security(("bearer" = [])),
    params(("code" = String, Path, description = "The coupon's code, as typed")),
    request_body = ConfirmBody,
    responses(
        (status = 200, description = "Spent", body = VerificationView),
        (status = 404, description = "`COUPON_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`COUPON_STATE`: not usable now (spent, expired, not started…); `CONFLICT`: its channels exclude counters", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: a mistyped code, or a missing store or staff", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn confirm_verification(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<ApiJson<VerificationView>, ApiError> {
    let scope = verifier_scope(&principal)?;
    let spent = app
        .confirm_verification(&actor(&principal), &scope, &code, &body.store, &body.staff)
        .await?;
    Ok(ApiJson(spent.into()))
}
