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
use couponflow_app::stats::{
    ClaimRecord, Counts, Granularity, RECORDS_PAGE_MAX, Report, Scope, UseRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::STAFF_READERS;
use super::docs::{AuthProblems, BadRequestProblem};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(template_stats))
        .routes(routes!(template_series_csv))
        .routes(routes!(campaign_stats))
        .routes(routes!(issuer_stats))
        .routes(routes!(overview_stats))
        .routes(routes!(claim_records))
        .routes(routes!(claim_records_csv))
        .routes(routes!(use_records))
        .routes(routes!(use_records_csv))
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
        let _ = write!(
            csv,
            "{}",
            p.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        for count in p.counts.in_column_order() {
            let _ = write!(csv, ",{count}");
        }
        csv.push('\n');
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

/// The whole deployment's figures and series: every template, for the
/// console's dashboard.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/overview", tag = "statistics", security(("bearer" = [])),
    params(RangeQuery),
    responses(
        (status = 200, description = "Figures and series", body = StatsView),
        (status = 422, description = "`VALIDATION_FAILED`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn overview_stats(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<RangeQuery>,
) -> Result<ApiJson<StatsView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    Ok(ApiJson(report(&app, Scope::All, &query).await?.into()))
}

/// `?from=&until=&limit=&cursor=` of a list of records.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecordsQuery {
    /// Start (RFC 3339), inclusive.
    pub from: Option<DateTime<Utc>>,
    /// End (RFC 3339), exclusive.
    pub until: Option<DateTime<Utc>>,
    /// Items per page, 1 to 500; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A claim behind the figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimRecordView {
    pub code: String,
    pub user_id: Option<String>,
    /// The phone the claim's context carried, masked (138****5678).
    pub phone_masked: Option<String>,
    /// `claim`, `grant`, `rule` or `exchange`.
    pub source: String,
    pub campaign_id: Option<String>,
    pub claimed_at: DateTime<Utc>,
    /// The coupon's state now.
    pub state: String,
}

impl From<ClaimRecord> for ClaimRecordView {
    fn from(r: ClaimRecord) -> Self {
        ClaimRecordView {
            code: r.code,
            user_id: r.user_id,
            phone_masked: r.phone_masked,
            source: r.source,
            campaign_id: r.campaign_id,
            claimed_at: r.claimed_at,
            state: r.state,
        }
    }
}

/// A use behind the figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct UseRecordView {
    pub code: String,
    pub user_id: Option<String>,
    pub order_id: Option<String>,
    /// Counter verification: the store.
    pub store_id: Option<String>,
    pub used_at: DateTime<Utc>,
    /// The order's amount before coupons, minor units.
    pub order_amount: Option<i64>,
    /// What the coupon took off, minor units.
    pub discount: Option<i64>,
    /// `sku×quantity` per order line.
    pub items: Vec<String>,
}

impl From<UseRecord> for UseRecordView {
    fn from(r: UseRecord) -> Self {
        UseRecordView {
            code: r.code,
            user_id: r.user_id,
            order_id: r.order_id,
            store_id: r.store_id,
            used_at: r.used_at,
            order_amount: r.order_amount,
            discount: r.discount,
            items: r.items,
        }
    }
}

fn page_of(query: &RecordsQuery) -> Result<(u32, Option<String>), ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    };
    Ok((page.limit()?, page.cursor::<String>()?))
}

/// RFC 4180 quoting for a field that may hold a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

fn csv_answer(name: String, csv: String) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        csv,
    )
}

/// Rows a CSV export holds at most.
const CSV_RECORDS_MAX: usize = 1_000_000;

/// Every record, page after page in code order, up to [`CSV_RECORDS_MAX`].
async fn all_records<T, F, Fut>(fetch: F, code_of: fn(&T) -> &str) -> Result<Vec<T>, ApiError>
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = couponflow_app::AppResult<Vec<T>>>,
{
    let mut all: Vec<T> = Vec::new();
    let mut after = None;
    while all.len() < CSV_RECORDS_MAX {
        let page = fetch(after).await?;
        let Some(last) = page.last().map(|r| code_of(r).to_owned()) else {
            break;
        };
        all.extend(page);
        after = Some(last);
    }
    Ok(all)
}

/// The claims behind a template's figures, in code order.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/templates/{id}/claims", tag = "statistics", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id"), RecordsQuery),
    responses(
        (status = 200, description = "One page of claim records", body = Page<ClaimRecordView>),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn claim_records(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordsQuery>,
) -> Result<ApiJson<Page<ClaimRecordView>>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let (limit, after) = page_of(&query)?;
    let rows = app
        .claim_records(&id, query.from, query.until, after.as_deref(), limit + 1)
        .await?;
    let views = rows.into_iter().map(ClaimRecordView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |v| {
        v.code.clone()
    })))
}

/// The claim records as CSV: `code,user_id,phone_masked,source,campaign_id,claimed_at,state`.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/templates/{id}/claims.csv", tag = "statistics", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id"), RecordsQuery),
    responses(
        (status = 200, description = "A header row, then one row per claim", body = String, content_type = "text/csv"),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn claim_records_csv(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let mut csv = String::from("code,user_id,phone_masked,source,campaign_id,claimed_at,state\n");
    let records = all_records(
        |after: Option<String>| {
            let (app, id, from, until) = (app.clone(), id.clone(), query.from, query.until);
            async move {
                app.claim_records(&id, from, until, after.as_deref(), RECORDS_PAGE_MAX)
                    .await
            }
        },
        |r: &ClaimRecord| r.code.as_str(),
    )
    .await?;
    for r in &records {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{}",
            r.code,
            csv_field(r.user_id.as_deref().unwrap_or_default()),
            r.phone_masked.as_deref().unwrap_or_default(),
            r.source,
            csv_field(r.campaign_id.as_deref().unwrap_or_default()),
            r.claimed_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            r.state
        );
    }
    Ok(csv_answer(format!("claims-{id}.csv"), csv))
}

/// The uses behind a template's figures (redeemed coupons with their
/// orders), in code order.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/templates/{id}/uses", tag = "statistics", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id"), RecordsQuery),
    responses(
        (status = 200, description = "One page of use records", body = Page<UseRecordView>),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn use_records(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordsQuery>,
) -> Result<ApiJson<Page<UseRecordView>>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let (limit, after) = page_of(&query)?;
    let rows = app
        .use_records(&id, query.from, query.until, after.as_deref(), limit + 1)
        .await?;
    let views = rows.into_iter().map(UseRecordView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |v| {
        v.code.clone()
    })))
}

/// The use records as CSV: `code,user_id,order_id,store_id,used_at,order_amount,discount,items`
/// (items `sku×quantity` joined by `;`).
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/stats/templates/{id}/uses.csv", tag = "statistics", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id"), RecordsQuery),
    responses(
        (status = 200, description = "A header row, then one row per use", body = String, content_type = "text/csv"),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn use_records_csv(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RecordsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let mut csv =
        String::from("code,user_id,order_id,store_id,used_at,order_amount,discount,items\n");
    let records = all_records(
        |after: Option<String>| {
            let (app, id, from, until) = (app.clone(), id.clone(), query.from, query.until);
            async move {
                app.use_records(&id, from, until, after.as_deref(), RECORDS_PAGE_MAX)
                    .await
            }
        },
        |r: &UseRecord| r.code.as_str(),
    )
    .await?;
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    for r in &records {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{}",
            r.code,
            csv_field(r.user_id.as_deref().unwrap_or_default()),
            csv_field(r.order_id.as_deref().unwrap_or_default()),
            csv_field(r.store_id.as_deref().unwrap_or_default()),
            r.used_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            number(r.order_amount),
            number(r.discount),
            csv_field(&r.items.join(";"))
        );
    }
    Ok(csv_answer(format!("uses-{id}.csv"), csv))
}
