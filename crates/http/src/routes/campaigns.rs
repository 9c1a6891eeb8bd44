//! `/v1/campaigns`: create as draft, read, replace, list; schedule, pause,
//! resume, end (SPEC §6.1).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use couponflow_app::App;
use couponflow_app::campaigns::{CAMPAIGN_PAGE_MAX, Campaign, CampaignRecord};
use utoipa_axum::routes;

use super::campaign_views::CampaignView;
use super::docs::{AuthProblems, BadRequestProblem};
use super::{CAMPAIGN_EDITORS, STAFF_READERS, actor};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(create_campaign, list_campaigns))
        .routes(routes!(get_campaign, replace_campaign))
        .routes(routes!(schedule_campaign))
        .routes(routes!(pause_campaign))
        .routes(routes!(resume_campaign))
        .routes(routes!(end_campaign))
}

fn view(app: &App, record: &CampaignRecord) -> ApiJson<CampaignView> {
    ApiJson(CampaignView::at(record, app.now()))
}

/// Creates a campaign as a draft.
///
/// The body: `name`, `description` (活动规则), `image`, `starts_at`, `ends_at`,
/// `share` (`title`, `image`, `text`), `audience` (as a template's),
/// `channels`, `rollout` (`{"percent": 0..100}` or `{"tags": [...]}`), and
/// `templates`: `[{"template", "claim_window"?, "points"?}]`, each an approved
/// or active template, at most once. Roles: admin, operator.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns", security(("bearer" = [])),
    request_body(content = Object, description = "A whole campaign; `id` is optional"),
    responses(
        (status = 201, description = "Saved as a draft", body = CampaignView),
        (status = 409, description = "`CONFLICT`: a campaign with this id exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`INVALID_CAMPAIGN`: `errors` lists every broken rule", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn create_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(campaign): ApiJson<Campaign>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, CAMPAIGN_EDITORS)?;
    let record = app.create_campaign(&actor(&principal), campaign).await?;
    let location = format!("/v1/campaigns/{}", record.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        view(&app, &record),
    ))
}

/// Lists campaigns in id order, a page at a time.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page", body = Page<CampaignView>),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` out of range", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn list_campaigns(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<ApiJson<Page<CampaignView>>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let limit = page.limit()?.min(CAMPAIGN_PAGE_MAX - 1);
    let after: Option<String> = page.cursor()?;
    let rows = app.campaigns(after.as_deref(), limit + 1).await?;
    let now = app.now();
    let views = rows.iter().map(|row| CampaignView::at(row, now)).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| {
        view.campaign.id.clone().unwrap_or_default()
    })))
}

/// Reads one campaign.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The campaign", body = CampaignView),
        (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let record = app.campaign(&id).await?;
    Ok(view(&app, &record))
}

/// Replaces a campaign's fields with the ones sent; its status stays.
///
/// Roles: admin, operator.
#[utoipa::path(patch, path = "/v1/campaigns/{id}", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id")),
    request_body(content = Object, description = "The whole campaign; its `id`, if sent, must be the path's"),
    responses(
        (status = 200, description = "The changed campaign", body = CampaignView),
        (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`CAMPAIGN_STATE`: an ended campaign cannot change", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`INVALID_CAMPAIGN`, or `VALIDATION_FAILED` (another `id`)", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn replace_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(campaign): ApiJson<Campaign>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    require_role(&principal, CAMPAIGN_EDITORS)?;
    if campaign.id.as_deref().is_some_and(|sent| sent != id) {
        let why = "must be the id in the path, or left out";
        return Err(ApiError::validation(format!("id {why}")).with_field_error("id", why));
    }
    let record = app
        .update_campaign(&actor(&principal), &id, campaign)
        .await?;
    Ok(view(&app, &record))
}

/// Schedules a draft: it runs from `starts_at` to `ends_at`.
///
/// Needs at least one template, every one approved or active, and an
/// `ends_at` still ahead. Roles: admin, operator.
#[utoipa::path(post, path = "/v1/campaigns/{id}/schedule", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "Scheduled (or running, inside its window)", body = CampaignView),
        (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`CAMPAIGN_STATE`: not a draft", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: no templates, or its end has passed; `INVALID_CAMPAIGN`: a template is no longer approved", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn schedule_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    require_role(&principal, CAMPAIGN_EDITORS)?;
    let record = app.schedule_campaign(&actor(&principal), &id).await?;
    Ok(view(&app, &record))
}

/// Pauses a scheduled or running campaign: no claims through it until resumed.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/campaigns/{id}/pause", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "Paused", body = CampaignView),
        (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`CAMPAIGN_STATE`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn pause_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    require_role(&principal, CAMPAIGN_EDITORS)?;
    let record = app.pause_campaign(&actor(&principal), &id).await?;
    Ok(view(&app, &record))
}

/// Resumes a paused campaign.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/campaigns/{id}/resume", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "Scheduled again (running, inside its window)", body = CampaignView),
        (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`CAMPAIGN_STATE`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn resume_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    require_role(&principal, CAMPAIGN_EDITORS)?;
    let record = app.resume_campaign(&actor(&principal), &id).await?;
    Ok(view(&app, &record))
}

/// Ends a campaign for good.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/campaigns/{id}/end", tag = "campaigns", security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "Ended", body = CampaignView),
        (status = 404, description = "`CAMPAIGN_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`CAMPAIGN_STATE`: already ended", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn end_campaign(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<CampaignView>, ApiError> {
    require_role(&principal, CAMPAIGN_EDITORS)?;
    let record = app.end_campaign(&actor(&principal), &id).await?;
    Ok(view(&app, &record))
}
