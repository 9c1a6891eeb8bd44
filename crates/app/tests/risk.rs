#![allow(clippy::unwrap_used)]
//! Anti-fraud caps and the claims-per-minute breaker (SPEC §11.3, §11.4)
//! under concurrency, on every back end.

mod support;

use std::sync::Arc;

use chrono::Duration;
use serde_json::{Value, json};
use sqlx::Row;

use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_app::{App, outbox};
use support::orders::{live_template, template_body};
use support::*;

fn claim(user: &str, context: Value) -> ClaimRequest {
    ClaimRequest {
        user: ClaimUser {
            id: user.to_owned(),
            ..ClaimUser::default()
        },
        request_id: format!("r-{user}"),
        context,
    }
}

async fn risky(app: &App, risk: Value) -> String {
    let body = template_body(
        "新人券",
        json!({"kind": "cash", "amount": 500}),
        json!({"limits": {"per_user": 5}, "risk": risk}),
    );
    live_template(app, body).await
}

/// Claims all at once; answers (claimed, refusal codes).
async fn storm(app: &Arc<App>, template: &str, claims: Vec<ClaimRequest>) -> (usize, Vec<String>) {
    let tasks: Vec<_> = claims
        .into_iter()
        .map(|request| {
            let (app, template) = (app.clone(), template.to_owned());
            tokio::spawn(async move { app.claim(&template, request).await })
        })
        .collect();
    let (mut claimed, mut refused) = (0, Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => claimed += 1,
            Err(error) => refused.push(error.code().to_owned()),
        }
    }
    (claimed, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_coupon_per_device_ever_holds_under_a_storm_of_users_on_one_device() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let template = risky(&app, json!({"claim_caps": [{"by": "device_id", "max": 1}]})).await;
        let mut claims: Vec<ClaimRequest> = (0..50)
            .map(|i| claim(&format!("farm-{i}"), json!({"device_id": "d-farm"})))
            .collect();
        claims.extend(
            (0..10).map(|i| claim(&format!("real-{i}"), json!({"device_id": format!("d-{i}")}))),
        );
        let (claimed, refused) = storm(&app, &template, claims).await;
        assert_eq!(claimed, 11, "{}", t.url);
        assert!(
            refused.iter().all(|code| code == "RISK_LIMIT"),
            "{refused:?}"
        );
        let bare = app.claim(&template, claim("no-device", Value::Null)).await;
        assert_eq!(bare.unwrap_err().code(), "RISK_LIMIT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_cap_per_day_holds_and_opens_again_the_next_day() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let template = risky(
            &app,
            json!({"claim_caps": [{"by": "ip", "max": 3, "per": "day"}]}),
        )
        .await;
        let claims = (0..20)
            .map(|i| claim(&format!("u-{i}"), json!({"ip": "10.0.0.1"})))
            .collect();
        let (claimed, _) = storm(&app, &template, claims).await;
        assert_eq!(claimed, 3, "{}", t.url);
        t.clock.advance(Duration::days(1));
        let claims = (20..40)
            .map(|i| claim(&format!("u-{i}"), json!({"ip": "10.0.0.1"})))
            .collect();
        let (claimed, _) = storm(&app, &template, claims).await;
        assert_eq!(claimed, 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_storm_trips_the_breaker_which_pauses_the_template() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let template = risky(
            &app,
            json!({"claims_per_minute": {"alert": 5, "pause": 10}}),
        )
        .await;
        let claims = (0..100)
            .map(|i| claim(&format!("u-{i}"), Value::Null))
            .collect();
        let (claimed, refused) = storm(&app, &template, claims).await;
        assert_eq!(claimed, 10, "{}", t.url);
        assert!(
            refused.iter().all(|code| code == "TEMPLATE_NOT_ACTIVE"),
            "{refused:?}"
        );
        let record = app.template(&template).await.unwrap();
        assert_eq!(record.status.as_str(), "paused");
        assert_eq!(record.issued, 10);
        let stored: i64 = sqlx::query("SELECT COUNT(*) FROM coupons WHERE template_id = $1")
            .bind(&template)
            .fetch_one(app.store().reader())
            .await
            .unwrap()
            .get(0);
        assert_eq!(stored, 10, "no claim is accepted after the pause");
        let steps = app.template_events(&template).await.unwrap();
        let last = steps.last().unwrap();
        assert_eq!(
            (last.action.as_str(), last.actor.as_str()),
            ("paused", "system:risk")
        );

        let rows = sqlx::query("SELECT events FROM outbox ORDER BY id")
            .fetch_all(app.store().reader())
            .await
            .unwrap();
        let levels: Vec<String> = rows
            .iter()
            .flat_map(|row| outbox::decode(&row.get::<String, _>("events")).unwrap())
            .filter(|event| event.kind == "risk.alert")
            .map(|event| event.data["level"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(levels, ["alert", "pause"]);

        // Staff resume it; the next minute's count starts afresh.
        t.clock.advance(Duration::minutes(1));
        app.resume_template(&actor("ops"), &template).await.unwrap();
        app.claim(&template, claim("after", Value::Null))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_risk_rules_are_refused() {
    for t in apps().await {
        for risk in [
            json!({"claim_caps": [{"by": "device_id", "max": 0}]}),
            json!({"claim_caps": [{"by": "ip", "max": 1}, {"by": "ip", "max": 2}]}),
            json!({"claims_per_minute": {"alert": 10, "pause": 5}}),
            json!({"claims_per_minute": {"pause": 0}}),
        ] {
            let body = template_body(
                "t",
                json!({"kind": "cash", "amount": 500}),
                json!({"risk": risk}),
            );
            let error = t
                .app
                .create_template(&actor("ops"), template(body))
                .await
                .unwrap_err();
            assert_eq!(error.code(), "INVALID_TEMPLATE", "{risk}");
        }
    }
}
