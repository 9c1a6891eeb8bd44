//! Properties of the quote engine over random carts and wallets: every
//! amount adds up, nothing goes negative, the answer is deterministic, and
//! `best` equals the best allowed set found by brute force.

mod support;

use std::cmp::Reverse;

use proptest::prelude::*;
use serde_json::{Value, json};

use couponflow_core::quote::{self, Cart, CartLine, Quote, Select, WalletCoupon};
use support::*;

const SHOPS: [&str; 2] = ["s-1", "s-2"];
const CATEGORIES: [&str; 2] = ["c-a", "c-b"];
const SKUS: [&str; 4] = ["k1", "k2", "k3", "k4"];

fn line_strategy() -> impl Strategy<Value = (i64, u32, u8, usize, usize, usize)> {
    (
        prop_oneof![
            0i64..30_000,
            prop::sample::select(vec![5000i64, 10000, 20000])
        ],
        1u32..4,
        0u8..4,
        0usize..2,
        0usize..2,
        0usize..4,
    )
}

fn build_line(
    index: usize,
    (price, quantity, promo, shop, category, sku): (i64, u32, u8, usize, usize, usize),
) -> CartLine {
    let mut line = line(&format!("l{index}"), SKUS[sku], price, quantity);
    line.shop = Some(SHOPS[shop].to_owned());
    line.categories = vec!["c-root".to_owned(), CATEGORIES[category].to_owned()];
    // A promotion on one line in four, up to a third of it.
    if promo == 0 {
        line.promo_discount = line.amount() / 3;
    }
    line
}

/// A valid benefit of every checkout kind, from a few random numbers.
fn benefit(kind: u8, a: i64, b: i64) -> Value {
    let a = a.max(1);
    let b = b.max(1);
    match kind {
        0 => json!({"kind": "cash", "amount": a, "min_payable": if b % 3 == 0 { 100 } else { 0 }}),
        1 => {
            json!({"kind": "threshold", "tiers": [{"min_amount": a + b, "off": b.min(a + b - 1)}]})
        }
        2 => {
            json!({"kind": "threshold", "tiers": [{"min_amount": a + 1, "off": 1 + b % a.max(1)}, {"min_amount": 2 * a + 2, "off": 2 + b % a.max(1) + a / 2}]})
        }
        3 => {
            json!({"kind": "every", "step": a + 1, "off": 1 + b % a, "max_times": 1 + (b % 4) as u32})
        }
        4 => json!({"kind": "percent", "tiers": [{"rate_bp": 5000 + (b % 4999)}], "cap": a}),
        5 => {
            json!({"kind": "percent", "tiers": [{"min_quantity": 2, "rate_bp": 9000}, {"min_quantity": 3, "rate_bp": 8000}]})
        }
        6 => json!({"kind": "fixed_price", "price": b % 5000, "max_units": 1 + (a % 3) as u32}),
        7 => json!({"kind": "add_on", "min_amount": a % 20_000, "sku": "k4", "price": b % 2000}),
        8 => json!({"kind": "shipping", "max_off": 1 + a % 1500, "min_amount": b % 20_000}),
        _ => {
            json!({"kind": "cashback", "tiers": [{"min_amount": a % 20_000, "back": 1 + b % 3000}], "to": "points"})
        }
    }
}

#[derive(Debug, Clone)]
struct CouponSeed {
    kind: u8,
    a: i64,
    b: i64,
    stackable: bool,
    custom_group: bool,
    priority: i32,
    issuer: u8,
    scope: u8,
    with_promotions: bool,
    until_day: u32,
}

/// Amounts drawn often from a few round figures, so that ties (and so the
/// tie-breaks) are common.
fn amount_strategy() -> impl Strategy<Value = i64> {
    prop_oneof![
        1i64..20_000,
        prop::sample::select(vec![500i64, 1000, 2000, 5000])
    ]
}

fn coupon_strategy() -> impl Strategy<Value = CouponSeed> {
    (
        (0u8..10, amount_strategy(), amount_strategy()),
        (
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec![10, 100, 200]),
        ),
        (0u8..4, 0u8..3, any::<bool>(), 10u32..20),
    )
        .prop_map(
            |(
                (kind, a, b),
                (stackable, custom_group, priority),
                (issuer, scope, with_promotions, until_day),
            )| CouponSeed {
                kind,
                a,
                b,
                stackable,
                custom_group,
                priority,
                issuer,
                scope,
                with_promotions,
                until_day,
            },
        )
}

fn build_coupon(index: usize, seed: &CouponSeed) -> WalletCoupon {
    let issuer = match seed.issuer {
        0 | 1 => json!({"type": "platform"}),
        2 => json!({"type": "shop", "shop": "s-1"}),
        _ => json!({"type": "shared", "shop": "s-2", "platform_bp": 4000}),
    };
    let scope = match seed.scope {
        0 => json!({"include": {"all": true}}),
        1 => json!({"include": {"categories": ["c-a"]}}),
        _ => json!({"include": {"skus": ["k1", "k2"]}}),
    };
    let group = (seed.stackable && seed.custom_group).then_some("g-x");
    let template = json!({
        "benefit": benefit(seed.kind, seed.a, seed.b),
        "scope": scope,
        "issuer": issuer,
        "stacking": {"stackable": seed.stackable, "group": group, "priority": seed.priority, "with_promotions": seed.with_promotions},
    });
    coupon_until(
        &format!("c{index}"),
        template,
        &format!("2026-12-{:02}T00:00:00Z", seed.until_day),
    )
}

fn scenario() -> impl Strategy<Value = (Cart, Vec<WalletCoupon>)> {
    (
        prop::collection::vec(line_strategy(), 1..5),
        prop::collection::vec(coupon_strategy(), 0..7),
        0i64..2000,
    )
        .prop_map(|(lines, coupons, shipping_fee)| {
            let mut cart = cart(
                lines
                    .into_iter()
                    .enumerate()
                    .map(|(i, l)| build_line(i, l))
                    .collect(),
            );
            cart.shipping_fee = shipping_fee;
            let wallet = coupons
                .iter()
                .enumerate()
                .map(|(i, s)| build_coupon(i, s))
                .collect();
            (cart, wallet)
        })
}

/// The invariants every quote must keep, whatever was selected.
fn assert_amounts_add_up(cart: &Cart, wallet: &[WalletCoupon], quote: &Quote) {
    let mut coupon_discount = 0;
    for (line, out) in cart.lines.iter().zip(&quote.lines) {
        let shares: i64 = out.shares.iter().map(|s| s.amount).sum();
        assert!(
            out.shares.iter().all(|s| s.amount > 0),
            "shares are positive"
        );
        assert_eq!(out.amount, line.amount());
        assert_eq!(
            out.payable,
            line.amount() - line.promo_discount - shares,
            "line payable adds up"
        );
        assert!(
            out.payable >= 0,
            "no line gets more discount than its amount"
        );
        coupon_discount += shares;
    }
    assert_eq!(quote.coupon_discount, coupon_discount);
    assert!(quote.shipping_discount <= cart.shipping_fee);
    assert_eq!(
        quote.payable,
        quote.subtotal - quote.promo_discount - quote.coupon_discount + quote.shipping_fee
            - quote.shipping_discount
    );
    assert!(quote.payable >= 0);
    let mut shipping = 0;
    for cost in &quote.costs {
        assert!(cost.platform >= 0 && cost.shop >= 0);
        let benefit = cost.platform + cost.shop;
        let coupon = wallet
            .iter()
            .find(|c| c.id == cost.coupon)
            .expect("costs name wallet coupons");
        let shares: i64 = shares_of(quote, &cost.coupon).iter().sum();
        match coupon.template.benefit().kind() {
            "shipping" => {
                assert_eq!(shares, 0);
                shipping += benefit;
            }
            "cashback" => {
                assert_eq!(shares, 0);
                let listed = quote
                    .cashback
                    .iter()
                    .find(|c| c.coupon == cost.coupon)
                    .expect("listed");
                assert_eq!(listed.amount, benefit);
            }
            _ => assert_eq!(shares, benefit, "a coupon's shares add up to its discount"),
        }
    }
    assert_eq!(shipping, quote.shipping_discount);
    assert_eq!(quote.costs.len(), quote.selected.len());
}

/// The sets stacking allows (§4.7): one coupon alone, or stackable coupons
/// of distinct groups.
fn allowed(wallet: &[WalletCoupon], members: &[usize]) -> bool {
    if members.len() <= 1 {
        return true;
    }
    let mut groups = std::collections::HashSet::new();
    members.iter().all(|&i| {
        let template = &wallet[i].template;
        template.stacking().stackable && groups.insert(template.stacking_group())
    })
}

/// Specificity per §4.3, computed here from the template's scope.
fn specificity(coupon: &WalletCoupon) -> u8 {
    let template = coupon.template.get();
    let include = &template.scope.include;
    if !include.skus.is_empty() || !include.products.is_empty() {
        3
    } else if !include.all || template.issuer.shop().is_some() {
        2
    } else {
        1
    }
}

type Key = (
    Reverse<i64>,
    Vec<chrono::DateTime<chrono::Utc>>,
    Vec<Reverse<u8>>,
    Vec<String>,
);

fn key(wallet: &[WalletCoupon], quote: &Quote) -> Key {
    let members: Vec<&WalletCoupon> = quote
        .selected
        .iter()
        .map(|id| {
            wallet
                .iter()
                .find(|c| &c.id == id)
                .expect("selected from the wallet")
        })
        .collect();
    let mut untils: Vec<_> = members.iter().map(|c| c.valid_until).collect();
    let mut specificities: Vec<_> = members.iter().map(|c| Reverse(specificity(c))).collect();
    let mut ids: Vec<String> = members.iter().map(|c| c.id.clone()).collect();
    untils.sort();
    specificities.sort();
    ids.sort();
    (Reverse(total_benefit(quote)), untils, specificities, ids)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn best_equals_the_best_allowed_set_by_brute_force((cart, wallet) in scenario()) {
        let found = best(&cart, &wallet);
        assert_amounts_add_up(&cart, &wallet, &found);
        let mut brute: Option<Key> = None;
        for mask in 0u32..(1 << wallet.len()) {
            let members: Vec<usize> = (0..wallet.len()).filter(|i| mask & (1 << i) != 0).collect();
            if !allowed(&wallet, &members) {
                continue;
            }
            let ids: Vec<&str> = members.iter().map(|&i| wallet[i].id.as_str()).collect();
            let Ok(priced) = choose(&cart, &wallet, &ids) else { continue };
            assert_amounts_add_up(&cart, &wallet, &priced);
            let candidate = key(&wallet, &priced);
            if brute.as_ref().is_none_or(|b| candidate < *b) {
                brute = Some(candidate);
            }
        }
        let brute = brute.expect("the empty set is always allowed");
        prop_assert_eq!(key(&wallet, &found), brute);
    }

    #[test]
    fn the_same_input_gives_byte_identical_output_whatever_the_wallet_order((cart, wallet) in scenario(), seed in any::<u64>()) {
        let first = serde_json::to_string(&best(&cart, &wallet)).unwrap();
        let again = serde_json::to_string(&best(&cart, &wallet)).unwrap();
        prop_assert_eq!(&first, &again);
        let mut shuffled = wallet.clone();
        // A deterministic shuffle from the seed.
        let len = shuffled.len();
        for i in (1..len).rev() {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) >> 33) as usize % (i + 1);
            shuffled.swap(i, j);
        }
        let reordered = serde_json::to_string(&best(&cart, &shuffled)).unwrap();
        prop_assert_eq!(first, reordered);
    }

    #[test]
    fn explicit_selections_keep_every_invariant((cart, wallet) in scenario(), picks in prop::collection::vec(0usize..7, 0..4)) {
        let ids: Vec<String> = picks.iter().filter(|&&i| i < wallet.len()).map(|&i| wallet[i].id.clone()).collect();
        let mut chosen = cart.clone();
        chosen.select = Select::Coupons(ids);
        if let Ok(priced) = quote::quote(&chosen, &wallet, now()) {
            assert_amounts_add_up(&cart, &wallet, &priced);
        }
    }
}
