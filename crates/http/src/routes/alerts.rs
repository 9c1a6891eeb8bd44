//! `GET /v1/risk/alerts`: every `risk.alert` the platform raised (SPEC
//! §11.3, §11.5) — breakers on claims, redemptions and budget, and code
//! guessing — newest first.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::alerts::{ALERTS_PAGE_MAX, RiskAlert};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::STAFF_READERS;
use super::docs::{AuthProblems, BadRequestProblem};
use crate::auth::{Principal, require_role};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(risk_alerts))
}

/// `?template=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsQuery {
    /// Only this template's alerts.
    pub template: Option<String>,
    /// Items per page, 1 to 500; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct RiskAlertView {
    #[serde(skip)]
    pub seq: i64,
    /// The `risk.alert` event's id.
    pub id: String,
    pub at: DateTime<Utc>,
    /// `claims_per_minute`, `redemptions_per_minute`, `budget_used` or `code_guessing`.
    pub rule: String,
    /// `alert`, or `pause` when the breaker paused the template.
    pub level: String,
    pub template_id: Option<String>,
    /// Who tripped it, for code guessing (`ip:…`, `user:…`).
    pub subject: Option<String>,
    /// What was counted when it tripped (claims or redemptions in the
    /// minute, percent of the budget, failed look-ups).
    pub value: Option<i64>,
    /// The level it reached.
    pub threshold: Option<i64>,
    /// The event's data as emitted.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<RiskAlert> for RiskAlertView {
    fn from(alert: RiskAlert) -> Self {
        RiskAlertView {
            seq: alert.seq,
            id: alert.id,
            at: alert.at,
            rule: alert.rule,
            level: alert.level,
            template_id: alert.template_id,
            subject: alert.subject,
            value: alert.value,
            threshold: alert.threshold,
            data: alert.data,
        }
    }
}

/// The risk alerts, newest first. An alert appears once the outbox
/// dispatcher has sent its event (within a second or so).
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/risk/alerts", tag = "risk", security(("bearer" = [])),
    params(AlertsQuery),
    responses(
        (status = 200, description = "One page of alerts", body = Page<RiskAlertView>),
        AuthProblems, BadRequestProblem))]
async fn risk_alerts(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AlertsQuery>,
) -> Result<ApiJson<Page<RiskAlertView>>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?.min(ALERTS_PAGE_MAX - 1);
    let before = page.cursor::<i64>()?;
    let rows = app
        .risk_alerts(query.template.as_deref(), before, limit + 1)
        .await?;
    let views = rows.into_iter().map(RiskAlertView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| view.seq)))
}
