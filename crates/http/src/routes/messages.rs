//! `/v1/users/{user}/messages`: a user's in-app inbox (站内信, SPEC §6.3),
//! newest first with the unread count, and marking a message read. The
//! access rule is the wallet's: the user themself, or staff acting for
//! every user.

use std::sync::Arc;

use axum::extract::State;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::notify::inbox::{INBOX_PAGE_MAX, InboxCursor, Message};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem};
use super::webhooks::{ListQuery, Position};
use crate::auth::{Principal, require_user_access};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::pagination::encode_cursor;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(list_messages))
        .routes(routes!(read_message))
}

#[derive(Debug, Deserialize)]
struct InboxPath {
    user: String,
}

#[derive(Debug, Deserialize)]
struct MessagePath {
    user: String,
    id: String,
}

/// One message, in Simplified Chinese and English.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: String,
    /// The event it tells of (`coupon.granted`, `coupon.expiring`, …).
    pub event_type: String,
    pub event_id: String,
    /// 标题, e.g. 你获得了一张优惠券.
    pub title_zh: String,
    pub body_zh: String,
    pub title_en: String,
    pub body_en: String,
    /// The event's data: the coupon's `code`, `template_id`, `valid_until`, …
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: DateTime<Utc>,
    /// When the user read it; absent while unread.
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Message> for MessageView {
    fn from(message: Message) -> Self {
        MessageView {
            id: message.id,
            event_type: message.event_type,
            event_id: message.event_id,
            title_zh: message.title_zh,
            body_zh: message.body_zh,
            title_en: message.title_en,
            body_en: message.body_en,
            data: message.data,
            created_at: message.created_at,
            read_at: message.read_at,
        }
    }
}

/// One page of the inbox and the user's unread count.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct InboxPageView {
    pub items: Vec<MessageView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Unread messages of the whole inbox, not only of this page.
    pub unread: i64,
}

/// A user's messages, newest first, with the unread count.
///
/// Roles: the user themself (user token); admin, operator, service.
#[utoipa::path(get, path = "/v1/users/{user}/messages", tag = "inbox", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id"), ListQuery),
    responses(
        (status = 200, description = "One page of the inbox", body = InboxPageView),
        AuthProblems, BadRequestProblem))]
async fn list_messages(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<InboxPath>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<ApiJson<InboxPageView>, ApiError> {
    require_user_access(&principal, &path.user)?;
    let (limit, position) = query.page::<Position>()?;
    let limit = limit.min(INBOX_PAGE_MAX - 1);
    let cursor = position.map(|p| InboxCursor {
        created_at: p.at,
        id: p.id,
    });
    let page = app.messages(&path.user, cursor.as_ref(), limit + 1).await?;
    let mut items: Vec<MessageView> = page.messages.into_iter().map(MessageView::from).collect();
    let more = items.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_cursor = items.last().filter(|_| more).map(|last| {
        encode_cursor(&Position {
            at: last.created_at,
            id: last.id.clone(),
        })
    });
    Ok(ApiJson(InboxPageView {
        items,
        next_cursor,
        unread: page.unread,
    }))
}

/// Marks a message read (reading it again keeps the first time).
///
/// Roles: the user themself (user token); admin, operator, service.
#[utoipa::path(post, path = "/v1/users/{user}/messages/{id}/read", tag = "inbox", security(("bearer" = [])),
    params(("user" = String, Path, description = "The user's id"), ("id" = String, Path, description = "The message's id")),
    responses(
        (status = 200, description = "Read", body = MessageView),
        (status = 404, description = "`MESSAGE_NOT_FOUND`: no such message in this inbox", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn read_message(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<MessagePath>,
) -> Result<ApiJson<MessageView>, ApiError> {
    require_user_access(&principal, &path.user)?;
    let message = app.mark_message_read(&path.user, &path.id).await?;
    Ok(ApiJson(message.into()))
}
