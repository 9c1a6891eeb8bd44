//! The coupon rows of a batch of orders, read and written in a few set
//! statements: by code (the coupons the calls name or the orders hold), the
//! wallets of the users placing orders, the new states, and their history.
//!
//! Every statement is a round trip to the database (on SQLite two thread
//! hand-offs of sqlx's worker, tens of microseconds each on a virtual
//! machine), so a batch issues a handful however many orders it holds. The
//! parameters come from `Params` (positional `?` on SQLite, so binding
//! stays linear in their number).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

use couponflow_core::coupon::CouponState;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::statements::{Statement, Value, id_list_reads, padded_chunks};
use crate::AppResult;
use crate::coupons::{self, COLUMNS, CouponRecord};

/// Codes or users per `IN (…)` list.
const IN_LIST_MAX: usize = 512;

/// One state change of a coupon, for `coupon_history`.
#[derive(Debug, Clone)]
pub(super) struct HistoryRow {
    pub code: String,
    pub from: CouponState,
    pub to: CouponState,
    pub at: DateTime<Utc>,
    pub reason: &'static str,
    pub order_id: Option<String>,
    pub actor: String,
}

/// The coupons of `codes` that are not available, as they stand now
/// (not locked: the batch locks what it changes later, in code order).
pub(super) async fn not_available_by_code(
    connection: &mut AnyConnection,
    codes: &[&str],
) -> AppResult<Vec<CouponRecord>> {
    by_code(connection, codes, "AND state <> 'available'").await
}

/// Locks the coupons of `codes` (sorted) until the batch commits and reads
/// them again: PostgreSQL, `FOR UPDATE` in code order, so that batches on
/// two nodes never wait on each other in a circle.
pub(super) async fn lock_by_code(
    connection: &mut AnyConnection,
    codes: &[&str],
) -> AppResult<Vec<CouponRecord>> {
    by_code(connection, codes, "ORDER BY code FOR UPDATE").await
}

/// The coupons of `codes`, with `tail` after the `IN` list.
async fn by_code(
    connection: &mut AnyConnection,
    codes: &[&str],
    tail: &str,
) -> AppResult<Vec<CouponRecord>> {
    let mut found = Vec::with_capacity(codes.len());
    for chunk in codes.chunks(IN_LIST_MAX) {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "SELECT {COLUMNS} FROM coupons WHERE code IN ({}) {tail}",
            params.list(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for code in chunk {
            query = query.bind(*code);
        }
        let rows = query
            .fetch_all(&mut *connection)
            .await
            .map_err(StoreError::from)?;
        for row in &rows {
            found.push(coupons::record_from_row(row)?);
        }
    }
    Ok(found)
}

/// Reads the coupons of `codes` that exist as `part = 'coupon'` rows,
/// except the available ones of `wallet_users`, which their wallets bring
/// (one row per coupon is read, not two). A named coupon past the first
/// `WALLET_COUPONS_MAX` of its owner's wallet is then read by neither; a
/// lock naming it is refused `UNKNOWN_COUPON`, as the engine refuses a
/// selection outside the wallet. Both lists are padded to `size` with
/// NULLs, which the `CASE` turns into "not one of them".
pub(super) fn named_statements<'a>(
    backend: Backend,
    codes: &[&'a str],
    wallet_users: &[&'a str],
    size: usize,
) -> Vec<Statement<'a>> {
    let users = &wallet_users[..wallet_users.len().min(size)];
    let mut statements = Vec::new();
    for chunk in padded_chunks(codes, size) {
        let mut params = Params::new(backend);
        let codes = params.list(size);
        let mut statement = Statement::new(format!(
            "SELECT 'coupon' AS part, {COLUMNS} FROM coupons WHERE code IN ({codes}) \
             AND NOT (state = 'available' AND CASE WHEN user_id IN ({}) THEN 1 ELSE 0 END = 1)",
            params.list(size)
        ));
        for code in chunk {
            statement.bind(Value::Text(code));
        }
        statement.pad(size - chunk.len(), &Value::NullText);
        for user in users {
            statement.bind(Value::Text(user));
        }
        statement.pad(size - users.len(), &Value::NullText);
        statements.push(statement);
    }
    statements
}

/// Reads the coupons the orders of `order_ids` hold as `part = 'coupon'`
/// rows (the codes themselves come from `repository::held_statements`, in
/// the same round trip).
pub(super) fn held_statements<'a>(
    backend: Backend,
    order_ids: &[&'a str],
    size: usize,
) -> Vec<Statement<'a>> {
    id_list_reads(backend, order_ids, size, |list| {
        format!(
            "SELECT 'coupon' AS part, {COLUMNS} FROM coupons WHERE code IN \
             (SELECT code FROM order_coupons WHERE order_id IN ({list}))"
        )
    })
}

/// Reads the available coupons of each of `users` as `part = 'coupon'`
/// rows, soonest-expiring first, at most `per_user_max` each — the wallet
/// `checkout::usable_coupons` reads for one user, for a whole batch.
/// (Coupons locked by an order being placed cannot exist yet: a lock that
/// finds its order id taken is refused, so its wallet is never used.)
///
/// `state || ''` keeps SQLite, which has no statistics, off the
/// `(state, valid_until)` index: it would walk every available coupon of
/// the house instead of the users' own through the per-user index.
pub(super) fn wallet_statements<'a>(
    backend: Backend,
    users: &[&'a str],
    size: usize,
    per_user_max: usize,
) -> Vec<Statement<'a>> {
    let per_user_max = i64::try_from(per_user_max).unwrap_or(i64::MAX);
    padded_chunks(users, size)
        .into_iter()
        .map(|chunk| {
            let mut params = Params::new(backend);
            let mut statement = Statement::new(format!(
                "SELECT 'coupon' AS part, {COLUMNS} FROM (SELECT {COLUMNS}, ROW_NUMBER() OVER \
                 (PARTITION BY user_id ORDER BY valid_until, code) AS wallet_rank \
                 FROM coupons WHERE user_id IN ({}) AND state || '' = 'available') AS wallet \
                 WHERE wallet_rank <= {}",
                params.list(size),
                params.next()
            ));
            for user in chunk {
                statement.bind(Value::Text(user));
            }
            statement.pad(size - chunk.len(), &Value::NullText);
            statement.bind(Value::Integer(per_user_max));
            statement
        })
        .collect()
}

/// The statements that save the state, holding order and time of changed
/// coupons, joined to a `VALUES` list padded to `size` rows (a `CASE` per
/// column would cost SQLite's parser time quadratic in the rows).
pub(super) fn save_statements<'a>(
    backend: Backend,
    coupons: &[&'a CouponRecord],
    size: usize,
) -> Vec<Statement<'a>> {
    let mut statements = Vec::new();
    for chunk in padded_chunks(coupons, size) {
        let mut statement = Statement::new(format!(
            "UPDATE coupons SET state = changed.column2, order_id = changed.column3, \
             updated_at = changed.column4 FROM (VALUES {}) AS changed \
             WHERE coupons.code = changed.column1",
            Params::new(backend).rows(size, 4)
        ));
        for coupon in chunk {
            statement
                .bind(Value::Text(&coupon.code))
                .bind(Value::Text(coupon.state.as_str()))
                .bind(Value::OptionalText(coupon.order_id.as_deref()))
                .bind(Value::Integer(to_micros(coupon.updated_at)));
        }
        let row = [
            Value::NullText,
            Value::NullText,
            Value::NullText,
            Value::NullInteger,
        ];
        statement.pad_rows(chunk.len(), size, &row);
        statements.push(statement);
    }
    statements
}

/// A history row's values' types, for padding.
const HISTORY_ROW: [Value<'static>; 8] = [
    Value::NullText,
    Value::NullInteger,
    Value::NullText,
    Value::NullText,
    Value::NullInteger,
    Value::NullText,
    Value::NullText,
    Value::NullText,
];

/// The statements that append history rows, in `VALUES` lists padded to
/// `size` rows (the NULL rows are left out). Each row's `seq` is the code's
/// last one plus its place among the batch's rows of that code; the last
/// one is read by the statement itself (an `INSERT … SELECT` reads before
/// it writes on both databases), and nobody else numbers these codes
/// meanwhile: their rows are locked (PostgreSQL) or the writer is alone
/// (SQLite).
pub(super) fn history_statements<'a>(
    backend: Backend,
    rows: &'a [HistoryRow],
    size: usize,
) -> Vec<Statement<'a>> {
    let mut place: HashMap<&str, i64> = HashMap::with_capacity(rows.len());
    let numbered: Vec<(i64, &HistoryRow)> = rows
        .iter()
        .map(|row| {
            let n = place.entry(row.code.as_str()).or_insert(0);
            *n += 1;
            (*n, row)
        })
        .collect();
    let mut statements = Vec::new();
    for chunk in padded_chunks(&numbered, size) {
        let mut statement = Statement::new(format!(
            "INSERT INTO coupon_history (code, seq, from_state, to_state, at, reason, order_id, actor) \
             SELECT new.column1, (SELECT COALESCE(MAX(old.seq), 0) FROM coupon_history AS old \
             WHERE old.code = new.column1) + new.column2, new.column3, new.column4, new.column5, \
             new.column6, new.column7, new.column8 FROM (VALUES {}) AS new \
             WHERE new.column1 IS NOT NULL",
            Params::new(backend).rows(size, 8)
        ));
        for (place, row) in chunk {
            statement
                .bind(Value::Text(&row.code))
                .bind(Value::Integer(*place))
                .bind(Value::Text(row.from.as_str()))
                .bind(Value::Text(row.to.as_str()))
                .bind(Value::Integer(to_micros(row.at)))
                .bind(Value::Text(row.reason))
                .bind(Value::OptionalText(row.order_id.as_deref()))
                .bind(Value::Text(&row.actor));
        }
        statement.pad_rows(chunk.len(), size, &HISTORY_ROW);
        statements.push(statement);
    }
    statements
}
