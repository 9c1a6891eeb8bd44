//! Orders in storage: the `orders` row (state and a JSON body with the cart
//! and the quote as locked), the `order_coupons` rows, and the refunds —
//! one order at a time, and whole batches of orders in a few set
//! statements (see `orders::batch`).

use std::sync::Arc;

use sqlx::{AnyConnection, Row};

use couponflow_store::sql::Params;
use couponflow_store::time::{from_micros, to_micros};
use couponflow_store::{Backend, StoreError};

use super::statements::{Statement, Value, id_list_reads, padded_chunks};
use super::view::{Body, OrderView};
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

/// An order of a batch as read, its body unparsed (see `view`); or why its
/// row is unusable, reported to the calls about that order alone.
pub(super) type ReadOrder = Result<OrderView, String>;

/// A batch's order row, tagged `part = 'order'` (see `read_statements`).
pub(super) fn view_from_row(row: &sqlx::any::AnyRow) -> Result<(String, ReadOrder), StoreError> {
    let order_id: String = row.try_get("order_id")?;
    let view = (|| -> Result<OrderView, StoreError> {
        let state: String = row.try_get("state")?;
        let body: String = row.try_get("body")?;
        Ok(OrderView {
            order_id: order_id.clone(),
            user_id: row.try_get("user_id")?,
            state: OrderState::parse(&state)
                .ok_or_else(|| corrupt("orders", format!("state {state}")))?,
            created_at: from_micros(row.try_get("created_at")?)?,
            updated_at: from_micros(row.try_get("updated_at")?)?,
            body: Body::Stored(Arc::from(body)),
        })
    })();
    Ok((order_id, view.map_err(|error| error.to_string())))
}

/// Reads the orders of `order_ids` that exist, as `part = 'order'`, the
/// list padded to `size` (see `statements::size_for`). On PostgreSQL their
/// rows are locked until the batch commits, in id order, so that batches
/// on two nodes never wait on each other in a circle (SQLite has one
/// writer).
pub(super) fn read_statements<'a>(
    backend: Backend,
    order_ids: &[&'a str],
    size: usize,
) -> Vec<Statement<'a>> {
    let lock = match backend {
        Backend::Postgres => " ORDER BY order_id FOR UPDATE",
        Backend::Sqlite => "",
    };
    id_list_reads(backend, order_ids, size, |list| {
        format!("SELECT 'order' AS part, {COLUMNS} FROM orders WHERE order_id IN ({list}){lock}")
    })
}

/// Reads the codes each of `order_ids` holds, in code order, as
/// `part = 'held'` rows of `order_id` and `code`.
pub(super) fn held_statements<'a>(
    backend: Backend,
    order_ids: &[&'a str],
    size: usize,
) -> Vec<Statement<'a>> {
    id_list_reads(backend, order_ids, size, |list| {
        format!(
            "SELECT 'held' AS part, order_id, code FROM order_coupons WHERE order_id IN ({list}) \
             ORDER BY order_id, code"
        )
    })
}

/// Order rows: 6 values each.
const ORDER_ROW: [Value<'static>; 6] = [
    Value::NullText,
    Value::NullText,
    Value::NullText,
    Value::NullText,
    Value::NullInteger,
    Value::NullInteger,
];

/// The statements that store new orders with the coupons they hold, in
/// `VALUES` lists padded to `size` rows (the NULL rows are left out). A
/// unique violation (the same order id placed on another node meanwhile)
/// fails the batch, which is then decided again and finds that order.
pub(super) fn insert_statements<'a>(
    backend: Backend,
    orders: &[&'a OrderView],
    size: usize,
) -> AppResult<Vec<Statement<'a>>> {
    let mut statements = Vec::new();
    for chunk in padded_chunks(orders, size) {
        let mut statement = Statement::new(format!(
            "INSERT INTO orders ({COLUMNS}) SELECT new.column1, new.column2, new.column3, \
             new.column4, new.column5, new.column6 FROM (VALUES {}) AS new \
             WHERE new.column1 IS NOT NULL",
            Params::new(backend).rows(size, 6)
        ));
        for order in chunk {
            statement
                .bind(Value::Text(&order.order_id))
                .bind(Value::Text(&order.user_id))
                .bind(Value::Text(order.state.as_str()))
                .bind(Value::Owned(order.body_json()?))
                .bind(Value::Integer(to_micros(order.created_at)))
                .bind(Value::Integer(to_micros(order.updated_at)));
        }
        statement.pad_rows(chunk.len(), size, &ORDER_ROW);
        statements.push(statement);
    }
    let links: Vec<(&'a str, &'a str)> = orders
        .iter()
        .flat_map(|order| {
            order
                .built_codes()
                .iter()
                .map(|code| (order.order_id.as_str(), code.as_str()))
        })
        .collect();
    for chunk in padded_chunks(&links, size) {
        let mut statement = Statement::new(format!(
            "INSERT INTO order_coupons (order_id, code) SELECT new.column1, new.column2 \
             FROM (VALUES {}) AS new WHERE new.column1 IS NOT NULL",
            Params::new(backend).rows(size, 2)
        ));
        for (order_id, code) in chunk {
            statement
                .bind(Value::Text(order_id))
                .bind(Value::Text(code));
        }
        statement.pad_rows(chunk.len(), size, &[Value::NullText, Value::NullText]);
        statements.push(statement);
    }
    Ok(statements)
}

/// The statements that save the state of existing orders, joined to a
/// `VALUES` list padded to `size` rows (see `coupon_rows::save_statements`).
pub(super) fn state_statements<'a>(
    backend: Backend,
    orders: &[&'a OrderView],
    size: usize,
) -> Vec<Statement<'a>> {
    let mut statements = Vec::new();
    for chunk in padded_chunks(orders, size) {
        let mut statement = Statement::new(format!(
            "UPDATE orders SET state = changed.column2, updated_at = changed.column3 \
             FROM (VALUES {}) AS changed WHERE orders.order_id = changed.column1",
            Params::new(backend).rows(size, 3)
        ));
        for order in chunk {
            statement
                .bind(Value::Text(&order.order_id))
                .bind(Value::Text(order.state.as_str()))
                .bind(Value::Integer(to_micros(order.updated_at)));
        }
        let row = [Value::NullText, Value::NullText, Value::NullInteger];
        statement.pad_rows(chunk.len(), size, &row);
        statements.push(statement);
    }
    statements
}
