#![allow(clippy::unwrap_used)]
//! Orders (SPEC §8) on every back end: lock → redeem → refund with exact
//! amounts, idempotent retries, release, concurrent locks of one coupon,
//! and the expiry job.

mod support;

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;

use couponflow_app::orders::{OrderState, RefundRequest, RefundRequestLine};
use couponflow_app::{App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_core::coupon::CouponState;
use couponflow_core::quote::Select;
use couponflow_core::refund::CouponOutcome;
use couponflow_store::Store;
use support::orders::*;
use support::*;

fn refund(refund_id: &str, lines: &[(&str, u32)]) -> RefundRequest {
    RefundRequest {
        refund_id: refund_id.to_owned(),
        lines: lines
            .iter()
            .map(|(line_id, quantity)| RefundRequestLine {
                line_id: (*line_id).to_owned(),
                quantity: *quantity,
            })
            .collect(),
    }
}

fn threshold_300_50() -> serde_json::Value {
    template_body(
        "满300减50",
        json!({"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]}),
        json!({}),
    )
}

fn cash(amount: i64) -> serde_json::Value {
    template_body("立减", json!({"kind": "cash", "amount": amount}), json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_redeem_and_refund_every_unit_pays_back_exactly_what_was_paid_and_returns_the_coupon()
{
    for t in apps().await {
        let app = &t.app;
        let (_, code) = coupon_of(app, "u-1", threshold_300_50()).await;
        let mut order_cart = cart(
            "u-1",
            vec![line("a", 20000, 1), line("b", 3334, 3)],
            Select::Best,
        );
        order_cart.shipping_fee = 1000;
        let locked = app
            .lock_order(&actor("mall"), "o-1", order_cart)
            .await
            .unwrap();
        assert_eq!(locked.state, OrderState::Locked, "{}", t.url);
        assert_eq!(locked.quote.selected, vec![code.clone()]);
        // 5000 over 20000 and 10002 by largest remainder: 3333 and 1667.
        let payables: Vec<i64> = locked.quote.lines.iter().map(|l| l.payable).collect();
        assert_eq!(payables, vec![16667, 8335]);
        assert_eq!(locked.quote.payable, 16667 + 8335 + 1000);
        assert_eq!(app.coupon(&code).await.unwrap().state, CouponState::Locked);
        assert_eq!(
            app.coupon(&code).await.unwrap().order_id.as_deref(),
            Some("o-1")
        );

        let paid = app.redeem_order(&actor("mall"), "o-1").await.unwrap();
        assert_eq!(paid.state, OrderState::Paid);
        assert_eq!(
            app.coupon(&code).await.unwrap().state,
            CouponState::Redeemed
        );

        let first = app
            .refund_order(&actor("mall"), "o-1", refund("r-1", &[("b", 1)]))
            .await
            .unwrap();
        assert_eq!(first.amount, 2778, "round_half_up(8335 / 3)");
        assert_eq!(first.coupons[0].outcome, CouponOutcome::Keep);
        assert_eq!(
            app.coupon(&code).await.unwrap().state,
            CouponState::Redeemed
        );
        let second = app
            .refund_order(&actor("mall"), "o-1", refund("r-2", &[("b", 2), ("a", 1)]))
            .await
            .unwrap();
        assert_eq!(second.amount, (8335 - 2778) + 16667);
        assert!(second.order_fully_refunded);
        assert_eq!(second.coupons[0].outcome, CouponOutcome::Return);
        assert_eq!(first.amount + second.amount, 16667 + 8335);
        assert_eq!(
            app.coupon(&code).await.unwrap().state,
            CouponState::Available
        );
        assert_eq!(app.order("o-1").await.unwrap().state, OrderState::Refunded);
        assert_eq!(app.order_refunds("o-1").await.unwrap(), vec![first, second]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cash_coupon_comes_back_in_proportional_pieces_that_add_up_to_its_discount() {
    for t in apps().await {
        let app = &t.app;
        let (_, code) = coupon_of(app, "u-1", cash(1000)).await;
        let lines = vec![line("a", 3000, 1), line("b", 1000, 3)];
        let order = cart("u-1", lines, chosen(&[&code]));
        let locked = app.lock_order(&actor("mall"), "o-1", order).await.unwrap();
        assert_eq!(locked.quote.payable, 5000, "{}", t.url);
        app.redeem_order(&actor("mall"), "o-1").await.unwrap();

        let steps = [
            ("r-1", "b", 1, 833, 167),
            ("r-2", "b", 2, 1667, 333),
            ("r-3", "a", 1, 2500, 500),
        ];
        let mut new_codes = Vec::new();
        for (refund_id, line_id, quantity, amount, given_back) in steps {
            let done = app
                .refund_order(
                    &actor("mall"),
                    "o-1",
                    refund(refund_id, &[(line_id, quantity)]),
                )
                .await
                .unwrap();
            assert_eq!(done.amount, amount, "{refund_id}");
            assert_eq!(
                done.coupons[0].outcome,
                CouponOutcome::NewCash { amount: given_back }
            );
            let new_code = done.coupons[0].new_coupon.clone().unwrap();
            let new_coupon = app.coupon(&new_code).await.unwrap();
            assert_eq!(
                (
                    new_coupon.face_value,
                    new_coupon.state,
                    new_coupon.user_id.as_deref()
                ),
                (given_back, CouponState::Available, Some("u-1"))
            );
            new_codes.push(new_code);
        }
        // The original stays spent; the pieces are worth their face value.
        assert_eq!(
            app.coupon(&code).await.unwrap().state,
            CouponState::Redeemed
        );
        let quote = app
            .quote_for_user(cart(
                "u-1",
                vec![line("x", 10000, 1)],
                chosen(&[&new_codes[0]]),
            ))
            .await
            .unwrap();
        assert_eq!(quote.coupon_discount, 167);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_call_repeated_answers_the_same_and_changes_nothing() {
    for t in apps().await {
        let app = &t.app;
        let (_, code) = coupon_of(app, "u-1", threshold_300_50()).await;
        let order = cart("u-1", vec![line("a", 40000, 2)], Select::Best);
        let mall = actor("mall");
        let locked = app.lock_order(&mall, "o-1", order.clone()).await.unwrap();
        let history = app.coupon_history(&code).await.unwrap().len();
        t.clock.advance(Duration::minutes(1));
        assert_eq!(
            app.lock_order(&mall, "o-1", order.clone()).await.unwrap(),
            locked
        );
        assert_eq!(
            app.coupon_history(&code).await.unwrap().len(),
            history,
            "{}",
            t.url
        );

        let mut other = order.clone();
        other.lines[0].quantity = 3;
        let conflict = app.lock_order(&mall, "o-1", other).await.unwrap_err();
        assert_eq!(conflict.code(), "IDEMPOTENCY_CONFLICT");

        let paid = app.redeem_order(&mall, "o-1").await.unwrap();
        assert_eq!(app.redeem_order(&mall, "o-1").await.unwrap(), paid);
        let history = app.coupon_history(&code).await.unwrap().len();

        let request = refund("r-1", &[("a", 1)]);
        let refunded = app
            .refund_order(&mall, "o-1", request.clone())
            .await
            .unwrap();
        assert_eq!(
            app.refund_order(&mall, "o-1", request).await.unwrap(),
            refunded
        );
        assert_eq!(app.order_refunds("o-1").await.unwrap().len(), 1);
        let other = app
            .refund_order(&mall, "o-1", refund("r-1", &[("a", 2)]))
            .await
            .unwrap_err();
        assert_eq!(other.code(), "IDEMPOTENCY_CONFLICT");
        assert_eq!(other.kind(), couponflow_app::ErrorKind::Conflict);

        let completed = app.complete_order(&mall, "o-1").await.unwrap();
        assert_eq!(app.complete_order(&mall, "o-1").await.unwrap(), completed);
        assert_eq!(completed.order.state, OrderState::Completed);
        assert_eq!(app.coupon_history(&code).await.unwrap().len(), history);

        let (_, second) = coupon_of(app, "u-2", threshold_300_50()).await;
        let order = cart("u-2", vec![line("a", 40000, 1)], Select::Best);
        app.lock_order(&mall, "o-2", order).await.unwrap();
        let released = app.release_order(&mall, "o-2").await.unwrap();
        assert_eq!(app.release_order(&mall, "o-2").await.unwrap(), released);
        assert_eq!(app.coupon_history(&second).await.unwrap().len(), 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_returns_the_coupon_or_expires_it_past_its_validity() {
    for t in apps().await {
        let app = &t.app;
        let (_, code) = coupon_of(app, "u-1", threshold_300_50()).await;
        let order = cart("u-1", vec![line("a", 40000, 1)], chosen(&[&code]));
        app.lock_order(&actor("mall"), "o-1", order.clone())
            .await
            .unwrap();
        let released = app.release_order(&actor("mall"), "o-1").await.unwrap();
        assert_eq!(released.state, OrderState::Released, "{}", t.url);
        let coupon = app.coupon(&code).await.unwrap();
        assert_eq!(
            (coupon.state, coupon.order_id),
            (CouponState::Available, None)
        );
        let late = app.redeem_order(&actor("mall"), "o-1").await.unwrap_err();
        assert_eq!(late.code(), "ORDER_STATE");

        app.lock_order(&actor("mall"), "o-2", order).await.unwrap();
        t.clock.advance(Duration::days(31));
        app.release_order(&actor("mall"), "o-2").await.unwrap();
        assert_eq!(app.coupon(&code).await.unwrap().state, CouponState::Expired);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_coupon_can_be_paid_after_its_validity_and_keep_on_cancel_spends_it() {
    for t in apps().await {
        let app = &t.app;
        let (_, code) = coupon_of(app, "u-1", cash(500)).await;
        let order = cart("u-1", vec![line("a", 4000, 1)], chosen(&[&code]));
        app.lock_order(&actor("mall"), "o-1", order).await.unwrap();
        t.clock.advance(Duration::days(31));
        app.redeem_order(&actor("mall"), "o-1").await.unwrap();
        assert_eq!(
            app.coupon(&code).await.unwrap().state,
            CouponState::Redeemed,
            "{}",
            t.url
        );

        let body = template_body(
            "下单即用",
            json!({"kind": "cash", "amount": 300}),
            json!({"return_policy": {"on_cancel": "keep"}}),
        );
        let (_, kept) = coupon_of(app, "u-1", body).await;
        let order = cart("u-1", vec![line("a", 4000, 1)], chosen(&[&kept]));
        app.lock_order(&actor("mall"), "o-2", order).await.unwrap();
        app.release_order(&actor("mall"), "o-2").await.unwrap();
        assert_eq!(
            app.coupon(&kept).await.unwrap().state,
            CouponState::Redeemed
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_hundred_orders_locking_one_coupon_exactly_one_wins() {
    for t in apps().await {
        let url = t.url.clone();
        let app = Arc::new(t.app);
        let (_, code) = coupon_of(&app, "u-1", threshold_300_50()).await;
        let mut tasks = tokio::task::JoinSet::new();
        for index in 0..200 {
            let app = app.clone();
            let order = cart("u-1", vec![line("a", 40000, 1)], chosen(&[&code]));
            tasks.spawn(async move {
                app.lock_order(&actor("mall"), &format!("o-{index}"), order)
                    .await
            });
        }
        let mut winners = Vec::new();
        let mut refusals = Vec::new();
        while let Some(result) = tasks.join_next().await {
            match result.unwrap() {
                Ok(order) => winners.push(order.order_id),
                Err(error) => refusals.push(error.code()),
            }
        }
        assert_eq!(winners.len(), 1, "{url}");
        assert_eq!(refusals.len(), 199);
        assert!(
            refusals.iter().all(|code| *code == "COUPON_STATE"),
            "{refusals:?}"
        );
        let coupon = app.coupon(&code).await.unwrap();
        assert_eq!(
            (coupon.state, coupon.order_id),
            (CouponState::Locked, Some(winners[0].clone()))
        );
        assert_eq!(app.coupon_history(&code).await.unwrap().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_one_postgresql_never_lock_one_coupon_for_two_orders() {
    let Some(url) = couponflow_store::testing::fresh_postgres_url()
        .await
        .unwrap()
    else {
        return; // SQLite is one node; CI sets the PostgreSQL URL.
    };
    let clock = Arc::new(FixedClock::new(at("2026-12-05T12:00:00Z")));
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let store = Arc::new(Store::open_and_migrate(&url).await.unwrap());
        nodes.push(Arc::new(App::new(
            store,
            clock.clone(),
            Settings::default(),
        )));
    }
    let (_, code) = coupon_of(&nodes[0], "u-1", threshold_300_50()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..100 {
        let app = nodes[index % 2].clone();
        let order = cart("u-1", vec![line("a", 40000, 1)], chosen(&[&code]));
        tasks.spawn(async move {
            app.lock_order(&actor("mall"), &format!("o-{index}"), order)
                .await
        });
    }
    let mut winners = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => winners += 1,
            Err(error) => assert_eq!(error.code(), "COUPON_STATE", "{error}"),
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(nodes[1].coupon_history(&code).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_beyond_the_order_or_before_payment_are_refused_and_change_nothing() {
    for t in apps().await {
        let app = &t.app;
        let (_, code) = coupon_of(app, "u-1", threshold_300_50()).await;
        let order = cart("u-1", vec![line("a", 40000, 1)], Select::Best);
        app.lock_order(&actor("mall"), "o-1", order).await.unwrap();
        let early = app
            .refund_order(&actor("mall"), "o-1", refund("r-1", &[("a", 1)]))
            .await
            .unwrap_err();
        assert_eq!(early.code(), "ORDER_STATE", "{}", t.url);
        app.redeem_order(&actor("mall"), "o-1").await.unwrap();
        for bad in [
            refund("r-2", &[("a", 2)]),
            refund("r-3", &[("z", 1)]),
            refund("r-4", &[]),
        ] {
            let error = app
                .refund_order(&actor("mall"), "o-1", bad)
                .await
                .unwrap_err();
            assert_eq!(error.code(), "VALIDATION_FAILED");
        }
        assert!(app.order_refunds("o-1").await.unwrap().is_empty());
        assert_eq!(
            app.coupon(&code).await.unwrap().state,
            CouponState::Redeemed
        );
        let missing = app.redeem_order(&actor("mall"), "o-404").await.unwrap_err();
        assert_eq!(missing.code(), "ORDER_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupons_past_their_validity_cannot_be_locked_and_the_expiry_job_expires_them_in_batches() {
    for t in apps().await {
        let app = &t.app;
        let body = template_body(
            "限时券",
            json!({"kind": "cash", "amount": 500}),
            json!({"validity": {"type": "absolute", "from": "2026-12-01T00:00:00Z", "until": "2026-12-06T00:00:00Z"}}),
        );
        let template_id = live_template(app, body).await;
        let first = claim(app, &template_id, "u-1").await;
        let second = claim(app, &template_id, "u-2").await;
        let (_, lasting) = coupon_of(app, "u-1", cash(700)).await;
        assert_eq!(app.expire_due(100).await.unwrap(), 0, "{}", t.url);

        t.clock.set(at("2026-12-06T00:00:01Z"));
        let order = cart("u-1", vec![line("a", 4000, 1)], chosen(&[&first]));
        let refused = app
            .lock_order(&actor("mall"), "o-1", order)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "COUPON_STATE");
        let quote = app
            .quote_for_user(cart("u-1", vec![line("a", 4000, 1)], Select::Best))
            .await
            .unwrap();
        assert_eq!(quote.selected, vec![lasting.clone()]);

        assert_eq!(app.expire_due(1).await.unwrap(), 1);
        assert_eq!(app.expire_due(100).await.unwrap(), 1);
        assert_eq!(app.expire_due(100).await.unwrap(), 0);
        for code in [&first, &second] {
            assert_eq!(app.coupon(code).await.unwrap().state, CouponState::Expired);
            let history = app.coupon_history(code).await.unwrap();
            let last = history.last().unwrap();
            assert_eq!(
                (last.from, last.actor.as_deref()),
                (Some(CouponState::Available), Some("system:expiry"))
            );
        }
        assert_eq!(
            app.coupon(&lasting).await.unwrap().state,
            CouponState::Available
        );
    }
}

/// Holds the store's write pipeline until the returned sender fires, so
/// that order calls made meanwhile queue up and are decided as one batch.
async fn hold_the_pipeline(app: &App) -> tokio::sync::oneshot::Sender<()> {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (running, started) = tokio::sync::oneshot::channel::<()>();
    let store = app.store().clone();
    tokio::spawn(async move {
        store
            .write(move |_connection| {
                Box::pin(async move {
                    let _ = running.send(());
                    let _ = released.await;
                    Ok::<(), couponflow_store::StoreError>(())
                })
            })
            .await
    });
    started.await.unwrap();
    release
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_of_order_calls_answers_each_call_as_if_they_came_one_after_another() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let mall = actor("mall");
        let (template_id, earlier) = coupon_of(&app, "u-1", threshold_300_50()).await;
        let code = claim(&app, &template_id, "u-2").await;
        let earlier_cart = cart("u-1", vec![line("a", 40000, 1)], chosen(&[&earlier]));
        let first = app
            .lock_order(&mall, "o-1", earlier_cart.clone())
            .await
            .unwrap();
        let wanted = cart("u-2", vec![line("a", 40000, 1)], chosen(&[&code]));
        let mut other_content = wanted.clone();
        other_content.lines[0].quantity = 2;

        // The pipeline is held, so the batcher's first batch (a call about
        // an unknown order) waits in it, and every call below queues behind
        // it; `join!` sends them in the order written.
        let release = hold_the_pipeline(&app).await;
        let units_before = app.store().pipeline_stats().units_committed;
        let warm_up = tokio::spawn({
            let app = app.clone();
            async move { app.redeem_order(&actor("mall"), "o-none").await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let (winner, loser, repeated, replayed, conflict, paid, ()) = tokio::join!(
            app.lock_order(&mall, "o-2", wanted.clone()),
            app.lock_order(&mall, "o-3", wanted.clone()),
            app.lock_order(&mall, "o-2", wanted.clone()),
            app.lock_order(&mall, "o-1", earlier_cart),
            app.lock_order(&mall, "o-2", other_content),
            app.redeem_order(&mall, "o-2"),
            async {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                release.send(()).unwrap();
            },
        );
        let refused = warm_up.await.unwrap().unwrap_err();
        assert_eq!(refused.code(), "ORDER_NOT_FOUND", "{}", t.url);
        assert_eq!(
            app.store().pipeline_stats().units_committed - units_before,
            3,
            "the held unit, the first batch, and one batch of all six calls"
        );

        let winner = winner.unwrap();
        assert_eq!(
            (winner.state, winner.quote.selected.clone()),
            (OrderState::Locked, vec![code.clone()])
        );
        assert_eq!(loser.unwrap_err().code(), "COUPON_STATE");
        assert_eq!(repeated.unwrap(), winner);
        assert_eq!(replayed.unwrap(), first);
        assert_eq!(conflict.unwrap_err().code(), "IDEMPOTENCY_CONFLICT");
        let paid = paid.unwrap();
        assert_eq!(
            (paid.order_id.as_str(), paid.state),
            ("o-2", OrderState::Paid)
        );

        let coupon = app.coupon(&code).await.unwrap();
        assert_eq!(
            (coupon.state, coupon.order_id.as_deref()),
            (CouponState::Redeemed, Some("o-2"))
        );
        let history: Vec<_> = app
            .coupon_history(&code)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| (entry.seq, entry.to, entry.order_id))
            .collect();
        assert_eq!(
            history,
            vec![
                (0, CouponState::Available, None),
                (1, CouponState::Locked, Some("o-2".to_owned())),
                (2, CouponState::Redeemed, Some("o-2".to_owned())),
            ]
        );
        assert_eq!(app.order("o-2").await.unwrap(), paid);
        assert_eq!(
            app.order("o-3").await.unwrap_err().code(),
            "ORDER_NOT_FOUND"
        );
        assert_eq!(
            app.lock_order(&mall, "o-2", wanted.clone()).await.unwrap(),
            winner,
            "the stored first answer"
        );
        assert_eq!(app.redeem_order(&mall, "o-2").await.unwrap(), paid);
        assert_eq!(
            app.coupon(&earlier).await.unwrap().state,
            CouponState::Locked
        );
    }
}
