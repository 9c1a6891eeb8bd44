#![allow(clippy::unwrap_used)]
//! Notifications (SPEC §6.3) on every back end: the outbox is written with
//! the change or not at all, the dispatcher turns events into inbox
//! messages, expiry reminders go out once per coupon.

mod support;

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use sqlx::Row;

use couponflow_app::notify::Event;
use couponflow_app::notify::inbox::InboxCursor;
use couponflow_app::{App, AppError, Settings, outbox};
use couponflow_store::Store;
use support::orders::*;
use support::*;

fn cash(amount: i64, days: u32) -> serde_json::Value {
    template_body(
        "立减",
        json!({"kind": "cash", "amount": amount}),
        json!({"validity": {"type": "relative", "days": days}}),
    )
}

/// Every event in the outbox, oldest first.
async fn outbox_events(app: &App) -> Vec<Event> {
    let rows = sqlx::query("SELECT events FROM outbox ORDER BY id")
        .fetch_all(app.store().reader())
        .await
        .unwrap();
    rows.iter()
        .flat_map(|row| outbox::decode(&row.get::<String, _>("events")).unwrap())
        .collect()
}

fn of_type<'a>(events: &'a [Event], kind: &str) -> Vec<&'a Event> {
    events.iter().filter(|event| event.kind == kind).collect()
}

async fn dispatch_all(app: &App) -> usize {
    let mut total = 0;
    loop {
        match app.dispatch_outbox().await.unwrap() {
            0 => return total,
            events => total += events,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_that_fails_leaves_no_event_and_a_refused_lock_no_locked_event() {
    for t in apps().await {
        let app = &t.app;
        let before = outbox_events(app).await.len();
        let now = app.now();
        let failed: Result<(), AppError> = app
            .store()
            .write(move |connection| {
                Box::pin(async move {
                    let event = Event::new("risk.alert", now, None, json!({}));
                    outbox::append(connection, &[event]).await?;
                    Err(AppError::Conflict(
                        "the change is refused after the append".into(),
                    ))
                })
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(outbox_events(app).await.len(), before, "{}", t.url);

        let (_, code) = coupon_of(app, "u-1", cash(1000, 30)).await;
        // u-2 names u-1's coupon: the lock is refused and writes nothing.
        let refused = app
            .lock_order(
                &actor("mall"),
                "o-refused",
                cart("u-2", vec![line("a", 5000, 1)], chosen(&[&code])),
            )
            .await;
        assert!(refused.is_err(), "{}", t.url);
        assert!(of_type(&outbox_events(app).await, "coupon.locked").is_empty());

        app.lock_order(
            &actor("mall"),
            "o-1",
            cart("u-1", vec![line("a", 5000, 1)], chosen(&[&code])),
        )
        .await
        .unwrap();
        let events = outbox_events(app).await;
        let locked = of_type(&events, "coupon.locked");
        assert_eq!(locked.len(), 1, "{}", t.url);
        assert_eq!(locked[0].data["code"], code.as_str());
        assert_eq!(locked[0].data["order_id"], "o-1");
        assert_eq!(locked[0].user_id.as_deref(), Some("u-1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_steps_voids_and_releases_are_events() {
    for t in apps().await {
        let app = &t.app;
        // Claims write their event for a webhook that wants it.
        let hook = couponflow_app::notify::webhooks::NewWebhook {
            url: "http://127.0.0.1:9/hook".into(),
            events: vec!["coupon.claimed".into()],
            secret: None,
        };
        app.create_webhook(&actor("admin"), hook).await.unwrap();
        let (template_id, code) = coupon_of(app, "u-1", cash(1000, 30)).await;
        let events = outbox_events(app).await;
        let steps: Vec<&str> = events
            .iter()
            .filter(|event| event.data["template_id"] == template_id.as_str())
            .map(|event| event.kind.as_str())
            .collect();
        assert_eq!(
            steps,
            [
                "template.created",
                "template.submitted",
                "template.approved",
                "coupon.claimed"
            ],
            "{}",
            t.url
        );
        app.lock_order(
            &actor("mall"),
            "o-1",
            cart("u-1", vec![line("a", 5000, 1)], chosen(&[&code])),
        )
        .await
        .unwrap();
        app.release_order(&actor("mall"), "o-1").await.unwrap();
        app.void_coupon(&actor("ops"), &code, None).await.unwrap();
        assert!(app.void_coupon(&actor("ops"), &code, None).await.is_err());
        let events = outbox_events(app).await;
        assert_eq!(of_type(&events, "coupon.returned").len(), 1, "{}", t.url);
        assert_eq!(of_type(&events, "coupon.voided").len(), 1, "{}", t.url);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeemed_expiring_and_expired_coupons_leave_messages_that_can_be_marked_read() {
    for t in apps().await {
        let app = &t.app;
        let (_, spent) = coupon_of(app, "u-1", cash(1000, 30)).await;
        let (_, soon) = coupon_of(app, "u-1", cash(500, 2)).await;
        app.lock_order(
            &actor("mall"),
            "o-1",
            cart("u-1", vec![line("a", 5000, 1)], chosen(&[&spent])),
        )
        .await
        .unwrap();
        app.redeem_order(&actor("mall"), "o-1").await.unwrap();
        // Messages are ordered by their events' times: keep these apart.
        t.clock.advance(Duration::minutes(1));
        assert_eq!(app.send_expiry_reminders().await.unwrap(), 1, "{}", t.url);
        dispatch_all(app).await;
        t.clock.advance(Duration::days(3));
        assert_eq!(app.expire_due(100).await.unwrap(), 1);
        dispatch_all(app).await;

        let page = app.messages("u-1", None, 50).await.unwrap();
        let seen: Vec<(&str, &str, &str)> = page
            .messages
            .iter()
            .map(|m| {
                let code = m.data["code"].as_str().unwrap();
                (m.event_type.as_str(), m.title_zh.as_str(), code)
            })
            .collect();
        // Newest first; the lock leaves no message.
        assert_eq!(
            seen,
            [
                ("coupon.expired", "你的券已过期", soon.as_str()),
                ("coupon.expiring", "你的券即将过期", soon.as_str()),
                ("coupon.redeemed", "你的券已使用", spent.as_str()),
            ],
            "{}",
            t.url
        );
        assert_eq!(page.messages[1].title_en, "Your coupon expires soon");
        assert!(page.messages[1].body_zh.contains(&soon));
        assert_eq!(page.unread, 3);

        let first = &page.messages[0];
        let read = app.mark_message_read("u-1", &first.id).await.unwrap();
        assert!(read.read_at.is_some());
        assert_eq!(app.messages("u-1", None, 50).await.unwrap().unread, 2);
        let theirs = app.mark_message_read("u-2", &first.id).await.unwrap_err();
        assert_eq!(theirs.code(), "MESSAGE_NOT_FOUND");
        assert!(
            app.messages("u-2", None, 50)
                .await
                .unwrap()
                .messages
                .is_empty()
        );

        let cursor = InboxCursor {
            created_at: first.created_at,
            id: first.id.clone(),
        };
        let rest = app.messages("u-1", Some(&cursor), 50).await.unwrap();
        assert_eq!(rest.messages, page.messages[1..].to_vec());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_goes_out_once_per_coupon_even_from_two_nodes() {
    for t in apps().await {
        let app = &t.app;
        let template = live_template(app, cash(500, 2)).await;
        let mut codes = Vec::new();
        for user in ["u-1", "u-2", "u-3"] {
            codes.push(claim(app, &template, user).await);
        }
        // Outside the lead time: no reminder.
        let (_, later) = coupon_of(app, "u-1", cash(500, 10)).await;
        let other = Arc::new(Store::open(&t.url).await.unwrap());
        let node_b = App::new(other, t.clock.clone(), Settings::default());
        let (a, b) = tokio::join!(app.send_expiry_reminders(), node_b.send_expiry_reminders());
        assert_eq!(a.unwrap() + b.unwrap(), 3, "{}", t.url);
        assert_eq!(app.send_expiry_reminders().await.unwrap(), 0);
        assert_eq!(node_b.send_expiry_reminders().await.unwrap(), 0);
        let events = outbox_events(app).await;
        let mut reminded: Vec<&str> = of_type(&events, "coupon.expiring")
            .iter()
            .map(|event| event.data["code"].as_str().unwrap())
            .collect();
        reminded.sort_unstable();
        codes.sort();
        assert_eq!(
            reminded,
            codes.iter().map(String::as_str).collect::<Vec<_>>()
        );
        assert!(!reminded.contains(&later.as_str()));
    }
}
