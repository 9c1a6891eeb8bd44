//! Benefits with tiers or steps: threshold, every, percent, cashback.

use crate::support::*;

// --------------------------------------------------------------- threshold

#[test]
fn a_threshold_without_tiers_is_refused() {
    assert_refused(
        with_benefit(threshold(&[])),
        "benefit.tiers",
        "at least one tier",
    );
}

#[test]
fn a_threshold_with_more_than_20_tiers_is_refused() {
    let tiers: Vec<(i64, i64)> = (1..=21).map(|i| (i * 10_000, i * 1_000)).collect();
    assert_accepted(with_benefit(threshold(&tiers[..20])));
    assert_refused(
        with_benefit(threshold(&tiers)),
        "benefit.tiers",
        "at most 20 tiers",
    );
}

#[test]
fn a_threshold_min_amount_that_is_not_positive_is_refused() {
    // An off of 0 would also be refused, so the tier keeps a positive one;
    // free orders are allowed so only the threshold itself is at fault.
    let benefit = Benefit::Threshold {
        tiers: vec![ThresholdTier {
            min_amount: 0,
            off: 100,
        }],
        allow_free_orders: true,
    };
    assert_refused(
        with_benefit(benefit),
        "benefit.tiers[0].min_amount",
        "must be positive",
    );
}

#[test]
fn a_threshold_off_that_is_not_positive_is_refused() {
    let benefit = threshold(&[(10_000, 1_000), (20_000, 0)]);
    let found = problems(with_benefit(benefit));
    let fields: Vec<&str> = found.iter().map(|p| p.field.as_str()).collect();
    // Zero is also not more than the tier before it.
    assert_eq!(fields, ["benefit.tiers[1].off", "benefit.tiers[1].off"]);
    assert!(found[0].reason.contains("must be positive"));
}

#[test]
fn threshold_tiers_not_increasing_in_min_amount_are_refused_at_the_tier_that_breaks() {
    let benefit = threshold(&[(10_000, 1_000), (20_000, 2_000), (20_000, 3_000)]);
    assert_refused(
        with_benefit(benefit),
        "benefit.tiers[2].min_amount",
        "must be greater than tiers[1].min_amount",
    );
}

#[test]
fn threshold_tiers_not_increasing_in_off_are_refused_at_the_tier_that_breaks() {
    let benefit = threshold(&[(10_000, 1_000), (20_000, 900)]);
    assert_refused(
        with_benefit(benefit),
        "benefit.tiers[1].off",
        "must be greater than tiers[0].off",
    );
}

#[test]
fn a_threshold_off_reaching_min_amount_is_refused_unless_free_orders_are_allowed() {
    let tiers = vec![ThresholdTier {
        min_amount: 5_000,
        off: 5_000,
    }];
    let refused = Benefit::Threshold {
        tiers: tiers.clone(),
        allow_free_orders: false,
    };
    assert_refused(
        with_benefit(refused),
        "benefit.tiers[0].off",
        "allow_free_orders",
    );
    let allowed = Benefit::Threshold {
        tiers,
        allow_free_orders: true,
    };
    assert_accepted(with_benefit(allowed));
}

// ------------------------------------------------------------------- every

#[test]
fn an_every_step_that_is_not_positive_is_refused() {
    assert_refused(
        with_benefit(every(0, 1_000, None)),
        "benefit.step",
        "must be positive",
    );
}

#[test]
fn an_every_off_that_is_not_positive_is_refused() {
    assert_refused(
        with_benefit(every(10_000, -1, None)),
        "benefit.off",
        "must be positive",
    );
}

#[test]
fn an_every_max_times_outside_1_to_1000_is_refused() {
    assert_accepted(with_benefit(every(10_000, 1_000, Some(1_000))));
    for times in [0, 1_001] {
        let template = with_benefit(every(10_000, 1_000, Some(times)));
        assert_refused(template, "benefit.max_times", "1..=1000");
    }
}

#[test]
fn an_every_off_reaching_step_is_refused_unless_free_orders_are_allowed() {
    assert_refused(
        with_benefit(every(10_000, 10_000, Some(2))),
        "benefit.off",
        "allow_free_orders",
    );
    let allowed = Benefit::Every {
        step: 10_000,
        off: 10_000,
        max_times: Some(2),
        allow_free_orders: true,
    };
    assert_accepted(with_benefit(allowed));
}

#[test]
fn an_every_whose_off_times_max_times_exceeds_amount_minor_max_is_refused() {
    let off = AMOUNT_MINOR_MAX / 100;
    assert_accepted(with_benefit(every(off * 2, off, Some(100))));
    assert_refused(
        with_benefit(every(off * 2, off, Some(101))),
        "benefit.max_times",
        "off × max_times",
    );
}

// ----------------------------------------------------------------- percent

#[test]
fn a_percent_without_tiers_is_refused() {
    assert_refused(
        with_benefit(percent(&[], None)),
        "benefit.tiers",
        "at least one tier",
    );
}

#[test]
fn a_percent_with_more_than_20_tiers_is_refused() {
    let tiers: Vec<(u32, i64, u16)> = (1..=21u16).map(|i| (u32::from(i), 0, 9_000 - i)).collect();
    assert_accepted(with_benefit(percent(&tiers[..20], None)));
    assert_refused(
        with_benefit(percent(&tiers, None)),
        "benefit.tiers",
        "at most 20 tiers",
    );
}

#[test]
fn a_percent_rate_bp_outside_1_to_9999_is_refused() {
    assert_accepted(with_benefit(percent(&[(0, 0, 1)], None)));
    assert_accepted(with_benefit(percent(&[(0, 0, 9_999)], None)));
    for rate_bp in [0, 10_000] {
        assert_refused(
            with_benefit(percent(&[(0, 0, rate_bp)], None)),
            "benefit.tiers[0].rate_bp",
            "1..=9999",
        );
    }
}

#[test]
fn a_negative_percent_min_amount_is_refused() {
    assert_refused(
        with_benefit(percent(&[(1, -1, 9_000)], None)),
        "benefit.tiers[0].min_amount",
        "must not be negative",
    );
}

#[test]
fn a_percent_tier_asking_for_fewer_units_than_the_one_before_is_refused() {
    let tiers = [(3, 10_000, 9_000), (2, 20_000, 8_000)];
    assert_refused(
        with_benefit(percent(&tiers, None)),
        "benefit.tiers[1].min_quantity",
        "must not be smaller than tiers[0].min_quantity",
    );
}

#[test]
fn a_percent_tier_asking_for_less_amount_than_the_one_before_is_refused() {
    let tiers = [(2, 20_000, 9_000), (3, 10_000, 8_000)];
    assert_refused(
        with_benefit(percent(&tiers, None)),
        "benefit.tiers[1].min_amount",
        "must not be smaller than tiers[0].min_amount",
    );
}

#[test]
fn a_percent_tier_asking_for_the_same_as_the_one_before_is_refused() {
    let tiers = [(2, 10_000, 9_000), (2, 10_000, 8_000)];
    assert_refused(
        with_benefit(percent(&tiers, None)),
        "benefit.tiers[1]",
        "must ask for more than tiers[0]",
    );
}

#[test]
fn a_percent_tier_raising_either_threshold_alone_is_accepted() {
    let tiers = [(2, 0, 9_000), (2, 10_000, 8_500), (3, 10_000, 8_000)];
    assert_accepted(with_benefit(percent(&tiers, Some(5_000))));
}

#[test]
fn a_percent_tier_not_lowering_the_rate_is_refused() {
    let tiers = [(2, 0, 9_000), (3, 0, 9_000)];
    assert_refused(
        with_benefit(percent(&tiers, None)),
        "benefit.tiers[1].rate_bp",
        "must be less than tiers[0].rate_bp",
    );
}

#[test]
fn a_percent_cap_that_is_not_positive_is_refused() {
    assert_refused(
        with_benefit(percent(&[(0, 0, 9_000)], Some(0))),
        "benefit.cap",
        "must be positive",
    );
}

// ---------------------------------------------------------------- cashback

#[test]
fn a_cashback_without_tiers_is_refused() {
    assert_refused(
        with_benefit(cashback(&[])),
        "benefit.tiers",
        "at least one tier",
    );
}

#[test]
fn a_cashback_with_more_than_20_tiers_is_refused() {
    let tiers: Vec<(i64, i64)> = (1..=21).map(|i| (i * 10_000, i * 100)).collect();
    assert_refused(
        with_benefit(cashback(&tiers)),
        "benefit.tiers",
        "at most 20 tiers",
    );
}

#[test]
fn a_cashback_first_tier_may_start_at_zero() {
    assert_accepted(with_benefit(cashback(&[(0, 100), (20_000, 2_000)])));
}

#[test]
fn a_negative_cashback_min_amount_is_refused() {
    assert_refused(
        with_benefit(cashback(&[(-1, 100)])),
        "benefit.tiers[0].min_amount",
        "must not be negative",
    );
}

#[test]
fn a_cashback_back_that_is_not_positive_is_refused() {
    assert_refused(
        with_benefit(cashback(&[(20_000, 0)])),
        "benefit.tiers[0].back",
        "must be positive",
    );
}

#[test]
fn cashback_tiers_not_increasing_in_min_amount_are_refused() {
    assert_refused(
        with_benefit(cashback(&[(20_000, 1_000), (20_000, 2_000)])),
        "benefit.tiers[1].min_amount",
        "must be greater than tiers[0].min_amount",
    );
}

#[test]
fn cashback_tiers_not_increasing_in_back_are_refused() {
    assert_refused(
        with_benefit(cashback(&[(20_000, 2_000), (30_000, 2_000)])),
        "benefit.tiers[1].back",
        "must be greater than tiers[0].back",
    );
}
