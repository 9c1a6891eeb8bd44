#![allow(clippy::unwrap_used)]
//! The grant job (SPEC §6.2.2) on every back end: chunks recorded with the
//! cursor, a lease that keeps a second node off a grant it does not hold,
//! a run cut short resumed without granting anyone twice.

mod support;

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use couponflow_app::grants::{GRANT_CHUNK_USERS, GrantStatus, NewGrant, Recipients};
use couponflow_app::templates::Decision;
use couponflow_app::{App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_store::Store;
use support::*;

async fn live_template(app: &App, limits: Value) -> String {
    let body = json!({"name": "补偿券", "benefit": {"kind": "cash", "amount": 500},
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

fn to_users(template_id: &str, count: usize) -> NewGrant {
    NewGrant {
        template_id: template_id.to_owned(),
        recipients: Recipients::Users((0..count).map(|n| format!("user-{n:06}")).collect()),
        reason: None,
    }
}

async fn coupons(app: &App, template_id: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT COUNT(*), COALESCE(MAX(n), 0) FROM (SELECT user_id, COUNT(*) AS n FROM coupons \
         WHERE template_id = $1 GROUP BY user_id) AS held",
    )
    .bind(template_id)
    .fetch_one(app.store().reader())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_runs_in_chunks_to_the_end_granting_each_user_once() {
    for test in apps().await {
        let app = &test.app;
        let template_id = live_template(app, json!({"per_user": 1})).await;
        let users = 20_000;
        let started = Instant::now();
        let grant = app
            .create_grant(&actor("ops"), to_users(&template_id, users))
            .await
            .unwrap();
        let created = started.elapsed();
        assert_eq!(
            (grant.status, grant.total, grant.processed),
            (GrantStatus::Pending, 20_000, 0)
        );
        let chunks = app.run_grants().await.unwrap();
        eprintln!(
            "{}: created in {created:?}, ran in {:?}",
            test.url,
            started.elapsed()
        );
        assert_eq!(chunks, users.div_ceil(GRANT_CHUNK_USERS));
        let done = app.grant(&grant.id).await.unwrap();
        assert_eq!(
            (done.status, done.processed, done.granted, done.failed),
            (GrantStatus::Done, 20_000, 20_000, 0)
        );
        assert_eq!(coupons(app, &template_id).await, (20_000, 1));
        assert_eq!(app.run_grants().await.unwrap(), 0, "nothing is left to run");
    }
}

/// Another node on the same database, with its own clock.
async fn node(url: &str, clock: Arc<FixedClock>) -> App {
    let store = Store::open(url).await.unwrap();
    App::new(Arc::new(store), clock, Settings::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_on_one_database_work_a_grant_once() {
    for test in apps().await {
        let template_id = live_template(&test.app, json!({"per_user": 1, "total": 15_000})).await;
        let grant = test
            .app
            .create_grant(&actor("ops"), to_users(&template_id, 20_000))
            .await
            .unwrap();
        let node_b = node(
            &test.url,
            Arc::new(FixedClock::new(at("2026-12-05T12:00:00Z"))),
        )
        .await;
        let (a, b) = tokio::join!(test.app.run_grants(), node_b.run_grants());
        let (a, b) = (a.unwrap(), b.unwrap());
        // One node holds the lease for the whole grant; the other finds
        // nothing it may take.
        assert_eq!((a.min(b), a.max(b)), (0, 20), "on {}", test.url);
        let done = test.app.grant(&grant.id).await.unwrap();
        let counts = (
            done.status,
            done.processed,
            done.granted,
            done.skipped.sold_out,
        );
        assert_eq!(counts, (GrantStatus::Done, 20_000, 15_000, 5_000));
        assert_eq!(coupons(&test.app, &template_id).await, (15_000, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_grant_is_taken_over_when_its_lease_expires() {
    for test in apps().await {
        let template_id = live_template(&test.app, json!({"per_user": 1})).await;
        let grant = test
            .app
            .create_grant(&actor("ops"), to_users(&template_id, 3_000))
            .await
            .unwrap();
        // Node A leases the grant and records its first chunk, then dies:
        // its run is aborted in the middle of the next chunks.
        let node_a = Arc::new(
            node(
                &test.url,
                Arc::new(FixedClock::new(at("2026-12-05T12:00:00Z"))),
            )
            .await,
        );
        let run = tokio::spawn({
            let node_a = node_a.clone();
            async move { node_a.run_grants().await }
        });
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while test.app.grant(&grant.id).await.unwrap().processed == 0 {
            assert!(
                !run.is_finished(),
                "the run finished before it could be cut short"
            );
            assert!(Instant::now() < deadline);
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        run.abort();
        assert!(run.await.unwrap_err().is_cancelled());
        let interrupted = test.app.grant(&grant.id).await.unwrap();
        assert_eq!(interrupted.status, GrantStatus::Running, "{interrupted:?}");
        let other = Store::open(&test.url).await.unwrap();
        let clock = Arc::new(FixedClock::new(at("2026-12-05T12:00:00Z")));
        let node_b = App::new(Arc::new(other), clock.clone(), Settings::default());
        assert_eq!(
            node_b.run_grants().await.unwrap(),
            0,
            "A's lease still holds"
        );
        clock.advance(chrono::Duration::seconds(11));
        assert!(node_b.run_grants().await.unwrap() >= 1);
        let done = node_b.grant(&grant.id).await.unwrap();
        assert_eq!(
            (done.status, done.granted, done.skipped.limit_reached),
            (GrantStatus::Done, 3_000, 0)
        );
        assert_eq!(coupons(&node_b, &template_id).await, (3_000, 1));
    }
}
