#![allow(clippy::unwrap_used)]
//! Webhook deliveries (SPEC §6.3) to a real HTTP receiver on every back
//! end, with the background jobs running on the wall clock: retried with
//! back-off until acknowledged, signed, and delivered once per event even
//! with two nodes dispatching and sending.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use couponflow_app::background::Background;
use couponflow_app::notify::NotifySettings;
use couponflow_app::notify::webhooks::NewWebhook;
use couponflow_app::{App, Settings};
use couponflow_core::clock::Clock;
use couponflow_store::Store;
use couponflow_store::testing::fresh_urls;
use support::{actor, template};

struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(std::time::SystemTime::now())
    }
}

/// One POST the receiver got.
#[derive(Clone, Debug)]
struct Receipt {
    headers: HeaderMap,
    body: String,
    answered: u16,
    at: std::time::Instant,
}

/// A webhook receiver: answers the scripted statuses in turn, then 200.
#[derive(Clone, Default)]
struct Receiver {
    receipts: Arc<Mutex<Vec<Receipt>>>,
    script: Arc<Mutex<Vec<u16>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let answered = {
        let mut script = receiver.script.lock().unwrap();
        if script.is_empty() {
            200
        } else {
            script.remove(0)
        }
    };
    receiver.receipts.lock().unwrap().push(Receipt {
        headers,
        body,
        answered,
        at: std::time::Instant::now(),
    });
    StatusCode::from_u16(answered).unwrap()
}

async fn start_receiver(script: Vec<u16>) -> (Receiver, SocketAddr) {
    let receiver = Receiver {
        script: Arc::new(Mutex::new(script)),
        ..Receiver::default()
    };
    let router = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (receiver, address)
}

fn fast_settings() -> Settings {
    Settings {
        notify: NotifySettings {
            poll_interval_ms: 20,
            retry_delay_base_ms: 50,
            retry_delay_max_ms: 200,
            attempts_max: 5,
            send_timeout_ms: 2_000,
            ..NotifySettings::default()
        },
        ..Settings::default()
    }
}

async fn node(url: &str) -> Arc<App> {
    let store = Arc::new(Store::open_and_migrate(url).await.unwrap());
    Arc::new(App::new(store, Arc::new(WallClock), fast_settings()))
}

fn header<'a>(receipt: &'a Receipt, name: &str) -> &'a str {
    receipt.headers.get(name).unwrap().to_str().unwrap()
}

fn draft(name: &str) -> couponflow_core::template::Template {
    template(serde_json::json!({
        "name": name,
        "benefit": {"kind": "cash", "amount": 1000},
        "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": 30}
    }))
}

/// Waits until `done` holds of the receipts, for at most ten seconds.
async fn until(receiver: &Receiver, done: impl Fn(&[Receipt]) -> bool) -> Vec<Receipt> {
    for _ in 0..500 {
        let receipts = receiver.receipts.lock().unwrap().clone();
        if done(&receipts) {
            return receipts;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the receiver did not get what was expected in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_fails_twice_is_retried_and_acknowledged_once_with_a_valid_signature() {
    for url in fresh_urls().await.unwrap() {
        let app = node(&url).await;
        let (receiver, address) = start_receiver(vec![500, 500]).await;
        let hook = NewWebhook {
            url: format!("http://{address}/hook"),
            events: vec!["template.*".into()],
            secret: None,
        };
        let (webhook, secret) = app.create_webhook(&actor("admin"), hook).await.unwrap();
        assert!(secret.starts_with("whsec_"));
        let jobs = Background::start_notifications(app.clone());
        let created = app
            .create_template(&actor("ops"), draft("a"))
            .await
            .unwrap();
        let receipts = until(&receiver, |r| r.iter().any(|r| r.answered == 200)).await;
        // Nothing more once acknowledged.
        tokio::time::sleep(Duration::from_millis(300)).await;
        jobs.stop().await;
        let receipts_after = receiver.receipts.lock().unwrap().clone();
        assert_eq!(receipts_after.len(), 3, "{url}");
        let answered: Vec<u16> = receipts.iter().map(|r| r.answered).collect();
        assert_eq!(answered, [500, 500, 200], "{url}");
        // The back-off: 50 ms after the first failure, 100 ms after the second.
        assert!(receipts[1].at - receipts[0].at >= Duration::from_millis(50));
        assert!(receipts[2].at - receipts[1].at >= Duration::from_millis(100));

        let delivery = header(&receipts[0], "x-couponflow-delivery");
        for receipt in &receipts {
            assert_eq!(header(receipt, "x-couponflow-event"), "template.created");
            assert_eq!(header(receipt, "x-couponflow-delivery"), delivery);
            assert_eq!(receipt.body, receipts[0].body, "the same event every time");
            let timestamp = header(receipt, "x-couponflow-timestamp");
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{timestamp}.{}", receipt.body).as_bytes());
            let expected: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(
                header(receipt, "x-couponflow-signature"),
                format!("sha256={expected}")
            );
        }
        let event: serde_json::Value = serde_json::from_str(&receipts[0].body).unwrap();
        assert_eq!(event["type"], "template.created");
        assert_eq!(event["data"]["template_id"], created.id.as_str());

        let log = app.webhook_deliveries(&webhook.id, None, 50).await.unwrap();
        assert_eq!(log.len(), 1, "{url}");
        assert_eq!(log[0].id, delivery);
        assert_eq!(log[0].event_id, event["id"].as_str().unwrap());
        assert_eq!(log[0].status, "delivered");
        assert_eq!(log[0].attempts, 3);
        assert_eq!(log[0].last_status, Some(200));
        assert!(log[0].delivered_at.is_some() && log[0].next_attempt_at.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_never_acknowledges_is_marked_failed_after_the_attempts_allowed() {
    for url in fresh_urls().await.unwrap() {
        let app = node(&url).await;
        let (receiver, address) = start_receiver(vec![503; 10]).await;
        let hook = NewWebhook {
            url: format!("http://{address}/hook"),
            events: vec!["template.created".into()],
            secret: Some("a-secret-of-the-mall-0001".into()),
        };
        let (webhook, _) = app.create_webhook(&actor("admin"), hook).await.unwrap();
        let jobs = Background::start_notifications(app.clone());
        app.create_template(&actor("ops"), draft("b"))
            .await
            .unwrap();
        until(&receiver, |r| r.len() >= 5).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        jobs.stop().await;
        assert_eq!(receiver.receipts.lock().unwrap().len(), 5, "{url}");
        let log = app.webhook_deliveries(&webhook.id, None, 50).await.unwrap();
        assert_eq!((log[0].status.as_str(), log[0].attempts), ("failed", 5));
        assert_eq!(log[0].last_status, Some(503));
        assert!(log[0].last_error.as_deref().unwrap().contains("503"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_each_event_once() {
    for url in fresh_urls().await.unwrap() {
        let (a, b) = (node(&url).await, node(&url).await);
        let (receiver, address) = start_receiver(Vec::new()).await;
        let hook = NewWebhook {
            url: format!("http://{address}/hook"),
            events: vec!["*".into()],
            secret: None,
        };
        a.create_webhook(&actor("admin"), hook).await.unwrap();
        let jobs = [
            Background::start_notifications(a.clone()),
            Background::start_notifications(b.clone()),
        ];
        const TEMPLATES: usize = 30;
        for n in 0..TEMPLATES {
            let app = if n % 2 == 0 { &a } else { &b };
            app.create_template(&actor("ops"), draft(&format!("t{n}")))
                .await
                .unwrap();
        }
        until(&receiver, |r| r.len() >= TEMPLATES).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        for job in jobs {
            job.stop().await;
        }
        let receipts = receiver.receipts.lock().unwrap().clone();
        let mut per_event: HashMap<String, usize> = HashMap::new();
        for receipt in &receipts {
            let event: serde_json::Value = serde_json::from_str(&receipt.body).unwrap();
            *per_event
                .entry(event["id"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert_eq!(per_event.len(), TEMPLATES, "{url}");
        assert!(per_event.values().all(|n| *n == 1), "{url}: {per_event:?}");
    }
}
