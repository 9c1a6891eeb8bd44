#![allow(clippy::unwrap_used)]
//! The rules on use and on the budget (SPEC §11.3, §11.4): caps on uses per
//! device or payment account holding under concurrent checkouts, the
//! redemptions-per-minute breaker that pauses a template and holds its
//! coupons' use, and the budget-used breaker — on every back end.

mod support;

use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};

use couponflow_app::App;
use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_core::quote::{Cart, Select};
use couponflow_core::template::risk::Context;
use support::orders::{cart, chosen, claim, line, live_template, template_body};
use support::*;

/// A live ¥5-off template with these risk rules; each user may hold five.
async fn guarded(app: &App, risk: Value) -> String {
    let body = template_body(
        "新人立减",
        json!({"kind": "cash", "amount": 500}),
        json!({"limits": {"per_user": 5}, "risk": risk}),
    );
    live_template(app, body).await
}

fn checkout(user: &str, select: Select, context: Context) -> Cart {
    let mut cart = cart(user, vec![line("1", 10_000, 1)], select);
    cart.context = context;
    cart
}

fn device(id: &str) -> Context {
    Context {
        device_id: Some(id.to_owned()),
        ..Context::default()
    }
}

/// Locks every cart at once: (order id, answer code or "ok").
async fn lock_storm(app: &Arc<App>, carts: Vec<(String, Cart)>) -> Vec<(String, String)> {
    let tasks: Vec<_> = carts
        .into_iter()
        .map(|(order, cart)| {
            let app = app.clone();
            tokio::spawn(async move {
                let answer = app.lock_order(&actor("mall"), &order, cart).await;
                let code = match answer {
                    Ok(_) => "ok".to_owned(),
                    Err(error) => error.code().to_owned(),
                };
                (order, code)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_use_per_device_holds_under_concurrent_checkouts_and_comes_back_on_release() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let template = guarded(&app, json!({"use_caps": [{"by": "device_id", "max": 1}]})).await;
        let mut carts = Vec::new();
        for i in 0..12 {
            let user = format!("farm-{i}");
            let code = claim(&app, &template, &user).await;
            carts.push((
                format!("o-{i}"),
                checkout(&user, chosen(&[&code]), device("d-farm")),
            ));
        }
        let answers = lock_storm(&app, carts).await;
        let won: Vec<&String> = answers
            .iter()
            .filter(|(_, a)| a == "ok")
            .map(|(o, _)| o)
            .collect();
        assert_eq!(won.len(), 1, "{answers:?} on {}", t.url);
        assert!(
            answers.iter().all(|(_, a)| a == "ok" || a == "RISK_LIMIT"),
            "{answers:?}"
        );

        // Another device is another count; no device at all is refused.
        let code = claim(&app, &template, "real").await;
        app.lock_order(
            &actor("mall"),
            "o-real",
            checkout("real", chosen(&[&code]), device("d-real")),
        )
        .await
        .unwrap();
        let other = claim(&app, &template, "bare").await;
        let bare = app
            .lock_order(
                &actor("mall"),
                "o-bare",
                checkout("bare", chosen(&[&other]), Context::default()),
            )
            .await
            .unwrap_err();
        assert_eq!(bare.code(), "RISK_LIMIT");

        // Asking for the best coupon leaves the capped one out: the order
        // is placed at full price rather than refused.
        let farmer = claim(&app, &template, "farm-late").await;
        let best = app
            .lock_order(
                &actor("mall"),
                "o-best",
                checkout("farm-late", Select::Best, device("d-farm")),
            )
            .await
            .unwrap();
        assert!(best.quote.selected.is_empty(), "{:?}", best.quote.selected);
        assert_eq!(best.quote.coupon_discount, 0);

        // The winner cancels: its coupon comes back, and so does the use.
        app.release_order(&actor("mall"), won[0]).await.unwrap();
        let again = app
            .lock_order(
                &actor("mall"),
                "o-again",
                checkout("farm-late", chosen(&[&farmer]), device("d-farm")),
            )
            .await
            .unwrap();
        assert_eq!(again.quote.selected, std::slice::from_ref(&farmer));
        assert_eq!(again.quote.coupon_discount, 500);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_account_cap_per_day_opens_again_the_next_day() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let template = guarded(
            &app,
            json!({"use_caps": [{"by": "payment_account", "max": 2, "per": "day"}]}),
        )
        .await;
        let account = Context {
            payment_account: Some("alipay-7".into()),
            ..Context::default()
        };
        let mut carts = Vec::new();
        for i in 0..6 {
            let user = format!("u-{i}");
            let code = claim(&app, &template, &user).await;
            carts.push((
                format!("o-{i}"),
                checkout(&user, chosen(&[&code]), account.clone()),
            ));
        }
        let answers = lock_storm(&app, carts).await;
        let placed = answers.iter().filter(|(_, a)| a == "ok").count();
        assert_eq!(placed, 2, "{answers:?} on {}", t.url);
        for (order, answer) in &answers {
            if answer == "ok" {
                app.redeem_order(&actor("mall"), order).await.unwrap();
            }
        }
        t.clock.advance(Duration::days(1));
        let code = claim(&app, &template, "tomorrow").await;
        app.lock_order(
            &actor("mall"),
            "o-tomorrow",
            checkout("tomorrow", chosen(&[&code]), account.clone()),
        )
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redemption_storm_trips_the_breaker_which_pauses_and_holds_the_template() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let template = guarded(
            &app,
            json!({"redemptions_per_minute": {"alert": 3, "pause": 5}}),
        )
        .await;
        // Held before the storm, used after it.
        let late = claim(&app, &template, "late").await;
        let mut orders = Vec::new();
        for i in 0..8 {
            let user = format!("u-{i}");
            let code = claim(&app, &template, &user).await;
            let order = format!("o-{i}");
            app.lock_order(
                &actor("mall"),
                &order,
                checkout(&user, chosen(&[&code]), Context::default()),
            )
            .await
            .unwrap();
            orders.push(order);
        }
        let tasks: Vec<_> = orders
            .iter()
            .map(|order| {
                let (app, order) = (app.clone(), order.clone());
                tokio::spawn(async move { app.redeem_order(&actor("mall"), &order).await })
            })
            .collect();
        for task in tasks {
            // Orders already placed are paid: the breaker stops new uses.
            task.await.unwrap().unwrap();
        }
        let record = app.template(&template).await.unwrap();
        assert_eq!(record.status.as_str(), "paused", "{}", t.url);
        let last = app.template_events(&template).await.unwrap().pop().unwrap();
        assert_eq!(
            (last.action.as_str(), last.actor.as_str()),
            ("paused", "system:risk")
        );

        // No new use while held: neither an explicit choice nor the best.
        let refused = app
            .lock_order(
                &actor("mall"),
                "o-late",
                checkout("late", chosen(&[&late]), Context::default()),
            )
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "RISK_LIMIT");
        let best = app
            .lock_order(
                &actor("mall"),
                "o-late-best",
                checkout("late", Select::Best, Context::default()),
            )
            .await
            .unwrap();
        assert!(best.quote.selected.is_empty());

        assert_eq!(
            alerts_of(&app, &template).await,
            alert_rows(&[
                ("redemptions_per_minute", "pause", 5, 5),
                ("redemptions_per_minute", "alert", 3, 3),
            ])
        );

        // Staff resume it: the hold is lifted with the pause.
        t.clock.advance(Duration::minutes(1));
        app.resume_template(&actor("ops"), &template).await.unwrap();
        let placed = app
            .lock_order(
                &actor("mall"),
                "o-after",
                checkout("late", chosen(&[&late]), Context::default()),
            )
            .await
            .unwrap();
        assert_eq!(placed.quote.coupon_discount, 500);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_that_use_up_the_budget_trip_its_breaker() {
    for t in apps().await {
        let app = Arc::new(t.app);
        // ¥1 coupons, 10 of them: ¥10 of budget. Alert at half, pause at 80%.
        let body = template_body(
            "一元券",
            json!({"kind": "cash", "amount": 100}),
            json!({"limits": {"total": 10}, "risk": {"budget_used": {"alert": 50, "pause": 80}}}),
        );
        let template = live_template(&app, body).await;
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let (app, template) = (app.clone(), template.clone());
                tokio::spawn(async move {
                    let request = ClaimRequest {
                        user: ClaimUser {
                            id: format!("u-{i}"),
                            ..ClaimUser::default()
                        },
                        request_id: format!("r-{i}"),
                        context: Value::Null,
                    };
                    app.claim(&template, request).await
                })
            })
            .collect();
        let mut claimed = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => claimed += 1,
                Err(error) => assert_eq!(error.code(), "TEMPLATE_NOT_ACTIVE"),
            }
        }
        assert_eq!(
            claimed, 8,
            "the claim reaching 80% is the last, on {}",
            t.url
        );
        assert_eq!(
            app.template(&template).await.unwrap().status.as_str(),
            "paused"
        );
        assert_eq!(
            alerts_of(&app, &template).await,
            alert_rows(&[
                ("budget_used", "pause", 80, 80),
                ("budget_used", "alert", 50, 50),
            ])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgresql_share_the_cap_on_use() {
    let Some(t) = apps()
        .await
        .into_iter()
        .find(|t| t.url.starts_with("postgres"))
    else {
        return;
    };
    let first = Arc::new(t.app);
    let store = Arc::new(
        couponflow_store::testing::fresh_store(&t.url)
            .await
            .unwrap(),
    );
    let second = Arc::new(App::new(
        store,
        t.clock.clone(),
        couponflow_app::Settings::default(),
    ));
    let template = guarded(&first, json!({"use_caps": [{"by": "device_id", "max": 3}]})).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let user = format!("farm-{i}");
        let code = claim(&first, &template, &user).await;
        let node = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        let cart = checkout(&user, chosen(&[&code]), device("d-farm"));
        tasks.push(tokio::spawn(async move {
            node.lock_order(&actor("mall"), &format!("o-{i}"), cart)
                .await
        }));
    }
    let mut placed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => placed += 1,
            Err(error) => assert_eq!(error.code(), "RISK_LIMIT"),
        }
    }
    assert_eq!(placed, 3, "two nodes together stay within the cap");
}
