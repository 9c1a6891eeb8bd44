#![allow(clippy::unwrap_used)]
//! Redemption-code guessing (SPEC §11.5): past the day's failure limit a
//! user or an IP address is refused for a cool-down, and crossing the
//! limit raises `risk.alert`.

mod support;

use chrono::Duration;
use sqlx::Row;

use couponflow_app::claims::ClaimUser;
use couponflow_app::{App, Settings, outbox};
use support::*;

fn user(id: &str) -> ClaimUser {
    ClaimUser {
        id: id.to_owned(),
        ..ClaimUser::default()
    }
}

async fn alerts(app: &App) -> Vec<serde_json::Value> {
    let rows = sqlx::query("SELECT events FROM outbox ORDER BY id")
        .fetch_all(app.store().reader())
        .await
        .unwrap();
    rows.iter()
        .flat_map(|row| outbox::decode(&row.get::<String, _>("events")).unwrap())
        .filter(|event| event.kind == "risk.alert")
        .map(|event| event.data)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_past_the_limit_is_refused_for_the_cool_down_and_alerted() {
    let settings = Settings {
        code_failures_limit: 3,
        code_cooldown_secs: 60,
        ..Settings::default()
    };
    for t in apps_with(settings).await {
        let app = &t.app;
        for _ in 0..3 {
            let wrong = app
                .exchange_code("NOPE", user("u-9"), Some("10.1.1.1"))
                .await;
            assert_eq!(wrong.unwrap_err().code(), "CODE_MALFORMED", "{}", t.url);
        }
        let refused = app
            .exchange_code("NOPE", user("u-9"), Some("10.1.1.1"))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "CODE_ATTEMPTS_EXCEEDED");
        // The address is cooling down for another user too; another
        // address of that user is not enough.
        let neighbour = app
            .exchange_code("NOPE", user("u-10"), Some("10.1.1.1"))
            .await;
        assert_eq!(neighbour.unwrap_err().code(), "CODE_ATTEMPTS_EXCEEDED");
        let elsewhere = app
            .exchange_code("NOPE", user("u-9"), Some("10.2.2.2"))
            .await;
        assert_eq!(elsewhere.unwrap_err().code(), "CODE_ATTEMPTS_EXCEEDED");
        // Refusals during the cool-down are not counted as failures.
        assert_eq!(app.code_failures("user:u-9").await.unwrap().today, 3);

        let subjects: Vec<String> = alerts(app)
            .await
            .iter()
            .map(|a| a["subject"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(subjects, ["user:u-9", "ip:10.1.1.1"]);

        t.clock.advance(Duration::seconds(61));
        let again = app
            .exchange_code("NOPE", user("u-9"), Some("10.1.1.1"))
            .await;
        assert_eq!(again.unwrap_err().code(), "CODE_MALFORMED");
        // Over the limit again, so refused again straight away.
        let next = app.exchange_code("NOPE", user("u-9"), None).await;
        assert_eq!(next.unwrap_err().code(), "CODE_ATTEMPTS_EXCEEDED");
        assert_eq!(
            alerts(app).await.len(),
            2,
            "the limit is alerted once a day"
        );
    }
}
