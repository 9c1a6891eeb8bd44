//! `/v1/orders/{order}`: the order flow the mall's backend drives (SPEC §8)
//! — lock, redeem, release, complete, refunds — and reading an order.
//!
//! Every call is idempotent by the mall's order id (a refund by its
//! `refund_id`): the same call again answers 200 with the first answer and
//! changes nothing; the same key with other content is 409
//! `IDEMPOTENCY_CONFLICT`; a call the order's state does not allow is 409
//! `ORDER_STATE`.

use std::sync::Arc;

use axum::extract::State;
use couponflow_app::App;
use couponflow_app::orders::{RefundRequest, RefundRequestLine};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::body::OptionalJson;
use super::cart_body::CartBody;
use super::docs::{AuthProblems, BadRequestProblem};
use super::order_views::{CompletedOrderView, OrderView, OrderWithRefunds, RefundView};
use super::{ORDER_DRIVERS, actor};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(get_order))
        .routes(routes!(lock_order))
        .routes(routes!(redeem_order))
        .routes(routes!(release_order))
        .routes(routes!(complete_order))
        .routes(routes!(refund_order))
}

/// The body of an action that takes none: absent, or `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

/// A refund (SPEC §8.4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    /// The mall's refund id, 1 to 128 characters: the idempotency key.
    pub refund_id: String,
    /// The lines refunded and how many units of each.
    pub lines: Vec<RefundLineBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineBody {
    pub line_id: String,
    pub quantity: u32,
}

impl From<RefundBody> for RefundRequest {
    fn from(body: RefundBody) -> Self {
        RefundRequest {
            refund_id: body.refund_id,
            lines: body
                .lines
                .into_iter()
                .map(|line| RefundRequestLine {
                    line_id: line.line_id,
                    quantity: line.quantity,
                })
                .collect(),
        }
    }
}

/// Reads an order with its refunds.
///
/// Roles: admin, service.
#[utoipa::path(get, path = "/v1/orders/{order}", tag = "orders", security(("bearer" = [])),
    params(("order" = String, Path, description = "The mall's order id")),
    responses(
        (status = 200, description = "The order and its refunds, oldest first", body = OrderWithRefunds),
        (status = 404, description = "`ORDER_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_order(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(order_id): ApiPath<String>,
) -> Result<ApiJson<OrderWithRefunds>, ApiError> {
    require_role(&principal, ORDER_DRIVERS)?;
    let order = app.order(&order_id).await?;
    let refunds = app.order_refunds(&order_id).await?;
    Ok(ApiJson(OrderWithRefunds {
        order: order.into(),
        refunds: refunds.into_iter().map(Into::into).collect(),
    }))
}

/// Locks the order's coupons: the order is placed.
///
/// 下单 (SPEC §8.1): the quote is recomputed over the user's coupons
/// (`select`: `"best"` or the chosen codes), the coupons it uses move to
/// `locked` for this order, and the order is stored with its
/// apportionment. The same cart again answers the same order.
/// Roles: admin, service.
#[utoipa::path(post, path = "/v1/orders/{order}/lock", tag = "orders", security(("bearer" = [])),
    params(("order" = String, Path, description = "The mall's order id, 1 to 128 characters")),
    request_body = CartBody,
    responses(
        (status = 200, description = "Locked (or the replay of the same lock)", body = OrderView),
        (status = 409, description = "`IDEMPOTENCY_CONFLICT`: the order was locked with another cart; `COUPON_STATE`: a chosen coupon is held by another order or no longer usable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`, `UNKNOWN_COUPON` or `CANNOT_SELECT`, as for a quote", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn lock_order(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(cart): ApiJson<CartBody>,
) -> Result<ApiJson<OrderView>, ApiError> {
    require_role(&principal, ORDER_DRIVERS)?;
    let order = app
        .lock_order(&actor(&principal), &order_id, cart.into())
        .await?;
    Ok(ApiJson(order.into()))
}

/// Redeems the order's coupons: payment arrived.
///
/// 支付成功 (SPEC §8.2): `locked → paid`; its coupons move to `redeemed`.
/// Roles: admin, service.
#[utoipa::path(post, path = "/v1/orders/{order}/redeem", tag = "orders", security(("bearer" = [])),
    params(("order" = String, Path, description = "The mall's order id")),
    request_body(content = Option<NoFields>, description = "None, or `{}`"),
    responses(
        (status = 200, description = "Paid (or the replay of the same call)", body = OrderView),
        (status = 404, description = "`ORDER_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ORDER_STATE`: the order is not locked", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn redeem_order(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(order_id): ApiPath<String>,
    OptionalJson(_none): OptionalJson<NoFields>,
) -> Result<ApiJson<OrderView>, ApiError> {
    require_role(&principal, ORDER_DRIVERS)?;
    let order = app.redeem_order(&actor(&principal), &order_id).await?;
    Ok(ApiJson(order.into()))
}

/// Releases the order's coupons: cancelled or timed out before payment.
///
/// 取消 / 超时未支付 (SPEC §8.3): `locked → released`; each coupon follows
/// its template's `on_cancel` (`return`: back to `available`, or `expired`
/// past its validity). Roles: admin, service.
#[utoipa::path(post, path = "/v1/orders/{order}/release", tag = "orders", security(("bearer" = [])),
    params(("order" = String, Path, description = "The mall's order id")),
    request_body(content = Option<NoFields>, description = "None, or `{}`"),
    responses(
        (status = 200, description = "Released (or the replay of the same call)", body = OrderView),
        (status = 404, description = "`ORDER_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ORDER_STATE`: the order is not locked", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn release_order(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(order_id): ApiPath<String>,
    OptionalJson(_none): OptionalJson<NoFields>,
) -> Result<ApiJson<OrderView>, ApiError> {
    require_role(&principal, ORDER_DRIVERS)?;
    let order = app.release_order(&actor(&principal), &order_id).await?;
    Ok(ApiJson(order.into()))
}

/// Completes a paid order: delivered and closed; its cashback is due.
///
/// `paid → completed`. Roles: admin, service.
#[utoipa::path(post, path = "/v1/orders/{order}/complete", tag = "orders", security(("bearer" = [])),
    params(("order" = String, Path, description = "The mall's order id")),
    request_body(content = Option<NoFields>, description = "None, or `{}`"),
    responses(
        (status = 200, description = "Completed (or the replay of the same call), with the cashback due", body = CompletedOrderView),
        (status = 404, description = "`ORDER_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ORDER_STATE`: the order is not paid", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn complete_order(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(order_id): ApiPath<String>,
    OptionalJson(_none): OptionalJson<NoFields>,
) -> Result<ApiJson<CompletedOrderView>, ApiError> {
    require_role(&principal, ORDER_DRIVERS)?;
    let completed = app.complete_order(&actor(&principal), &order_id).await?;
    Ok(ApiJson(completed.into()))
}

/// Refunds units of a paid or completed order.
///
/// 退款 (SPEC §8.4): each line's refund is its stored payable pro rata of
/// the units refunded; the last units take the remainder, so a line's
/// refunds add up to its payable exactly. Each coupon follows its
/// template's `return_policy`. Idempotent by `refund_id`.
/// Roles: admin, service.
#[utoipa::path(post, path = "/v1/orders/{order}/refunds", tag = "orders", security(("bearer" = [])),
    params(("order" = String, Path, description = "The mall's order id")),
    request_body = RefundBody,
    responses(
        (status = 200, description = "Refunded (or the replay of the same refund)", body = RefundView),
        (status = 404, description = "`ORDER_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`ORDER_STATE`: the order is not paid or completed; `IDEMPOTENCY_CONFLICT`: the `refund_id` was used with other content", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: an unknown line, or more units than are left", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn refund_order(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(order_id): ApiPath<String>,
    ApiJson(body): ApiJson<RefundBody>,
) -> Result<ApiJson<RefundView>, ApiError> {
    require_role(&principal, ORDER_DRIVERS)?;
    let refund = app
        .refund_order(&actor(&principal), &order_id, body.into())
        .await?;
    Ok(ApiJson(refund.into()))
}
