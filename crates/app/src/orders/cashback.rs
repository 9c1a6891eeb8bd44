//! Cashback (满返, SPEC §4.2, §7.7): credited to the user's balance when
//! the order completes, debited back pro rata when it is refunded.
//!
//! Every proportion is of the goods' payable — the sum of the lines'
//! stored payables, which is what refunds pay back (shipping is not
//! refunded by line) — through core's cumulative `cashback_debit`, half-up:
//! each refund takes `round(credit × refunded so far / payable)` minus what
//! the refunds before it took, so the refund that completes the order takes
//! the remainder and the reversals add up to the credit exactly.
//!
//! Refunds taken while the order was only paid come off the credit: a
//! coupon's cashback credited at completion is its amount less the pieces
//! of those refunds, so the later reversals still add up to what was
//! credited.
//!
//! A reversal the balance can no longer cover (the user spent it) takes
//! what is there and records the rest as a shortfall on the refund; the
//! balance never goes negative (see docs/ARCHITECTURE.md, "Balances").

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use couponflow_core::quote::Cashback;
use couponflow_core::refund::cashback_debit;
use couponflow_core::template::BalanceKind;

use super::{Order, Refund};
use crate::balances::{self, BalanceEntry, EntryReason, Posting};
use crate::{Actor, AppResult};

/// Cashback of one coupon credited to, or debited back from, a balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashbackPosting {
    pub coupon: String,
    pub to: BalanceKind,
    /// Credited (on complete) or debited back (on refund), in the
    /// balance's unit.
    pub amount: i64,
    /// On a refund: the part of the reversal the balance no longer held.
    #[serde(default)]
    pub shortfall: i64,
    /// The ledger entry; none when nothing moved.
    #[serde(default)]
    pub entry_id: Option<String>,
    #[serde(default)]
    pub balance_after: Option<i64>,
}

/// What refunds are measured against: the lines' payables.
fn goods_payable(order: &Order) -> i64 {
    order.quote.lines.iter().map(|line| line.payable).sum()
}

fn refunded_amount(refunds: &[Refund]) -> i64 {
    refunds.iter().map(|refund| refund.amount).sum()
}

fn posting(
    order: &Order,
    cashback: &Cashback,
    amount: i64,
    reason: EntryReason,
    reference: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Posting {
    Posting {
        user_id: order.user_id.clone(),
        kind: cashback.to,
        amount,
        reason,
        reference: reference.to_owned(),
        note: None,
        idempotency_key: format!("{}:{reference}:{}", reason.as_str(), cashback.coupon),
        actor: actor.clone(),
        now,
    }
}

fn posted(cashback: &Cashback, entry: Option<&BalanceEntry>, due: i64) -> CashbackPosting {
    let amount = entry.map_or(0, |entry| entry.amount.abs());
    CashbackPosting {
        coupon: cashback.coupon.clone(),
        to: cashback.to,
        amount,
        shortfall: due - amount,
        entry_id: entry.map(|entry| entry.id.clone()),
        balance_after: entry.map(|entry| entry.balance_after),
    }
}

/// Credits the order's cashback, in the completing unit; `refunds` are
/// those taken while it was paid. Keyed by order and coupon, so it lands
/// once however often it is called.
pub(super) async fn credit_on_complete(
    connection: &mut AnyConnection,
    order: &Order,
    refunds: &[Refund],
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<Vec<CashbackPosting>> {
    let (whole, before) = (goods_payable(order), refunded_amount(refunds));
    let mut credited = Vec::new();
    for cashback in &order.quote.cashback {
        let refunded_piece = cashback_debit(cashback.amount, whole, 0, before);
        let due = cashback.amount - refunded_piece;
        if due <= 0 {
            continue;
        }
        let reason = EntryReason::Cashback;
        let posting = posting(order, cashback, due, reason, &order.order_id, actor, now);
        let entry = balances::credit(connection, &posting).await?;
        credited.push(posted(cashback, Some(&entry), due));
    }
    Ok(credited)
}

/// Debits back this refund's piece of each credited cashback, in the
/// refund's unit. Only a completed order was credited.
pub(super) async fn reverse_on_refund(
    connection: &mut AnyConnection,
    order: &Order,
    earlier: &[Refund],
    refund_amount: i64,
    refund_id: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<Vec<CashbackPosting>> {
    let (whole, before) = (goods_payable(order), refunded_amount(earlier));
    let mut reversed = Vec::new();
    for cashback in &order.quote.cashback {
        let due = cashback_debit(cashback.amount, whole, before, refund_amount);
        if due <= 0 {
            continue;
        }
        let reason = EntryReason::CashbackReversal;
        let posting = posting(order, cashback, due, reason, refund_id, actor, now);
        let entry = balances::debit_up_to(connection, &posting).await?;
        reversed.push(posted(cashback, entry.as_ref(), due));
    }
    Ok(reversed)
}
