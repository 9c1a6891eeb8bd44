//! A fresh app per back end, with a clock the test moves.
#![allow(dead_code)]

pub mod orders;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use couponflow_app::{Actor, App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_core::template::Template;
use couponflow_store::testing::{fresh_store, fresh_urls};

pub struct TestApp {
    pub app: App,
    pub clock: Arc<FixedClock>,
    pub url: String,
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid time")
        .with_timezone(&Utc)
}

/// One app on a fresh database for every back end available, the clock at
/// 2026-12-05 12:00 UTC.
pub async fn apps() -> Vec<TestApp> {
    apps_with(Settings::default()).await
}

/// [`apps`] with other settings.
pub async fn apps_with(settings: Settings) -> Vec<TestApp> {
    let mut apps = Vec::new();
    for url in fresh_urls().await.expect("test databases") {
        let store = Arc::new(fresh_store(&url).await.expect("migrated store"));
        let clock = Arc::new(FixedClock::new(at("2026-12-05T12:00:00Z")));
        let app = App::new(store, clock.clone(), settings.clone());
        apps.push(TestApp { app, clock, url });
    }
    apps
}

pub fn actor(name: &str) -> Actor {
    Actor(name.to_owned())
}

pub fn template(json: Value) -> Template {
    serde_json::from_value(json).expect("test template parses")
}

/// The risk alerts of `template` once the outbox is dispatched, newest
/// first, as (rule, level, value, threshold).
pub async fn alerts_of(
    app: &App,
    template: &str,
) -> Vec<(String, String, Option<i64>, Option<i64>)> {
    while app.dispatch_outbox().await.expect("dispatched") > 0 {}
    app.risk_alerts(Some(template), None, 50)
        .await
        .expect("alerts")
        .into_iter()
        .map(|a| (a.rule, a.level, a.value, a.threshold))
        .collect()
}

/// `(rule, level, value, threshold)` rows, owned, to compare with [`alerts_of`].
pub fn alert_rows(
    rows: &[(&str, &str, i64, i64)],
) -> Vec<(String, String, Option<i64>, Option<i64>)> {
    rows.iter()
        .map(|(rule, level, value, threshold)| {
            (
                (*rule).into(),
                (*level).into(),
                Some(*value),
                Some(*threshold),
            )
        })
        .collect()
}
