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

        // Dispatched, they are the alerts staff read, newest first, once
        // however often the dispatcher runs.
        assert_eq!(
            alerts_of(&app, &template).await,
            alert_rows(&[
                ("claims_per_minute", "pause", 10, 10),
                ("claims_per_minute", "alert", 5, 5),
            ])
        );
        app.dispatch_outbox().await.unwrap();
        let alerts = app.risk_alerts(Some(&template), None, 50).await.unwrap();
        assert_eq!(alerts.len(), 2, "a second dispatch records nothing again");
        assert!(
            alerts
                .iter()
                .all(|a| a.template_id.as_deref() == Some(template.as_str()))
        );
        let older = app
            .risk_alerts(None, Some(alerts[0].seq), 50)
            .await
            .unwrap();
        assert_eq!(older.len(), 1, "the page before the newest holds the other");
        assert!(
            app.risk_alerts(Some("tpl_other"), None, 50)
                .await
                .unwrap()
                .is_empty()
        );

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
            json!({"use_caps": [{"by": "phone", "max": 0}]}),
            json!({"redemptions_per_minute": {"alert": 9, "pause": 3}}),
            json!({"budget_used": {"alert": 101}}),
            json!({"budget_used": {"alert": 90, "pause": 80}}),
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

fn captcha_template_body() -> Value {
    template_body(
        "验证码券",
        json!({"kind": "cash", "amount": 500}),
        json!({"limits": {"per_user": 5}, "risk": {"captcha": true}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hmac_verifier_takes_only_a_live_token_for_this_template_and_user() {
    use couponflow_app::captcha::{CaptchaVerifier, hmac_token};
    let settings = couponflow_app::Settings {
        captcha: CaptchaVerifier::Hmac {
            secret: "the-mall-captcha-secret".into(),
        },
        ..couponflow_app::Settings::default()
    };
    for t in apps_with(settings).await {
        let app = &t.app;
        let template = live_template(app, captcha_template_body()).await;
        let token = |user: &str| {
            hmac_token(
                "the-mall-captcha-secret",
                &template,
                user,
                app.now() + Duration::minutes(2),
            )
        };
        let missing = app.claim(&template, claim("u-1", Value::Null)).await;
        assert_eq!(missing.unwrap_err().code(), "CAPTCHA_FAILED", "{}", t.url);
        let stolen = app
            .claim(
                &template,
                claim("u-1", json!({"captcha_token": token("u-2")})),
            )
            .await;
        assert_eq!(stolen.unwrap_err().code(), "CAPTCHA_FAILED");
        app.claim(
            &template,
            claim("u-1", json!({"captcha_token": token("u-1")})),
        )
        .await
        .unwrap();
        // Expired.
        let old = token("u-3");
        t.clock.advance(Duration::minutes(3));
        let late = app
            .claim(&template, claim("u-3", json!({"captcha_token": old})))
            .await;
        assert_eq!(late.unwrap_err().code(), "CAPTCHA_FAILED");
        // Staff grants need none.
        let grant = couponflow_app::claims::Issue {
            user: ClaimUser {
                id: "u-4".into(),
                ..ClaimUser::default()
            },
            request_id: "g-1".into(),
            source: couponflow_app::claims::Source::Grant,
            campaign_id: None,
            points: 0,
            context: Default::default(),
        };
        app.issue(&template, grant).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_verifier_asks_the_malls_service() {
    use axum::routing::post;
    use couponflow_app::captcha::CaptchaVerifier;
    let router = axum::Router::new().route(
        "/verify",
        post(|body: String| async move {
            let asked: Value = serde_json::from_str(&body).unwrap_or_default();
            let ok = asked["token"] == "human" && asked["user_id"] == "u-1";
            axum::Json(json!({"success": ok}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/verify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let settings = couponflow_app::Settings {
        captcha: CaptchaVerifier::Http {
            url,
            timeout_ms: 2_000,
        },
        ..couponflow_app::Settings::default()
    };
    for t in apps_with(settings).await {
        let app = &t.app;
        let template = live_template(app, captcha_template_body()).await;
        let robot = app
            .claim(&template, claim("u-1", json!({"captcha_token": "robot"})))
            .await;
        assert_eq!(robot.unwrap_err().code(), "CAPTCHA_FAILED", "{}", t.url);
        app.claim(&template, claim("u-1", json!({"captcha_token": "human"})))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_verifier_a_captcha_template_takes_no_claims() {
    for t in apps().await {
        let template = live_template(&t.app, captcha_template_body()).await;
        let answer = t
            .app
            .claim(&template, claim("u-1", json!({"captcha_token": "x"})))
            .await;
        assert_eq!(answer.unwrap_err().code(), "CAPTCHA_FAILED");
    }
}
