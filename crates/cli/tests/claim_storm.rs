//! 2,000 concurrent claims over HTTP for a stock of 500 with `per_user: 2`
//! from 300 users — exactly 500 issued, nobody above 2: on one server with
//! its SQLite file, and on two `couponflow serve` processes sharing one
//! PostgreSQL database (when `COUPONFLOW_TEST_DATABASE_URL` names a server,
//! as CI sets it), the claims split between the nodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::start;

use serde_json::{Value, json};

const ADMIN: &str = "cf_fedcba9876543210fedcba9876543210";

async fn post(client: &reqwest::Client, url: String, key: &str, body: Value) -> (u16, Value) {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_never_exceed_a_limit_together() {
    let Some(url) = couponflow_store::testing::fresh_postgres_url()
        .await
        .unwrap()
    else {
        return; // SQLite is one node; CI sets the PostgreSQL URL.
    };
    // The first node migrates; the second starts on a migrated database.
    let first = start(&url, ADMIN);
    let second = start(&url, ADMIN);
    storm(&[first.base.clone(), second.base.clone()], &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sqlite_server_never_exceeds_a_limit() {
    let url = couponflow_store::testing::fresh_sqlite_url();
    let node = start(&url, ADMIN);
    storm(std::slice::from_ref(&node.base), &url).await;
}

/// Sets up a live template through `bases[0]`, then sends 2,000 claims
/// spread over `bases` and checks the outcome in the database at `url`.
async fn storm(bases: &[String], url: &str) {
    let client = reqwest::Client::new();
    let base = &bases[0];
    let (_, reviewer) = post(
        &client,
        format!("{base}/v1/api-keys"),
        ADMIN,
        json!({"role": "reviewer"}),
    )
    .await;
    let (_, service) = post(
        &client,
        format!("{base}/v1/api-keys"),
        ADMIN,
        json!({"role": "service"}),
    )
    .await;
    let template = json!({"name": "两节点", "benefit": {"kind": "cash", "amount": 100}, "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": 30}, "limits": {"total": 500, "per_user": 2}});
    let (status, created) = post(&client, format!("{base}/v1/templates"), ADMIN, template).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    post(
        &client,
        format!("{base}/v1/templates/{id}/submit"),
        ADMIN,
        json!({}),
    )
    .await;
    let reviewer = reviewer["key"].as_str().unwrap();
    let (status, _) = post(
        &client,
        format!("{base}/v1/templates/{id}/reviews"),
        reviewer,
        json!({"decision": "approve"}),
    )
    .await;
    assert_eq!(status, 200);

    let service = service["key"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..2_000)
        .map(|n| {
            let (client, key) = (client.clone(), service.clone());
            let url = format!("{}/v1/templates/{id}/claims", bases[n % bases.len()]);
            let body =
                json!({"user": {"id": format!("u-{}", n % 300)}, "request_id": format!("r-{n}")});
            tokio::spawn(async move { post(&client, url, &key, body).await })
        })
        .collect();
    let mut issued = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            201 => issued += 1,
            409 => assert!(
                matches!(body["code"].as_str(), Some("SOLD_OUT" | "PER_USER_LIMIT")),
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(issued, 500);

    let store = couponflow_store::Store::open(url).await.unwrap();
    let worst: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM coupons GROUP BY user_id) AS held",
    )
    .fetch_one(store.reader())
    .await
    .unwrap();
    assert!(worst <= 2, "a user holds {worst}");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM coupons")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(stored, 500);
}
