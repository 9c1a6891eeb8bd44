//! Benefits without tiers: cash, fixed_price, add_on, shipping, gift, trial.

use crate::support::*;

// -------------------------------------------------------------------- cash

#[test]
fn a_cash_amount_that_is_not_positive_is_refused() {
    assert_refused(with_benefit(cash(0)), "benefit.amount", "must be positive");
    assert_refused(
        with_benefit(cash(-500)),
        "benefit.amount",
        "must be positive",
    );
}

#[test]
fn a_negative_cash_min_payable_is_refused() {
    let benefit = Benefit::Cash {
        amount: 500,
        min_payable: -1,
    };
    assert_refused(
        with_benefit(benefit),
        "benefit.min_payable",
        "must not be negative",
    );
}

// ------------------------------------------------- fixed_price, add_on, shipping

#[test]
fn a_negative_fixed_price_is_refused_and_zero_is_accepted() {
    let free = Benefit::FixedPrice {
        price: 0,
        max_units: None,
    };
    assert_accepted(with_benefit(free));
    let negative = Benefit::FixedPrice {
        price: -1,
        max_units: None,
    };
    assert_refused(
        with_benefit(negative),
        "benefit.price",
        "must not be negative",
    );
}

#[test]
fn a_fixed_price_max_units_outside_1_to_10000_is_refused() {
    for max_units in [0, 10_001] {
        let benefit = Benefit::FixedPrice {
            price: 990,
            max_units: Some(max_units),
        };
        assert_refused(with_benefit(benefit), "benefit.max_units", "1..=10000");
    }
}

#[test]
fn a_negative_add_on_min_amount_is_refused() {
    assert_refused(
        with_benefit(add_on(-1, "sku-cup", 100)),
        "benefit.min_amount",
        "must not be negative",
    );
}

#[test]
fn an_add_on_without_a_sku_is_refused() {
    assert_refused(
        with_benefit(add_on(10_000, " ", 100)),
        "benefit.sku",
        "must not be empty",
    );
}

#[test]
fn a_negative_add_on_price_is_refused() {
    assert_refused(
        with_benefit(add_on(10_000, "sku-cup", -100)),
        "benefit.price",
        "must not be negative",
    );
}

#[test]
fn a_shipping_max_off_that_is_not_positive_is_refused() {
    let benefit = Benefit::Shipping {
        max_off: 0,
        min_amount: 0,
    };
    assert_refused(with_benefit(benefit), "benefit.max_off", "must be positive");
}

#[test]
fn a_negative_shipping_min_amount_is_refused() {
    let benefit = Benefit::Shipping {
        max_off: 1_000,
        min_amount: -1,
    };
    assert_refused(
        with_benefit(benefit),
        "benefit.min_amount",
        "must not be negative",
    );
}

// ------------------------------------------------------------ gift and trial

#[test]
fn a_gift_or_trial_without_an_item_is_refused() {
    let blank_gift = Benefit::Gift {
        item: String::new(),
    };
    assert_refused(
        with_benefit(blank_gift),
        "benefit.item",
        "must not be empty",
    );
    let blank_trial = Benefit::Trial {
        item: "  ".to_owned(),
    };
    assert_refused(
        with_benefit(blank_trial),
        "benefit.item",
        "must not be empty",
    );
}

#[test]
fn a_gift_item_longer_than_200_characters_is_refused() {
    let long = Benefit::Gift {
        item: "杯".repeat(201),
    };
    assert_refused(with_benefit(long), "benefit.item", "at most 200 characters");
}

#[test]
fn a_gift_or_trial_with_stacking_is_refused() {
    let trial = Benefit::Trial {
        item: "体验课".to_owned(),
    };
    for benefit in [gift(), trial] {
        let mut template = with_benefit(benefit);
        template.stacking = Some(Stacking::default());
        assert_refused(
            template,
            "stacking",
            "gift and trial coupons are spent at a counter and never stack",
        );
    }
}

#[test]
fn a_gift_with_a_budget_is_refused() {
    let mut template = with_benefit(gift());
    template.limits.budget = Some(1_000_000);
    assert_refused(template, "limits.budget", "a gift coupon has no face value");
}
