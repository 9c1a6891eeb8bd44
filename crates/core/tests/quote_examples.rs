//! Worked examples of SPEC §4.2 and §7: one per benefit kind (the seeds'
//! examples), stacking, each tie-break of §7.3, explicit selections.

mod support;

use serde_json::json;

use couponflow_core::coupon::CouponState;
use couponflow_core::quote::{QuoteError, ReasonCode};
use support::*;

fn reason_codes(quote: &couponflow_core::quote::Quote, id: &str) -> Vec<(ReasonCode, Option<i64>)> {
    result(quote, id)
        .reasons
        .iter()
        .map(|r| (r.code, r.missing))
        .collect()
}

// ---- every benefit kind ----

#[test]
fn threshold_300_off_50_applies_at_300_and_says_what_is_missing_below() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]}}),
    )];
    let quote = best(&cart(vec![line("1", "a", 32000, 1)]), &wallet);
    assert_eq!(quote.selected, ["c-1"]);
    assert_eq!(quote.coupon_discount, 5000);
    assert_eq!(quote.payable, 27000);

    let quote = best(&cart(vec![line("1", "a", 29000, 1)]), &wallet);
    assert!(quote.selected.is_empty());
    assert_eq!(
        reason_codes(&quote, "c-1"),
        [(ReasonCode::BelowThreshold, Some(1000))]
    );
    assert_eq!(quote.payable, 29000);
}

#[test]
fn tiered_threshold_takes_the_highest_tier_reached() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 1000}, {"min_amount": 20000, "off": 2500}]}}),
    )];
    assert_eq!(
        best(&cart(vec![line("1", "a", 15000, 1)]), &wallet).coupon_discount,
        1000
    );
    assert_eq!(
        best(&cart(vec![line("1", "a", 25000, 1)]), &wallet).coupon_discount,
        2500
    );
}

#[test]
fn every_step_off_stops_at_max_times() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "every", "step": 10000, "off": 1000, "max_times": 3}}),
    )];
    assert_eq!(
        best(&cart(vec![line("1", "a", 25000, 1)]), &wallet).coupon_discount,
        2000
    );
    assert_eq!(
        best(&cart(vec![line("1", "a", 45000, 1)]), &wallet).coupon_discount,
        3000
    );
    let quote = best(&cart(vec![line("1", "a", 9000, 1)]), &wallet);
    assert_eq!(
        reason_codes(&quote, "c-1"),
        [(ReasonCode::BelowThreshold, Some(1000))]
    );
}

#[test]
fn twenty_percent_off_is_capped() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "percent", "tiers": [{"rate_bp": 8000}], "cap": 3000}}),
    )];
    assert_eq!(
        best(&cart(vec![line("1", "a", 10000, 1)]), &wallet).coupon_discount,
        2000
    );
    assert_eq!(
        best(&cart(vec![line("1", "a", 20000, 1)]), &wallet).coupon_discount,
        3000
    );
    // 12345 * 20% = 2469 exactly; 12347 * 20% = 2469.4 rounds half-up to 2469; 12348 -> 2469.6 -> 2470.
    let uncapped = json!({"benefit": {"kind": "percent", "tiers": [{"rate_bp": 8000}]}});
    let wallet = [coupon("c-1", uncapped)];
    assert_eq!(
        best(&cart(vec![line("1", "a", 12347, 1)]), &wallet).coupon_discount,
        2469
    );
    assert_eq!(
        best(&cart(vec![line("1", "a", 12348, 1)]), &wallet).coupon_discount,
        2470
    );
}

#[test]
fn two_items_ten_percent_three_items_twenty_percent() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "percent", "tiers": [{"min_quantity": 2, "rate_bp": 9000}, {"min_quantity": 3, "rate_bp": 8000}]}}),
    )];
    let one = best(&cart(vec![line("1", "a", 10000, 1)]), &wallet);
    assert_eq!(
        reason_codes(&one, "c-1"),
        [(ReasonCode::BelowQuantity, Some(1))]
    );
    assert_eq!(
        best(&cart(vec![line("1", "a", 10000, 2)]), &wallet).coupon_discount,
        2000
    );
    assert_eq!(
        best(&cart(vec![line("1", "a", 10000, 3)]), &wallet).coupon_discount,
        6000
    );
}

#[test]
fn instant_cash_must_leave_one_yuan_to_pay() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "cash", "amount": 1000, "min_payable": 100}}),
    )];
    let short = best(&cart(vec![line("1", "a", 1050, 1)]), &wallet);
    assert_eq!(
        reason_codes(&short, "c-1"),
        [(ReasonCode::MinPayable, Some(50))]
    );
    let enough = best(&cart(vec![line("1", "a", 1100, 1)]), &wallet);
    assert_eq!(enough.coupon_discount, 1000);
    assert_eq!(enough.payable, 100);
}

#[test]
fn cash_without_threshold_never_takes_more_than_the_cart() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "cash", "amount": 5000}}),
    )];
    let quote = best(&cart(vec![line("1", "a", 3000, 1)]), &wallet);
    assert_eq!(quote.coupon_discount, 3000);
    assert_eq!(quote.payable, 0);
}

#[test]
fn special_price_prices_the_most_expensive_unit() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "fixed_price", "price": 990, "max_units": 1}}),
    )];
    let quote = best(
        &cart(vec![
            line("1", "cheap", 3900, 2),
            line("2", "dear", 5900, 1),
        ]),
        &wallet,
    );
    assert_eq!(quote.coupon_discount, 4910);
    assert_eq!(shares_of(&quote, "c-1"), [0, 4910]);
    // Two units at 9.90: the 59 and one of the 39s.
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "fixed_price", "price": 990, "max_units": 2}}),
    )];
    let quote = best(
        &cart(vec![
            line("1", "cheap", 3900, 2),
            line("2", "dear", 5900, 1),
        ]),
        &wallet,
    );
    assert_eq!(shares_of(&quote, "c-1"), [2910, 4910]);
}

#[test]
fn add_on_prices_one_unit_of_its_sku_when_the_rest_reaches_the_threshold() {
    let add_on =
        json!({"benefit": {"kind": "add_on", "min_amount": 10000, "sku": "sku-cup", "price": 100}});
    let wallet = [coupon("c-1", add_on)];
    let quote = best(
        &cart(vec![
            line("1", "shirt", 12900, 1),
            line("2", "sku-cup", 3900, 2),
        ]),
        &wallet,
    );
    assert_eq!(shares_of(&quote, "c-1"), [0, 3800]);
    let short = best(
        &cart(vec![
            line("1", "shirt", 8000, 1),
            line("2", "sku-cup", 3900, 1),
        ]),
        &wallet,
    );
    assert_eq!(
        reason_codes(&short, "c-1"),
        [(ReasonCode::BelowThreshold, Some(2000))]
    );
    let no_cup = best(&cart(vec![line("1", "shirt", 12900, 1)]), &wallet);
    assert_eq!(
        reason_codes(&no_cup, "c-1"),
        [(ReasonCode::NoBenefit, None)]
    );
}

#[test]
fn free_shipping_takes_the_fee_and_nothing_when_there_is_none() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "shipping", "max_off": 1000}}),
    )];
    let mut with_fee = cart(vec![line("1", "a", 5000, 1)]);
    with_fee.shipping_fee = 800;
    let quote = best(&with_fee, &wallet);
    assert_eq!(
        (
            quote.shipping_discount,
            quote.coupon_discount,
            quote.payable
        ),
        (800, 0, 5000)
    );
    assert_eq!(result(&quote, "c-1").discount, 800);
    let free = best(&cart(vec![line("1", "a", 5000, 1)]), &wallet);
    assert_eq!(reason_codes(&free, "c-1"), [(ReasonCode::NoBenefit, None)]);
}

#[test]
fn cashback_is_listed_and_takes_nothing_off() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "cashback", "tiers": [{"min_amount": 20000, "back": 2000}], "to": "points"}}),
    )];
    let quote = best(&cart(vec![line("1", "a", 25000, 1)]), &wallet);
    assert_eq!(quote.selected, ["c-1"]);
    assert_eq!(quote.payable, 25000);
    assert_eq!(quote.cashback.len(), 1);
    assert_eq!(quote.cashback[0].amount, 2000);
    assert_eq!(result(&quote, "c-1").discount, 0);
    assert_eq!((quote.costs[0].platform, quote.costs[0].shop), (2000, 0));
}

#[test]
fn gift_and_trial_coupons_are_not_for_checkout() {
    let wallet = [
        coupon(
            "c-1",
            json!({"benefit": {"kind": "gift", "item": "一杯咖啡"}}),
        ),
        coupon(
            "c-2",
            json!({"benefit": {"kind": "trial", "item": "体验课"}}),
        ),
    ];
    let quote = best(&cart(vec![line("1", "a", 25000, 1)]), &wallet);
    assert_eq!(
        reason_codes(&quote, "c-1"),
        [(ReasonCode::NotForCheckout, None)]
    );
    assert_eq!(
        reason_codes(&quote, "c-2"),
        [(ReasonCode::NotForCheckout, None)]
    );
    let chosen = choose(&cart(vec![line("1", "a", 25000, 1)]), &wallet, &["c-1"]);
    assert!(matches!(chosen, Err(QuoteError::CannotSelect { coupon, .. }) if coupon == "c-1"));
}

// ---- eligibility ----

#[test]
fn state_validity_channel_and_scope_are_each_reported() {
    let cash = json!({"benefit": {"kind": "cash", "amount": 100}});
    let mut used = coupon("used", cash.clone());
    used.state = CouponState::Redeemed;
    let early = coupon("early", cash.clone());
    let mut early = early;
    early.valid_from = at("2026-12-10T00:00:00Z");
    let late = coupon_until("late", cash.clone(), "2026-12-04T00:00:00Z");
    let pos_only = coupon(
        "pos",
        json!({"benefit": {"kind": "cash", "amount": 100}, "channels": ["pos"]}),
    );
    let shoes = coupon(
        "shoes",
        json!({"benefit": {"kind": "cash", "amount": 100}, "scope": {"include": {"categories": ["c-shoes"]}}}),
    );
    let wallet = [used, early, late, pos_only, shoes];
    let quote = best(&cart(vec![line("1", "a", 5000, 1)]), &wallet);
    assert_eq!(
        reason_codes(&quote, "used"),
        [(ReasonCode::NotAvailable, None)]
    );
    assert_eq!(
        reason_codes(&quote, "early"),
        [(ReasonCode::NotStarted, None)]
    );
    assert_eq!(reason_codes(&quote, "late"), [(ReasonCode::Expired, None)]);
    assert_eq!(reason_codes(&quote, "pos"), [(ReasonCode::Channel, None)]);
    assert_eq!(
        reason_codes(&quote, "shoes"),
        [(ReasonCode::OutOfScope, None)]
    );
    assert!(quote.coupons.iter().all(|c| !c.applicable));
}

#[test]
fn a_coupon_locked_by_this_order_counts_and_one_locked_by_another_does_not() {
    let mut held = coupon("c-1", json!({"benefit": {"kind": "cash", "amount": 100}}));
    held.state = CouponState::Locked;
    held.locked_by = Some("o-1".to_owned());
    let mut this_order = cart(vec![line("1", "a", 5000, 1)]);
    this_order.order_id = Some("o-1".to_owned());
    assert_eq!(
        best(&this_order, std::slice::from_ref(&held)).selected,
        ["c-1"]
    );
    this_order.order_id = Some("o-2".to_owned());
    let quote = best(&this_order, &[held]);
    assert_eq!(
        reason_codes(&quote, "c-1"),
        [(ReasonCode::NotAvailable, None)]
    );
}

#[test]
fn category_scope_matches_any_level_of_the_path_and_excludes_win() {
    let mut shirt = line("1", "shirt", 10000, 1);
    shirt.categories = vec!["c-apparel".into(), "c-men".into(), "c-men-shirts".into()];
    let mut card = line("2", "card", 10000, 1);
    card.categories = vec!["gift-cards".into()];
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "percent", "tiers": [{"rate_bp": 9000}]},
               "scope": {"include": {"all": true}, "exclude": {"categories": ["gift-cards"]}}}),
    )];
    let quote = best(&cart(vec![shirt.clone(), card]), &wallet);
    assert_eq!(shares_of(&quote, "c-1"), [1000, 0]);
    let men = [coupon(
        "c-2",
        json!({"benefit": {"kind": "cash", "amount": 500}, "scope": {"include": {"categories": ["c-men"]}}}),
    )];
    assert_eq!(best(&cart(vec![shirt]), &men).coupon_discount, 500);
}

#[test]
fn a_shop_coupon_touches_only_its_shop_lines() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "percent", "tiers": [{"rate_bp": 9000}]}, "issuer": {"type": "shop", "shop": "s-2"}}),
    )];
    let quote = best(
        &cart(vec![
            line("1", "a", 10000, 1),
            in_shop(line("2", "b", 10000, 1), "s-2"),
        ]),
        &wallet,
    );
    assert_eq!(shares_of(&quote, "c-1"), [0, 1000]);
    assert_eq!(quote.costs[0].shop_id.as_deref(), Some("s-2"));
    assert_eq!((quote.costs[0].platform, quote.costs[0].shop), (0, 1000));
}

#[test]
fn shared_cost_gives_the_platform_its_rounded_share() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "cash", "amount": 1001}, "issuer": {"type": "shared", "shop": "s-1", "platform_bp": 6000}}),
    )];
    let quote = best(&cart(vec![line("1", "a", 10000, 1)]), &wallet);
    // 1001 * 60% = 600.6 -> 601 for the platform, 400 for the shop.
    assert_eq!((quote.costs[0].platform, quote.costs[0].shop), (601, 400));
}

// ---- apportionment ----

#[test]
fn discount_is_split_by_largest_remainder_with_ties_to_the_earlier_line() {
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "cash", "amount": 100}}),
    )];
    let quote = best(
        &cart(vec![
            line("1", "a", 1000, 1),
            line("2", "b", 1000, 1),
            line("3", "c", 1000, 1),
        ]),
        &wallet,
    );
    assert_eq!(shares_of(&quote, "c-1"), [34, 33, 33]);
    assert_eq!(
        quote.lines.iter().map(|l| l.payable).collect::<Vec<_>>(),
        [966, 967, 967]
    );
}

#[test]
fn promotions_apply_before_coupons_and_with_promotions_false_skips_those_lines() {
    let mut promoted = line("1", "a", 10000, 1);
    promoted.promo_discount = 2000;
    let plain = line("2", "b", 10000, 1);
    let wallet = [coupon(
        "c-1",
        json!({"benefit": {"kind": "percent", "tiers": [{"rate_bp": 5000}]},
               "stacking": {"stackable": false, "priority": 100, "with_promotions": false}}),
    )];
    let quote = best(&cart(vec![promoted.clone(), plain.clone()]), &wallet);
    assert_eq!(shares_of(&quote, "c-1"), [0, 5000]);
    let along = [coupon(
        "c-2",
        json!({"benefit": {"kind": "percent", "tiers": [{"rate_bp": 5000}]}}),
    )];
    let quote = best(&cart(vec![promoted, plain]), &along);
    assert_eq!(shares_of(&quote, "c-2"), [4000, 5000]);
    assert_eq!(quote.promo_discount, 2000);
}

// ---- stacking ----

#[test]
fn one_platform_coupon_and_one_per_shop_stack() {
    let stackable = |benefit: serde_json::Value, issuer: serde_json::Value| json!({"benefit": benefit, "issuer": issuer, "stacking": {"stackable": true}});
    let wallet = [
        coupon(
            "p-1",
            stackable(
                json!({"kind": "cash", "amount": 1000}),
                json!({"type": "platform"}),
            ),
        ),
        coupon(
            "p-2",
            stackable(
                json!({"kind": "cash", "amount": 800}),
                json!({"type": "platform"}),
            ),
        ),
        coupon(
            "s1",
            stackable(
                json!({"kind": "cash", "amount": 500}),
                json!({"type": "shop", "shop": "s-1"}),
            ),
        ),
        coupon(
            "s2",
            stackable(
                json!({"kind": "cash", "amount": 300}),
                json!({"type": "shop", "shop": "s-2"}),
            ),
        ),
    ];
    let quote = best(
        &cart(vec![
            line("1", "a", 10000, 1),
            in_shop(line("2", "b", 10000, 1), "s-2"),
        ]),
        &wallet,
    );
    assert_eq!(quote.selected, ["p-1", "s1", "s2"]);
    assert_eq!(quote.coupon_discount, 1800);
    assert_eq!(reason_codes(&quote, "p-2"), [(ReasonCode::Stacking, None)]);
}

#[test]
fn a_non_stackable_coupon_is_used_alone() {
    let wallet = [
        coupon(
            "alone",
            json!({"benefit": {"kind": "cash", "amount": 2000}}),
        ),
        coupon(
            "p",
            json!({"benefit": {"kind": "cash", "amount": 1000}, "stacking": {"stackable": true}}),
        ),
        coupon(
            "s",
            json!({"benefit": {"kind": "cash", "amount": 900}, "issuer": {"type": "shop", "shop": "s-1"}, "stacking": {"stackable": true}}),
        ),
    ];
    let cart = cart(vec![line("1", "a", 10000, 1)]);
    let quote = best(&cart, &wallet);
    assert_eq!(quote.selected, ["alone"]);
    assert_eq!(reason_codes(&quote, "p"), [(ReasonCode::Stacking, None)]);
    let error = choose(&cart, &wallet, &["alone", "p"]).unwrap_err();
    assert!(
        matches!(&error, QuoteError::CannotSelect { coupon, reason } if coupon == "alone" && reason.code == ReasonCode::Stacking),
        "{error}"
    );
    // When the stack is worth more, the stack wins.
    let wallet = [
        wallet[0].clone(),
        coupon(
            "p",
            json!({"benefit": {"kind": "cash", "amount": 1500}, "stacking": {"stackable": true}}),
        ),
        wallet[2].clone(),
    ];
    assert_eq!(best(&cart, &wallet).selected, ["p", "s"]);
}

#[test]
fn best_is_exact_when_an_earlier_coupon_pushes_a_later_one_below_its_threshold() {
    // The platform's cash coupon applies first (priority 10) and would leave
    // the shop's 满100减30 at 99.5 yuan: taking both is not allowed, and the
    // shop coupon alone is worth more than the cash coupon alone.
    let wallet = [
        coupon(
            "cash",
            json!({"benefit": {"kind": "cash", "amount": 50}, "stacking": {"stackable": true, "priority": 10}}),
        ),
        coupon(
            "shop",
            json!({"benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 3000}]},
                              "issuer": {"type": "shop", "shop": "s-1"}, "stacking": {"stackable": true, "priority": 100}}),
        ),
    ];
    let cart = cart(vec![line("1", "a", 10000, 1)]);
    let quote = best(&cart, &wallet);
    assert_eq!(quote.selected, ["shop"]);
    assert_eq!(quote.coupon_discount, 3000);
    let error = choose(&cart, &wallet, &["cash", "shop"]).unwrap_err();
    assert!(
        matches!(&error, QuoteError::CannotSelect { coupon, reason } if coupon == "shop" && reason.code == ReasonCode::BelowThreshold && reason.missing == Some(50)),
        "{error}"
    );
}

#[test]
fn coupons_apply_in_priority_order_each_on_what_the_previous_left() {
    let wallet = [
        coupon(
            "late",
            json!({"benefit": {"kind": "percent", "tiers": [{"rate_bp": 5000}]}, "stacking": {"stackable": true, "group": "g-b", "priority": 200}}),
        ),
        coupon(
            "early",
            json!({"benefit": {"kind": "cash", "amount": 2000}, "stacking": {"stackable": true, "group": "g-a", "priority": 100}}),
        ),
    ];
    let quote = best(&cart(vec![line("1", "a", 10000, 1)]), &wallet);
    assert_eq!(quote.selected, ["early", "late"]);
    // 100 - 20 = 80; half of 80 is 40.
    assert_eq!(shares_of(&quote, "late"), [4000]);
    assert_eq!(quote.payable, 4000);
}

// ---- tie-breaks of §7.3 ----

#[test]
fn tie_goes_to_the_set_that_expires_sooner() {
    let cash = json!({"benefit": {"kind": "cash", "amount": 500}});
    let wallet = [
        coupon_until("a-late", cash.clone(), "2026-12-31T00:00:00Z"),
        coupon_until("b-soon", cash, "2026-12-15T00:00:00Z"),
    ];
    assert_eq!(
        best(&cart(vec![line("1", "a", 10000, 1)]), &wallet).selected,
        ["b-soon"]
    );
}

#[test]
fn tie_on_expiry_goes_to_the_shorter_list() {
    // {x} and {y, z} are both worth 10 yuan and both start with Dec 10:
    // the single coupon's list runs out first and wins.
    let wallet = [
        coupon_until(
            "x",
            json!({"benefit": {"kind": "cash", "amount": 1000}}),
            "2026-12-10T00:00:00Z",
        ),
        coupon_until(
            "y",
            json!({"benefit": {"kind": "cash", "amount": 600}, "stacking": {"stackable": true}}),
            "2026-12-10T00:00:00Z",
        ),
        coupon_until(
            "z",
            json!({"benefit": {"kind": "cash", "amount": 400}, "issuer": {"type": "shop", "shop": "s-1"}, "stacking": {"stackable": true}}),
            "2026-12-20T00:00:00Z",
        ),
    ];
    assert_eq!(
        best(&cart(vec![line("1", "a", 10000, 1)]), &wallet).selected,
        ["x"]
    );
}

#[test]
fn tie_on_expiry_goes_to_the_more_specific_coupon() {
    let wallet = [
        coupon("a-all", json!({"benefit": {"kind": "cash", "amount": 500}})),
        coupon(
            "b-category",
            json!({"benefit": {"kind": "cash", "amount": 500}, "scope": {"include": {"products": ["p-a"]}}}),
        ),
    ];
    assert_eq!(
        best(&cart(vec![line("1", "a", 10000, 1)]), &wallet).selected,
        ["b-category"]
    );
}

#[test]
fn full_tie_goes_to_the_smaller_id() {
    let wallet = [
        coupon(
            "c-2",
            json!({"benefit": {"kind": "cash", "amount": 500}, "name": "two"}),
        ),
        coupon(
            "c-1",
            json!({"benefit": {"kind": "cash", "amount": 500}, "name": "one"}),
        ),
    ];
    assert_eq!(
        best(&cart(vec![line("1", "a", 10000, 1)]), &wallet).selected,
        ["c-1"]
    );
}

#[test]
fn copies_of_one_template_use_the_one_expiring_first() {
    let cash = json!({"benefit": {"kind": "cash", "amount": 500}, "stacking": {"stackable": true}});
    let wallet = [
        coupon_until("c-1", cash.clone(), "2026-12-30T00:00:00Z"),
        coupon_until("c-2", cash.clone(), "2026-12-09T00:00:00Z"),
        coupon_until("c-3", cash, "2026-12-20T00:00:00Z"),
    ];
    let quote = best(&cart(vec![line("1", "a", 10000, 1)]), &wallet);
    assert_eq!(quote.selected, ["c-2"]);
}

// ---- explicit selection ----

#[test]
fn an_explicit_selection_is_priced_as_chosen() {
    let wallet = [
        coupon("big", json!({"benefit": {"kind": "cash", "amount": 2000}})),
        coupon("small", json!({"benefit": {"kind": "cash", "amount": 500}})),
    ];
    let quote = choose(&cart(vec![line("1", "a", 10000, 1)]), &wallet, &["small"]).unwrap();
    assert_eq!(quote.selected, ["small"]);
    assert_eq!(quote.coupon_discount, 500);
    let none = choose(&cart(vec![line("1", "a", 10000, 1)]), &wallet, &[]).unwrap();
    assert!(none.selected.is_empty());
    assert_eq!(none.payable, 10000);
}

#[test]
fn an_explicit_selection_names_the_coupon_that_cannot_join() {
    let wallet = [
        coupon(
            "p-1",
            json!({"benefit": {"kind": "cash", "amount": 500}, "stacking": {"stackable": true}}),
        ),
        coupon(
            "p-2",
            json!({"benefit": {"kind": "cash", "amount": 600}, "stacking": {"stackable": true}}),
        ),
        coupon(
            "far",
            json!({"benefit": {"kind": "threshold", "tiers": [{"min_amount": 50000, "off": 5000}]}}),
        ),
    ];
    let cart = cart(vec![line("1", "a", 10000, 1)]);
    let same_group = choose(&cart, &wallet, &["p-1", "p-2"]).unwrap_err();
    assert!(
        matches!(&same_group, QuoteError::CannotSelect { coupon, reason } if coupon == "p-2" && reason.code == ReasonCode::Stacking)
    );
    let below = choose(&cart, &wallet, &["far"]).unwrap_err();
    assert_eq!(
        below.to_string(),
        "select: coupon far cannot be used: BELOW_THRESHOLD (missing 40000)"
    );
    let unknown = choose(&cart, &wallet, &["nope"]).unwrap_err();
    assert_eq!(
        unknown,
        QuoteError::UnknownCoupon {
            coupon: "nope".into()
        }
    );
    let twice = choose(&cart, &wallet, &["p-1", "p-1"]).unwrap_err();
    assert!(matches!(twice, QuoteError::BadInput { field, .. } if field == "select[1]"));
}

// ---- input checks ----

#[test]
fn bad_carts_are_refused_naming_the_field() {
    let wallet = [];
    let mut bad = cart(vec![line("1", "a", 10000, 1), line("1", "b", 100, 1)]);
    let error = couponflow_core::quote::quote(&bad, &wallet, now()).unwrap_err();
    assert!(
        matches!(&error, QuoteError::BadInput { field, .. } if field == "lines[1].line_id"),
        "{error}"
    );
    bad.lines = vec![line("1", "a", -5, 1)];
    let error = couponflow_core::quote::quote(&bad, &wallet, now()).unwrap_err();
    assert!(matches!(&error, QuoteError::BadInput { field, .. } if field == "lines[0].unit_price"));
    bad.lines = vec![line("1", "a", 1_000_000_000_000_000, 2)];
    let error = couponflow_core::quote::quote(&bad, &wallet, now()).unwrap_err();
    assert!(matches!(&error, QuoteError::BadInput { field, .. } if field == "lines[0].quantity"));
    let mut promo = line("1", "a", 100, 1);
    promo.promo_discount = 101;
    bad.lines = vec![promo];
    let error = couponflow_core::quote::quote(&bad, &wallet, now()).unwrap_err();
    assert!(
        matches!(&error, QuoteError::BadInput { field, .. } if field == "lines[0].promo_discount")
    );
}
