//! `/v1/grant-rules` and `/v1/events`: rules that grant templates when the
//! mall posts an event (SPEC §6.2.3), each event id processed once.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::rules::{
    Conditions, EventData, EventOutcome, GrantRule, MallEvent, NewRule, Recipient, RuleGrant,
    RulePatch,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::claims::ClaimUserBody;
use super::docs::{AuthProblems, BadRequestProblem};
use super::webhooks::ListQuery;
use super::{EVENT_SENDERS, STAFF_READERS, TEMPLATE_EDITORS, actor};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::Page;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(create_rule, list_rules))
        .routes(routes!(get_rule, update_rule))
        .routes(routes!(post_event))
}

/// When a rule fires, besides its event type; each condition belongs to one type.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionsBody {
    /// `order.completed`: the order's amount (fen) is at least this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<i64>,
    /// `task.completed`: only this task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// `user.inactive`: inactive at least these days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_inactive_days: Option<u32>,
}

impl From<ConditionsBody> for Conditions {
    fn from(body: ConditionsBody) -> Self {
        Conditions {
            min_amount: body.min_amount,
            task: body.task,
            min_inactive_days: body.min_inactive_days,
        }
    }
}

impl From<Conditions> for ConditionsBody {
    fn from(conditions: Conditions) -> Self {
        ConditionsBody {
            min_amount: conditions.min_amount,
            task: conditions.task,
            min_inactive_days: conditions.min_inactive_days,
        }
    }
}

/// A rule to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRuleRequest {
    /// 1 to 100 characters.
    pub name: String,
    /// `user.registered`, `order.completed`, `user.invited`, `task.completed` or `user.inactive`.
    pub event_type: String,
    #[serde(default)]
    pub conditions: ConditionsBody,
    /// The templates granted, 1 to 10.
    pub templates: Vec<String>,
    /// `user` (the event's user, the default) or `inviter` (`user.invited` only).
    #[serde(default)]
    pub recipient: Option<String>,
    /// On by default.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// What a change may set; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRuleRequest {
    pub name: Option<String>,
    pub conditions: Option<ConditionsBody>,
    pub templates: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// A grant rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    pub event_type: String,
    pub conditions: ConditionsBody,
    pub templates: Vec<String>,
    /// `user` or `inviter`.
    pub recipient: String,
    pub enabled: bool,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<GrantRule> for RuleView {
    fn from(rule: GrantRule) -> Self {
        RuleView {
            id: rule.id,
            name: rule.name,
            event_type: rule.event_type,
            conditions: rule.conditions.into(),
            templates: rule.templates,
            recipient: match rule.recipient {
                Recipient::User => "user".into(),
                Recipient::Inviter => "inviter".into(),
            },
            enabled: rule.enabled,
            created_by: rule.created_by,
            created_at: rule.created_at,
            updated_at: rule.updated_at,
        }
    }
}

/// What the event says besides its type and user.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDataBody {
    /// `order.completed`: the amount paid, in fen (required there).
    pub amount: Option<i64>,
    pub order_id: Option<String>,
    /// `task.completed`: which task.
    pub task: Option<String>,
    /// `user.invited`: the inviter's user id (required there).
    pub inviter: Option<String>,
    /// `user.inactive`: days since the user's last order.
    pub inactive_days: Option<u32>,
}

/// An event from the mall.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    /// The mall's id for the event, 1 to 128 characters: processed once.
    pub id: String,
    /// One of the rule event types.
    #[serde(rename = "type")]
    pub kind: String,
    pub user: ClaimUserBody,
    #[serde(default)]
    pub data: EventDataBody,
}

/// One rule's grant of one template.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleGrantView {
    pub rule_id: String,
    pub template_id: String,
    pub user_id: String,
    /// `granted` or `refused`.
    pub outcome: String,
    /// The coupon granted.
    pub coupon: Option<String>,
    /// Why not: a claim refusal code (`PER_USER_LIMIT`, `NOT_IN_AUDIENCE`, …).
    pub refusal: Option<String>,
}

impl From<RuleGrant> for RuleGrantView {
    fn from(grant: RuleGrant) -> Self {
        RuleGrantView {
            rule_id: grant.rule_id,
            template_id: grant.template_id,
            user_id: grant.user_id,
            outcome: grant.outcome,
            coupon: grant.coupon,
            refusal: grant.refusal,
        }
    }
}

/// What an event came to.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOutcomeView {
    pub event_id: String,
    /// The id was processed before: this is the first answer, and nothing was granted now.
    pub duplicate: bool,
    pub grants: Vec<RuleGrantView>,
}

impl From<EventOutcome> for EventOutcomeView {
    fn from(outcome: EventOutcome) -> Self {
        EventOutcomeView {
            event_id: outcome.event_id,
            duplicate: outcome.duplicate,
            grants: outcome.grants.into_iter().map(Into::into).collect(),
        }
    }
}

fn recipient(text: Option<&str>) -> Result<Recipient, ApiError> {
    match text {
        None | Some("user") => Ok(Recipient::User),
        Some("inviter") => Ok(Recipient::Inviter),
        Some(_) => Err(
            ApiError::validation("recipient must be `user` or `inviter`")
                .with_field_error("recipient", "must be `user` or `inviter`"),
        ),
    }
}

/// Creates a grant rule.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/grant-rules", tag = "grant rules", security(("bearer" = [])),
    request_body = CreateRuleRequest,
    responses(
        (status = 201, description = "Created", body = RuleView),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`: a template named does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: an unknown event type, a condition of another type, no templates", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn create_rule(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateRuleRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    let new = NewRule {
        name: request.name,
        event_type: request.event_type,
        conditions: request.conditions.into(),
        templates: request.templates,
        recipient: recipient(request.recipient.as_deref())?,
        enabled: request.enabled.unwrap_or(true),
    };
    let rule = app.create_rule(&actor(&principal), new).await?;
    let location = format!("/v1/grant-rules/{}", rule.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(RuleView::from(rule)),
    ))
}

/// The grant rules, in id order.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/grant-rules", tag = "grant rules", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of rules", body = Page<RuleView>),
        AuthProblems, BadRequestProblem))]
async fn list_rules(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<Page<RuleView>>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    let (limit, after) = query.page::<String>()?;
    let rows = app.rules(after.as_deref(), limit + 1).await?;
    let views = rows.into_iter().map(RuleView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| {
        view.id.clone()
    })))
}

/// One grant rule.
///
/// Roles: admin, operator, reviewer, finance.
#[utoipa::path(get, path = "/v1/grant-rules/{id}", tag = "grant rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule", body = RuleView),
        (status = 404, description = "`GRANT_RULE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_rule(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<RuleView>, ApiError> {
    require_role(&principal, STAFF_READERS)?;
    Ok(ApiJson(app.rule(&id).await?.into()))
}

/// Changes a rule's name, conditions, templates, or turns it on or off.
///
/// Roles: admin, operator.
#[utoipa::path(patch, path = "/v1/grant-rules/{id}", tag = "grant rules", security(("bearer" = [])),
    params(("id" = String, Path, description = "The rule's id")),
    request_body = UpdateRuleRequest,
    responses(
        (status = 200, description = "Changed", body = RuleView),
        (status = 404, description = "`GRANT_RULE_NOT_FOUND`, `TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn update_rule(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<UpdateRuleRequest>,
) -> Result<ApiJson<RuleView>, ApiError> {
    require_role(&principal, TEMPLATE_EDITORS)?;
    let patch = RulePatch {
        name: request.name,
        conditions: request.conditions.map(Into::into),
        templates: request.templates,
        enabled: request.enabled,
    };
    Ok(ApiJson(
        app.update_rule(&actor(&principal), &id, patch)
            .await?
            .into(),
    ))
}

/// Posts an event from the mall; every enabled rule of its type whose
/// conditions hold grants its templates (each grant under the template's
/// limits and audience). The same event id again answers the first outcome
/// with `duplicate: true` and grants nothing; the same id with other
/// content is `IDEMPOTENCY_CONFLICT`.
///
/// Roles: admin, service.
#[utoipa::path(post, path = "/v1/events", tag = "grant rules", security(("bearer" = [])),
    request_body = EventBody,
    responses(
        (status = 200, description = "Processed (or the first outcome of an id processed before)", body = EventOutcomeView),
        (status = 409, description = "`IDEMPOTENCY_CONFLICT`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: an unknown type, a missing amount or inviter", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn post_event(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(body): ApiJson<EventBody>,
) -> Result<ApiJson<EventOutcomeView>, ApiError> {
    require_role(&principal, EVENT_SENDERS)?;
    let event = MallEvent {
        id: body.id,
        kind: body.kind,
        user: body.user.into(),
        data: EventData {
            amount: body.data.amount,
            order_id: body.data.order_id,
            task: body.data.task,
            inviter: body.data.inviter,
            inactive_days: body.data.inactive_days,
        },
    };
    Ok(ApiJson(app.post_event(event).await?.into()))
}
