#![allow(clippy::unwrap_used)]
//! A property of the budget ledger, on every back end: after any sequence
//! of claims, payments, cancellations, full refunds, voids, expiries and
//! (sometimes) the template's end, `ledger_check` finds nothing wrong and
//! the report's totals are those of a model kept by the test.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::Duration;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use couponflow_app::App;
use couponflow_app::ledger::report::ReportQuery;
use couponflow_app::orders::{RefundRequest, RefundRequestLine};
use support::orders::*;
use support::*;

const FACE: i64 = 1000;
const BUDGET: i64 = 6000;

static CASES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
enum Op {
    Claim(u8),
    /// Lock and pay coupon `k` (of those claimed) at this price.
    Pay(u8, i64),
    /// Lock then cancel coupon `k`.
    Cancel(u8, i64),
    /// Lock coupon `k`, let 31 days pass (the expiry job runs), then cancel:
    /// the coupon expires on its release.
    Abandon(u8, i64),
    /// Refund in full the order that paid coupon `k`.
    Refund(u8),
    Void(u8),
    /// 31 days pass and the expiry job runs.
    Expire,
}

fn ops() -> impl Strategy<Value = (bool, Vec<Op>, bool)> {
    let op = prop_oneof![
        3 => (0u8..4).prop_map(Op::Claim),
        3 => (any::<u8>(), 1i64..=2500).prop_map(|(k, p)| Op::Pay(k, p)),
        1 => (any::<u8>(), 1i64..=2500).prop_map(|(k, p)| Op::Cancel(k, p)),
        1 => (any::<u8>(), 1i64..=2500).prop_map(|(k, p)| Op::Abandon(k, p)),
        2 => any::<u8>().prop_map(Op::Refund),
        1 => any::<u8>().prop_map(Op::Void),
        1 => Just(Op::Expire),
    ];
    (
        any::<bool>(),
        prop::collection::vec(op, 1..=14),
        any::<bool>(),
    )
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Available,
    Redeemed {
        discount: i64,
    },
    /// Expired or voided without being spent: its face is released.
    Released,
    /// Voided after being spent: its discount stays spent.
    VoidedSpent {
        discount: i64,
    },
}

struct Coupon {
    code: String,
    user: String,
    state: State,
    order: Option<String>,
    /// Expiry steps before its claim: a later one ends its validity.
    epoch: usize,
}

/// The model's totals: (reserved, spent, released).
fn model_totals(reserves: bool, coupons: &[Coupon], ended: bool) -> (i64, i64, i64) {
    let spent: i64 = coupons
        .iter()
        .map(|c| match c.state {
            State::Redeemed { discount } | State::VoidedSpent { discount } => discount,
            State::Available | State::Released => 0,
        })
        .sum();
    if !reserves {
        return (0, spent, 0);
    }
    let mut released: i64 = coupons
        .iter()
        .map(|c| match c.state {
            State::Redeemed { discount } | State::VoidedSpent { discount } => FACE - discount,
            State::Released => FACE,
            State::Available => 0,
        })
        .sum();
    if ended {
        let live = coupons
            .iter()
            .filter(|c| c.state == State::Available)
            .count();
        released = BUDGET - spent - FACE * i64::try_from(live).unwrap();
    }
    (BUDGET, spent, released)
}

async fn run(t: &TestApp, (reserves, ops, end): &(bool, Vec<Op>, bool)) {
    let app: &App = &t.app;
    let n = CASES.fetch_add(1, Ordering::Relaxed);
    let limits = if *reserves {
        json!({"budget": BUDGET})
    } else {
        json!({})
    };
    let body = template_body(
        "无门槛10元",
        json!({"kind": "cash", "amount": FACE}),
        json!({"issuer": {"type": "shared", "shop": "s-1", "platform_bp": 6000},
               "limits": limits}),
    );
    let template_id = live_template(app, body).await;
    let mut coupons: Vec<Coupon> = Vec::new();
    let mut orders = 0;
    let mut epoch = 0;
    for op in ops {
        let pick = |k: &u8, coupons: &Vec<Coupon>| {
            (!coupons.is_empty()).then(|| usize::from(*k) % coupons.len())
        };
        match op {
            Op::Claim(u) => {
                let user = format!("lp-{n}-{u}");
                let within = !*reserves || i64::try_from(coupons.len()).unwrap() * FACE < BUDGET;
                if within {
                    let code = claim(app, &template_id, &user).await;
                    coupons.push(Coupon {
                        code,
                        user,
                        state: State::Available,
                        order: None,
                        epoch,
                    });
                }
            }
            Op::Pay(k, price) | Op::Cancel(k, price) | Op::Abandon(k, price) => {
                let Some(i) = pick(k, &coupons) else { continue };
                if coupons[i].state != State::Available {
                    continue;
                }
                orders += 1;
                let order_id = format!("lpo-{n}-{orders}");
                let mut shop_line = line("l0", *price, 1);
                shop_line.shop = Some("s-1".into());
                let c = &mut coupons[i];
                let order = cart(&c.user, vec![shop_line], chosen(&[&c.code]));
                app.lock_order(&actor("mall"), &order_id, order)
                    .await
                    .unwrap();
                if matches!(op, Op::Pay(..)) {
                    app.redeem_order(&actor("mall"), &order_id).await.unwrap();
                    // A cash coupon takes what it can of the one line.
                    c.state = State::Redeemed {
                        discount: FACE.min(*price),
                    };
                    c.order = Some(order_id);
                } else if matches!(op, Op::Cancel(..)) {
                    app.release_order(&actor("mall"), &order_id).await.unwrap();
                } else {
                    t.clock.advance(Duration::days(31));
                    epoch += 1;
                    while app.expire_due(1_000).await.unwrap() > 0 {}
                    app.release_order(&actor("mall"), &order_id).await.unwrap();
                    for c in coupons.iter_mut().filter(|c| c.state == State::Available) {
                        c.state = State::Released;
                    }
                }
            }
            Op::Refund(k) => {
                let Some(i) = pick(k, &coupons) else { continue };
                let State::Redeemed { .. } = coupons[i].state else {
                    continue;
                };
                let order_id = coupons[i].order.take().unwrap();
                let request = RefundRequest {
                    refund_id: format!("{order_id}-r"),
                    lines: vec![RefundRequestLine {
                        line_id: "l0".into(),
                        quantity: 1,
                    }],
                };
                app.refund_order(&actor("mall"), &order_id, request)
                    .await
                    .unwrap();
                // Returned as available while valid, else expired (§8.4).
                coupons[i].state = if coupons[i].epoch == epoch {
                    State::Available
                } else {
                    State::Released
                };
            }
            Op::Void(k) => {
                let Some(i) = pick(k, &coupons) else { continue };
                let next = match coupons[i].state {
                    State::Available => State::Released,
                    State::Redeemed { discount } => State::VoidedSpent { discount },
                    State::Released | State::VoidedSpent { .. } => continue,
                };
                app.void_coupon(&actor("ops"), &coupons[i].code, None)
                    .await
                    .unwrap();
                coupons[i].state = next;
            }
            Op::Expire => {
                t.clock.advance(Duration::days(31));
                epoch += 1;
                while app.expire_due(1_000).await.unwrap() > 0 {}
                for c in coupons.iter_mut().filter(|c| c.state == State::Available) {
                    c.state = State::Released;
                }
            }
        }
        let check = app.ledger_check().await.unwrap();
        assert!(
            check.is_consistent(),
            "after {op:?}: {:#?}",
            check.mismatches
        );
    }
    if *end {
        app.end_template(&actor("ops"), &template_id).await.unwrap();
    }
    let check = app.ledger_check().await.unwrap();
    assert!(check.is_consistent(), "at the end: {:#?}", check.mismatches);
    let query = ReportQuery {
        template_id: Some(template_id.clone()),
        ..ReportQuery::default()
    };
    let report = app.ledger_report(&query).await.unwrap();
    let mut totals: HashMap<&str, i64> = HashMap::new();
    for row in &report.templates {
        *totals.entry("reserved").or_default() += row.figures.reserved;
        *totals.entry("spent").or_default() += row.figures.spent;
        *totals.entry("released").or_default() += row.figures.released;
        *totals.entry("escrow").or_default() += row.figures.escrow_change;
    }
    let (reserved, spent, released) = model_totals(*reserves, &coupons, *end);
    let got = |k: &str| totals.get(k).copied().unwrap_or(0);
    assert_eq!(
        (got("reserved"), got("spent"), got("released")),
        (reserved, spent, released),
        "{ops:?}"
    );
    let spent_total: i64 = report
        .settlement
        .iter()
        .map(|s| s.shop_spent + s.platform_spent)
        .sum();
    assert_eq!(spent_total, spent);
    // Double entry: what is reserved is in escrow, spent or released; a
    // template that reserves nothing spends from the budget, never escrow.
    let escrow = if *reserves {
        reserved - spent - released
    } else {
        0
    };
    assert_eq!(got("escrow"), escrow, "{ops:?}");
}

#[test]
fn the_ledger_reconciles_with_the_coupons_after_any_sequence() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let worlds = runtime.block_on(apps());
    let config = Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&ops(), |case| {
            for t in &worlds {
                runtime.block_on(run(t, &case));
            }
            Ok(())
        })
        .unwrap();
}
