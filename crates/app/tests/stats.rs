#![allow(clippy::unwrap_used)]
//! Statistics (SPEC §10) from real flows on every back end: every figure
//! against values computed by hand, per template, campaign and issuer, over
//! ranges, by day and by hour.

mod support;

use chrono::Duration;
use serde_json::{Value, json};

use couponflow_app::App;
use couponflow_app::claims::{ClaimUser, Issue, Source};
use couponflow_app::stats::{Granularity, Scope};
use support::orders::{cart, chosen, line, live_template, template_body};
use support::*;

async fn issue(
    app: &App,
    template: &str,
    user: &str,
    source: Source,
    campaign: Option<&str>,
    new: bool,
) -> String {
    let request = Issue {
        user: ClaimUser {
            id: user.to_owned(),
            new_user: new,
            ..ClaimUser::default()
        },
        request_id: format!("{user}-{}", source.as_str()),
        source,
        campaign_id: campaign.map(str::to_owned),
        points: 0,
        context: Default::default(),
    };
    app.issue(template, request).await.unwrap().code
}

async fn settle(app: &App, order: &str, user: &str, code: &str, price: i64) {
    app.lock_order(
        &actor("mall"),
        order,
        cart(user, vec![line("a", price, 1)], chosen(&[code])),
    )
    .await
    .unwrap();
    app.redeem_order(&actor("mall"), order).await.unwrap();
}

async fn dispatch_all(app: &App) {
    while app.dispatch_outbox().await.unwrap() > 0 {}
}

fn counts(value: &Value) -> Value {
    let mut v = value.clone();
    let object = v.as_object_mut().unwrap();
    object.retain(|key, _| {
        matches!(
            key.as_str(),
            "claimed"
                | "granted"
                | "new_users"
                | "used"
                | "returned"
                | "expired"
                | "voided"
                | "discount"
                | "sales"
                | "orders"
        )
    });
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_matches_the_flows_that_made_it() {
    for t in apps().await {
        let app = &t.app;
        let body = template_body(
            "满100减10",
            json!({"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 1000}]}),
            json!({"limits": {"total": 10, "per_user": 2}}),
        );
        let template = live_template(app, body).await;
        let c1 = issue(app, &template, "u-1", Source::Claim, Some("cmp-1"), true).await;
        let c2 = issue(app, &template, "u-2", Source::Claim, None, false).await;
        let g3 = issue(app, &template, "u-3", Source::Grant, None, false).await;
        let _c4 = issue(app, &template, "u-4", Source::Claim, None, false).await;
        settle(app, "o-1", "u-1", &c1, 15000).await;
        settle(app, "o-2", "u-2", &c2, 20000).await;
        app.void_coupon(&actor("ops"), &g3, None).await.unwrap();
        // Thirty-one days on, u-4's coupon has expired.
        t.clock.advance(Duration::days(31));
        assert_eq!(app.expire_due(100).await.unwrap(), 1, "{}", t.url);
        dispatch_all(app).await;

        let report = app
            .stats(
                Scope::Template(template.clone()),
                None,
                None,
                Granularity::Day,
            )
            .await
            .unwrap();
        let figures = serde_json::to_value(&report.figures).unwrap();
        assert_eq!(
            counts(&figures),
            json!({"claimed": 3, "granted": 1, "new_users": 1, "used": 2, "returned": 0,
                   "expired": 1, "voided": 1, "discount": 2000, "sales": 35000, "orders": 2}),
            "{}",
            t.url
        );
        assert_eq!(figures["offered"], 10);
        assert_eq!(figures["claim_rate"], 0.4);
        assert_eq!(figures["use_rate"], 0.5);
        assert_eq!(figures["average_order_value"], 17500);
        // 2000 / 35000 = 0.05714…
        assert_eq!(figures["cost_ratio"], 0.0571);

        // Two local days (Asia/Shanghai): the claims and orders, the expiry.
        let starts: Vec<String> = report.series.iter().map(|p| p.start.to_rfc3339()).collect();
        assert_eq!(
            starts,
            ["2026-12-04T16:00:00+00:00", "2027-01-04T16:00:00+00:00"],
            "{}",
            t.url
        );
        assert_eq!(report.series[1].counts.expired, 1);

        // A range that starts after the first day holds only the expiry.
        let later = app
            .stats(
                Scope::Template(template.clone()),
                Some(at("2026-12-10T00:00:00Z")),
                None,
                Granularity::Hour,
            )
            .await
            .unwrap();
        assert_eq!(later.figures.counts.expired, 1);
        assert_eq!(later.figures.counts.claimed, 0);
        assert_eq!(later.series.len(), 1);
        assert_eq!(
            later.series[0].start.to_rfc3339(),
            "2027-01-05T12:00:00+00:00"
        );

        // The campaign counts what was claimed through it, and what became
        // of it; the issuer every template it issues.
        let campaign = app
            .stats(
                Scope::Campaign("cmp-1".into()),
                None,
                None,
                Granularity::Day,
            )
            .await
            .unwrap();
        assert_eq!(
            (
                campaign.figures.counts.claimed,
                campaign.figures.counts.used,
                campaign.figures.counts.sales
            ),
            (1, 1, 15000)
        );
        let platform = app
            .stats(
                Scope::Issuer("platform".into()),
                None,
                None,
                Granularity::Day,
            )
            .await
            .unwrap();
        assert_eq!(platform.templates, vec![template.clone()]);
        assert_eq!(platform.figures.counts.used, 2);

        // Dispatching again adds nothing: each event counts once.
        dispatch_all(app).await;
        let again = app
            .stats(Scope::Template(template), None, None, Granularity::Day)
            .await
            .unwrap();
        assert_eq!(again.figures, report.figures);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_range_is_refused() {
    for t in apps().await {
        let app = &t.app;
        let template = live_template(
            app,
            template_body("t", json!({"kind": "cash", "amount": 100}), json!({})),
        )
        .await;
        let error = app
            .stats(
                Scope::Template(template),
                Some(at("2026-12-05T00:00:00Z")),
                Some(at("2026-12-05T00:00:00Z")),
                Granularity::Day,
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "VALIDATION_FAILED");
        let missing = app
            .stats(
                Scope::Template("tpl_nosuch".into()),
                None,
                None,
                Granularity::Day,
            )
            .await
            .unwrap_err();
        assert_eq!(missing.code(), "TEMPLATE_NOT_FOUND");
    }
}

async fn outbox_kinds(app: &App) -> Vec<String> {
    let rows = sqlx::query("SELECT events FROM outbox ORDER BY id")
        .fetch_all(app.store().reader())
        .await
        .unwrap();
    rows.iter()
        .flat_map(|row| {
            let text: String = sqlx::Row::get(row, 0);
            serde_json::from_str::<Vec<Value>>(&text).unwrap()
        })
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect()
}

async fn claimed_and_granted(app: &App, template: &str) -> (i64, i64, i64) {
    let report = app
        .stats(
            Scope::Template(template.to_owned()),
            None,
            None,
            Granularity::Day,
        )
        .await
        .unwrap();
    let c = &report.figures.counts;
    (c.claimed, c.granted, c.new_users)
}

/// Issued coupons are counted by the batch that issued them, before any
/// dispatch and exactly once after it; `coupon.claimed` reaches the outbox
/// only once a webhook wants it, `coupon.granted` always (the inbox).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_are_counted_where_they_happen_and_only_once() {
    for t in apps().await {
        let app = &t.app;
        let body = template_body(
            "5元券",
            json!({"kind": "cash", "amount": 500}),
            json!({"limits": {"total": 100, "per_user": 5}}),
        );
        let template = live_template(app, body).await;
        issue(app, &template, "u-1", Source::Claim, None, true).await;
        issue(app, &template, "u-2", Source::Claim, Some("cmp-1"), false).await;
        issue(app, &template, "u-3", Source::Grant, None, false).await;
        assert_eq!(
            claimed_and_granted(app, &template).await,
            (2, 1, 1),
            "{}",
            t.url
        );
        let kinds = outbox_kinds(app).await;
        assert!(
            !kinds.iter().any(|k| k == "coupon.claimed"),
            "{}: {kinds:?}",
            t.url
        );
        assert_eq!(
            kinds.iter().filter(|k| *k == "coupon.granted").count(),
            1,
            "{}",
            t.url
        );

        let hook = couponflow_app::notify::webhooks::NewWebhook {
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["coupon.*".into()],
            secret: None,
        };
        app.create_webhook(&actor("admin"), hook).await.unwrap();
        issue(app, &template, "u-4", Source::Claim, None, true).await;
        let kinds = outbox_kinds(app).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "coupon.claimed").count(),
            1,
            "{}",
            t.url
        );
        dispatch_all(app).await;
        assert_eq!(
            claimed_and_granted(app, &template).await,
            (3, 1, 2),
            "{}",
            t.url
        );
        // The webhook's delivery carries the event without the outbox's flag.
        let bodies =
            sqlx::query("SELECT body FROM webhook_deliveries WHERE event_type = 'coupon.claimed'")
                .fetch_all(app.store().reader())
                .await
                .unwrap();
        assert_eq!(bodies.len(), 1, "{}", t.url);
        let body: String = sqlx::Row::get(&bodies[0], 0);
        assert!(!body.contains("_counted"), "{body}");
        assert!(body.contains("\"type\":\"coupon.claimed\""), "{body}");
    }
}
