//! `/v1/webhooks`: URLs that receive the events of SPEC §6.3, signed with
//! their secret, and each one's delivery log. Admins only. The secret is
//! answered once, at registration.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::notify::webhooks::{
    Delivery, DeliveryCursor, NewWebhook, WEBHOOK_PAGE_MAX, Webhook,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem};
use super::{WEBHOOK_ADMINS, actor};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::{Page, PageQuery};
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(create_webhook, list_webhooks))
        .routes(routes!(delete_webhook))
        .routes(routes!(webhook_deliveries))
}

/// `?limit=&cursor=` of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1 to 500; 50 when absent.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The page size (one row fewer than the use case's cap, for the
    /// overfetched row) and the cursor.
    pub fn page<K: serde::de::DeserializeOwned>(self) -> Result<(u32, Option<K>), ApiError> {
        let page = PageQuery {
            limit: self.limit,
            cursor: self.cursor,
        };
        Ok((page.limit()?.min(WEBHOOK_PAGE_MAX - 1), page.cursor()?))
    }
}

/// A webhook to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: an `http` or `https` URL.
    pub url: String,
    /// Event types (`coupon.redeemed`), families (`coupon.*`) or `*`; 1 to 64.
    pub events: Vec<String>,
    /// The signing secret, 16 to 256 characters; generated when absent.
    pub secret: Option<String>,
}

/// A webhook as stored: never its secret.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl From<Webhook> for WebhookView {
    fn from(webhook: Webhook) -> Self {
        WebhookView {
            id: webhook.id,
            url: webhook.url,
            events: webhook.events,
            created_by: webhook.created_by,
            created_at: webhook.created_at,
        }
    }
}

/// A new webhook with its secret: shown this once.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The key of the `X-Couponflow-Signature` HMAC. It cannot be shown again.
    pub secret: String,
}

/// One delivery of one event to the webhook.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also sent as `X-Couponflow-Delivery`.
    pub id: String,
    /// The event's `id`, the same on every attempt: deduplicate on it.
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `delivered`, `failed` (attempts used up) or `cancelled` (webhook deleted).
    pub status: String,
    pub attempts: i64,
    /// The HTTP status the last attempt got, if it got an answer.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for DeliveryView {
    fn from(delivery: Delivery) -> Self {
        DeliveryView {
            id: delivery.id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            status: delivery.status,
            attempts: delivery.attempts,
            last_status: delivery.last_status,
            last_error: delivery.last_error,
            next_attempt_at: delivery.next_attempt_at,
            delivered_at: delivery.delivered_at,
            created_at: delivery.created_at,
        }
    }
}

/// Where a page of a newest-first list continues.
#[derive(Debug, Serialize, Deserialize)]
pub struct Position {
    pub at: DateTime<Utc>,
    pub id: String,
}

/// Registers a webhook and answers its secret once.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Registered; `secret` is shown this once", body = CreatedWebhook),
        (status = 422, description = "`VALIDATION_FAILED`: a bad URL, event type or secret", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn create_webhook(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateWebhookRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, WEBHOOK_ADMINS)?;
    let new = NewWebhook {
        url: request.url,
        events: request.events,
        secret: request.secret,
    };
    let (webhook, secret) = app.create_webhook(&actor(&principal), new).await?;
    let location = format!("/v1/webhooks/{}", webhook.id);
    let created = CreatedWebhook {
        webhook: webhook.into(),
        secret,
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(created),
    ))
}

/// The webhooks registered (not deleted), in id order.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "One page of webhooks", body = Page<WebhookView>),
        AuthProblems, BadRequestProblem))]
async fn list_webhooks(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<Page<WebhookView>>, ApiError> {
    require_role(&principal, WEBHOOK_ADMINS)?;
    let (limit, after) = query.page::<String>()?;
    let rows = app.webhooks(after.as_deref(), limit + 1).await?;
    let views = rows.into_iter().map(WebhookView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| {
        view.id.clone()
    })))
}

/// Deletes a webhook: it receives nothing more; pending deliveries are cancelled.
///
/// Roles: admin.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "Deleted", body = WebhookView),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn delete_webhook(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<WebhookView>, ApiError> {
    require_role(&principal, WEBHOOK_ADMINS)?;
    Ok(ApiJson(app.delete_webhook(&id).await?.into()))
}

/// The webhook's delivery log, newest first.
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "The webhook's id"), ListQuery),
    responses(
        (status = 200, description = "One page of deliveries", body = Page<DeliveryView>),
        (status = 404, description = "`WEBHOOK_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn webhook_deliveries(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<Page<DeliveryView>>, ApiError> {
    require_role(&principal, WEBHOOK_ADMINS)?;
    let (limit, position) = query.page::<Position>()?;
    let cursor = position.map(|p| DeliveryCursor {
        created_at: p.at,
        id: p.id,
    });
    let rows = app
        .webhook_deliveries(&id, cursor.as_ref(), limit + 1)
        .await?;
    let views = rows.into_iter().map(DeliveryView::from).collect();
    Ok(ApiJson(Page::from_overfetch(views, limit, |view| {
        Position {
            at: view.created_at,
            id: view.id.clone(),
        }
    })))
}
