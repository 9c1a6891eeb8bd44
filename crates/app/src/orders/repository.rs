//! Orders in storage: the `orders` row (state and a JSON body with the cart
//! and the quote as locked), the `order_coupons` rows, and the refunds.

use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use super::{Order, OrderBody, OrderState, Refund};
use crate::{AppError, AppResult};

const COLUMNS: &str = "order_id, user_id, state, body, created_at, updated_at";

fn corrupt(table: &'static str, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: reason.to_string(),
    }
}

fn order_from_row(row: &sqlx::any::AnyRow) -> Result<Order, StoreError> {
    let state: String = row.try_get("state")?;
    let body: String = row.try_get("body")?;
    let body: OrderBody = serde_json::from_str(&body).map_err(|e| corrupt("orders", e))?;
    Ok(Order {
        order_id: row.try_get("order_id")?,
        user_id: row.try_get("user_id")?,
        state: OrderState::parse(&state)
            .ok_or_else(|| corrupt("orders", format!("state {state}")))?,
        cart: body.cart,
        quote: body.quote,
        created_at: from_micros(row.try_get("created_at")?)?,
        updated_at: from_micros(row.try_get("updated_at")?)?,
    })
}

pub(super) async fn exists(connection: &mut AnyConnection, order_id: &str) -> AppResult<bool> {
    let row = sqlx::query("SELECT 1 AS found FROM orders WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(row.is_some())
}

/// Stores a new order with the coupons it holds.
pub(super) async fn insert(connection: &mut AnyConnection, order: &Order) -> AppResult<()> {
    let body = OrderBody {
        cart: order.cart.clone(),
        quote: order.quote.clone(),
    };
    let body = serde_json::to_string(&body).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(&format!(
        "INSERT INTO orders ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(&order.order_id)
    .bind(&order.user_id)
    .bind(order.state.as_str())
    .bind(body)
    .bind(to_micros(order.created_at))
    .bind(to_micros(order.updated_at))
    .execute(&mut *connection)
    .await
    .map_err(|error| match StoreError::from(error) {
        // Another node locked the same order id first; a retry replays it.
        StoreError::Conflict { .. } => {
            AppError::Conflict(format!("order {} already exists", order.order_id))
        }
        other => AppError::Store(other),
    })?;
    for code in &order.quote.selected {
        sqlx::query("INSERT INTO order_coupons (order_id, code) VALUES ($1, $2)")
            .bind(&order.order_id)
            .bind(code)
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// Loads an order for change, locking its row until the batch commits.
pub(super) async fn lock(connection: &mut AnyConnection, order_id: &str) -> AppResult<Order> {
    let row = sqlx::query(&format!(
        "UPDATE orders SET updated_at = updated_at WHERE order_id = $1 RETURNING {COLUMNS}"
    ))
    .bind(order_id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::OrderNotFound(order_id.to_owned()))?;
    Ok(order_from_row(&row)?)
}

pub(super) async fn read(connection: &mut AnyConnection, order_id: &str) -> AppResult<Order> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM orders WHERE order_id = $1"))
        .bind(order_id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::OrderNotFound(order_id.to_owned()))?;
    Ok(order_from_row(&row)?)
}

pub(super) async fn save_state(connection: &mut AnyConnection, order: &Order) -> AppResult<()> {
    sqlx::query("UPDATE orders SET state = $2, updated_at = $3 WHERE order_id = $1")
        .bind(&order.order_id)
        .bind(order.state.as_str())
        .bind(to_micros(order.updated_at))
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}

/// The codes of the coupons an order holds, in code order (the order rows
/// are locked in, so two units never wait on each other in a circle).
pub(super) async fn coupon_codes(
    connection: &mut AnyConnection,
    order_id: &str,
) -> AppResult<Vec<String>> {
    let rows = sqlx::query("SELECT code FROM order_coupons WHERE order_id = $1 ORDER BY code")
        .bind(order_id)
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    rows.iter()
        .map(|row| {
            row.try_get("code")
                .map_err(|e| AppError::from(StoreError::from(e)))
        })
        .collect()
}

/// The refunds of an order, oldest first.
pub(super) async fn refunds(
    connection: &mut AnyConnection,
    order_id: &str,
) -> AppResult<Vec<Refund>> {
    let rows = sqlx::query("SELECT body FROM refunds WHERE order_id = $1 ORDER BY at, refund_id")
        .bind(order_id)
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    rows.iter()
        .map(|row| {
            let body: String = row.try_get("body").map_err(StoreError::from)?;
            Ok(serde_json::from_str(&body).map_err(|e| corrupt("refunds", e))?)
        })
        .collect()
}

pub(super) async fn insert_refund(
    connection: &mut AnyConnection,
    refund: &Refund,
) -> AppResult<()> {
    let body = serde_json::to_string(refund).map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query("INSERT INTO refunds (refund_id, order_id, body, at) VALUES ($1, $2, $3, $4)")
        .bind(&refund.refund_id)
        .bind(&refund.order_id)
        .bind(body)
        .bind(to_micros(refund.at))
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}
