//! Validity and claim window (§4.5), limits (§4.6), stacking (§4.7), issuer (§4.8).

use crate::support::*;

// ------------------------------------------------- validity and claim window

#[test]
fn an_absolute_validity_that_does_not_end_after_it_starts_is_refused() {
    let mut template = whole_template();
    template.claim_window = None;
    template.validity = Some(Validity::Absolute {
        from: at("2026-12-31T00:00:00Z"),
        until: at("2026-12-31T00:00:00Z"),
    });
    assert_refused(template, "validity.until", "after validity.from");
}

#[test]
fn relative_validity_days_outside_1_to_3650_are_refused() {
    for days in [0, 3_651] {
        let mut template = whole_template();
        template.validity = Some(Validity::Relative {
            days,
            start_after_days: 0,
        });
        assert_refused(template, "validity.days", "1..=3650");
    }
}

#[test]
fn relative_validity_starting_more_than_3650_days_after_claim_is_refused() {
    let mut template = whole_template();
    template.validity = Some(Validity::Relative {
        days: 30,
        start_after_days: 3_651,
    });
    assert_refused(template, "validity.start_after_days", "0..=3650");
}

#[test]
fn a_validity_that_ends_before_the_claim_window_opens_is_refused() {
    let mut template = whole_template();
    template.validity = Some(Validity::Absolute {
        from: at("2026-11-01T00:00:00Z"),
        until: at("2026-11-30T23:59:59Z"),
    });
    assert_refused(
        template,
        "validity.until",
        "validity ends before the claim window opens",
    );
}

#[test]
fn a_validity_ending_inside_the_claim_window_is_accepted() {
    let mut template = whole_template();
    template.validity = Some(Validity::Absolute {
        from: at("2026-12-01T00:00:00Z"),
        until: at("2026-12-05T00:00:00Z"),
    });
    assert_accepted(template);
}

#[test]
fn a_claim_window_that_does_not_close_after_it_opens_is_refused() {
    let mut template = whole_template();
    if let Some(window) = template.claim_window.as_mut() {
        window.until = Some(at("2026-11-30T00:00:00Z"));
    }
    assert_refused(template, "claim_window.until", "after claim_window.from");
}

// ------------------------------------------------------------------ limits

#[test]
fn a_zero_total_is_refused() {
    let mut template = whole_template();
    template.limits.total = Some(0);
    template.limits.per_user = None;
    assert_refused(template, "limits.total", "at least 1");
}

#[test]
fn a_zero_per_user_is_refused() {
    let mut template = whole_template();
    template.limits.per_user = Some(0);
    assert_refused(template, "limits.per_user", "at least 1");
}

#[test]
fn a_zero_per_user_per_day_is_refused() {
    let mut template = whole_template();
    template.limits.per_user_per_day = Some(0);
    assert_refused(template, "limits.per_user_per_day", "at least 1");
}

#[test]
fn per_user_per_day_above_per_user_is_refused() {
    let mut template = whole_template();
    template.limits.per_user = Some(2);
    template.limits.per_user_per_day = Some(2);
    assert_accepted(template.clone());
    template.limits.per_user_per_day = Some(3);
    assert_refused(
        template,
        "limits.per_user_per_day",
        "not be more than limits.per_user",
    );
}

#[test]
fn per_user_above_total_is_refused() {
    let mut template = whole_template();
    template.limits.total = Some(10);
    template.limits.per_user = Some(11);
    assert_refused(template, "limits.per_user", "not be more than limits.total");
}

#[test]
fn a_budget_that_is_not_positive_is_refused() {
    let mut template = whole_template();
    template.limits.budget = Some(0);
    assert_refused(template, "limits.budget", "must be positive");
}

#[test]
fn a_budget_beyond_amount_minor_max_is_refused() {
    let mut template = whole_template();
    template.limits.budget = Some(AMOUNT_MINOR_MAX + 1);
    assert_refused(
        template,
        "limits.budget",
        "at most 1000000000000000 minor units",
    );
}

#[test]
fn a_budget_on_a_percent_without_cap_is_refused() {
    let mut template = with_benefit(percent(&[(0, 0, 9_000)], None));
    template.limits.budget = Some(1_000_000);
    assert_refused(
        template,
        "limits.budget",
        "a percent template with a budget needs a cap",
    );
}

#[test]
fn a_budget_on_an_every_without_max_times_is_refused() {
    let mut template = with_benefit(every(10_000, 1_000, None));
    template.limits.budget = Some(1_000_000);
    assert_refused(template, "limits.budget", "needs max_times");
}

#[test]
fn a_budget_on_a_fixed_price_or_add_on_is_refused() {
    let fixed_price = Benefit::FixedPrice {
        price: 990,
        max_units: Some(1),
    };
    for (benefit, kind) in [
        (fixed_price, "fixed_price"),
        (add_on(0, "sku-cup", 100), "add_on"),
    ] {
        let mut template = with_benefit(benefit);
        template.limits.budget = Some(1_000_000);
        assert_refused(
            template,
            "limits.budget",
            &format!("{kind} coupon has no face value"),
        );
    }
}

#[test]
fn a_budget_smaller_than_one_coupons_face_value_is_refused() {
    let mut template = with_benefit(every(10_000, 1_000, Some(5)));
    template.limits.budget = Some(5_000);
    assert_accepted(template.clone());
    template.limits.budget = Some(4_999);
    assert_refused(template, "limits.budget", "face value of one coupon (5000)");
}

// ---------------------------------------------------------------- stacking

fn with_stacking(stacking: Stacking) -> Template {
    let mut template = whole_template();
    template.stacking = Some(stacking);
    template
}

#[test]
fn a_group_on_a_coupon_that_does_not_stack_is_refused() {
    let stacking = Stacking {
        stackable: false,
        group: Some("summer".to_owned()),
        ..Stacking::default()
    };
    assert_refused(with_stacking(stacking), "stacking.group", "does not stack");
}

#[test]
fn an_empty_stacking_group_is_refused() {
    let stacking = Stacking {
        stackable: true,
        group: Some(String::new()),
        ..Stacking::default()
    };
    assert_refused(
        with_stacking(stacking),
        "stacking.group",
        "must not be empty",
    );
}

#[test]
fn a_stacking_group_longer_than_64_characters_is_refused() {
    let stacking = Stacking {
        stackable: true,
        group: Some("g".repeat(65)),
        ..Stacking::default()
    };
    assert_refused(
        with_stacking(stacking),
        "stacking.group",
        "at most 64 characters",
    );
}

#[test]
fn a_priority_outside_plus_or_minus_one_million_is_refused() {
    for priority in [-1_000_000, 1_000_000] {
        assert_accepted(with_stacking(Stacking {
            priority,
            ..Stacking::default()
        }));
    }
    for priority in [-1_000_001, 1_000_001] {
        let stacking = Stacking {
            priority,
            ..Stacking::default()
        };
        assert_refused(
            with_stacking(stacking),
            "stacking.priority",
            "-1000000..=1000000",
        );
    }
}

// ------------------------------------------------------------------ issuer

#[test]
fn a_shop_or_shared_issuer_without_a_shop_is_refused() {
    let issuers = [
        Issuer::Shop {
            shop: String::new(),
        },
        Issuer::Shared {
            shop: " ".to_owned(),
            platform_bp: 6_000,
        },
    ];
    for issuer in issuers {
        let mut template = whole_template();
        template.issuer = issuer;
        assert_refused(template, "issuer.shop", "must not be empty");
    }
}

fn shared(platform_bp: u16) -> Template {
    let mut template = whole_template();
    template.issuer = Issuer::Shared {
        shop: "s-1".to_owned(),
        platform_bp,
    };
    template
}

#[test]
fn a_shared_issuer_with_platform_bp_0_is_refused_as_a_shop_coupon() {
    assert_refused(shared(0), "issuer.platform_bp", "use issuer type shop");
}

#[test]
fn a_shared_issuer_with_platform_bp_10000_is_refused_as_a_platform_coupon() {
    assert_refused(
        shared(10_000),
        "issuer.platform_bp",
        "use issuer type platform",
    );
}

#[test]
fn a_shared_issuer_with_platform_bp_above_10000_is_refused() {
    assert_accepted(shared(1));
    assert_accepted(shared(9_999));
    assert_refused(shared(10_001), "issuer.platform_bp", "1..=9999");
}
