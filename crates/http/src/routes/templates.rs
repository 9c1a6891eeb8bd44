//! `/v1/templates`: create as draft, read, replace, list; submit and review
//! (SPEC §4.9); pause, resume, end; the recorded steps.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use couponflow_app::App;
use couponflow_app::templates::{Decision, TEMPLATE_PAGE_MAX};
use couponflow_core::template::describe::describe;
use couponflow_core::template::lifecycle::{ReviewStep, TemplateStatus};
use couponflow_core::template::{Issuer, Template, ValidTemplate, parse_json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem, decision_schema, template_status_schema};
use super::template_views::{SummaryView, TemplateEventView, TemplateView};
use super::{REVIEWERS, STAFF_READERS, TEMPLATE_EDITORS, actor, check_reason};
use crate::auth::{Principal, Role, require_role, require_shop_access};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(create_template, list_templates))
        .routes(routes!(preview_template))
        .routes(routes!(get_template, replace_template))
        .routes(routes!(submit_template))
        .routes(routes!(review_template))
        .routes(routes!(pause_template))
        .routes(routes!(resume_template))
        .routes(routes!(end_template))
        .routes(routes!(template_events))
}

/// `?status=&limit=&cursor=` of the template list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TemplateListQuery {
    /// Only templates stored with this status.
    #[param(schema_with = template_status_schema)]
    pub status: Option<TemplateStatus>,
    /// Items per page, 1 to 500; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A review decision (SPEC §13).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewRequest {
    #[schema(schema_with = decision_schema)]
    pub decision: Decision,
    /// Why; kept in the template's events. At most 1000 characters.
    pub reason: Option<String>,
}

/// Staff editors may create any template; a merchant only one that a shop
/// of its key issues (alone or shared with the platform).
fn require_template_author(principal: &Principal, issuer: &Issuer) -> Result<(), ApiError> {
    if principal.role() != Some(Role::Merchant) {
        return require_role(principal, TEMPLATE_EDITORS);
    }
    match issuer {
        Issuer::Shop { shop } | Issuer::Shared { shop, .. } => require_shop_access(principal, shop),
        Issuer::Platform => Err(ApiError::forbidden(
            "a merchant key may only create templates that one of its shops issues",
        )),
    }
}

/// Creates a template as a draft.
///
/// Roles: admin, operator; merchant, only with an `issuer` naming one of the key's shops.
#[utoipa::path(post, path = "/v1/templates", tag = "templates", security(("bearer" = [])),
    request_body(content = Object, description = "A whole template (SPEC §4.0); `id` is optional"),
    responses(
        (status = 201, description = "Saved as a draft", body = TemplateView),
        (status = 409, description = "`CONFLICT`: a template with this id exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`INVALID_TEMPLATE`: `errors` lists every broken rule", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn create_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(template): ApiJson<Template>,
) -> Result<impl IntoResponse, ApiError> {
    require_template_author(&principal, &template.issuer)?;
    let record = app.create_template(&actor(&principal), template).await?;
    let location = format!("/v1/templates/{}", record.id);
    let view = TemplateView::at(&record, app.now());
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(view),
    ))
}

/// What `POST /v1/templates/preview` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplatePreview {
    /// Whether `POST /v1/templates` would take this template.
    pub valid: bool,
    /// Every broken rule, as in `INVALID_TEMPLATE`'s `errors`; empty when valid.
    pub errors: Vec<FieldProblem>,
    /// The template in plain words; `null` when it is not valid.
    pub summary: Option<SummaryView>,
}

/// One broken rule: the field (a JSON path such as `benefit.tiers[1].off`) and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub reason: String,
}

/// Checks a template as `POST /v1/templates` would and describes it, saving nothing.
///
/// For forms that validate as the user types: a template that would be
/// refused is still 200, with `valid: false` and every problem (a field of
/// the wrong type is one of them, named by its path).
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/templates/preview", tag = "templates", security(("bearer" = [])),
    request_body(content = Object, description = "A whole template (SPEC §4.0), exactly as `POST /v1/templates` takes it"),
    responses(
        (status = 200, description = "Whether it is valid, every problem, and its plain-language summary", body = TemplatePreview),
        AuthProblems, BadRequestProblem))]
async fn preview_template(
    principal: Principal,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<ApiJson<TemplatePreview>, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    let checked = parse_json::<Template>(&body.to_string()).and_then(ValidTemplate::new);
    Ok(ApiJson(match checked {
        Ok(valid) => TemplatePreview {
            valid: true,
            errors: Vec::new(),
            summary: Some(describe(valid.get()).into()),
        },
        Err(problems) => TemplatePreview {
            valid: false,
            errors: problems
                .list()
                .iter()
                .map(|problem| FieldProblem {
                    field: problem.field.clone(),
                    reason: problem.reason.clone(),
                })
                .collect(),
            summary: None,
        },
    }))
}

/// Lists templates in id order, a page at a time.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/templates", tag = "templates", security(("bearer" = [])),
    params(TemplateListQuery),
    responses(
        (status = 200, description = "One page", body = Page<TemplateView>),
        (status = 422, description = "`VALIDATION_FAILED`: `limit` out of range", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn list_templates(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<TemplateListQuery>,
) -> Result<ApiJson<Page<TemplateView>>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    // One row more than the page tells whether there is a next page; the use
    // case returns at most TEMPLATE_PAGE_MAX rows, so a page holds one fewer.
    let limit = page.limit()?.min(TEMPLATE_PAGE_MAX - 1);
    let after: Option<String> = page.cursor()?;
    let rows = app
        .templates(query.status, after.as_deref(), limit + 1)
        .await?;
    let now = app.now();
    let views = rows.iter().map(|row| TemplateView::at(row, now)).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| {
        view.template.id.clone().unwrap_or_default()
    })))
}

/// Reads one template.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "The template", body = TemplateView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<TemplateView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let record = app.template(&id).await?;
    Ok(ApiJson(TemplateView::at(&record, app.now())))
}

/// Replaces a template with the one sent.
///
/// A change to money (benefit, scope, limits, validity, stacking, issuer)
/// sends an approved template back to review; a new name or description
/// does not. Roles: admin, operator.
#[utoipa::path(patch, path = "/v1/templates/{id}", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    request_body(content = Object, description = "The whole template (SPEC §4.0); its `id`, if sent, must be the path's"),
    responses(
        (status = 200, description = "The changed template", body = TemplateView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`: an ended template cannot change", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`INVALID_TEMPLATE` or `VALIDATION_FAILED` (another `id`)", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn replace_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(template): ApiJson<Template>,
) -> Result<ApiJson<TemplateView>, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    if template.id.as_deref().is_some_and(|sent| sent != id) {
        let why = "must be the id in the path, or left out";
        return Err(ApiError::validation(format!("id {why}")).with_field_error("id", why));
    }
    let record = app
        .update_template(&actor(&principal), &id, template)
        .await?;
    Ok(ApiJson(TemplateView::at(&record, app.now())))
}

/// Sends a draft or rejected template to review.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/templates/{id}/submit", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "Waiting for review", body = TemplateView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn submit_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<TemplateView>, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    let record = app.submit_template(&actor(&principal), &id).await?;
    Ok(ApiJson(TemplateView::at(&record, app.now())))
}

/// Approves or rejects the review step the template waits for.
///
/// The creator can never approve their own template (`SELF_REVIEW`).
/// Roles: admin, reviewer for the operations step; admin, finance for the finance step.
#[utoipa::path(post, path = "/v1/templates/{id}/reviews", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    request_body = ReviewRequest,
    responses(
        (status = 200, description = "Reviewed: approved, rejected, or on to the finance step", body = TemplateView),
        (status = 403, description = "`SELF_REVIEW`, or `FORBIDDEN`: not this caller's step", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`: not waiting for review", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn review_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(review): ApiJson<ReviewRequest>,
) -> Result<ApiJson<TemplateView>, ApiError> {
    require_role(&principal, REVIEWERS)?;
    check_reason(review.reason.as_deref())?;
    // Whose step it is depends on the template; the use case decides it
    // inside the write. Not waiting for review at all is its 409.
    let steps: &[ReviewStep] = match principal.role() {
        Some(Role::Admin) => &[ReviewStep::Operations, ReviewStep::Finance],
        Some(Role::Finance) => &[ReviewStep::Finance],
        _ => &[ReviewStep::Operations],
    };
    let record = app
        .review_template_as(
            &actor(&principal),
            &id,
            review.decision,
            review.reason,
            steps,
        )
        .await?;
    Ok(ApiJson(TemplateView::at(&record, app.now())))
}

/// Pauses an active (or approved) template: no claims until resumed.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/templates/{id}/pause", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "Paused", body = TemplateView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn pause_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<TemplateView>, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    let record = app.pause_template(&actor(&principal), &id).await?;
    Ok(ApiJson(TemplateView::at(&record, app.now())))
}

/// Resumes a paused template.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/templates/{id}/resume", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "Active again", body = TemplateView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn resume_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<TemplateView>, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    let record = app.resume_template(&actor(&principal), &id).await?;
    Ok(ApiJson(TemplateView::at(&record, app.now())))
}

/// Ends a template for good: no more claims, ever.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/templates/{id}/end", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "Ended", body = TemplateView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`: already ended", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn end_template(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<TemplateView>, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    let record = app.end_template(&actor(&principal), &id).await?;
    Ok(ApiJson(TemplateView::at(&record, app.now())))
}

/// Every recorded step of a template's life, oldest first.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/templates/{id}/events", tag = "templates", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    responses(
        (status = 200, description = "All steps, on one page", body = Page<TemplateEventView>),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn template_events(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<Page<TemplateEventView>>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    // The events of an unknown template are not an empty list but a 404.
    app.template(&id).await?;
    let events = app.template_events(&id).await?;
    Ok(ApiJson(Page {
        items: events.into_iter().map(TemplateEventView::from).collect(),
        next_cursor: None,
    }))
}
