#![allow(clippy::unwrap_used)]
//! A property of the cashback ledger, on every back end: over random
//! orders, random spending and random refund sequences (some before the
//! order completes), the reversals never exceed the credit, add up to it
//! exactly (with any shortfall) once the order is fully refunded, and the
//! balance never goes negative and always equals its ledger.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use couponflow_app::App;
use couponflow_app::balances::Adjustment;
use couponflow_app::orders::{OrderState, RefundRequest, RefundRequestLine};
use couponflow_core::template::BalanceKind;
use support::orders::*;
use support::*;

/// Cashback of every coupon of the property's template.
const BACK: i64 = 777;

static CASES: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
struct Case {
    /// (unit price, quantity) per line.
    lines: Vec<(i64, u32)>,
    /// Points spent right after completion (capped at the balance).
    spend: i64,
    /// Refunds taken before the order completes.
    refunds_before_complete: usize,
    /// (line index, units) per refund attempt; units past what is left are cut.
    refunds: Vec<(usize, u32)>,
    /// Refund whatever is left at the end.
    refund_the_rest: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec((1i64..=20_000, 1u32..=4), 1..=3),
        0i64..=900,
        0usize..=3,
        prop::collection::vec((0usize..3, 1u32..=4), 0..=6),
        any::<bool>(),
    )
        .prop_map(
            |(lines, spend, refunds_before_complete, refunds, refund_the_rest)| Case {
                lines,
                spend,
                refunds_before_complete,
                refunds,
                refund_the_rest,
            },
        )
}

/// What the ledger should say, kept beside it.
#[derive(Default)]
struct Tally {
    credited: i64,
    spent: i64,
    reversed: i64,
    shortfall: i64,
}

async fn points(app: &App, user: &str) -> i64 {
    app.balances(user).await.unwrap()[0].balance
}

fn refund_request(id: String, line_id: String, quantity: u32) -> RefundRequest {
    RefundRequest {
        refund_id: id,
        lines: vec![RefundRequestLine { line_id, quantity }],
    }
}

async fn complete(app: &App, order_id: &str, user: &str, case: &Case, tally: &mut Tally) {
    let Ok(completed) = app.complete_order(&actor("mall"), order_id).await else {
        // Fully refunded before completion: nothing is due.
        return;
    };
    tally.credited = completed.credited.iter().map(|c| c.amount).sum();
    assert!(tally.credited <= BACK);
    let spend = case.spend.min(points(app, user).await);
    if spend > 0 {
        let key = format!("{order_id}-spend");
        let adjustment = Adjustment {
            amount: -spend,
            reason: "spent".into(),
            idempotency_key: key,
        };
        app.adjust_balance(&actor("shop"), user, BalanceKind::Points, adjustment)
            .await
            .unwrap();
        tally.spent = spend;
    }
}

async fn check_balance(app: &App, user: &str, tally: &Tally) {
    let balance = points(app, user).await;
    assert!(balance >= 0);
    assert_eq!(balance, tally.credited - tally.spent - tally.reversed);
}

async fn run(app: &App, template_id: &str, case: &Case) {
    let n = CASES.fetch_add(1, Ordering::Relaxed);
    let (user, order_id) = (format!("pu-{n}"), format!("po-{n}"));
    let code = claim(app, template_id, &user).await;
    let lines: Vec<_> = (case.lines.iter().enumerate())
        .map(|(i, (price, quantity))| line(&format!("l{i}"), *price, *quantity))
        .collect();
    let order = cart(&user, lines, chosen(&[&code]));
    app.lock_order(&actor("mall"), &order_id, order)
        .await
        .unwrap();
    app.redeem_order(&actor("mall"), &order_id).await.unwrap();

    let mut left: Vec<u32> = case.lines.iter().map(|(_, quantity)| *quantity).collect();
    let mut attempts: Vec<(usize, u32)> = case.refunds.clone();
    if case.refund_the_rest {
        attempts.extend(left.iter().enumerate().map(|(i, q)| (i, *q)));
    }
    let mut tally = Tally::default();
    let (mut done, mut completed) = (0, false);
    for (index, units) in attempts {
        if done == case.refunds_before_complete && !completed {
            complete(app, &order_id, &user, case, &mut tally).await;
            completed = true;
        }
        let index = index % left.len();
        let units = units.min(left[index]);
        if units == 0 {
            continue;
        }
        left[index] -= units;
        let request = refund_request(format!("{order_id}-r{done}"), format!("l{index}"), units);
        let refund = app
            .refund_order(&actor("mall"), &order_id, request)
            .await
            .unwrap();
        tally.reversed += refund
            .cashback_reversed
            .iter()
            .map(|r| r.amount)
            .sum::<i64>();
        tally.shortfall += refund.cashback_shortfall;
        done += 1;
        check_balance(app, &user, &tally).await;
    }
    if !completed {
        complete(app, &order_id, &user, case, &mut tally).await;
    }
    check_balance(app, &user, &tally).await;
    assert!(tally.reversed + tally.shortfall <= tally.credited);
    if tally.spent == 0 {
        assert_eq!(tally.shortfall, 0);
    }
    let state = app.order(&order_id).await.unwrap().state;
    if state == OrderState::Refunded && tally.credited > 0 {
        assert_eq!(tally.reversed + tally.shortfall, tally.credited);
    }
}

#[test]
fn cashback_reversals_add_up_to_the_credit_and_the_balance_never_goes_negative() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let worlds = runtime.block_on(async {
        let mut worlds = Vec::new();
        for t in apps().await {
            let benefit = json!({"kind": "cashback", "tiers": [{"min_amount": 1, "back": BACK}],
                                 "to": "points"});
            let body = template_body("满0.01返7.77", benefit, json!({}));
            let template_id = live_template(&t.app, body).await;
            worlds.push((t, template_id));
        }
        worlds
    });
    let config = Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    runner
        .run(&cases(), |case| {
            for (t, template_id) in &worlds {
                runtime.block_on(run(&t.app, template_id, &case));
            }
            Ok(())
        })
        .unwrap();
}
