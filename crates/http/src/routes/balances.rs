//! `/v1/users/{user}/balances`: a user's `points` and `wallet` balances
//! (SPEC §7.7), their ledger entries, and manual adjustments by admin or
//! finance. A user reads only their own balances.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::balances::{Adjustment, Balance, BalanceEntry, ENTRY_PAGE_MAX};
use couponflow_core::template::BalanceKind;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem, balance_kind_schema, entry_reason_schema};
use super::{BALANCE_ADJUSTERS, BALANCE_READERS, actor};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(balances))
        .routes(routes!(entries))
        .routes(routes!(adjust))
}

#[derive(Debug, Deserialize)]
struct UserPath {
    user: String,
}

#[derive(Debug, Deserialize)]
struct BalancePath {
    user: String,
    kind: BalanceKind,
}

/// One balance.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BalanceView {
    #[schema(schema_with = balance_kind_schema)]
    pub kind: BalanceKind,
    /// Points, or minor units of CNY for `wallet`; never negative.
    pub balance: i64,
    /// Entries posted so far: the `seq` of the latest.
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Both balances of a user.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BalancesView {
    pub user_id: String,
    /// `points` first, then `wallet`; zero when never posted to.
    pub balances: Vec<BalanceView>,
}

/// One ledger entry; entries are never changed.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BalanceEntryView {
    pub id: String,
    pub user_id: String,
    #[schema(schema_with = balance_kind_schema)]
    pub kind: BalanceKind,
    /// 1, 2, 3, … per balance.
    pub seq: i64,
    /// Signed: credits positive, debits negative.
    pub amount: i64,
    pub balance_after: i64,
    #[schema(schema_with = entry_reason_schema)]
    pub reason: &'static str,
    /// The order, refund or claim request it came from (the client's key for adjustments).
    pub reference: String,
    /// An adjustment's reason, in the words of who made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `key:<id>` or `user:<id>` of who caused it.
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

impl From<Balance> for BalanceView {
    fn from(balance: Balance) -> Self {
        BalanceView {
            kind: balance.kind,
            balance: balance.balance,
            version: balance.version,
            updated_at: balance.updated_at,
        }
    }
}

impl From<BalanceEntry> for BalanceEntryView {
    fn from(entry: BalanceEntry) -> Self {
        BalanceEntryView {
            id: entry.id,
            user_id: entry.user_id,
            kind: entry.kind,
            seq: entry.seq,
            amount: entry.amount,
            balance_after: entry.balance_after,
            reason: entry.reason.as_str(),
            reference: entry.reference,
            note: entry.note,
            actor: entry.actor,
            created_at: entry.created_at,
        }
    }
}

/// A manual credit or debit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    /// Signed, non-zero: a credit when positive, a debit when negative.
    pub amount: i64,
    /// Why, 1 to 1000 characters: kept on the entry.
    pub reason: String,
    /// 1 to 128 characters: the same key again answers the same entry.
    pub idempotency_key: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntryListQuery {
    /// Entries per page, 1 to 499; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The user themself (user token), or staff who read every user's balances.
fn require_balance_reader(principal: &Principal, user_id: &str) -> Result<(), ApiError> {
    match principal {
        Principal::User { user_id: own } if own == user_id => Ok(()),
        Principal::User { .. } => Err(ApiError::forbidden(
            "a user may only reach their own balances",
        )),
        Principal::Staff { .. } => require_role(principal, BALANCE_READERS),
    }
}

/// A user's points and wallet balances.
///
/// Roles: the user themself (user token); admin, operator, finance, service.
#[utoipa::path(get, path = "/v1/users/{user}/balances", tag = "balances", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "Both balances", body = BalancesView),
        AuthProblems, BadRequestProblem))]
async fn balances(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<UserPath>,
) -> Result<ApiJson<BalancesView>, ApiError> {
    require_balance_reader(&principal, &path.user)?;
    let balances = app.balances(&path.user).await?;
    Ok(ApiJson(BalancesView {
        user_id: path.user,
        balances: balances.into_iter().map(Into::into).collect(),
    }))
}

/// One balance's ledger, newest entry first, a page at a time.
///
/// Roles: the user themself (user token); admin, operator, finance, service.
#[utoipa::path(get, path = "/v1/users/{user}/balances/{kind}/entries", tag = "balances", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id"),
           ("kind" = String, Path, description = "`points` or `wallet`"), EntryListQuery),
    responses(
        (status = 200, description = "One page of entries", body = Page<BalanceEntryView>),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` out of range", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn entries(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<BalancePath>,
    ApiQuery(query): ApiQuery<EntryListQuery>,
) -> Result<ApiJson<Page<BalanceEntryView>>, ApiError> {
    require_balance_reader(&principal, &path.user)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    // One row more than the page says whether there is a next one.
    let limit = page.limit()?.min(ENTRY_PAGE_MAX - 1);
    let before: Option<i64> = page.cursor()?;
    let rows = app
        .balance_entries(&path.user, path.kind, before, limit + 1)
        .await?;
    let views = rows.into_iter().map(BalanceEntryView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| view.seq)))
}

/// A manual credit or debit of one balance, recorded with who made it.
///
/// Idempotent by `idempotency_key`: the same adjustment again answers the
/// same entry; the key with other content is 409 `IDEMPOTENCY_CONFLICT`.
/// A debit beyond the balance is 409 `INSUFFICIENT_BALANCE` and changes
/// nothing. Roles: admin, finance.
#[utoipa::path(post, path = "/v1/users/{user}/balances/{kind}/adjustments", tag = "balances", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id"),
           ("kind" = String, Path, description = "`points` or `wallet`")),
    request_body = AdjustmentBody,
    responses(
        (status = 200, description = "Posted (or the replay of the same adjustment)", body = BalanceEntryView),
        (status = 409, description = "`INSUFFICIENT_BALANCE`: the debit exceeds the balance; `IDEMPOTENCY_CONFLICT`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: a zero or too large amount, a blank reason or key", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn adjust(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<BalancePath>,
    ApiJson(body): ApiJson<AdjustmentBody>,
) -> Result<ApiJson<BalanceEntryView>, ApiError> {
    require_role(&principal, BALANCE_ADJUSTERS)?;
    let adjustment = Adjustment {
        amount: body.amount,
        reason: body.reason,
        idempotency_key: body.idempotency_key,
    };
    let entry = app
        .adjust_balance(&actor(&principal), &path.user, path.kind, adjustment)
        .await?;
    Ok(ApiJson(entry.into()))
}
