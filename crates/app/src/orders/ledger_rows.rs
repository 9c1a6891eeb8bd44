//! The ledger entries of a batch of order calls (SPEC §12), written with
//! the batch's other statements, so in its transaction: a payment moves
//! each coupon's cost as the quote split it (`costs`) from escrow to
//! expense; a release past the coupon's validity (it expires instead of
//! coming back) releases what it held. Locks and plain releases post
//! nothing.

use std::collections::HashMap;

use serde::Deserialize;

use couponflow_core::coupon::CouponState;
use couponflow_core::quote::CouponCost;
use couponflow_store::Backend;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;

use super::decide::Outcome;
use super::statements::{Statement, Value, padded_chunks};
use super::view::{Body, OrderView};
use crate::checkout::TemplateCache;
use crate::ledger::model::{self, Posting, PostingKind, Terms};
use crate::ledger::post::INSERT_COLUMNS;
use crate::{AppError, AppResult};
use couponflow_store::StoreError;

const ENTRY_ROW: [Value<'static>; 10] = [
    Value::NullText,
    Value::NullInteger,
    Value::NullText,
    Value::NullText,
    Value::NullText,
    Value::NullText,
    Value::NullText,
    Value::NullText,
    Value::NullInteger,
    Value::NullInteger,
];

/// Only the costs of a stored order body: serde skips the rest unparsed.
#[derive(Deserialize)]
struct StoredCosts {
    quote: QuoteCosts,
}

#[derive(Deserialize)]
struct QuoteCosts {
    costs: Vec<CouponCost>,
}

/// The batch's postings, one per coupon paid or expired on release.
pub(super) fn postings_of(outcome: &Outcome, cache: &TemplateCache) -> AppResult<Vec<Posting>> {
    let mut orders: HashMap<&str, &OrderView> = HashMap::new();
    for order in outcome.new_orders.iter().chain(&outcome.changed_orders) {
        orders.insert(order.order_id.as_str(), order);
    }
    let mut costs_of: HashMap<&str, Vec<CouponCost>> = HashMap::new();
    let mut terms_of: HashMap<String, Terms> = HashMap::new();
    let mut postings = Vec::new();
    for change in &outcome.history {
        let kind = match (change.from, change.to) {
            (CouponState::Locked, CouponState::Redeemed) => PostingKind::Expense,
            (CouponState::Locked, CouponState::Expired) => PostingKind::Release,
            _ => continue,
        };
        let Some(coupon) = outcome.coupons.get(&change.code) else {
            continue;
        };
        if !terms_of.contains_key(&coupon.template_id) {
            let record = cache.cached(&coupon.template_id)?;
            let terms = Terms::of(&record.id, record.template.get());
            terms_of.insert(coupon.template_id.clone(), terms);
        }
        let Some(terms) = terms_of.get(&coupon.template_id) else {
            continue;
        };
        // An order pays or releases a coupon once: order and code name the posting.
        let order_id = change.order_id.as_deref().unwrap_or_default();
        let id = format!("{}:{order_id}:{}", kind.as_str(), coupon.code);
        let mut posting = Posting::new(id, kind, terms, Some(&coupon.code), change.at);
        if kind == PostingKind::Expense {
            if !costs_of.contains_key(order_id) {
                let order = orders.get(order_id).ok_or_else(|| {
                    AppError::Store(StoreError::Other(format!(
                        "order {order_id} paid in a batch without its row"
                    )))
                })?;
                costs_of.insert(order_id, costs(order)?);
            }
            let cost = costs_of
                .get(order_id)
                .and_then(|costs| costs.iter().find(|c| c.coupon == coupon.code));
            let split = cost.map(model::order_costs).unwrap_or_default();
            model::redeem(&mut posting, terms, coupon.face_value, &split);
        } else if crate::ledger::post::holds(terms, coupon) {
            model::release(&mut posting, terms, coupon.face_value);
        }
        if !posting.is_empty() {
            postings.push(posting);
        }
    }
    Ok(postings)
}

fn costs(order: &OrderView) -> AppResult<Vec<CouponCost>> {
    match &order.body {
        Body::Built(body) => Ok(body.quote.costs.clone()),
        Body::Stored(text) => serde_json::from_str::<StoredCosts>(text)
            .map(|stored| stored.quote.costs)
            .map_err(|e| {
                AppError::Store(StoreError::Corrupt {
                    table: "orders",
                    reason: e.to_string(),
                })
            }),
    }
}

/// The INSERTs of `postings`, in `VALUES` lists padded to `size` rows.
pub(super) fn statements<'a>(
    backend: Backend,
    postings: &'a [Posting],
    size: usize,
) -> Vec<Statement<'a>> {
    let rows: Vec<(&Posting, usize)> = postings
        .iter()
        .flat_map(|p| (0..p.entries.len()).map(move |line| (p, line)))
        .collect();
    let mut statements = Vec::new();
    for chunk in padded_chunks(&rows, size) {
        let mut statement = Statement::new(format!(
            "INSERT INTO ledger_entries ({INSERT_COLUMNS}) SELECT new.column1, new.column2, \
             new.column3, new.column4, new.column5, new.column6, new.column7, new.column8, \
             new.column9, new.column10 FROM (VALUES {}) AS new WHERE new.column1 IS NOT NULL",
            Params::new(backend).rows(size, 10)
        ));
        for (posting, line) in chunk {
            let entry = &posting.entries[*line];
            statement
                .bind(Value::Text(&posting.id))
                .bind(Value::Integer(i64::try_from(*line).unwrap_or(i64::MAX)))
                .bind(Value::Text(posting.kind.as_str()))
                .bind(Value::Text(&entry.issuer))
                .bind(Value::Text(&posting.template_id))
                .bind(Value::OptionalText(posting.template_shop.as_deref()))
                .bind(Value::Text(entry.account.as_str()))
                .bind(Value::OptionalText(posting.code.as_deref()))
                .bind(Value::Integer(entry.amount))
                .bind(Value::Integer(to_micros(posting.at)));
        }
        statement.pad_rows(chunk.len(), size, &ENTRY_ROW);
        statements.push(statement);
    }
    statements
}
