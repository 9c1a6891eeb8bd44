//! `POST /v1/codes/{code}/exchange`: a user types a redemption code (兑换码,
//! SPEC §6.2.4) and the unbound coupon becomes theirs; failed attempts are
//! counted per user and IP address (`GET /v1/code-failures/{subject}`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::exchange::CodeFailures;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::STAFF_READERS;
use super::claims::{ClaimContext, ClaimUserBody, ClaimedCouponView};
use super::docs::{AuthProblems, BadRequestProblem};
use crate::auth::{Principal, require_role, require_user_access};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(exchange))
        .routes(routes!(code_failures))
}

/// Who exchanges the code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeBody {
    pub user: ClaimUserBody,
    /// `ip` is counted with the user when the attempt fails.
    #[serde(default)]
    pub context: ClaimContext,
}

/// The failed code attempts of one subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeFailuresView {
    /// `user:<id>` or `ip:<address>`.
    pub subject: String,
    /// Failures on the current local day.
    pub today: i64,
    pub total: i64,
    pub last_at: Option<DateTime<Utc>>,
}

impl From<CodeFailures> for CodeFailuresView {
    fn from(failures: CodeFailures) -> Self {
        CodeFailuresView {
            subject: failures.subject,
            today: failures.today,
            total: failures.total,
            last_at: failures.last_at,
        }
    }
}

/// Binds an unbound redemption code to the user, within the template's
/// limits (`PER_USER_LIMIT`, `PER_DAY_LIMIT`, `BUDGET_EXHAUSTED`) and its
/// status, window, audience and channel as for a claim. The same user
/// exchanging the same code again gets the same coupon (201). Spaces,
/// hyphens and look-alike letters in what was typed are forgiven.
///
/// Roles: admin, operator, service; the user themself (user token).
#[utoipa::path(post, path = "/v1/codes/{code}/exchange", tag = "claims", security(("bearer" = [])),
    params(("code" = String, Path, description = "The code as typed")),
    request_body = ExchangeBody,
    responses(
        (status = 201, description = "The coupon is the user's", body = ClaimedCouponView),
        (status = 404, description = "`CODE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`CODE_ALREADY_USED`, or a claim refusal code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`CODE_MALFORMED`: the check character does not match (a typo); `VALIDATION_FAILED`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn exchange(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(code): ApiPath<String>,
    ApiJson(body): ApiJson<ExchangeBody>,
) -> Result<impl IntoResponse, ApiError> {
    require_user_access(&principal, &body.user.id)?;
    let ip = body.context.ip.clone();
    let coupon = app
        .exchange_code(&code, body.user.into(), ip.as_deref())
        .await?;
    let location = format!("/v1/coupons/{}", coupon.code);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(ClaimedCouponView::from(coupon)),
    ))
}

/// The failed redemption-code attempts counted for a subject.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/code-failures/{subject}", tag = "claims", security(("bearer" = [])),
    params(("subject" = String, Path, description = "`user:<id>` or `ip:<address>`")),
    responses(
        (status = 200, description = "The counts (zero when none)", body = CodeFailuresView),
        AuthProblems))]
async fn code_failures(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(subject): ApiPath<String>,
) -> Result<ApiJson<CodeFailuresView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    Ok(ApiJson(app.code_failures(&subject).await?.into()))
}
