//! The audit log (SPEC §11.6): a layer that records every staff action
//! over `/v1`, and `GET /v1/audit-log` to read it.
//!
//! An action is any call but GET/HEAD/OPTIONS made with a staff,
//! merchant or partner key (the mall's `service` key is the mall, not
//! staff, and its claims run at flash-sale rates). The entry is written
//! once the action has been answered, with the request body and the
//! response body (the resource as the action left it), each kept when it
//! is text of at most 64 KiB. It is written after the action's own unit
//! commits, so a crash between the two loses the entry, not the action.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::audit::{AUDIT_PAGE_MAX, AuditEntry, NewAuditEntry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem};
use crate::auth::{Principal, Role, require_role};
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

/// Bodies kept at most, each way.
const KEPT_BODY_BYTES: usize = 64 * 1024;
/// Who may read the log.
const AUDIT_READERS: &[Role] = &[Role::Admin, Role::Finance];

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new().routes(routes!(audit_log))
}

fn kept(bytes: &[u8]) -> Option<String> {
    (bytes.len() <= KEPT_BODY_BYTES && !bytes.is_empty())
        .then(|| std::str::from_utf8(bytes).ok().map(str::to_owned))
        .flatten()
}

/// The layer: passes every call on, and records the staff actions.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let principal = Principal::from_request_parts(&mut parts, &state).await;
    let staff = match &principal {
        Ok(Principal::Staff { key_id, role, .. }) if *role != Role::Service => {
            Some((key_id.clone(), *role))
        }
        _ => None,
    };
    // The handler's extractor takes it from here instead of resolving the
    // key a second time.
    if let Ok(principal) = principal {
        parts.extensions.insert(principal);
    }
    let Some((key_id, role)) = staff else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    // Boxed: the recording's reads and write make a large future, which
    // every other call (the mall's claims among them) would carry too.
    Box::pin(recorded(state, parts, body, next, key_id, role)).await
}

/// Runs a staff action and records it.
async fn recorded(
    state: AppState,
    parts: axum::http::request::Parts,
    body: Body,
    next: Next,
    key_id: String,
    role: Role,
) -> Response {
    // The body limit layer outside has bounded the body already.
    let Ok(sent) = to_bytes(body, usize::MAX).await else {
        return next.run(Request::from_parts(parts, Body::empty())).await;
    };
    let method = parts.method.to_string();
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let before = state.app.audit_before(parts.uri.path()).await;
    let response = next
        .run(Request::from_parts(parts, Body::from(sent.clone())))
        .await;
    let (head, body) = response.into_parts();
    let answered = match to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(%error, "an answer could not be read for the audit log");
            Default::default()
        }
    };
    let entry = NewAuditEntry {
        actor: format!("key:{key_id}"),
        role: role.as_str().to_owned(),
        method,
        path,
        status: i64::from(head.status.as_u16()),
        before,
        request: kept(&sent),
        response: kept(&answered),
    };
    if let Err(error) = state.app.record_audit(entry).await {
        tracing::error!(%error, "a staff action could not be written to the audit log");
    }
    Response::from_parts(head, Body::from(answered))
}

/// `?actor=&path=&limit=&cursor=`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this actor (`key:<id>`).
    pub actor: Option<String>,
    /// Only paths starting with this (`/v1/templates/tpl_…`).
    pub path: Option<String>,
    /// Items per page, 1 to 500; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One staff action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    #[serde(skip)]
    pub seq: i64,
    pub id: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    /// The resource as it stood before the action (JSON), when the path
    /// names one: a template, campaign, coupon, order, grant rule, key or
    /// webhook.
    pub before: Option<String>,
    /// The body sent (text up to 64 KiB). Keys, secrets and tokens are
    /// redacted in all three.
    pub request: Option<String>,
    /// The body answered: the resource as the action left it.
    pub response: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        AuditEntryView {
            seq: e.seq,
            id: e.id,
            at: e.at,
            actor: e.actor,
            role: e.role,
            method: e.method,
            path: e.path,
            status: e.status,
            before: e.before,
            request: e.request,
            response: e.response,
        }
    }
}

/// The staff actions, newest first.
///
/// Roles: admin, finance.
#[utoipa::path(get, path = "/v1/audit-log", tag = "risk", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of the log", body = Page<AuditEntryView>),
        AuthProblems, BadRequestProblem))]
async fn audit_log(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<ApiJson<Page<AuditEntryView>>, ApiError> {
    require_role(&principal, AUDIT_READERS)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?.min(AUDIT_PAGE_MAX - 1);
    let before = page.cursor::<i64>()?;
    let rows = app
        .audit_entries(
            query.actor.as_deref(),
            query.path.as_deref(),
            before,
            limit + 1,
        )
        .await?;
    let views = rows.into_iter().map(AuditEntryView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| view.seq)))
}
