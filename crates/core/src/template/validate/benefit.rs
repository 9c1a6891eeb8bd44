//! The benefit (§4.2): amounts within bounds, tiers that strictly improve,
//! and no order made free unless the template says so.

use super::Checker;
use crate::money::AMOUNT_MINOR_MAX;
use crate::template::{Benefit, CashbackTier, PercentTier, ThresholdTier};

const TIERS_MAX: usize = 20;
const EVERY_TIMES_MAX: u32 = 1000;
const FIXED_PRICE_UNITS_MAX: u32 = 10_000;
const ITEM_CHARS_MAX: usize = 200;
/// A rate is what the user pays: 0 would be free, 10000 no discount.
const RATE_BP_MIN: u16 = 1;
const RATE_BP_MAX: u16 = 9999;

pub(super) fn check(checker: &mut Checker, benefit: &Benefit) {
    match benefit {
        Benefit::Cash {
            amount,
            min_payable,
        } => {
            checker.positive_amount("benefit.amount", *amount);
            checker.non_negative_amount("benefit.min_payable", *min_payable);
        }
        Benefit::Threshold {
            tiers,
            allow_free_orders,
        } => check_threshold(checker, tiers, *allow_free_orders),
        Benefit::Every {
            step,
            off,
            max_times,
            allow_free_orders,
        } => check_every(checker, *step, *off, *max_times, *allow_free_orders),
        Benefit::Percent { tiers, cap } => check_percent(checker, tiers, *cap),
        Benefit::FixedPrice { price, max_units } => {
            checker.non_negative_amount("benefit.price", *price);
            if let Some(units) = max_units {
                checker.in_range("benefit.max_units", *units, 1..=FIXED_PRICE_UNITS_MAX);
            }
        }
        Benefit::AddOn {
            min_amount,
            sku,
            price,
        } => {
            checker.non_negative_amount("benefit.min_amount", *min_amount);
            checker.check(!sku.trim().is_empty(), "benefit.sku", "must not be empty");
            checker.non_negative_amount("benefit.price", *price);
        }
        Benefit::Shipping {
            max_off,
            min_amount,
        } => {
            checker.positive_amount("benefit.max_off", *max_off);
            checker.non_negative_amount("benefit.min_amount", *min_amount);
        }
        Benefit::Cashback { tiers, to: _ } => check_cashback(checker, tiers),
        Benefit::Gift { item } | Benefit::Trial { item } => {
            checker.text("benefit.item", item, ITEM_CHARS_MAX);
        }
    }
}

/// 1..=20 tiers; says whether the tiers themselves are worth looking into.
fn tier_count_ok(checker: &mut Checker, count: usize) -> bool {
    if count == 0 {
        checker.refuse("benefit.tiers", "must have at least one tier");
        false
    } else if count > TIERS_MAX {
        let reason = format!("must have at most {TIERS_MAX} tiers, has {count}");
        checker.refuse("benefit.tiers", reason);
        false
    } else {
        true
    }
}

/// Each tier must ask for more and give more than the one before it; the
/// problem is put on the tier that breaks the order.
fn strictly_increasing(checker: &mut Checker, values: &[i64], name: &str) {
    for (index, pair) in values.windows(2).enumerate() {
        if pair[1] <= pair[0] {
            let (earlier, later) = (index, index + 1);
            checker.refuse(
                format!("benefit.tiers[{later}].{name}"),
                format!(
                    "must be greater than tiers[{earlier}].{name} ({}): tiers strictly increase",
                    pair[0]
                ),
            );
        }
    }
}

fn check_threshold(checker: &mut Checker, tiers: &[ThresholdTier], allow_free_orders: bool) {
    if !tier_count_ok(checker, tiers.len()) {
        return;
    }
    for (index, tier) in tiers.iter().enumerate() {
        checker.positive_amount(
            &format!("benefit.tiers[{index}].min_amount"),
            tier.min_amount,
        );
        checker.positive_amount(&format!("benefit.tiers[{index}].off"), tier.off);
        if !allow_free_orders && tier.min_amount > 0 && tier.off >= tier.min_amount {
            checker.refuse(
                format!("benefit.tiers[{index}].off"),
                "is not less than min_amount, so an order could cost nothing; \
                 set allow_free_orders to allow that",
            );
        }
    }
    let min_amounts: Vec<i64> = tiers.iter().map(|tier| tier.min_amount).collect();
    let offs: Vec<i64> = tiers.iter().map(|tier| tier.off).collect();
    strictly_increasing(checker, &min_amounts, "min_amount");
    strictly_increasing(checker, &offs, "off");
}

fn check_every(
    checker: &mut Checker,
    step: i64,
    off: i64,
    max_times: Option<u32>,
    allow_free_orders: bool,
) {
    checker.positive_amount("benefit.step", step);
    checker.positive_amount("benefit.off", off);
    if !allow_free_orders && step > 0 && off >= step {
        checker.refuse(
            "benefit.off",
            "is not less than step, so an order could cost nothing; \
             set allow_free_orders to allow that",
        );
    }
    let Some(times) = max_times else {
        return;
    };
    if !(1..=EVERY_TIMES_MAX).contains(&times) {
        checker.refuse(
            "benefit.max_times",
            format!("must be in 1..={EVERY_TIMES_MAX}"),
        );
        return;
    }
    // The face value off × max_times is what a budget counts; it must be an amount.
    let face_value_ok = off
        .checked_mul(i64::from(times))
        .is_some_and(|face_value| face_value <= AMOUNT_MINOR_MAX);
    if off > 0 && !face_value_ok {
        checker.refuse(
            "benefit.max_times",
            format!("off × max_times must be at most {AMOUNT_MINOR_MAX} minor units"),
        );
    }
}

fn check_percent(checker: &mut Checker, tiers: &[PercentTier], cap: Option<i64>) {
    if let Some(cap) = cap {
        checker.positive_amount("benefit.cap", cap);
    }
    if !tier_count_ok(checker, tiers.len()) {
        return;
    }
    for (index, tier) in tiers.iter().enumerate() {
        checker.in_range(
            &format!("benefit.tiers[{index}].rate_bp"),
            tier.rate_bp,
            RATE_BP_MIN..=RATE_BP_MAX,
        );
        checker.non_negative_amount(
            &format!("benefit.tiers[{index}].min_amount"),
            tier.min_amount,
        );
    }
    for (index, pair) in tiers.windows(2).enumerate() {
        check_percent_step(checker, index, &pair[0], index + 1, &pair[1]);
    }
}

/// A later percent tier asks for at least as much in both quantity and
/// amount, strictly more in one, and charges a strictly smaller rate.
fn check_percent_step(
    checker: &mut Checker,
    earlier_index: usize,
    earlier: &PercentTier,
    later_index: usize,
    later: &PercentTier,
) {
    let field = |name: &str| format!("benefit.tiers[{later_index}]{name}");
    let quantity_falls = later.min_quantity < earlier.min_quantity;
    let amount_falls = later.min_amount < earlier.min_amount;
    if quantity_falls {
        checker.refuse(
            field(".min_quantity"),
            format!("must not be smaller than tiers[{earlier_index}].min_quantity"),
        );
    }
    if amount_falls {
        checker.refuse(
            field(".min_amount"),
            format!("must not be smaller than tiers[{earlier_index}].min_amount"),
        );
    }
    let same_threshold =
        later.min_quantity == earlier.min_quantity && later.min_amount == earlier.min_amount;
    if same_threshold {
        checker.refuse(
            field(""),
            format!(
                "must ask for more than tiers[{earlier_index}]: \
                 a greater min_quantity or min_amount"
            ),
        );
    }
    if later.rate_bp >= earlier.rate_bp {
        checker.refuse(
            field(".rate_bp"),
            format!(
                "must be less than tiers[{earlier_index}].rate_bp ({}): \
                 each tier gives a greater discount",
                earlier.rate_bp
            ),
        );
    }
}

fn check_cashback(checker: &mut Checker, tiers: &[CashbackTier]) {
    if !tier_count_ok(checker, tiers.len()) {
        return;
    }
    for (index, tier) in tiers.iter().enumerate() {
        checker.non_negative_amount(
            &format!("benefit.tiers[{index}].min_amount"),
            tier.min_amount,
        );
        checker.positive_amount(&format!("benefit.tiers[{index}].back"), tier.back);
    }
    let min_amounts: Vec<i64> = tiers.iter().map(|tier| tier.min_amount).collect();
    let backs: Vec<i64> = tiers.iter().map(|tier| tier.back).collect();
    strictly_increasing(checker, &min_amounts, "min_amount");
    strictly_increasing(checker, &backs, "back");
}
