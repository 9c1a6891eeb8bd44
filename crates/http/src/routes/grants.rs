//! Staff grants (SPEC §6.2.2): create one for a list of users (JSON or a
//! CSV upload) or a tag segment, follow its progress, read each user's
//! outcome; and the segments the mall sends.
//!
//! Creating a grant stores it and answers 202 at once; the coupons are
//! issued in the background (`couponflow_app::background::spawn_grant_run`
//! here, and every node's background loop), and the client polls
//! `GET /v1/grants/{id}`. The create and segment routes take bodies up to
//! [`UPLOAD_BODY_LIMIT_BYTES`], beyond the service's usual limit, so a
//! list of 100,000 users and more fits.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::background::spawn_grant_run;
use couponflow_app::grants::{Grant, GrantResult, GrantStatus, NewGrant, Outcome, Recipients};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem};
use super::grant_upload::{Upload, read_upload, upload_limit};
use super::{GRANT_MAKERS, GRANT_READERS, actor};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

/// Results one CSV download holds at most.
pub const RESULTS_CSV_ROWS_MAX: u64 = 1_000_000;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(upload_limit(routes!(create_grant)))
        .routes(routes!(list_grants))
        .routes(routes!(get_grant))
        .routes(routes!(grant_results))
        .routes(routes!(grant_results_csv))
}

/// A grant to a list of users or to a segment: exactly one of `users` and
/// `segment`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// The template whose coupons to grant: approved or active.
    pub template: String,
    /// User ids, 1 to 1,000,000 distinct ones, each 1 to 128 bytes; a
    /// user listed twice is granted once and counted in `duplicates`.
    pub users: Option<Vec<String>>,
    /// A tag: its members as stored now (`PUT /v1/segments/{tag}/members`).
    pub segment: Option<String>,
    /// Why, up to 1,000 characters, kept with the grant.
    pub reason: Option<String>,
}

/// `?template=&reason=` for a CSV upload.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantQuery {
    /// The template, for a `text/csv` body (a JSON body names it itself).
    pub template: Option<String>,
    /// Why, for a `text/csv` body.
    pub reason: Option<String>,
}

/// Where a grant stands.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatusView {
    /// Stored; no node has started it yet.
    Pending,
    /// Being worked, chunk by chunk.
    Running,
    /// Every user has an outcome.
    Done,
}

impl From<GrantStatus> for GrantStatusView {
    fn from(status: GrantStatus) -> Self {
        match status {
            GrantStatus::Pending => GrantStatusView::Pending,
            GrantStatus::Running => GrantStatusView::Running,
            GrantStatus::Done => GrantStatusView::Done,
        }
    }
}

/// Users skipped, by reason.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct SkippedView {
    /// `PER_USER_LIMIT` or `PER_DAY_LIMIT`: the user holds as many as allowed.
    pub limit_reached: u64,
    /// `SOLD_OUT`: `limits.total` was reached.
    pub sold_out: u64,
    /// `BUDGET_EXHAUSTED`: `limits.budget` was reached.
    pub budget_exhausted: u64,
    /// `NOT_IN_AUDIENCE`: the user's stored tags do not match the audience.
    pub not_in_audience: u64,
}

/// A grant and its progress.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GrantView {
    pub id: String,
    pub template_id: String,
    /// The tag, for a segment grant.
    pub segment: Option<String>,
    pub reason: Option<String>,
    pub status: GrantStatusView,
    /// Distinct users.
    pub total: u64,
    /// Users listed again after their first time (not granted again).
    pub duplicates: u64,
    /// Users with an outcome so far: `done + skipped + failed`.
    pub processed: u64,
    /// `processed` in whole percent of `total`, rounded down.
    pub progress_percent: u64,
    /// Users granted a coupon.
    pub done: u64,
    pub skipped: SkippedView,
    /// Users refused for another reason (the template was paused or ended
    /// during the grant, …); their results say why.
    pub failed: u64,
    /// Who created it: `key:<id>`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<Grant> for GrantView {
    fn from(grant: Grant) -> Self {
        GrantView {
            progress_percent: grant.progress_percent(),
            id: grant.id,
            template_id: grant.template_id,
            segment: grant.segment,
            reason: grant.reason,
            status: grant.status.into(),
            total: grant.total,
            duplicates: grant.duplicates,
            processed: grant.processed,
            done: grant.granted,
            skipped: SkippedView {
                limit_reached: grant.skipped.limit_reached,
                sold_out: grant.skipped.sold_out,
                budget_exhausted: grant.skipped.budget_exhausted,
                not_in_audience: grant.skipped.not_in_audience,
            },
            failed: grant.failed,
            created_by: grant.created_by,
            created_at: grant.created_at,
            started_at: grant.started_at,
            finished_at: grant.finished_at,
        }
    }
}

/// One user's outcome.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct GrantResultView {
    /// 1-based, in upload order (repeats dropped); segments in user id order.
    pub position: u64,
    pub user_id: String,
    /// `granted`, `skipped`, `failed`; `null` while the user's chunk is to come.
    pub outcome: Option<String>,
    /// The refusal's code when skipped or failed: `PER_USER_LIMIT`,
    /// `PER_DAY_LIMIT`, `SOLD_OUT`, `BUDGET_EXHAUSTED`, `NOT_IN_AUDIENCE`,
    /// `TEMPLATE_NOT_ACTIVE`, `CLAIM_ENDED`, …
    pub reason: Option<String>,
    /// The coupon granted.
    pub coupon_code: Option<String>,
}

impl From<GrantResult> for GrantResultView {
    fn from(result: GrantResult) -> Self {
        GrantResultView {
            position: result.position,
            user_id: result.user_id,
            outcome: result.outcome.map(|o: Outcome| o.as_str().to_owned()),
            reason: result.reason,
            coupon_code: result.coupon_code,
        }
    }
}

/// Grants a template's coupons to users (人工发放), in the background.
///
/// The body is JSON (`{"template", "users": [...]}` or `{"template",
/// "segment"}`, with an optional `reason`), or a CSV of user ids with
/// `Content-Type: text/csv` and the template in `?template=` — one id a
/// line, an optional header line `user_id`, blank lines ignored, at most
/// 48 MiB. Each user is issued one coupon under every limit and the
/// audience (checked against the user's stored segment tags); the claim
/// window and channels do not apply. Answers 202 with the grant,
/// `pending`; follow `Location`. Every POST is a new grant; within one
/// grant a user is granted at most once, also after a restart.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/grants", tag = "grants", security(("bearer" = [])),
    params(GrantQuery),
    request_body(content(
        (GrantRequest = "application/json"),
        (String = "text/csv", example = "user_id\nu-1\nu-2\n"))),
    responses(
        (status = 202, description = "Stored; the coupons are being issued", body = GrantView,
            headers(("Location" = String, description = "`/v1/grants/{id}`, to follow the progress"))),
        (status = 400, description = "`BAD_JSON`, `BAD_CSV` (a line with more than one column, not UTF-8), `BAD_QUERY`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`: the template is not approved or active", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: more than 48 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`: neither JSON nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: no users, an empty or too long id (`field` names it: `users[3]`, `line 4`), both or neither of `users` and `segment`, an empty segment", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn create_grant(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<GrantQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, GRANT_MAKERS)?;
    let new = match read_upload(&headers, body)? {
        Upload::Json(bytes) => from_json(&bytes, &query)?,
        Upload::Csv(users) => {
            let template = query.template.ok_or_else(|| {
                ApiError::validation("a CSV upload names its template in `?template=`")
                    .with_field_error("template", "is required with a text/csv body")
            })?;
            NewGrant {
                template_id: template,
                recipients: Recipients::Users(users),
                reason: query.reason,
            }
        }
    };
    let grant = app.create_grant(&actor(&principal), new).await?;
    spawn_grant_run(app);
    let location = format!("/v1/grants/{}", grant.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        ApiJson(GrantView::from(grant)),
    ))
}

fn from_json(bytes: &[u8], query: &GrantQuery) -> Result<NewGrant, ApiError> {
    if query.template.is_some() || query.reason.is_some() {
        return Err(ApiError::validation(
            "a JSON body names `template` and `reason` itself, not in the query",
        )
        .with_field_error("template", "goes in the body"));
    }
    let body: GrantRequest = crate::extract::parse_json(bytes)?;
    let recipients = match (body.users, body.segment) {
        (Some(users), None) => Recipients::Users(users),
        (None, Some(tag)) => Recipients::Segment(tag),
        _ => {
            return Err(
                ApiError::validation("name exactly one of `users` and `segment`")
                    .with_field_error("users", "exactly one of users and segment"),
            );
        }
    };
    Ok(NewGrant {
        template_id: body.template,
        recipients,
        reason: body.reason,
    })
}

/// Grants, newest first.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/grants", tag = "grants", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of grants", body = Page<GrantView>),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` out of range", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn list_grants(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<GrantView>>, ApiError> {
    require_role(&principal, GRANT_READERS)?;
    let limit = page.limit()?;
    let after: Option<(DateTime<Utc>, String)> = page.cursor()?;
    let grants = app.grants(after, limit + 1).await?;
    let views = grants.into_iter().map(GrantView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| {
        (view.created_at, view.id.clone())
    })))
}

/// A grant with its progress: processed of total, done, skipped by
/// reason, failed.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/grants/{id}", tag = "grants", security(("bearer" = [])),
    params(("id" = String, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "The grant and its progress", body = GrantView),
        (status = 404, description = "`GRANT_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_grant(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<GrantView>, ApiError> {
    require_role(&principal, GRANT_READERS)?;
    Ok(ApiJson(app.grant(&id).await?.into()))
}

/// Each user's outcome, in upload order, a page at a time.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/grants/{id}/results", tag = "grants", security(("bearer" = [])),
    params(("id" = String, Path, description = "The grant's id"), PageQuery),
    responses(
        (status = 200, description = "One page of results", body = Page<GrantResultView>),
        (status = 404, description = "`GRANT_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` out of range", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn grant_results(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<GrantResultView>>, ApiError> {
    require_role(&principal, GRANT_READERS)?;
    let limit = page.limit()?;
    let after: u64 = page.cursor()?.unwrap_or(0);
    let results = app.grant_results(&id, after, limit + 1).await?;
    let views = results.into_iter().map(GrantResultView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| {
        view.position
    })))
}

/// Every user's outcome as CSV (`position,user_id,outcome,reason,coupon_code`).
/// At most 1,000,000 rows.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/grants/{id}/results.csv", tag = "grants", security(("bearer" = [])),
    params(("id" = String, Path, description = "The grant's id")),
    responses(
        (status = 200, description = "One row per user after a header row", body = String, content_type = "text/csv"),
        (status = 404, description = "`GRANT_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn grant_results_csv(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, GRANT_READERS)?;
    let grant = app.grant(&id).await?;
    let mut csv = String::from("position,user_id,outcome,reason,coupon_code\n");
    let mut after = 0;
    let page_rows = couponflow_app::grants::GRANT_RESULTS_PAGE_MAX;
    while after < grant.total.min(RESULTS_CSV_ROWS_MAX) {
        let page = app.grant_results(&id, after, page_rows).await?;
        for result in &page {
            let outcome = result.outcome.map(Outcome::as_str).unwrap_or("");
            csv.push_str(&format!(
                "{},{},{},{},{}\n",
                result.position,
                csv_field(&result.user_id),
                outcome,
                result.reason.as_deref().unwrap_or(""),
                result.coupon_code.as_deref().unwrap_or("")
            ));
        }
        match page.last() {
            Some(last) if page.len() == page_rows as usize => after = last.position,
            _ => break,
        }
    }
    let disposition = format!("attachment; filename=\"{}.csv\"", grant.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    ))
}

/// RFC 4180 quoting for user ids (which may hold commas or quotes in JSON uploads).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
