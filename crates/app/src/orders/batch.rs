//! The unit that decides a batch of order calls: read everything the calls
//! need in a few set statements, decide each call in memory in arrival
//! order (`decide`), write every effect in a few set statements.
//!
//! Reads, in this order, in one round trip on SQLite (see `statements`):
//! 1. the orders of the batch's ids (locked on PostgreSQL, in id order);
//! 2. the answers stored for the calls' keys — after the order locks, so a
//!    call repeated on another node meanwhile finds its first answer;
//! 3. the codes held by the orders being redeemed or released, and those
//!    coupons;
//! 4. the coupons the carts name, and the wallets of the users placing
//!    orders;
//!
//! and then, in a second round trip, the templates of all these coupons.
//!
//! On PostgreSQL the coupons the decisions change are then locked in code
//! order and read again; if any changed meanwhile (another node), the batch
//! is decided again on the fresh rows, so two orders never lock one
//! coupon. SQLite has a single writer whose reads are current.

use std::collections::{BTreeSet, HashSet};

use sqlx::{AnyConnection, Row};

use couponflow_core::quote::{Select, WALLET_COUPONS_MAX};
use couponflow_store::{Backend, StoreError};

use super::coupon_rows;
use super::decide::{self, Call, OrderRequest, Outcome, Snapshot};
use super::idempotency::{self, NewAnswer};
use super::ledger_rows;
use super::outbox_rows;
use super::repository;
use super::statements;
use super::use_risk::UseRisk;
use super::view::{OrderView, StoredOrderAnswer};
use super::{BATCHED_SCOPES, ORDER_BATCH_MAX};
use crate::checkout::TemplateCache;
use crate::coupons;
use crate::{AppError, AppResult};

/// Longest `IN (…)` list of a read: a batch's ids fit in one (at most
/// [`ORDER_BATCH_MAX`] calls); the reads of one batch stay under 10,000
/// parameters, within both databases' limits.
const READ_LIST_MAX: usize = 1_024;
const _: () = assert!(ORDER_BATCH_MAX <= READ_LIST_MAX);
/// Most `VALUES` rows per write: 8 parameters a row at most.
const WRITE_ROWS_MAX: usize = 256;

/// Rounds of "lock what the decisions change, decide again if it moved" a
/// batch takes at most on PostgreSQL before it gives up as busy. Each round
/// locks at least one coupon more, so a batch ends well before this unless
/// other nodes keep changing its coupons.
const LOCK_ROUNDS_MAX: usize = 16;

/// Decides and writes one batch; one answer per call, in order. An `Err`
/// is the batch's (the database failed), never one call's.
pub(super) async fn decide_batch(
    connection: &mut AnyConnection,
    requests: &[OrderRequest],
) -> AppResult<Vec<AppResult<OrderView>>> {
    let mut snapshot = read_snapshot(connection, requests).await?;
    let mut cache = TemplateCache::default();
    let template_ids: Vec<String> = snapshot
        .coupons
        .values()
        .map(|coupon| coupon.template_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    cache.load_many(connection, &template_ids).await?;
    snapshot.use_risk = UseRisk::load(connection, &cache, &template_ids, requests).await?;
    let outcome = decide_locked(connection, &mut snapshot, &mut cache, requests).await?;
    write(connection, requests, &outcome, &cache).await?;
    if let Some(last) = requests.last() {
        outcome.use_risk.write(connection, last.now).await?;
    }
    Ok(outcome.answers)
}

async fn read_snapshot(
    connection: &mut AnyConnection,
    requests: &[OrderRequest],
) -> AppResult<Snapshot> {
    let backend = Backend::of(connection);
    let order_ids = sorted_unique(requests.iter().map(|r| r.order_id.as_str()));
    let keys: Vec<&idempotency::Key> = requests.iter().map(|r| &r.key).collect();
    let settled = sorted_unique(
        requests
            .iter()
            .filter(|r| matches!(r.call, Call::Redeem | Call::Release))
            .map(|r| r.order_id.as_str()),
    );
    let named = sorted_unique(requests.iter().flat_map(|r| selected_codes(&r.call)));
    let users = sorted_unique(requests.iter().filter_map(|r| match &r.call {
        Call::Lock(cart) => Some(cart.user.id.as_str()),
        Call::Redeem | Call::Release => None,
    }));
    let longest = [order_ids.len(), keys.len(), named.len(), users.len()]
        .into_iter()
        .max()
        .unwrap_or(0);
    let size = statements::size_for(longest, READ_LIST_MAX);
    // The order locks come first (PostgreSQL), so that the answers read
    // next include those of a call repeated on another node meanwhile.
    let mut reads = repository::read_statements(backend, &order_ids, size);
    reads.extend(idempotency::stored_statements(
        backend,
        &BATCHED_SCOPES,
        &keys,
        size,
    ));
    reads.extend(repository::held_statements(backend, &settled, size));
    reads.extend(coupon_rows::held_statements(backend, &settled, size));
    reads.extend(coupon_rows::named_statements(backend, &named, &users, size));
    reads.extend(coupon_rows::wallet_statements(
        backend,
        &users,
        size,
        WALLET_COUPONS_MAX,
    ));
    let rows = statements::fetch_all(connection, reads).await?;
    let mut snapshot = Snapshot::default();
    let mut coupons = Vec::new();
    for row in &rows {
        let part: String = row.try_get("part").map_err(StoreError::from)?;
        match part.as_str() {
            "order" => {
                let (order_id, order) = repository::view_from_row(row)?;
                snapshot.orders.insert(order_id, order);
            }
            "answer" => {
                let (key, stored) = idempotency::stored_from_row(row)?;
                snapshot.answers.insert(key, stored);
            }
            "held" => {
                let order_id: String = row.try_get("order_id").map_err(StoreError::from)?;
                let code: String = row.try_get("code").map_err(StoreError::from)?;
                snapshot.order_codes.entry(order_id).or_default().push(code);
            }
            "coupon" => coupons.push(coupons::record_from_row(row)?),
            other => {
                return Err(AppError::Store(StoreError::Other(format!(
                    "a batch read returned a row of unknown part {other}"
                ))));
            }
        }
    }
    snapshot.add_coupons(coupons);
    // PostgreSQL reads each statement at a snapshot of its own: a named
    // coupon that another node locked between the named read (which leaves
    // the owner's available coupons to the wallet read) and the wallet read
    // is in neither, and the lock would be refused `UNKNOWN_COUPON` instead
    // of `COUPON_STATE`. Those are read once more by code; one that is
    // still available is past its owner's wallet and stays unknown, as on
    // SQLite.
    if backend == Backend::Postgres {
        let missing: Vec<&str> = named
            .iter()
            .filter(|code| !snapshot.coupons.contains_key(**code))
            .copied()
            .collect();
        if !missing.is_empty() {
            let changed = coupon_rows::not_available_by_code(connection, &missing).await?;
            snapshot.add_coupons(changed);
        }
    }
    Ok(snapshot)
}

/// The codes a lock's cart names explicitly.
fn selected_codes(call: &Call) -> impl Iterator<Item = &str> {
    let codes: &[String] = match call {
        Call::Lock(cart) => match &cart.select {
            Select::Coupons(codes) => codes,
            Select::Best => &[],
        },
        Call::Redeem | Call::Release => &[],
    };
    codes.iter().map(String::as_str)
}

fn sorted_unique<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    items
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
}

/// Decides the batch; on PostgreSQL also locks the coupons it changes and
/// decides again until what it decided on is what it holds.
async fn decide_locked(
    connection: &mut AnyConnection,
    snapshot: &mut Snapshot,
    cache: &mut TemplateCache,
    requests: &[OrderRequest],
) -> AppResult<Outcome> {
    if Backend::of(connection) == Backend::Sqlite {
        return Ok(decide::decide_all(snapshot, cache, requests));
    }
    let mut locked: HashSet<String> = HashSet::new();
    for _ in 0..LOCK_ROUNDS_MAX {
        let outcome = decide::decide_all(snapshot, cache, requests);
        let missing: Vec<String> = outcome
            .coupons
            .keys()
            .filter(|code| !locked.contains(*code))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(outcome);
        }
        let codes: Vec<&str> = missing.iter().map(String::as_str).collect();
        let fresh = coupon_rows::lock_by_code(connection, &codes).await?;
        locked.extend(missing);
        if !snapshot.refresh(fresh) {
            return Ok(outcome);
        }
    }
    Err(AppError::Store(StoreError::Busy))
}

/// Writes the batch's effects, in one round trip on SQLite (see
/// `statements`). New orders go first: on PostgreSQL a unique violation
/// there means another node placed the same order id meanwhile, and the
/// whole batch is decided again (see `engine`).
async fn write(
    connection: &mut AnyConnection,
    requests: &[OrderRequest],
    outcome: &Outcome,
    cache: &TemplateCache,
) -> AppResult<()> {
    let backend = Backend::of(connection);
    let postings = ledger_rows::postings_of(outcome, cache)?;
    let ledger_entries: usize = postings.iter().map(|p| p.entries.len()).sum();
    let mut answers = Vec::with_capacity(outcome.remembered.len());
    for &index in &outcome.remembered {
        let (Some(request), Some(Ok(order))) = (requests.get(index), outcome.answers.get(index))
        else {
            continue;
        };
        let answer = StoredOrderAnswer::of(order);
        answers.push(NewAnswer {
            key: &request.key,
            answer: serde_json::to_string(&answer).map_err(|e| StoreError::Other(e.to_string()))?,
            at: request.now,
        });
    }
    let new_orders: Vec<&OrderView> = outcome.new_orders.iter().collect();
    let changed_orders: Vec<&OrderView> = outcome.changed_orders.iter().collect();
    let coupons: Vec<_> = outcome.coupons.values().collect();
    let links: usize = new_orders.iter().map(|o| o.built_codes().len()).sum();
    let longest = [
        new_orders.len(),
        links,
        changed_orders.len(),
        coupons.len(),
        outcome.history.len(),
        answers.len(),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let size = statements::size_for(longest, WRITE_ROWS_MAX);
    let mut writes = repository::insert_statements(backend, &new_orders, size)?;
    writes.extend(repository::state_statements(backend, &changed_orders, size));
    writes.extend(coupon_rows::save_statements(backend, &coupons, size));
    writes.extend(coupon_rows::history_statements(
        backend,
        &outcome.history,
        size,
    ));
    writes.extend(idempotency::remember_statements(backend, &answers, size));
    // Its own padding: a paid coupon posts about four entries, which would
    // pad every other list of the batch to four times its length.
    let ledger_size = statements::size_for(ledger_entries, WRITE_ROWS_MAX);
    writes.extend(ledger_rows::statements(backend, &postings, ledger_size));
    let events = outbox_rows::events_of(outcome);
    writes.extend(outbox_rows::statement(backend, &events));
    statements::run_all(connection, writes).await
}
