#![allow(clippy::unwrap_used)]
//! The one issue path every source shares (`App::issue`): grants skip the
//! claim window and channel but not the audience or the limits, replays are
//! scoped to their source, exchanges take points in the batch's unit, and
//! every issued coupon leaves its event in the outbox.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::Row;

use couponflow_app::balances::Adjustment;
use couponflow_app::claims::{ClaimUser, Issue, Source};
use couponflow_app::notify::Event;
use couponflow_app::templates::Decision;
use couponflow_app::{App, outbox};
use couponflow_core::template::BalanceKind;
use support::*;

fn user(id: &str, tags: &[&str]) -> ClaimUser {
    ClaimUser {
        id: id.to_owned(),
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..ClaimUser::default()
    }
}

fn issue(source: Source, user: ClaimUser, request_id: &str, points: i64) -> Issue {
    Issue {
        user,
        request_id: request_id.to_owned(),
        source,
        campaign_id: None,
        points,
        context: Default::default(),
    }
}

async fn live_template(app: &App, extra: Value) -> String {
    let mut body = json!({"name": "满100减10", "benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 1000}]},
                          "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30}});
    for (key, value) in extra.as_object().unwrap().clone() {
        body[key] = value;
    }
    let id = app
        .create_template(&actor("ops"), template(body))
        .await
        .unwrap()
        .id;
    app.submit_template(&actor("ops"), &id).await.unwrap();
    app.review_template(&actor("lead"), &id, Decision::Approve, None)
        .await
        .unwrap();
    id
}

async fn events(app: &App) -> Vec<Event> {
    let rows = sqlx::query("SELECT events FROM outbox ORDER BY id")
        .fetch_all(app.store().reader())
        .await
        .unwrap();
    rows.iter()
        .flat_map(|row| outbox::decode(&row.get::<String, _>("events")).unwrap())
        .collect()
}

async fn points_of(app: &App, user: &str) -> i64 {
    app.balances(user)
        .await
        .unwrap()
        .iter()
        .find(|b| b.kind == BalanceKind::Points)
        .map_or(0, |b| b.balance)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_skips_the_claim_window_and_channel_but_not_the_audience_or_limits() {
    for t in apps().await {
        let app = &t.app;
        let later = app.now() + chrono::Duration::days(3);
        let id = live_template(
            app,
            json!({"limits": {"per_user": 1}, "channels": ["app"],
                   "audience": {"tags_any": ["vip"]},
                   "claim_window": {"from": later}}),
        )
        .await;
        let claimed = app
            .issue(&id, issue(Source::Claim, user("u-1", &["vip"]), "r-1", 0))
            .await;
        assert_eq!(
            claimed.unwrap_err().code(),
            "CLAIM_NOT_STARTED",
            "{}",
            t.url
        );

        let granted = app
            .issue(&id, issue(Source::Grant, user("u-1", &["vip"]), "g-1", 0))
            .await
            .unwrap();
        assert_eq!(granted.user_id, "u-1");
        let outsider = app
            .issue(&id, issue(Source::Grant, user("u-2", &[]), "g-1", 0))
            .await;
        assert_eq!(outsider.unwrap_err().code(), "NOT_IN_AUDIENCE");
        let second = app
            .issue(&id, issue(Source::Grant, user("u-1", &["vip"]), "g-2", 0))
            .await;
        assert_eq!(second.unwrap_err().code(), "PER_USER_LIMIT");
        // The same grant again replays its coupon.
        let again = app
            .issue(&id, issue(Source::Grant, user("u-1", &["vip"]), "g-1", 0))
            .await
            .unwrap();
        assert_eq!(again.code, granted.code);
        let coupon = app.coupon(&granted.code).await.unwrap();
        assert_eq!(coupon.source, "grant");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_scoped_to_its_source() {
    for t in apps().await {
        let app = &t.app;
        let id = live_template(app, json!({"limits": {"per_user": 5}})).await;
        let claimed = app
            .issue(&id, issue(Source::Claim, user("u-1", &[]), "same", 0))
            .await
            .unwrap();
        let granted = app
            .issue(&id, issue(Source::Grant, user("u-1", &[]), "same", 0))
            .await
            .unwrap();
        assert_ne!(claimed.code, granted.code, "{}", t.url);
        let replayed = app
            .issue(&id, issue(Source::Claim, user("u-1", &[]), "same", 0))
            .await
            .unwrap();
        assert_eq!(replayed.code, claimed.code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_take_points_and_a_short_balance_refuses_only_that_claim() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let id = live_template(&app, json!({"limits": {"total": 100}})).await;
        app.adjust_balance(
            &actor("finance"),
            "payer",
            BalanceKind::Points,
            Adjustment {
                amount: 100,
                reason: "welcome".into(),
                idempotency_key: "welcome".into(),
            },
        )
        .await
        .unwrap();
        // Five exchanges of 40 points and ten free claims, all at once: the
        // free ones all succeed, exactly two exchanges are paid for.
        let mut tasks = Vec::new();
        for i in 0..15 {
            let app = app.clone();
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                let request = match i < 5 {
                    true => issue(Source::Exchange, user("payer", &[]), &format!("x-{i}"), 40),
                    false => issue(Source::Claim, user(&format!("free-{i}"), &[]), "r", 0),
                };
                (i < 5, app.issue(&id, request).await)
            }));
        }
        let (mut paid, mut free) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                (true, Ok(_)) => paid += 1,
                (true, Err(error)) => assert_eq!(error.code(), "INSUFFICIENT_POINTS", "{}", t.url),
                (false, result) => {
                    result.unwrap();
                    free += 1;
                }
            }
        }
        assert_eq!((paid, free), (2, 10), "{}", t.url);
        assert_eq!(points_of(&app, "payer").await, 20);
        let entries: i64 = sqlx::query(
            "SELECT COUNT(*) FROM balance_entries WHERE user_id = 'payer' AND reason = 'exchange'",
        )
        .fetch_one(app.store().reader())
        .await
        .unwrap()
        .get(0);
        assert_eq!(entries, 2);
        // A replayed exchange is answered, not paid for again.
        let first = app
            .issue(&id, issue(Source::Exchange, user("payer", &[]), "x-0", 40))
            .await;
        let again = app
            .issue(&id, issue(Source::Exchange, user("payer", &[]), "x-0", 40))
            .await;
        assert_eq!(first.is_ok(), again.is_ok());
        assert_eq!(points_of(&app, "payer").await, 20);
        let coupons: i64 = sqlx::query(
            "SELECT COUNT(*) FROM coupons WHERE user_id = 'payer' AND source = 'exchange'",
        )
        .fetch_one(app.store().reader())
        .await
        .unwrap()
        .get(0);
        assert_eq!(coupons, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_issued_coupon_leaves_its_event_and_only_grants_reach_the_inbox() {
    for t in apps().await {
        let app = &t.app;
        // A claim's event is written for a webhook that wants it (see
        // `stats.rs` for the claims that nobody subscribes to).
        let hook = couponflow_app::notify::webhooks::NewWebhook {
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["coupon.claimed".into()],
            secret: None,
        };
        app.create_webhook(&actor("admin"), hook).await.unwrap();
        let id = live_template(app, json!({})).await;
        let claimed = app
            .issue(&id, issue(Source::Claim, user("u-1", &[]), "r-1", 0))
            .await
            .unwrap();
        let granted = app
            .issue(&id, issue(Source::Grant, user("u-2", &[]), "g-1", 0))
            .await
            .unwrap();
        let all = events(app).await;
        let of = |kind: &str| -> Vec<String> {
            all.iter()
                .filter(|e| e.kind == kind)
                .map(|e| e.data["code"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            of("coupon.claimed"),
            vec![claimed.code.clone()],
            "{}",
            t.url
        );
        assert_eq!(of("coupon.granted"), vec![granted.code.clone()]);
        while app.dispatch_outbox().await.unwrap() > 0 {}
        let inbox = |user: &'static str| async move { app.messages(user, None, 50).await.unwrap() };
        assert!(inbox("u-1").await.messages.is_empty());
        assert_eq!(inbox("u-2").await.messages.len(), 1);
    }
}
