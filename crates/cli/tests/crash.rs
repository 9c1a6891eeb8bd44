//! A claim acknowledged is a claim stored: the server is killed (SIGKILL)
//! in the middle of a claim storm, restarted on the same SQLite file, and
//! every coupon it acknowledged is there, retries of acknowledged requests
//! answer the same coupon, and no limit is exceeded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::start;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const ADMIN: &str = "cf_0123456789abcdef0123456789abcdef";
const TOTAL: i64 = 4_000;
const PER_USER: i64 = 2;
const USERS: usize = 1_500;

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A live template: created by the admin, approved by a reviewer.
async fn live_template(client: &reqwest::Client, base: &str) -> (String, String) {
    let post = reqwest::Method::POST;
    let (_, reviewer) = call(
        client,
        post.clone(),
        format!("{base}/v1/api-keys"),
        ADMIN,
        Some(json!({"role": "reviewer"})),
    )
    .await;
    let (_, service) = call(
        client,
        post.clone(),
        format!("{base}/v1/api-keys"),
        ADMIN,
        Some(json!({"role": "service"})),
    )
    .await;
    let template = json!({"name": "崩溃测试", "benefit": {"kind": "cash", "amount": 100}, "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": 30}, "limits": {"total": TOTAL, "per_user": PER_USER}});
    let (status, created) = call(
        client,
        post.clone(),
        format!("{base}/v1/templates"),
        ADMIN,
        Some(template),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    call(
        client,
        post.clone(),
        format!("{base}/v1/templates/{id}/submit"),
        ADMIN,
        None,
    )
    .await;
    let reviewer = reviewer["key"].as_str().unwrap();
    let (status, _) = call(
        client,
        post,
        format!("{base}/v1/templates/{id}/reviews"),
        reviewer,
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_eq!(status, 200);
    (id, service["key"].as_str().unwrap().to_owned())
}

fn claim_body(n: usize) -> Value {
    json!({"user": {"id": format!("u-{}", n % USERS)}, "request_id": format!("r-{n}")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_claim_survives_a_kill_and_no_limit_is_exceeded() {
    let directory = tempfile::tempdir().unwrap();
    let database = directory.path().join("crash.db");
    let client = reqwest::Client::new();
    let database_url = format!("sqlite://{}", database.display());
    let mut server = start(&database_url, ADMIN);
    let (template, service) = live_template(&client, &server.base).await;

    // A storm of claims, acknowledged ones recorded, until the kill.
    let acknowledged: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let url = format!("{}/v1/templates/{template}/claims", server.base);
    let workers: Vec<_> = (0..32)
        .map(|worker| {
            let (client, url, key, acknowledged) = (
                client.clone(),
                url.clone(),
                service.clone(),
                acknowledged.clone(),
            );
            tokio::spawn(async move {
                for round in 0.. {
                    let n = round * 32 + worker;
                    let sent = client
                        .post(&url)
                        .bearer_auth(&key)
                        .json(&claim_body(n))
                        .send()
                        .await;
                    let Ok(response) = sent else { return }; // the server is gone
                    if response.status().as_u16() == 201 {
                        let Ok(body) = response.json::<Value>().await else {
                            return;
                        };
                        acknowledged
                            .lock()
                            .unwrap()
                            .push((n, body["code"].as_str().unwrap().to_owned()));
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 1_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 1_000);

    let server = start(&database_url, ADMIN);
    let get = reqwest::Method::GET;
    for (_, code) in &acknowledged {
        let (status, body) = call(
            &client,
            get.clone(),
            format!("{}/v1/coupons/{code}", server.base),
            ADMIN,
            None,
        )
        .await;
        assert_eq!(status, 200, "acknowledged coupon {code} is stored: {body}");
    }
    // A retry of an acknowledged claim answers the same coupon.
    for (n, code) in acknowledged.iter().step_by(97) {
        let url = format!("{}/v1/templates/{template}/claims", server.base);
        let (status, body) = call(
            &client,
            reqwest::Method::POST,
            url,
            &service,
            Some(claim_body(*n)),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (201, Some(code.as_str())));
    }
    let (_, stored) = call(
        &client,
        get,
        format!("{}/v1/templates/{template}", server.base),
        ADMIN,
        None,
    )
    .await;
    let issued = stored["issued"].as_i64().expect("issued");
    assert!(
        issued >= acknowledged.len() as i64 && issued <= TOTAL,
        "issued {issued}"
    );
    drop(server); // stopped (SIGKILL) before the file is read directly
    let store = couponflow_store::Store::open(&database_url).await.unwrap();
    let worst: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM coupons GROUP BY user_id) AS held")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert!(worst <= PER_USER, "a user holds {worst}");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM coupons")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(count, issued, "the counter matches the coupons stored");
}
