//! `/v1/stats/…`: the figures of SPEC §10 per template, campaign and
//! issuer, over a time range, with a daily or hourly series; the series
//! also as CSV.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::stats::{Counts, Granularity, Report, Scope};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::STAFF_READERS;
use super::docs::{AuthProblems, BadRequestProblem};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(template_stats))
        .routes(routes!(template_series_csv))
        .routes(routes!(campaign_stats))
        .routes(routes!(issuer_stats))
}

/// `?from=&until=&granularity=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start of the range (RFC 3339), inclusive; the beginning when absent.
    pub from: Option<DateTime<Utc>>,
    /// End of the range (RFC 3339), exclusive; open when absent.
    pub until: Option<DateTime<Utc>>,
    /// `day` (calendar days in the deployment's time zone, the default) or `hour`.
    pub granularity: Option<String>,
}

impl RangeQuery {
    fn granularity(&self) -> Result<Granularity, ApiError> {
        match self.granularity.as_deref() {
            None | Some("day") => Ok(Granularity::Day),
            Some("hour") => Ok(Granularity::Hour),
            Some(_) => Err(ApiError::validation("granularity must be `day` or `hour`")
                .with_field_error("granularity", "must be `day` or `hour`")),
        }
    }
}

/// Counts over a range or a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsView {
    /// Unbound codes made.
    pub generated: i64,
    /// Claimed by users (领取), campaigns, exchanges and codes included.
    pub claimed: i64,
    /// Granted by staff or by rules (发放).
    pub granted: i64,
    /// Claimers flagged new (拉新数).
    pub new_users: i64,
    /// Redeemed (核销), at checkout or at the counter.
    pub used: i64,
    /// Given back by refunds.
    pub returned: i64,
    pub expired: i64,
    pub voided: i64,
    /// 优惠总金额, minor units, net of refunds.
    pub discount: i64,
    /// 用券总成交额: order amounts before coupons, minor units.
    pub sales: i64,
    /// 用券订单量.
    pub orders: i64,
}

impl From<Counts> for CountsView {
    fn from(c: Counts) -> Self {
        CountsView {
            generated: c.generated,
            claimed: c.claimed,
            granted: c.granted,
            new_users: c.new_users,
            used: c.used,
            returned: c.returned,
            expired: c.expired,
            voided: c.voided,
            discount: c.discount,
            sales: c.sales,
            orders: c.orders,
        }
    }
}

/// The figures of SPEC §10.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresView {
    #[serde(flatten)]
    pub counts: CountsView,
    /// The templates' `limits.total` summed; null when one has none.
    pub offered: Option<i64>,
    /// 领取率 = (claimed + granted) / offered, to 4 decimals.
    pub claim_rate: Option<f64>,
    /// 使用率 = (used − returned) / (claimed + granted).
    pub use_rate: Option<f64>,
    /// 用券笔单价 = sales / orders, minor units, half up.
    pub average_order_value: Option<i64>,
    /// 费效比 = discount / sales.
    pub cost_ratio: Option<f64>,
}

/// One period of the series.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: CountsView,
}

/// A scope's figures and series.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// `day` or `hour`.
    pub granularity: String,
    /// The templates counted.
    pub templates: Vec<String>,
    pub figures: FiguresView,
    /// Periods with something in them, oldest first.
    pub series: Vec<PeriodView>,
}

impl From<Report> for StatsView {
    fn from(report: Report) -> Self {
        let f = report.figures;
        StatsView {
            from: report.from,
            until: report.until,
            granularity: match report.granularity {
                Granularity::Day => "day".into(),
                Granularity::Hour => "hour".into(),
            },
            templates: report.templates,
            figures: FiguresView {
                counts: f.counts.into(),
                offered: f.offered,
                claim_rate: f.claim_rate,
                use_rate: f.use_rate,
                average_order_value: f.average_order_value,
                cost_ratio: f.cost_ratio,
            },
            series: report
                .series
                .into_iter()
                .map(|p| PeriodView {
                    start: p.start,
                    counts: p.counts.into(),
                })
                .collect(),
        }
    }
}

async fn report(app: &App, scope: Scope, query: &RangeQuery) -> Result<Report, ApiError> {
    Ok(app
        .stats(scope, query.from, query.until, query.granularity()?)
        .await?)
}

/// A template's figures and series. Figures trail the coupons' changes by
/// the outbox dispatcher's poll interval.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/templates/{id}", tag = "statistics", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id"), RangeQuery),
    responses(
        (status = 200, description = "Figures and series", body = StatsView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: `from` not before `until`, a bad granularity", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn template_stats(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<ApiJson<StatsView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    Ok(ApiJson(
        report(&app, Scope::Template(id), &query).await?.into(),
    ))
}

/// A template's series as CSV: `period_start,generated,claimed,granted,new_users,used,returned,expired,voided,discount,sales,orders`.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/templates/{id}/series.csv", tag = "statistics", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id"), RangeQuery),
    responses(
        (status = 200, description = "One row per period after a header row", body = String, content_type = "text/csv"),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn template_series_csv(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let report = report(&app, Scope::Template(id.clone()), &query).await?;
    let mut csv = String::from(
        "period_start,generated,claimed,granted,new_users,used,returned,expired,voided,discount,sales,orders\n",
    );
    for p in &report.series {
        let c = &p.counts;
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            p.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            c.generated,
            c.claimed,
            c.granted,
            c.new_users,
            c.used,
            c.returned,
            c.expired,
            c.voided,
            c.discount,
            c.sales,
            c.orders
        );
    }
    let disposition = format!("attachment; filename=\"stats-{id}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    ))
}

/// A campaign's figures and series: the coupons claimed through it.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/campaigns/{id}", tag = "statistics", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id"), RangeQuery),
    responses(
        (status = 200, description = "Figures and series", body = StatsView),
        (status = 422, description = "`VALIDATION_FAILED`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn campaign_stats(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<ApiJson<StatsView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    Ok(ApiJson(
        report(&app, Scope::Campaign(id), &query).await?.into(),
    ))
}

/// An issuer's figures and series: `platform`, or a shop id (the templates
/// it issues or shares the cost of).
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/issuers/{issuer}", tag = "statistics", security(("bearer" = [])),
    params(("issuer" = String, Path, description = "`platform` or a shop id"), RangeQuery),
    responses(
        (status = 200, description = "Figures and series", body = StatsView),
        (status = 422, description = "`VALIDATION_FAILED`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn issuer_stats(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(issuer): ApiPath<String>,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<ApiJson<StatsView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    Ok(ApiJson(
        report(&app, Scope::Issuer(issuer), &query).await?.into(),
    ))
}
