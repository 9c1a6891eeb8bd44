//! Quote benchmark: a cart of 50 lines from 10 shops against wallets of
//! mixed kinds, a share of them stackable across 10 groups (the platform and
//! nine shops). `best` is measured for wallets of 10 to 1,000 coupons; the
//! baseline prices the same cart with the winning set given explicitly, so
//! the ratio is what the exact search costs.
//!
//! Run: `cargo bench -p couponflow-core --bench quote`

use std::hint::black_box;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use couponflow_core::coupon::CouponState;
use couponflow_core::quote::{self, Cart, CartLine, QuoteUser, Select, WalletCoupon};
use couponflow_core::template::{Template, ValidTemplate};

/// A small deterministic generator, so every run prices the same wallets.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> i64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below) as i64
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

fn cart(rng: &mut Lcg) -> Cart {
    let lines = (0..50)
        .map(|i| CartLine {
            line_id: format!("l{i}"),
            sku: format!("sku-{i}"),
            product: Some(format!("p-{i}")),
            categories: vec!["c-root".into(), format!("c-{}", i % 5)],
            brand: Some(format!("b-{}", i % 7)),
            shop: Some(format!("s-{}", i % 10)),
            venues: vec![],
            unit_price: 1_000 + rng.next(30_000),
            quantity: 1 + rng.next(3) as u32,
            promo_discount: if i % 9 == 0 { 500 } else { 0 },
        })
        .collect();
    Cart {
        user: QuoteUser {
            id: "u-1".into(),
            channel: Some("app".into()),
            ..QuoteUser::default()
        },
        lines,
        shipping_fee: 1_200,
        select: Select::Best,
        currency: Default::default(),
        order_id: None,
        context: Default::default(),
    }
}

fn benefit(rng: &mut Lcg) -> Value {
    let a = 500 + rng.next(10_000);
    match rng.next(9) {
        0 => json!({"kind": "cash", "amount": a}),
        1 => json!({"kind": "threshold", "tiers": [{"min_amount": a * 6, "off": a}]}),
        2 => {
            json!({"kind": "threshold", "tiers": [{"min_amount": a * 4, "off": a / 2}, {"min_amount": a * 8, "off": a}]})
        }
        3 => json!({"kind": "every", "step": a * 5, "off": a / 2, "max_times": 3}),
        4 => json!({"kind": "percent", "tiers": [{"rate_bp": 8000 + rng.next(1_900)}], "cap": a}),
        5 => {
            json!({"kind": "percent", "tiers": [{"min_quantity": 2, "rate_bp": 9000}, {"min_quantity": 3, "rate_bp": 8500}], "cap": a})
        }
        6 => json!({"kind": "fixed_price", "price": a / 4, "max_units": 1}),
        7 => {
            json!({"kind": "cashback", "tiers": [{"min_amount": a * 5, "back": a / 5 + 1}], "to": "points"})
        }
        _ => json!({"kind": "shipping", "max_off": 1_000}),
    }
}

fn scope(rng: &mut Lcg) -> Value {
    match rng.next(4) {
        0 | 1 => json!({"include": {"all": true}}),
        2 => json!({"include": {"categories": [format!("c-{}", rng.next(5))]}}),
        _ => {
            json!({"include": {"brands": [format!("b-{}", rng.next(7))]}, "exclude": {"categories": ["c-4"]}})
        }
    }
}

/// `size` coupons: 60% non-stackable, 40% stackable, the stackable ones
/// spread over the platform group and nine shop groups, all distinct
/// templates (no copies for the search to fold).
fn wallet(rng: &mut Lcg, size: usize) -> Vec<WalletCoupon> {
    (0..size)
        .map(|i| {
            let stackable = i % 5 < 2;
            let group = i % 10;
            let issuer = if stackable && group > 0 {
                json!({"type": "shop", "shop": format!("s-{group}")})
            } else {
                json!({"type": "platform"})
            };
            let template: Template = serde_json::from_value(json!({
                "name": format!("t-{i}"),
                "benefit": benefit(rng),
                "scope": scope(rng),
                "issuer": issuer,
                "stacking": {"stackable": stackable, "priority": 100 + rng.next(3) * 50},
            }))
            .expect("bench template parses");
            WalletCoupon {
                id: format!("c-{i:04}"),
                template: Arc::new(ValidTemplate::new(template).expect("bench template is valid")),
                valid_from: now() - Duration::days(5),
                valid_until: now() + Duration::days(1 + rng.next(30)),
                state: CouponState::Available,
                locked_by: None,
            }
        })
        .collect()
}

fn bench_quote(c: &mut Criterion) {
    let mut group = c.benchmark_group("quote_50_lines");
    for size in [10usize, 50, 100, 200, 500, 1_000] {
        let mut rng = Lcg(42);
        let cart = cart(&mut rng);
        let wallet = wallet(&mut rng, size);
        let found = quote::quote(&cart, &wallet, now()).expect("quote succeeds");
        assert!(!found.search_truncated, "the search finished exactly");
        group.bench_with_input(BenchmarkId::new("best", size), &size, |b, _| {
            b.iter(|| quote::quote(black_box(&cart), black_box(&wallet), now()))
        });
        let mut explicit = cart.clone();
        explicit.select = Select::Coupons(found.selected.clone());
        group.bench_with_input(
            BenchmarkId::new("explicit_baseline", size),
            &size,
            |b, _| b.iter(|| quote::quote(black_box(&explicit), black_box(&wallet), now())),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_quote);
criterion_main!(benches);
