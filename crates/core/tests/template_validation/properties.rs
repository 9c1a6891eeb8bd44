//! Whatever numbers a benefit and limits carry, validation answers without
//! panicking, and what it accepts keeps every tier rule.

use proptest::prelude::*;

use crate::support::*;

// -------------------------------------------------------------- properties

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -10i64..100_000,
        Just(0i64),
        Just(AMOUNT_MINOR_MAX),
        Just(AMOUNT_MINOR_MAX + 1),
    ]
}

/// Tiers built from steps, so that most of them increase and some do not.
fn stepped_pairs() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((-2i64..5_000, -2i64..500), 0..24).prop_map(|steps| {
        let mut at = (0i64, 0i64);
        steps
            .into_iter()
            .map(|(a, b)| {
                at = (at.0 + a, at.1 + b);
                at
            })
            .collect()
    })
}

fn pairs() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop_oneof![
        prop::collection::vec((amount(), amount()), 0..24),
        stepped_pairs()
    ]
}

fn percent_tiers() -> impl Strategy<Value = Vec<PercentTier>> {
    let arbitrary = prop::collection::vec((any::<u32>(), amount(), any::<u16>()), 0..24);
    let stepped =
        prop::collection::vec((0u32..3, -2i64..5_000, 0u16..1_500), 0..24).prop_map(|steps| {
            let (mut quantity, mut amount, mut rate_bp) = (0u32, 0i64, 10_000u16);
            steps
                .into_iter()
                .map(|(q, a, r)| {
                    quantity += q;
                    amount += a;
                    rate_bp = rate_bp.saturating_sub(r);
                    (quantity, amount, rate_bp)
                })
                .collect::<Vec<_>>()
        });
    prop_oneof![arbitrary, stepped].prop_map(|tiers| {
        tiers
            .into_iter()
            .map(|(min_quantity, min_amount, rate_bp)| PercentTier {
                min_quantity,
                min_amount,
                rate_bp,
            })
            .collect()
    })
}

fn any_benefit() -> impl Strategy<Value = Benefit> {
    prop_oneof![
        (amount(), amount()).prop_map(|(amount, min_payable)| Benefit::Cash {
            amount,
            min_payable
        }),
        (pairs(), any::<bool>()).prop_map(|(tiers, allow_free_orders)| Benefit::Threshold {
            tiers: tiers
                .into_iter()
                .map(|(min_amount, off)| ThresholdTier { min_amount, off })
                .collect(),
            allow_free_orders,
        }),
        (
            amount(),
            amount(),
            prop::option::of(any::<u32>()),
            any::<bool>()
        )
            .prop_map(|(step, off, max_times, allow_free_orders)| Benefit::Every {
                step,
                off,
                max_times,
                allow_free_orders,
            }),
        (percent_tiers(), prop::option::of(amount()))
            .prop_map(|(tiers, cap)| Benefit::Percent { tiers, cap }),
        (amount(), prop::option::of(any::<u32>()))
            .prop_map(|(price, max_units)| Benefit::FixedPrice { price, max_units }),
        (amount(), amount()).prop_map(|(max_off, min_amount)| Benefit::Shipping {
            max_off,
            min_amount
        }),
        pairs().prop_map(|tiers| cashback(&tiers)),
    ]
}

fn check_accepted_tiers(benefit: &Benefit) {
    match benefit {
        Benefit::Threshold {
            tiers,
            allow_free_orders,
        } => {
            assert!((1..=20).contains(&tiers.len()));
            for tier in tiers {
                assert!(tier.min_amount > 0 && tier.min_amount <= AMOUNT_MINOR_MAX);
                assert!(tier.off > 0 && tier.off <= AMOUNT_MINOR_MAX);
                assert!(*allow_free_orders || tier.off < tier.min_amount);
            }
            for pair in tiers.windows(2) {
                assert!(pair[0].min_amount < pair[1].min_amount && pair[0].off < pair[1].off);
            }
        }
        Benefit::Percent { tiers, .. } => {
            assert!((1..=20).contains(&tiers.len()));
            for tier in tiers {
                assert!((1..=9_999).contains(&tier.rate_bp));
            }
            for pair in tiers.windows(2) {
                let (earlier, later) = (pair[0], pair[1]);
                assert!(later.min_quantity >= earlier.min_quantity);
                assert!(later.min_amount >= earlier.min_amount);
                assert!(
                    later.min_quantity > earlier.min_quantity
                        || later.min_amount > earlier.min_amount
                );
                assert!(later.rate_bp < earlier.rate_bp);
            }
        }
        Benefit::Cashback { tiers, .. } => {
            assert!((1..=20).contains(&tiers.len()));
            for pair in tiers.windows(2) {
                assert!(pair[0].min_amount < pair[1].min_amount && pair[0].back < pair[1].back);
            }
        }
        Benefit::Every { off, max_times, .. } => {
            if let Some(times) = max_times {
                let face_value = i128::from(*off) * i128::from(*times);
                assert!(face_value <= i128::from(AMOUNT_MINOR_MAX));
            }
        }
        Benefit::Cash { .. }
        | Benefit::FixedPrice { .. }
        | Benefit::AddOn { .. }
        | Benefit::Shipping { .. }
        | Benefit::Gift { .. }
        | Benefit::Trial { .. } => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn validation_never_panics_and_what_it_accepts_keeps_every_tier_rule(
        benefit in any_benefit(),
        total in prop::option::of(any::<u64>()),
        per_user in prop::option::of(any::<u32>()),
        per_user_per_day in prop::option::of(any::<u32>()),
        budget in prop::option::of(amount()),
    ) {
        let mut template = with_benefit(benefit);
        template.limits.total = total;
        template.limits.per_user = per_user;
        template.limits.per_user_per_day = per_user_per_day;
        template.limits.budget = budget;
        if let Ok(valid) = ValidTemplate::new(template) {
            check_accepted_tiers(valid.benefit());
            let limits = &valid.get().limits;
            if let Some(budget) = limits.budget {
                let face_value = valid.face_value();
                prop_assert!(face_value.is_some_and(|value| value <= budget));
                prop_assert!(budget <= AMOUNT_MINOR_MAX);
            }
        }
    }
}
