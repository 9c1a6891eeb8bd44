//! `/v1/ledger/…`: the budget ledger (SPEC §12) for finance: the
//! reconciliation check and the reports per template, issuer and period,
//! with each shop's settlement under cost sharing.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::ledger::check::LedgerCheck;
use couponflow_app::ledger::report::{Figures, LedgerReport, ReportQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem};
use super::{LEDGER_CHECKERS, LEDGER_READERS};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(ledger_check))
        .routes(routes!(ledger_report))
}

/// One thing the ledger and the coupons disagree on.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerMismatchView {
    pub template_id: Option<String>,
    pub code: Option<String>,
    pub posting: Option<String>,
    pub problem: String,
}

/// What the check read and what it found.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerCheckView {
    /// True when nothing disagrees.
    pub consistent: bool,
    pub postings: i64,
    pub entries: i64,
    pub templates: i64,
    /// Bound coupons checked.
    pub coupons: i64,
    pub mismatch_count: i64,
    /// At most 1,000 of them.
    pub mismatches: Vec<LedgerMismatchView>,
}

impl From<LedgerCheck> for LedgerCheckView {
    fn from(check: LedgerCheck) -> Self {
        LedgerCheckView {
            consistent: check.is_consistent(),
            postings: check.postings,
            entries: check.entries,
            templates: check.templates,
            coupons: check.coupons,
            mismatch_count: check.mismatch_count,
            mismatches: check
                .mismatches
                .into_iter()
                .map(|m| LedgerMismatchView {
                    template_id: m.template_id,
                    code: m.code,
                    posting: m.posting,
                    problem: m.problem,
                })
                .collect(),
        }
    }
}

/// Reconciles the ledger with the coupons' states on one snapshot: every
/// posting balances; each coupon's entries are what its state implies;
/// approval reserved what the template reserves; escrow covers the live
/// coupons. A scan of every bound coupon: run it off-peak on large data.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/ledger/check", tag = "ledger", security(("bearer" = [])),
    responses(
        (status = 200, description = "The check's report (`consistent: false` lists the mismatches)", body = LedgerCheckView),
        AuthProblems))]
async fn ledger_check(
    State(app): State<Arc<App>>,
    principal: Principal,
) -> Result<ApiJson<LedgerCheckView>, ApiError> {
    require_role(&principal, LEDGER_CHECKERS)?;
    Ok(ApiJson(app.ledger_check().await?.into()))
}

/// `?issuer=&template=&from=&until=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerReportQuery {
    /// `platform` or a shop id: only that issuer's entries.
    pub issuer: Option<String>,
    /// Only this template's entries.
    pub template: Option<String>,
    /// Start of the period (RFC 3339), inclusive; the beginning when absent.
    pub from: Option<DateTime<Utc>>,
    /// End of the period (RFC 3339), exclusive; open when absent.
    pub until: Option<DateTime<Utc>>,
}

/// Net movements over the period, minor units.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerFiguresView {
    /// Put into escrow by approvals (and refunds' new cash coupons).
    pub reserved: i64,
    /// Spent on redemptions, net of returns.
    pub spent: i64,
    /// Given back to the budget: expiries, voids, what redemptions left of a coupon's face, ends.
    pub released: i64,
    /// Taken from the budget: reservations, and redemptions of templates that reserve nothing.
    pub budget_drawn: i64,
    pub escrow_change: i64,
}

impl From<Figures> for LedgerFiguresView {
    fn from(f: Figures) -> Self {
        LedgerFiguresView {
            reserved: f.reserved,
            spent: f.spent,
            released: f.released,
            budget_drawn: f.budget_drawn,
            escrow_change: f.escrow_change,
        }
    }
}

/// One template's side: a shared template has a row per issuer.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerTemplateRowView {
    pub template_id: String,
    pub issuer: String,
    #[serde(flatten)]
    pub figures: LedgerFiguresView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerIssuerRowView {
    pub issuer: String,
    #[serde(flatten)]
    pub figures: LedgerFiguresView,
}

/// A shop's coupons (its own and shared) and who bore what they spent.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettlementView {
    pub shop: String,
    pub shop_spent: i64,
    /// The platform's share of coupons shared with the shop.
    pub platform_spent: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerReportView {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub templates: Vec<LedgerTemplateRowView>,
    pub issuers: Vec<LedgerIssuerRowView>,
    pub settlement: Vec<SettlementView>,
}

impl From<LedgerReport> for LedgerReportView {
    fn from(r: LedgerReport) -> Self {
        LedgerReportView {
            from: r.from,
            until: r.until,
            templates: r
                .templates
                .into_iter()
                .map(|t| LedgerTemplateRowView {
                    template_id: t.template_id,
                    issuer: t.issuer,
                    figures: t.figures.into(),
                })
                .collect(),
            issuers: r
                .issuers
                .into_iter()
                .map(|i| LedgerIssuerRowView {
                    issuer: i.issuer,
                    figures: i.figures.into(),
                })
                .collect(),
            settlement: r
                .settlement
                .into_iter()
                .map(|s| SettlementView {
                    shop: s.shop,
                    shop_spent: s.shop_spent,
                    platform_spent: s.platform_spent,
                })
                .collect(),
        }
    }
}

/// Reserved, spent and released per template and issuer, per issuer, and
/// each shop's settlement, over a period.
///
/// Roles: admin, finance.
#[utoipa::path(get, path = "/v1/ledger/report", tag = "ledger", security(("bearer" = [])),
    params(LedgerReportQuery),
    responses(
        (status = 200, description = "The report", body = LedgerReportView),
        (status = 422, description = "`VALIDATION_FAILED`: `from` not before `until`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn ledger_report(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<LedgerReportQuery>,
) -> Result<ApiJson<LedgerReportView>, ApiError> {
    require_role(&principal, LEDGER_READERS)?;
    let query = ReportQuery {
        issuer: query.issuer,
        template_id: query.template,
        from: query.from,
        until: query.until,
    };
    Ok(ApiJson(app.ledger_report(&query).await?.into()))
}
