//! Refund arithmetic (SPEC §8.4): how much of each line goes back, what
//! happens to the coupons of a refunded order, and how much cashback is
//! debited back.
//!
//! Every proportional amount here is *cumulative*: the piece for this refund
//! is the rounded share of everything refunded so far minus the rounded share
//! of what was refunded before. Pieces are never negative, and the piece that
//! completes the whole takes the remainder, so the pieces always add up to
//! the whole exactly — however a line, an order or a coupon is cut up.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::money::{AMOUNT_MINOR_MAX, round_half_up_div};
use crate::template::{Benefit, CashPartial, ReturnAction, ValidTemplate};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundError {
    #[error("a refund must take back at least one unit of a line")]
    ZeroQuantity,
    #[error(
        "cannot refund {requested} units: {refunded_before} of the line's {quantity} are already refunded"
    )]
    TooManyUnits {
        requested: u32,
        refunded_before: u32,
        quantity: u32,
    },
    #[error("a line's payable must be within 0..={AMOUNT_MINOR_MAX} minor units, got {payable}")]
    PayableOutOfRange { payable: i64 },
    #[error(
        "a line's unit price must be within 0..={AMOUNT_MINOR_MAX} minor units, got {unit_price}"
    )]
    UnitPriceOutOfRange { unit_price: i64 },
    #[error("the original amount of the refunded units exceeds {AMOUNT_MINOR_MAX} minor units")]
    OriginalAmountOutOfRange,
    #[error("a line of quantity 0 has nothing to refund")]
    EmptyLine,
    #[error("a refund must name at least one line")]
    NoLines,
    #[error("line {line_id:?} is not in this order")]
    UnknownLine { line_id: String },
    #[error("line {line_id:?} appears more than once in this refund")]
    DuplicateLine { line_id: String },
    #[error("line {line_id:?}: {reason}")]
    Line {
        line_id: String,
        reason: Box<RefundError>,
    },
}

/// One line of a paid order as stored at lock time, with what has been
/// refunded of it so far.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RefundLine {
    pub line_id: String,
    pub unit_price: i64,
    pub quantity: u32,
    /// What the user paid for the whole line after every discount (§7.4).
    pub payable: i64,
    pub refunded_quantity: u32,
}

/// What one line of a refund gives back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineRefund {
    pub line_id: String,
    pub quantity: u32,
    /// Money back to the user, minor units.
    pub amount: i64,
    /// `unit_price * quantity` of the refunded units: what the coupon
    /// arithmetic measures refunds by.
    pub original_amount: i64,
}

/// The piece of `total` that falls to `done_now` parts of `whole` after
/// `done_before` parts were already settled: cumulative pro rata, each
/// cumulative share rounded half-up.
///
/// Requires `0 <= total <= AMOUNT_MINOR_MAX`, `whole` in `1..=AMOUNT_MINOR_MAX`
/// and `done_before + done_now <= whole`, all non-negative; then the products
/// stay far inside `i128` and the piece lies in `0..=total`.
fn cumulative_piece(total: i64, whole: i64, done_before: i64, done_now: i64) -> i64 {
    debug_assert!((0..=AMOUNT_MINOR_MAX).contains(&total));
    debug_assert!((1..=AMOUNT_MINOR_MAX).contains(&whole));
    debug_assert!(done_before >= 0 && done_now >= 0);
    debug_assert!(i128::from(done_before) + i128::from(done_now) <= i128::from(whole));
    let (total, whole) = (i128::from(total), i128::from(whole));
    let done_after = i128::from(done_before) + i128::from(done_now);
    let share_after = round_half_up_div(total * done_after, whole);
    let share_before = round_half_up_div(total * i128::from(done_before), whole);
    // 0 <= share_before <= share_after <= total <= AMOUNT_MINOR_MAX: fits.
    i64::try_from(share_after - share_before).unwrap_or(0)
}

/// Money back for `quantity_now` units of a line whose `line_payable` covers
/// `line_quantity` units, `refunded_quantity_before` of them refunded
/// already. The last units refunded take the remainder, so all refunds of a
/// line add up to its payable exactly (seeds: 可退金额 = 商品原价 − 订单优惠 ×
/// 商品原价/订单原价, which is what the stored payable already is).
pub fn line_refund_amount(
    line_payable: i64,
    line_quantity: u32,
    refunded_quantity_before: u32,
    quantity_now: u32,
) -> Result<i64, RefundError> {
    if !(0..=AMOUNT_MINOR_MAX).contains(&line_payable) {
        return Err(RefundError::PayableOutOfRange {
            payable: line_payable,
        });
    }
    if line_quantity == 0 {
        return Err(RefundError::EmptyLine);
    }
    if quantity_now == 0 {
        return Err(RefundError::ZeroQuantity);
    }
    let refunded_after = u64::from(refunded_quantity_before) + u64::from(quantity_now);
    if refunded_after > u64::from(line_quantity) {
        return Err(RefundError::TooManyUnits {
            requested: quantity_now,
            refunded_before: refunded_quantity_before,
            quantity: line_quantity,
        });
    }
    Ok(cumulative_piece(
        line_payable,
        i64::from(line_quantity),
        i64::from(refunded_quantity_before),
        i64::from(quantity_now),
    ))
}

/// The refund of `request` (`(line_id, quantity)` pairs) against an order's
/// `lines`, in the order of the request. Unknown lines, lines named twice and
/// quantities beyond what remains are refused, naming the line; nothing is
/// refunded unless every line is acceptable.
pub fn refund_order(
    lines: &[RefundLine],
    request: &[(String, u32)],
) -> Result<Vec<LineRefund>, RefundError> {
    if request.is_empty() {
        return Err(RefundError::NoLines);
    }
    let mut seen = BTreeSet::new();
    let mut refunds = Vec::with_capacity(request.len());
    for (line_id, quantity) in request {
        if !seen.insert(line_id.as_str()) {
            return Err(RefundError::DuplicateLine {
                line_id: line_id.clone(),
            });
        }
        let line = lines
            .iter()
            .find(|line| line.line_id == *line_id)
            .ok_or_else(|| RefundError::UnknownLine {
                line_id: line_id.clone(),
            })?;
        let refund = refund_line(line, *quantity).map_err(|reason| RefundError::Line {
            line_id: line_id.clone(),
            reason: Box::new(reason),
        })?;
        refunds.push(refund);
    }
    Ok(refunds)
}

fn refund_line(line: &RefundLine, quantity: u32) -> Result<LineRefund, RefundError> {
    if !(0..=AMOUNT_MINOR_MAX).contains(&line.unit_price) {
        return Err(RefundError::UnitPriceOutOfRange {
            unit_price: line.unit_price,
        });
    }
    let amount = line_refund_amount(
        line.payable,
        line.quantity,
        line.refunded_quantity,
        quantity,
    )?;
    let original_amount = line
        .unit_price
        .checked_mul(i64::from(quantity))
        .filter(|original| *original <= AMOUNT_MINOR_MAX)
        .ok_or(RefundError::OriginalAmountOutOfRange)?;
    Ok(LineRefund {
        line_id: line.line_id.clone(),
        quantity,
        amount,
        original_amount,
    })
}

/// What a refund does to one coupon used on the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CouponOutcome {
    /// The coupon itself comes back; the state machine decides whether as
    /// `available` or `expired`.
    Return,
    /// The coupon stays spent.
    Keep,
    /// A new cash coupon worth `amount` is issued to the user.
    NewCash { amount: i64 },
    /// The coupon was given back earlier; nothing more to do.
    Nothing,
}

/// The figures of one coupon on one refund. Amounts are minor units;
/// "original" amounts are `unit_price * quantity`, before any discount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CouponRefundInput {
    /// What this coupon took off this order.
    pub discount: i64,
    /// Original amount of the lines this coupon had a share on.
    pub touched_original_amount: i64,
    /// Original amount of those touched lines refunded by earlier refunds.
    pub refunded_original_before: i64,
    /// Original amount of those touched lines refunded by this refund.
    pub refunded_original_now: i64,
    /// Whether every unit of the order is refunded once this refund is done.
    pub order_fully_refunded_after: bool,
    /// Sum of the new cash coupons given back for this coupon by earlier
    /// partial refunds.
    pub value_given_back_before: i64,
    /// Whether the coupon itself was already given back.
    pub returned_before: bool,
}

/// What happens to a used coupon when its order is refunded, by the
/// template's `return_policy` (§8.4).
pub fn coupon_outcome_on_refund(
    template: &ValidTemplate,
    input: &CouponRefundInput,
) -> CouponOutcome {
    if input.returned_before {
        return CouponOutcome::Nothing;
    }
    let policy = &template.get().return_policy;
    let proportional_cash = matches!(template.benefit(), Benefit::Cash { .. })
        && policy.cash_partial == CashPartial::Proportional;
    if input.order_fully_refunded_after {
        // Once pieces of the value went back as new cash, the coupon itself
        // cannot come back too: the last piece completes the discount.
        if proportional_cash && input.value_given_back_before > 0 {
            let rest = input.discount.saturating_sub(input.value_given_back_before);
            return if rest > 0 {
                CouponOutcome::NewCash { amount: rest }
            } else {
                CouponOutcome::Nothing
            };
        }
        return outcome_of(policy.on_full_refund);
    }
    if input.refunded_original_now <= 0 {
        // The refunded lines carried none of this coupon's discount.
        return CouponOutcome::Keep;
    }
    if policy.on_partial_refund == ReturnAction::Return {
        return CouponOutcome::Return;
    }
    if !proportional_cash {
        return CouponOutcome::Keep;
    }
    match proportional_piece(input) {
        0 => CouponOutcome::Keep,
        amount => CouponOutcome::NewCash { amount },
    }
}

/// The new cash for a partial refund: `discount * refunded / touched`,
/// cumulative and half-up. Inconsistent figures (possible only through a
/// caller's bug) are asserted in debug builds and clamped otherwise, so the
/// pieces can never exceed the discount.
fn proportional_piece(input: &CouponRefundInput) -> i64 {
    let touched = input.touched_original_amount;
    let discount = input.discount;
    debug_assert!((0..=AMOUNT_MINOR_MAX).contains(&discount));
    debug_assert!((0..=AMOUNT_MINOR_MAX).contains(&touched));
    if discount <= 0 || touched <= 0 || input.refunded_original_now <= 0 {
        return 0;
    }
    let (discount, touched) = (
        discount.min(AMOUNT_MINOR_MAX),
        touched.min(AMOUNT_MINOR_MAX),
    );
    let (before, now) = clamp_progress(
        touched,
        input.refunded_original_before,
        input.refunded_original_now,
    );
    cumulative_piece(discount, touched, before, now)
}

/// `(before, now)` forced into `0 <= before`, `0 <= now`, `before + now <= whole`.
fn clamp_progress(whole: i64, before: i64, now: i64) -> (i64, i64) {
    debug_assert!(before >= 0 && now >= 0);
    debug_assert!(i128::from(before) + i128::from(now) <= i128::from(whole));
    let before = before.clamp(0, whole);
    let now = now.clamp(0, whole - before);
    (before, now)
}

/// What happens to a locked coupon when its order is cancelled before
/// payment, by the template's `return_policy.on_cancel`.
pub fn coupon_outcome_on_cancel(template: &ValidTemplate) -> CouponOutcome {
    outcome_of(template.get().return_policy.on_cancel)
}

fn outcome_of(action: ReturnAction) -> CouponOutcome {
    match action {
        ReturnAction::Return => CouponOutcome::Return,
        ReturnAction::Keep => CouponOutcome::Keep,
    }
}

/// Cashback to debit back when `refunded_now` of an order that paid
/// `order_payable_total` is refunded, `refunded_before` already having been:
/// `credited * refunded / total`, cumulative and half-up, so refunding
/// everything debits back exactly what was credited.
///
/// An order that paid nothing has no proportion to measure: nothing is
/// debited. Inconsistent figures are asserted in debug builds and clamped
/// otherwise, so the debits never exceed the credit.
pub fn cashback_debit(
    credited: i64,
    order_payable_total: i64,
    refunded_before: i64,
    refunded_now: i64,
) -> i64 {
    debug_assert!((0..=AMOUNT_MINOR_MAX).contains(&credited));
    debug_assert!((0..=AMOUNT_MINOR_MAX).contains(&order_payable_total));
    if credited <= 0 || order_payable_total <= 0 {
        return 0;
    }
    let credited = credited.min(AMOUNT_MINOR_MAX);
    let total = order_payable_total.min(AMOUNT_MINOR_MAX);
    let (before, now) = clamp_progress(total, refunded_before, refunded_now);
    cumulative_piece(credited, total, before, now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_pieces_of_thirds_round_half_up_and_add_up() {
        // 100 over 3: cumulative shares 33, 67, 100 → pieces 33, 34, 33.
        let pieces: Vec<i64> = (0..3)
            .map(|done| cumulative_piece(100, 3, done, 1))
            .collect();
        assert_eq!(pieces, vec![33, 34, 33]);
    }

    #[test]
    fn refund_piece_of_the_whole_is_the_total() {
        assert_eq!(
            cumulative_piece(AMOUNT_MINOR_MAX, AMOUNT_MINOR_MAX, 0, AMOUNT_MINOR_MAX),
            AMOUNT_MINOR_MAX
        );
        assert_eq!(cumulative_piece(0, 7, 2, 5), 0);
    }

    #[test]
    fn refund_errors_inside_a_line_name_the_line() {
        let error = RefundError::Line {
            line_id: "l-1".to_owned(),
            reason: Box::new(RefundError::ZeroQuantity),
        };
        assert_eq!(
            error.to_string(),
            "line \"l-1\": a refund must take back at least one unit of a line"
        );
    }
}
