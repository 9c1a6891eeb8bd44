//! Refund arithmetic of SPEC §8.4: line refunds that add up to what was
//! paid, the return policy of the coupons, and cashback debited back.

use couponflow_core::money::{AMOUNT_MINOR_MAX, split_largest_remainder};
use couponflow_core::refund::{
    CouponOutcome, CouponRefundInput, LineRefund, RefundError, RefundLine, cashback_debit,
    coupon_outcome_on_cancel, coupon_outcome_on_refund, line_refund_amount, refund_order,
};
use couponflow_core::template::ValidTemplate;
use proptest::prelude::*;

fn template(benefit: &str, return_policy: &str) -> ValidTemplate {
    let json = format!(
        r#"{{"name": "test", "benefit": {benefit}, "scope": {{"include": {{"all": true}}}},
            "return_policy": {return_policy}}}"#
    );
    ValidTemplate::from_json(&json).expect("a valid template")
}

const CASH_30_YUAN: &str = r#"{"kind": "cash", "amount": 3000}"#;
const THRESHOLD: &str = r#"{"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 1000}]}"#;

fn default_cash() -> ValidTemplate {
    template(CASH_30_YUAN, "{}")
}

fn line(line_id: &str, unit_price: i64, quantity: u32, payable: i64) -> RefundLine {
    RefundLine {
        line_id: line_id.to_owned(),
        unit_price,
        quantity,
        payable,
        refunded_quantity: 0,
    }
}

fn request(line_id: &str, quantity: u32) -> Vec<(String, u32)> {
    vec![(line_id.to_owned(), quantity)]
}

/// A partial refund of half the touched lines of a 30-yuan coupon.
fn partial_input() -> CouponRefundInput {
    CouponRefundInput {
        discount: 3000,
        touched_original_amount: 30000,
        refunded_original_before: 0,
        refunded_original_now: 10000,
        order_fully_refunded_after: false,
        value_given_back_before: 0,
        returned_before: false,
    }
}

fn full_input() -> CouponRefundInput {
    CouponRefundInput {
        refunded_original_now: 30000,
        order_fully_refunded_after: true,
        ..partial_input()
    }
}

// --- the worked example of the seeds -----------------------------------------

/// A 100 yuan ×1 and B 200 yuan ×1 with one 30-yuan shop cash coupon,
/// apportioned 10/20 by original amount: A pays 90, B pays 180, 270 in all.
#[test]
fn seeds_example_refunds_add_up_to_what_was_paid_and_the_coupon_comes_back_in_pieces() {
    let discounts = split_largest_remainder(3000, &[10000, 20000]);
    assert_eq!(discounts, vec![1000, 2000]);
    let mut lines = vec![
        line("A", 10000, 1, 10000 - discounts[0]),
        line("B", 20000, 1, 20000 - discounts[1]),
    ];
    let cash = default_cash();

    // Refund A: 可退金额 = 100 − 30 × 100/300 = 90 yuan.
    let first = refund_order(&lines, &request("A", 1)).expect("A refunds");
    assert_eq!(
        first,
        vec![LineRefund {
            line_id: "A".to_owned(),
            quantity: 1,
            amount: 9000,
            original_amount: 10000,
        }]
    );
    lines[0].refunded_quantity = 1;
    let first_piece = coupon_outcome_on_refund(&cash, &partial_input());
    assert_eq!(first_piece, CouponOutcome::NewCash { amount: 1000 });

    // Refund B: 180 yuan, and the order is fully refunded.
    let second = refund_order(&lines, &request("B", 1)).expect("B refunds");
    assert_eq!(second[0].amount, 18000);
    assert_eq!(second[0].original_amount, 20000);
    let last_piece = coupon_outcome_on_refund(
        &cash,
        &CouponRefundInput {
            refunded_original_before: 10000,
            refunded_original_now: 20000,
            order_fully_refunded_after: true,
            value_given_back_before: 1000,
            ..partial_input()
        },
    );
    assert_eq!(last_piece, CouponOutcome::NewCash { amount: 2000 });

    assert_eq!(first[0].amount + second[0].amount, 27000);
    let pieces: i64 = [first_piece, last_piece]
        .iter()
        .map(|outcome| match outcome {
            CouponOutcome::NewCash { amount } => *amount,
            CouponOutcome::Return | CouponOutcome::Keep | CouponOutcome::Nothing => 0,
        })
        .sum();
    assert_eq!(pieces, 3000);
}

// --- line refunds --------------------------------------------------------------

#[test]
fn line_of_three_refunded_one_unit_at_a_time_adds_up_to_its_payable() {
    // 10.00 over 3 units: cumulative 3.33, 6.67, 10.00 → 3.33, 3.34, 3.33.
    let pieces: Vec<i64> = (0..3)
        .map(|before| line_refund_amount(1000, 3, before, 1).expect("refundable"))
        .collect();
    assert_eq!(pieces, vec![333, 334, 333]);
    assert_eq!(pieces.iter().sum::<i64>(), 1000);
}

#[test]
fn line_refunded_in_one_go_returns_its_payable() {
    assert_eq!(line_refund_amount(2999, 7, 0, 7), Ok(2999));
    assert_eq!(line_refund_amount(0, 2, 0, 2), Ok(0));
}

#[test]
fn line_refund_refuses_zero_units_empty_lines_and_negative_payables() {
    assert_eq!(
        line_refund_amount(1000, 3, 0, 0),
        Err(RefundError::ZeroQuantity)
    );
    assert_eq!(
        line_refund_amount(1000, 0, 0, 1),
        Err(RefundError::EmptyLine)
    );
    assert_eq!(
        line_refund_amount(-1, 3, 0, 1),
        Err(RefundError::PayableOutOfRange { payable: -1 })
    );
}

#[test]
fn line_refund_beyond_the_remaining_units_is_refused() {
    assert_eq!(
        line_refund_amount(1000, 3, 2, 2),
        Err(RefundError::TooManyUnits {
            requested: 2,
            refunded_before: 2,
            quantity: 3,
        })
    );
    assert!(line_refund_amount(1000, 3, 3, 1).is_err());
    assert!(line_refund_amount(1000, 3, u32::MAX, u32::MAX).is_err());
}

#[test]
fn order_refund_of_several_lines_answers_in_request_order() {
    let lines = vec![line("A", 500, 2, 900), line("B", 300, 3, 800)];
    let refunds =
        refund_order(&lines, &[("B".to_owned(), 1), ("A".to_owned(), 2)]).expect("both refund");
    let amounts: Vec<(&str, i64, i64)> = refunds
        .iter()
        .map(|r| (r.line_id.as_str(), r.amount, r.original_amount))
        .collect();
    assert_eq!(amounts, vec![("B", 267, 300), ("A", 900, 1000)]);
}

#[test]
fn order_refund_of_an_unknown_line_names_it() {
    let lines = vec![line("A", 500, 1, 500)];
    let error = refund_order(&lines, &request("Z", 1)).expect_err("unknown line");
    assert_eq!(
        error,
        RefundError::UnknownLine {
            line_id: "Z".to_owned()
        }
    );
    assert_eq!(error.to_string(), "line \"Z\" is not in this order");
}

#[test]
fn order_refund_naming_a_line_twice_is_refused() {
    let lines = vec![line("A", 500, 3, 1500)];
    let error =
        refund_order(&lines, &[("A".to_owned(), 1), ("A".to_owned(), 1)]).expect_err("duplicate");
    assert_eq!(
        error,
        RefundError::DuplicateLine {
            line_id: "A".to_owned()
        }
    );
}

#[test]
fn order_refund_of_too_many_units_names_the_line() {
    let mut lines = vec![line("A", 500, 3, 1500)];
    lines[0].refunded_quantity = 3;
    let error = refund_order(&lines, &request("A", 1)).expect_err("nothing left");
    assert!(matches!(
        &error,
        RefundError::Line { line_id, reason }
            if line_id == "A" && matches!(**reason, RefundError::TooManyUnits { .. })
    ));
}

#[test]
fn order_refund_without_lines_is_refused() {
    assert_eq!(refund_order(&[], &[]), Err(RefundError::NoLines));
}

// --- the return policy -----------------------------------------------------------

#[test]
fn coupon_already_returned_gives_nothing_more() {
    let input = CouponRefundInput {
        returned_before: true,
        ..full_input()
    };
    assert_eq!(
        coupon_outcome_on_refund(&default_cash(), &input),
        CouponOutcome::Nothing
    );
}

#[test]
fn full_refund_returns_the_coupon_by_default() {
    assert_eq!(
        coupon_outcome_on_refund(&default_cash(), &full_input()),
        CouponOutcome::Return
    );
    let threshold = template(THRESHOLD, "{}");
    assert_eq!(
        coupon_outcome_on_refund(&threshold, &full_input()),
        CouponOutcome::Return
    );
}

#[test]
fn full_refund_keeps_the_coupon_when_the_policy_says_keep() {
    let keep = template(THRESHOLD, r#"{"on_full_refund": "keep"}"#);
    assert_eq!(
        coupon_outcome_on_refund(&keep, &full_input()),
        CouponOutcome::Keep
    );
}

#[test]
fn full_refund_after_proportional_pieces_gives_the_last_piece() {
    let input = CouponRefundInput {
        refunded_original_before: 10000,
        refunded_original_now: 20000,
        value_given_back_before: 1000,
        ..full_input()
    };
    assert_eq!(
        coupon_outcome_on_refund(&default_cash(), &input),
        CouponOutcome::NewCash { amount: 2000 }
    );
}

#[test]
fn full_refund_after_the_whole_value_went_back_gives_nothing() {
    let input = CouponRefundInput {
        refunded_original_before: 30000,
        refunded_original_now: 0,
        value_given_back_before: 3000,
        ..full_input()
    };
    assert_eq!(
        coupon_outcome_on_refund(&default_cash(), &input),
        CouponOutcome::Nothing
    );
}

#[test]
fn partial_refund_returns_the_coupon_when_the_policy_says_return() {
    let give_back = template(THRESHOLD, r#"{"on_partial_refund": "return"}"#);
    assert_eq!(
        coupon_outcome_on_refund(&give_back, &partial_input()),
        CouponOutcome::Return
    );
}

#[test]
fn partial_refund_of_lines_the_coupon_never_touched_keeps_it_even_when_the_policy_says_return() {
    let give_back = template(THRESHOLD, r#"{"on_partial_refund": "return"}"#);
    let other_shop = CouponRefundInput {
        refunded_original_now: 0,
        ..partial_input()
    };
    assert_eq!(
        coupon_outcome_on_refund(&give_back, &other_shop),
        CouponOutcome::Keep
    );
}

#[test]
fn partial_refund_of_a_cash_coupon_gives_a_new_coupon_worth_the_refunded_proportion() {
    assert_eq!(
        coupon_outcome_on_refund(&default_cash(), &partial_input()),
        CouponOutcome::NewCash { amount: 1000 }
    );
}

#[test]
fn partial_refund_proportion_is_cumulative_and_rounded_half_up() {
    // 10.00 off three equal lines: 3.33, then 6.67 − 3.33 = 3.34.
    let cash = template(r#"{"kind": "cash", "amount": 1000}"#, "{}");
    let third = CouponRefundInput {
        discount: 1000,
        touched_original_amount: 3000,
        refunded_original_now: 1000,
        ..partial_input()
    };
    assert_eq!(
        coupon_outcome_on_refund(&cash, &third),
        CouponOutcome::NewCash { amount: 333 }
    );
    let second_third = CouponRefundInput {
        refunded_original_before: 1000,
        value_given_back_before: 333,
        ..third
    };
    assert_eq!(
        coupon_outcome_on_refund(&cash, &second_third),
        CouponOutcome::NewCash { amount: 334 }
    );
}

#[test]
fn partial_refund_keeps_a_cash_coupon_without_proportional_giving_back() {
    let no_pieces = template(CASH_30_YUAN, r#"{"cash_partial": "none"}"#);
    assert_eq!(
        coupon_outcome_on_refund(&no_pieces, &partial_input()),
        CouponOutcome::Keep
    );
}

#[test]
fn partial_refund_keeps_coupons_of_other_kinds() {
    let threshold = template(THRESHOLD, "{}");
    assert_eq!(
        coupon_outcome_on_refund(&threshold, &partial_input()),
        CouponOutcome::Keep
    );
}

#[test]
fn partial_refund_of_lines_the_coupon_did_not_touch_keeps_it() {
    let input = CouponRefundInput {
        refunded_original_now: 0,
        ..partial_input()
    };
    assert_eq!(
        coupon_outcome_on_refund(&default_cash(), &input),
        CouponOutcome::Keep
    );
}

#[test]
fn partial_refund_whose_proportion_rounds_to_zero_keeps_the_coupon() {
    // 1 fen off 100.00: refunding 0.49 of it is worth 0.0049 fen.
    let input = CouponRefundInput {
        discount: 1,
        touched_original_amount: 10000,
        refunded_original_now: 49,
        ..partial_input()
    };
    assert_eq!(
        coupon_outcome_on_refund(&default_cash(), &input),
        CouponOutcome::Keep
    );
}

#[test]
fn cancel_returns_the_coupon_by_default_and_keeps_it_when_told() {
    assert_eq!(
        coupon_outcome_on_cancel(&default_cash()),
        CouponOutcome::Return
    );
    let keep = template(THRESHOLD, r#"{"on_cancel": "keep"}"#);
    assert_eq!(coupon_outcome_on_cancel(&keep), CouponOutcome::Keep);
}

// --- cashback ------------------------------------------------------------------------

#[test]
fn cashback_is_debited_in_proportion_and_in_full_on_a_full_refund() {
    // 20.00 credited on an order that paid 270.00; refund 90.00, then 180.00.
    let first = cashback_debit(2000, 27000, 0, 9000);
    let second = cashback_debit(2000, 27000, 9000, 18000);
    assert_eq!((first, second), (667, 1333));
    assert_eq!(cashback_debit(2000, 27000, 0, 27000), 2000);
}

#[test]
fn cashback_of_nothing_or_on_a_free_order_debits_nothing() {
    assert_eq!(cashback_debit(0, 27000, 0, 27000), 0);
    assert_eq!(cashback_debit(2000, 0, 0, 0), 0);
    assert_eq!(cashback_debit(2000, 27000, 0, 0), 0);
}

// --- properties ------------------------------------------------------------------------

/// A quantity and a random cut of it into refunds of at least one unit.
fn quantity_and_refunds() -> impl Strategy<Value = (u32, Vec<u32>)> {
    (1u32..=60)
        .prop_flat_map(|quantity| {
            let cuts = prop::collection::vec(1..=quantity, 0..8);
            (Just(quantity), cuts)
        })
        .prop_map(|(quantity, cuts)| (quantity, parts_from_cuts(quantity, cuts)))
}

/// Cut points in `0..=whole` into the sizes of the pieces between them
/// (zero-sized pieces dropped); the sizes add up to `whole`.
fn parts_from_cuts<T>(whole: T, mut cuts: Vec<T>) -> Vec<T>
where
    T: Copy + Ord + Default + std::ops::Sub<Output = T>,
{
    cuts.push(whole);
    cuts.sort_unstable();
    cuts.dedup();
    let mut previous = T::default();
    let mut parts = Vec::with_capacity(cuts.len());
    for cut in cuts {
        if cut > previous {
            parts.push(cut - previous);
        }
        previous = cut;
    }
    parts
}

/// An amount and a random cut of it into non-empty pieces.
fn amount_and_pieces(max: i64) -> impl Strategy<Value = (i64, Vec<i64>)> {
    (1i64..=max)
        .prop_flat_map(|whole| (Just(whole), prop::collection::vec(0..=whole, 0..8)))
        .prop_map(|(whole, cuts)| (whole, parts_from_cuts(whole, cuts)))
}

proptest! {
    #[test]
    fn line_refunds_add_up_to_the_payable_however_the_units_are_cut(
        payable in 0i64..=AMOUNT_MINOR_MAX,
        (quantity, refunds) in quantity_and_refunds(),
    ) {
        let mut refunded = 0u32;
        let mut total = 0i64;
        for units in refunds {
            let amount = line_refund_amount(payable, quantity, refunded, units)
                .expect("within the remaining units");
            prop_assert!(amount >= 0);
            total += amount;
            refunded += units;
        }
        prop_assert_eq!(refunded, quantity);
        prop_assert_eq!(total, payable);
        prop_assert!(line_refund_amount(payable, quantity, refunded, 1).is_err());
    }

    #[test]
    fn cash_pieces_never_exceed_the_discount_and_reach_it_on_a_full_refund(
        discount in 1i64..=1_000_000,
        (touched, pieces) in amount_and_pieces(100_000_000),
        untouched in 0i64..=1_000_000,
        refund_everything in any::<bool>(),
    ) {
        let cash = template(&format!(r#"{{"kind": "cash", "amount": {discount}}}"#), "{}");
        // Either every piece of the touched lines, then the untouched rest;
        // or stop before the order is fully refunded.
        let steps = if refund_everything { pieces.len() } else { pieces.len().saturating_sub(1) };
        let mut before = 0i64;
        let mut given_back = 0i64;
        let mut returned = false;
        for (index, now) in pieces.iter().take(steps).enumerate() {
            let full = refund_everything && untouched == 0 && index + 1 == pieces.len();
            let input = CouponRefundInput {
                discount,
                touched_original_amount: touched,
                refunded_original_before: before,
                refunded_original_now: *now,
                order_fully_refunded_after: full,
                value_given_back_before: given_back,
                returned_before: returned,
            };
            match coupon_outcome_on_refund(&cash, &input) {
                CouponOutcome::NewCash { amount } => {
                    prop_assert!(amount > 0);
                    given_back += amount;
                }
                CouponOutcome::Return => {
                    // The whole coupon comes back: only when nothing went back before.
                    prop_assert_eq!(given_back, 0);
                    given_back = discount;
                    returned = true;
                }
                CouponOutcome::Keep | CouponOutcome::Nothing => {}
            }
            prop_assert!(given_back <= discount);
            before += now;
        }
        if refund_everything && untouched > 0 {
            let input = CouponRefundInput {
                discount,
                touched_original_amount: touched,
                refunded_original_before: before,
                refunded_original_now: 0,
                order_fully_refunded_after: true,
                value_given_back_before: given_back,
                returned_before: returned,
            };
            match coupon_outcome_on_refund(&cash, &input) {
                CouponOutcome::NewCash { amount } => given_back += amount,
                CouponOutcome::Return => given_back += discount,
                CouponOutcome::Keep | CouponOutcome::Nothing => {}
            }
        }
        prop_assert!(given_back <= discount);
        if refund_everything {
            prop_assert_eq!(given_back, discount);
        }
    }

    #[test]
    fn cashback_debits_add_up_to_the_credit(
        credited in 0i64..=AMOUNT_MINOR_MAX,
        (total, refunds) in amount_and_pieces(AMOUNT_MINOR_MAX),
    ) {
        let mut before = 0i64;
        let mut debited = 0i64;
        for now in refunds {
            let debit = cashback_debit(credited, total, before, now);
            prop_assert!(debit >= 0);
            debited += debit;
            prop_assert!(debited <= credited);
            before += now;
        }
        prop_assert_eq!(debited, credited);
    }
}
