#![allow(clippy::unwrap_used)]
//! Claims (SPEC §6.2.1) on every back end: each check's own code, replay
//! by request id, and limits that hold under concurrency and across nodes.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use sqlx::Row;

use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_app::templates::Decision;
use couponflow_app::{App, AppError, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_store::Store;
use support::*;

fn claim_of(user: &str, request_id: &str) -> ClaimRequest {
    ClaimRequest {
        user: ClaimUser {
            id: user.to_owned(),
            channel: Some("app".into()),
            ..ClaimUser::default()
        },
        request_id: request_id.to_owned(),
        context: Value::Null,
    }
}

/// A template created, submitted and approved by two different people.
async fn live_template(app: &App, extra: Value) -> String {
    let mut body = json!({"name": "满100减10", "benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 1000}]},
                          "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30}});
    for (key, value) in extra.as_object().expect("an object").clone() {
        body[key] = value;
    }
    let id = app
        .create_template(&actor("ops"), template(body))
        .await
        .expect("created")
        .id;
    app.submit_template(&actor("ops"), &id)
        .await
        .expect("submitted");
    app.review_template(&actor("lead"), &id, Decision::Approve, None)
        .await
        .expect("approved");
    id
}

fn refusal(result: Result<couponflow_app::claims::ClaimedCoupon, AppError>) -> &'static str {
    match result {
        Err(error) => error.code(),
        Ok(coupon) => panic!("expected a refusal, got {coupon:?}"),
    }
}

async fn issued(store: &Store, template_id: &str) -> (i64, i64) {
    let row = sqlx::query("SELECT (SELECT COUNT(*) FROM coupons WHERE template_id = $1), issued FROM templates WHERE id = $1")
        .bind(template_id)
        .fetch_one(store.reader())
        .await
        .expect("count");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_puts_a_coupon_valid_for_the_relative_days_in_the_wallet() {
    for t in apps().await {
        let id = live_template(&t.app, json!({"limits": {"per_user": 1}})).await;
        let coupon = t
            .app
            .claim(&id, claim_of("u-1", "r-1"))
            .await
            .expect("claimed");
        assert_eq!(coupon.valid_from, t.app.now(), "{}", t.url);
        assert_eq!(coupon.valid_until, t.app.now() + Duration::days(30));
        assert!(couponflow_core::code::plausible(&coupon.code).is_ok());
        let wallet = t.app.wallet("u-1", None).await.unwrap();
        assert_eq!(wallet.len(), 1);
        assert_eq!(wallet[0].code, coupon.code);
        let history = t.app.coupon_history(&coupon.code).await.unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].reason, "claimed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_id_gets_the_first_answer_and_issues_nothing_more() {
    for t in apps().await {
        let id = live_template(&t.app, json!({"limits": {"total": 1}})).await;
        let first = t
            .app
            .claim(&id, claim_of("u-1", "same"))
            .await
            .expect("claimed");
        let again = t
            .app
            .claim(&id, claim_of("u-1", "same"))
            .await
            .expect("replayed");
        assert_eq!(first, again, "{}", t.url);
        assert_eq!(
            refusal(t.app.claim(&id, claim_of("u-2", "other")).await),
            "SOLD_OUT"
        );
        assert_eq!(
            refusal(t.app.claim(&id, claim_of("u-2", "other")).await),
            "SOLD_OUT"
        );
        assert_eq!(issued(t.app.store(), &id).await, (1, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_replayed_as_first_given_even_after_its_cause_is_gone() {
    for t in apps().await {
        let id = live_template(&t.app, json!({})).await;
        t.app
            .pause_template(&actor("ops"), &id)
            .await
            .expect("paused");
        assert_eq!(
            refusal(t.app.claim(&id, claim_of("u-1", "early")).await),
            "TEMPLATE_NOT_ACTIVE",
            "{}",
            t.url
        );
        t.app
            .resume_template(&actor("ops"), &id)
            .await
            .expect("resumed");
        // The retry gets the first answer; a new request is decided anew.
        assert_eq!(
            refusal(t.app.claim(&id, claim_of("u-1", "early")).await),
            "TEMPLATE_NOT_ACTIVE",
            "{}",
            t.url
        );
        t.app
            .claim(&id, claim_of("u-1", "later"))
            .await
            .expect("claimed once resumed");
        // Another user's request with the refused id is their own request.
        let theirs = t
            .app
            .claim(&id, claim_of("u-2", "early"))
            .await
            .expect("claimed by the other user");
        assert_eq!(theirs.user_id, "u-2");
        assert_eq!(issued(t.app.store(), &id).await, (2, 2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_is_scoped_to_its_user_and_never_returns_another_users_coupon() {
    for t in apps().await {
        let id = live_template(&t.app, json!({})).await;
        let first = t
            .app
            .claim(&id, claim_of("u-1", "shared"))
            .await
            .expect("claimed");
        // Another user's request with the same id is a request of its own.
        let other = t
            .app
            .claim(&id, claim_of("u-2", "shared"))
            .await
            .expect("claimed by the other user");
        assert_eq!(other.user_id, "u-2", "{}", t.url);
        assert_ne!(other.code, first.code, "{}", t.url);
        let mine = t
            .app
            .claim(&id, claim_of("u-1", "shared"))
            .await
            .expect("replayed");
        assert_eq!(mine, first);
        let theirs = t
            .app
            .claim(&id, claim_of("u-2", "shared"))
            .await
            .expect("replayed");
        assert_eq!(theirs, other);
        assert_eq!(issued(t.app.store(), &id).await, (2, 2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_refuses_with_its_own_code() {
    for t in apps().await {
        let app = &t.app;
        let draft = app
            .create_template(
                &actor("ops"),
                template(
                    json!({"name": "d", "benefit": {"kind": "cash", "amount": 100},
                "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 1}}),
                ),
            )
            .await
            .unwrap()
            .id;
        assert_eq!(
            refusal(app.claim(&draft, claim_of("u-1", "a")).await),
            "TEMPLATE_NOT_ACTIVE"
        );
        assert_eq!(
            refusal(app.claim(&draft, claim_of("  ", "a2")).await),
            "USER_UNKNOWN"
        );
        assert_eq!(
            refusal(app.claim("nope", claim_of("u-1", "b")).await),
            "TEMPLATE_NOT_FOUND"
        );
        let later = live_template(
            app,
            json!({"claim_window": {"from": "2026-12-10T00:00:00Z"}}),
        )
        .await;
        assert_eq!(
            refusal(app.claim(&later, claim_of("u-1", "c")).await),
            "CLAIM_NOT_STARTED"
        );
        let over = live_template(
            app,
            json!({"claim_window": {"until": "2026-12-01T00:00:00Z"}}),
        )
        .await;
        assert_eq!(
            refusal(app.claim(&over, claim_of("u-1", "d")).await),
            "CLAIM_ENDED"
        );
        let vip = live_template(app, json!({"audience": {"tags_any": ["vip"]}})).await;
        assert_eq!(
            refusal(app.claim(&vip, claim_of("u-1", "e")).await),
            "NOT_IN_AUDIENCE"
        );
        let pos = live_template(app, json!({"channels": ["pos"]})).await;
        assert_eq!(
            refusal(app.claim(&pos, claim_of("u-1", "f")).await),
            "CHANNEL"
        );
        let once = live_template(app, json!({"limits": {"per_user": 1}})).await;
        app.claim(&once, claim_of("u-1", "g1")).await.unwrap();
        assert_eq!(
            refusal(app.claim(&once, claim_of("u-1", "g2")).await),
            "PER_USER_LIMIT"
        );
        let daily = live_template(
            app,
            json!({"limits": {"per_user": 5, "per_user_per_day": 1}}),
        )
        .await;
        app.claim(&daily, claim_of("u-1", "h1")).await.unwrap();
        assert_eq!(
            refusal(app.claim(&daily, claim_of("u-1", "h2")).await),
            "PER_DAY_LIMIT"
        );
        t.clock.advance(Duration::days(1));
        app.claim(&daily, claim_of("u-1", "h3"))
            .await
            .expect("a new day");
        let budget = live_template(app, json!({"limits": {"budget": 2500}})).await;
        app.claim(&budget, claim_of("u-1", "i1")).await.unwrap();
        app.claim(&budget, claim_of("u-2", "i2")).await.unwrap();
        assert_eq!(
            refusal(app.claim(&budget, claim_of("u-3", "i3")).await),
            "BUDGET_EXHAUSTED"
        );
        let bare = live_template(app, json!({})).await;
        let mut no_validity = template(
            json!({"name": "n", "benefit": {"kind": "cash", "amount": 100}, "scope": {"include": {"all": true}}}),
        );
        no_validity.id = None;
        // A money change sends the live template back to review.
        let renamed = app
            .update_template(&actor("ops"), &bare, no_validity)
            .await
            .unwrap();
        app.review_template(&actor("lead"), &renamed.id, Decision::Approve, None)
            .await
            .unwrap();
        assert_eq!(
            refusal(app.claim(&bare, claim_of("u-1", "j")).await),
            "NO_VALIDITY",
            "{}",
            t.url
        );
    }
}

/// 2,000 concurrent claims for a stock of 500, `per_user: 2`, from 300 users.
async fn storm(apps: &[Arc<App>], template_id: &str) {
    let tasks: Vec<_> = (0..2_000)
        .map(|i| {
            let app = apps[i % apps.len()].clone();
            let id = template_id.to_owned();
            tokio::spawn(async move {
                app.claim(&id, claim_of(&format!("u-{}", i % 300), &format!("r-{i}")))
                    .await
            })
        })
        .collect();
    let mut claimed = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => claimed += 1,
            Err(error) => assert!(
                matches!(error.code(), "SOLD_OUT" | "PER_USER_LIMIT"),
                "{error}"
            ),
        }
    }
    assert_eq!(claimed, 500);
}

async fn assert_exact(store: &Store, template_id: &str) {
    assert_eq!(issued(store, template_id).await, (500, 500));
    let rows = sqlx::query(
        "SELECT user_id, COUNT(*) FROM coupons WHERE template_id = $1 GROUP BY user_id",
    )
    .bind(template_id)
    .fetch_all(store.reader())
    .await
    .unwrap();
    let per_user: HashMap<String, i64> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(per_user.values().all(|n| *n <= 2), "no user above 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_stop_exactly_at_the_stock_and_the_per_user_limit() {
    for t in apps().await {
        let id = live_template(&t.app, json!({"limits": {"total": 500, "per_user": 2}})).await;
        let app = Arc::new(t.app);
        storm(std::slice::from_ref(&app), &id).await;
        assert_exact(app.store(), &id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_postgresql_never_exceed_a_limit_together() {
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
    let id = live_template(&nodes[0], json!({"limits": {"total": 500, "per_user": 2}})).await;
    storm(&nodes, &id).await;
    assert_exact(nodes[1].store(), &id).await;
}
