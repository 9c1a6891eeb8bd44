#![allow(clippy::unwrap_used)]
//! Campaigns (SPEC §6.1) and claims through them (§6.2.1) on every back
//! end: limits exact under concurrency, retries answered with the first
//! answer, claims that cost points, the claim centre's numbers, rollout.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::join_all;
use serde_json::{Value, json};
use sqlx::Row;

use couponflow_app::balances::Adjustment;
use couponflow_app::campaigns::model::{self, Rollout};
use couponflow_app::campaigns::{Campaign, CampaignClaim, CampaignStatus};
use couponflow_app::claims::{ClaimUser, ClaimedCoupon};
use couponflow_app::templates::Decision;
use couponflow_app::{App, AppError};
use couponflow_core::template::BalanceKind;
use support::*;

async fn live_template(app: &App, limits: Value) -> String {
    let body = json!({"name": "满100减10", "benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 1000}]},
                      "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
                      "limits": limits});
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

/// A campaign running from a day ago for a week, offering `entries`.
async fn running_campaign(app: &App, entries: Value, extra: Value) -> String {
    let now = app.now();
    let mut body = json!({"name": "双12 领券中心", "description": "每人限领",
                          "starts_at": now - chrono::Duration::days(1),
                          "ends_at": now + chrono::Duration::days(6),
                          "templates": entries});
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    let campaign: Campaign = serde_json::from_value(body).unwrap();
    let id = app
        .create_campaign(&actor("ops"), campaign)
        .await
        .unwrap()
        .id;
    let scheduled = app.schedule_campaign(&actor("ops"), &id).await.unwrap();
    assert_eq!(scheduled.status_at(app.now()), CampaignStatus::Running);
    id
}

fn claim(template: &str, user: &str, request_id: &str) -> CampaignClaim {
    CampaignClaim {
        template: template.to_owned(),
        user: ClaimUser {
            id: user.to_owned(),
            ..ClaimUser::default()
        },
        request_id: request_id.to_owned(),
        context: Value::Null,
    }
}

fn code_of(result: &Result<ClaimedCoupon, AppError>) -> &'static str {
    match result {
        Ok(_) => "OK",
        Err(error) => error.code(),
    }
}

async fn points(app: &App, user: &str) -> i64 {
    let all = app.balances(user).await.unwrap();
    all.into_iter()
        .find(|b| b.kind == BalanceKind::Points)
        .map_or(0, |b| b.balance)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_campaign_claims_stop_exactly_at_stock_and_per_user() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let template = live_template(&app, json!({"total": 200, "per_user": 2})).await;
        let campaign = running_campaign(&app, json!([{"template": template}]), json!({})).await;
        // 1,000 claims from 300 users; the first 400 from 50 users asking
        // eight times each, so the per-user limit is reached before the stock.
        let calls = (0..1_000).map(|n| {
            let app = app.clone();
            let (template, campaign) = (template.clone(), campaign.clone());
            async move {
                let user = format!("u-{}", if n < 400 { n % 50 } else { n % 300 });
                let result = app
                    .claim_through_campaign(&campaign, claim(&template, &user, &format!("r-{n}")))
                    .await;
                (user, result)
            }
        });
        let results = join_all(calls).await;
        let mut per_user: HashMap<String, usize> = HashMap::new();
        let mut codes: HashMap<&str, usize> = HashMap::new();
        for (user, result) in &results {
            *codes.entry(code_of(result)).or_default() += 1;
            if result.is_ok() {
                *per_user.entry(user.clone()).or_default() += 1;
            }
        }
        assert_eq!(codes["OK"], 200, "{} {codes:?}", t.url);
        assert_eq!(codes.len(), 3, "{} {codes:?}", t.url);
        assert!(codes.contains_key("SOLD_OUT") && codes.contains_key("PER_USER_LIMIT"));
        assert!(per_user.values().all(|&n| n <= 2), "{}", t.url);
        let row = sqlx::query(
            "SELECT COUNT(*), COUNT(DISTINCT campaign_id), MIN(campaign_id) FROM coupons WHERE template_id = $1",
        )
        .bind(&template)
        .fetch_one(app.store().reader())
        .await
        .unwrap();
        let (count, campaigns, named): (i64, i64, String) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(
            (count, campaigns, named),
            (200, 1, campaign.clone()),
            "{}",
            t.url
        );
        assert_eq!(app.template(&template).await.unwrap().issued, 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_id_gets_the_first_answer() {
    for t in apps().await {
        let app = &t.app;
        let template = live_template(app, json!({"per_user": 1})).await;
        let campaign = running_campaign(app, json!([{"template": template}]), json!({})).await;
        let first = app
            .claim_through_campaign(&campaign, claim(&template, "u-1", "r-1"))
            .await
            .unwrap();
        // Paused: a new claim is refused, the retry still gets its coupon.
        app.pause_campaign(&actor("ops"), &campaign).await.unwrap();
        let retry = app
            .claim_through_campaign(&campaign, claim(&template, "u-1", "r-1"))
            .await
            .unwrap();
        assert_eq!(retry, first, "{}", t.url);
        let refused = app
            .claim_through_campaign(&campaign, claim(&template, "u-2", "r-2"))
            .await;
        assert_eq!(code_of(&refused), "CAMPAIGN_NOT_RUNNING");
        // Resumed: the refused request keeps its first answer; a new one claims.
        app.resume_campaign(&actor("ops"), &campaign).await.unwrap();
        let again = app
            .claim_through_campaign(&campaign, claim(&template, "u-2", "r-2"))
            .await;
        assert_eq!(code_of(&again), "CAMPAIGN_NOT_RUNNING", "{}", t.url);
        let fresh = app
            .claim_through_campaign(&campaign, claim(&template, "u-2", "r-3"))
            .await;
        assert_eq!(code_of(&fresh), "OK");
        // A limit refusal is replayed too, even after the campaign paused.
        let limited = app
            .claim_through_campaign(&campaign, claim(&template, "u-1", "r-4"))
            .await;
        assert_eq!(code_of(&limited), "PER_USER_LIMIT");
        app.pause_campaign(&actor("ops"), &campaign).await.unwrap();
        let limited_again = app
            .claim_through_campaign(&campaign, claim(&template, "u-1", "r-4"))
            .await;
        assert_eq!(code_of(&limited_again), "PER_USER_LIMIT", "{}", t.url);
        assert_eq!(app.template(&template).await.unwrap().issued, 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_points_entry_debits_points_and_a_short_balance_refuses_only_that_claim() {
    for t in apps().await {
        let app = &t.app;
        let free = live_template(app, json!({})).await;
        let paid = live_template(app, json!({})).await;
        let entries = json!([{"template": free}, {"template": paid, "points": 300}]);
        let campaign = running_campaign(app, entries, json!({})).await;
        let credit = Adjustment {
            amount: 500,
            reason: "积分活动".into(),
            idempotency_key: "credit-1".into(),
        };
        app.adjust_balance(&actor("ops"), "u-1", BalanceKind::Points, credit)
            .await
            .unwrap();
        let bought = app
            .claim_through_campaign(&campaign, claim(&paid, "u-1", "r-1"))
            .await;
        assert_eq!(code_of(&bought), "OK", "{}", t.url);
        assert_eq!(points(app, "u-1").await, 200);
        let short = app
            .claim_through_campaign(&campaign, claim(&paid, "u-1", "r-2"))
            .await;
        assert_eq!(code_of(&short), "INSUFFICIENT_POINTS", "{}", t.url);
        assert_eq!(points(app, "u-1").await, 200);
        let free_claim = app
            .claim_through_campaign(&campaign, claim(&free, "u-1", "r-3"))
            .await;
        assert_eq!(code_of(&free_claim), "OK");
        // A retry of the paid claim takes no more points.
        let retry = app
            .claim_through_campaign(&campaign, claim(&paid, "u-1", "r-1"))
            .await;
        assert_eq!(retry.unwrap(), bought.unwrap());
        assert_eq!(points(app, "u-1").await, 200, "{}", t.url);
        let source: String = sqlx::query("SELECT source FROM coupons WHERE template_id = $1")
            .bind(&paid)
            .fetch_one(app.store().reader())
            .await
            .unwrap()
            .get(0);
        assert_eq!(source, "exchange");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claim_centre_counts_stock_and_what_the_user_may_still_claim() {
    for t in apps().await {
        let app = &t.app;
        let daily = live_template(
            app,
            json!({"total": 10, "per_user": 3, "per_user_per_day": 2}),
        )
        .await;
        let open = live_template(app, json!({})).await;
        let entries = json!([{"template": daily}, {"template": open, "points": 50}]);
        let campaign = running_campaign(app, entries, json!({})).await;
        // Another campaign, which only vips see.
        let vip = live_template(app, json!({})).await;
        running_campaign(
            app,
            json!([{"template": vip}]),
            json!({"audience": {"tags_any": ["vip"]}}),
        )
        .await;
        // Others took 4 of the 10; u-1 takes 2 today.
        for (user, request) in [
            ("u-2", "a"),
            ("u-2", "b"),
            ("u-3", "c"),
            ("u-4", "d"),
            ("u-1", "e"),
            ("u-1", "f"),
        ] {
            let claimed = app
                .claim_through_campaign(&campaign, claim(&daily, user, request))
                .await;
            assert_eq!(code_of(&claimed), "OK", "{}", t.url);
        }
        let user = ClaimUser {
            id: "u-1".into(),
            ..ClaimUser::default()
        };
        let centre = app.claim_centre(&user).await.unwrap();
        assert_eq!(centre.len(), 1, "{}: only the campaign u-1 may see", t.url);
        assert_eq!(centre[0].id, campaign);
        let entries = &centre[0].entries;
        // 10 - 6 = 4 left; u-1 holds 2 (per_user 3: 1 more), 2 today (per day 2: 0 more).
        assert_eq!(entries[0].remaining, Some(4), "{}", t.url);
        assert_eq!((entries[0].held, entries[0].held_today), (2, 2));
        assert_eq!(entries[0].may_claim, Some(0));
        assert_eq!(entries[0].refusal.map(|r| r.code()), Some("PER_DAY_LIMIT"));
        assert_eq!((entries[1].remaining, entries[1].may_claim), (None, None));
        assert_eq!((entries[1].points, entries[1].refusal), (Some(50), None));
        // The next day u-1 may claim one more (per_user), the stock is unchanged.
        t.clock.advance(chrono::Duration::days(1));
        let centre = app.claim_centre(&user).await.unwrap();
        let entry = &centre[0].entries[0];
        assert_eq!(
            (entry.remaining, entry.held_today, entry.may_claim),
            (Some(4), 0, Some(1))
        );
        let vip_user = ClaimUser {
            id: "u-1".into(),
            tags: vec!["vip".into()],
            ..ClaimUser::default()
        };
        assert_eq!(
            app.claim_centre(&vip_user).await.unwrap().len(),
            2,
            "{}",
            t.url
        );
    }
}

#[test]
fn a_percent_rollout_keeps_each_user_in_or_out_and_takes_about_its_share() {
    let rollout = Rollout::Percent { percent: 30 };
    let user = |n: u32| ClaimUser {
        id: format!("user-{n}"),
        ..ClaimUser::default()
    };
    let inside = (0..10_000)
        .filter(|&n| model::in_rollout(Some(&rollout), "cmp_1", &user(n)))
        .count();
    // 30% of 10,000 is 3,000; a fair hash stays within 5 standard deviations (~230).
    assert!((2_770..=3_230).contains(&inside), "{inside}");
    for n in 0..1_000 {
        let first = model::in_rollout(Some(&rollout), "cmp_1", &user(n));
        assert_eq!(first, model::in_rollout(Some(&rollout), "cmp_1", &user(n)));
        // Widening the rollout never drops anyone.
        if first {
            assert!(model::in_rollout(
                Some(&Rollout::Percent { percent: 31 }),
                "cmp_1",
                &user(n)
            ));
        }
    }
    let none = Rollout::Percent { percent: 0 };
    let all = Rollout::Percent { percent: 100 };
    assert!((0..1_000).all(|n| !model::in_rollout(Some(&none), "cmp_1", &user(n))));
    assert!((0..1_000).all(|n| model::in_rollout(Some(&all), "cmp_1", &user(n))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_steps_write_their_events_to_the_outbox() {
    for t in apps().await {
        let app = &t.app;
        // Claims write their events only for a webhook that wants them.
        let hook = couponflow_app::notify::webhooks::NewWebhook {
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["coupon.claimed".into()],
            secret: None,
        };
        app.create_webhook(&actor("admin"), hook).await.unwrap();
        let template = live_template(app, json!({})).await;
        let campaign = running_campaign(app, json!([{"template": template}]), json!({})).await;
        app.claim_through_campaign(&campaign, claim(&template, "u-1", "r-1"))
            .await
            .unwrap();
        app.pause_campaign(&actor("ops"), &campaign).await.unwrap();
        app.resume_campaign(&actor("ops"), &campaign).await.unwrap();
        app.end_campaign(&actor("ops"), &campaign).await.unwrap();
        let rows = sqlx::query("SELECT events FROM outbox ORDER BY id")
            .fetch_all(app.store().reader())
            .await
            .unwrap();
        let kinds: Vec<String> = rows
            .iter()
            .flat_map(|row| {
                let events: Vec<Value> = serde_json::from_str(&row.get::<String, _>(0)).unwrap();
                events
                    .into_iter()
                    .map(|e| e["type"].as_str().unwrap().to_owned())
            })
            .filter(|kind| kind.starts_with("campaign."))
            .collect();
        let claimed: Vec<Value> = rows
            .iter()
            .flat_map(|row| serde_json::from_str::<Vec<Value>>(&row.get::<String, _>(0)).unwrap())
            .filter(|event| event["type"] == "coupon.claimed")
            .collect();
        assert_eq!(claimed.len(), 1, "{}", t.url);
        assert_eq!(claimed[0]["data"]["campaign_id"], campaign.as_str());
        let expected =
            ["created", "scheduled", "paused", "resumed", "ended"].map(|a| format!("campaign.{a}"));
        assert_eq!(kinds, expected, "{}", t.url);
        let ended = app
            .end_campaign(&actor("ops"), &campaign)
            .await
            .unwrap_err();
        assert_eq!(ended.code(), "CAMPAIGN_STATE");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_campaign_can_be_renamed() {
    for t in apps().await {
        let app = &t.app;
        let template = live_template(app, json!({})).await;
        let campaign = running_campaign(app, json!([{"template": template}]), json!({})).await;
        let mut body = app.campaign(&campaign).await.unwrap().campaign;
        body.name = "双12（加场）".into();
        let changed = app.update_campaign(&actor("ops"), &campaign, body).await;
        let changed = changed.map_err(|e| format!("{e:?}")).unwrap();
        assert_eq!(
            (changed.campaign.name.as_str(), changed.version),
            ("双12（加场）", 3)
        );
        assert_eq!(
            changed.status_at(app.now()),
            CampaignStatus::Running,
            "{}",
            t.url
        );
    }
}
