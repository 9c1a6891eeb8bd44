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
