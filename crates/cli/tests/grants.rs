//! Staff grants through the real binary: a 100,000-user grant uploaded as
//! CSV survives `couponflow serve` being killed (SIGKILL) in the middle,
//! and a restarted server on the same database finishes it with every user
//! granted exactly once; `couponflow grants create` follows a grant to the
//! end and prints its counts. SQLite always, PostgreSQL when
//! `COUPONFLOW_TEST_DATABASE_URL` names a server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use couponflow_store::testing::fresh_urls;
use serde_json::{Value, json};
use support::{start, start_with};

const ADMIN: &str = "cf_0123456789abcdef0123456789abcdef";
const USERS: usize = 100_000;
/// A short lease, so the restarted server takes the grant over soon.
const LEASE: (&str, &str) = ("COUPONFLOW_GRANT_LEASE_SECS", "2");

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(ADMIN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// An active template, one coupon per user, no total.
async fn live_template(base: &str) -> String {
    let post = reqwest::Method::POST;
    let (_, reviewer) = call(
        post.clone(),
        format!("{base}/v1/api-keys"),
        Some(json!({"role": "reviewer"})),
    )
    .await;
    let template = json!({"name": "全员补偿券", "benefit": {"kind": "cash", "amount": 500},
        "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
        "limits": {"per_user": 1}});
    let (status, created) =
        call(post.clone(), format!("{base}/v1/templates"), Some(template)).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    call(post, format!("{base}/v1/templates/{id}/submit"), None).await;
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/templates/{id}/reviews"))
        .bearer_auth(reviewer["key"].as_str().unwrap())
        .json(&json!({"decision": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    id
}

fn grants_cli(base: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_couponflow"))
        .arg("grants")
        .args(args)
        .args(["--server", base, "--key", ADMIN])
        .output()
        .expect("the binary runs")
}

async fn grant(base: &str, id: &str) -> Value {
    let (status, body) = call(reqwest::Method::GET, format!("{base}/v1/grants/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_killed_in_the_middle_finishes_after_a_restart_granting_everyone_once() {
    let directory = tempfile::tempdir().unwrap();
    for database_url in fresh_urls().await.unwrap() {
        let mut server = start_with(&database_url, ADMIN, &[LEASE]);
        let template = live_template(&server.base).await;
        let csv = directory.path().join("users.csv");
        let mut file = std::fs::File::create(&csv).unwrap();
        writeln!(file, "user_id").unwrap();
        for n in 0..USERS {
            writeln!(file, "user-{n:06}").unwrap();
        }
        drop(file);
        let started = Instant::now();
        let upload = grants_cli(
            &server.base,
            &[
                "create",
                "--template",
                &template,
                "--csv",
                csv.to_str().unwrap(),
                "--no-wait",
            ],
        );
        assert!(
            upload.status.success(),
            "{}",
            String::from_utf8_lossy(&upload.stderr)
        );
        let id = String::from_utf8(upload.stdout).unwrap().trim().to_owned();

        // Kill the server once a good part, but not all, is processed.
        let deadline = Instant::now() + Duration::from_secs(120);
        let before_kill = loop {
            let body = grant(&server.base, &id).await;
            if body["processed"].as_u64().unwrap() >= 10_000 {
                break body;
            }
            assert!(Instant::now() < deadline, "no progress: {body}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        server.child.kill().expect("SIGKILL");
        server.child.wait().unwrap();
        assert_eq!(
            before_kill["status"], "running",
            "killed in the middle: {before_kill}"
        );

        let server = start_with(&database_url, ADMIN, &[LEASE]);
        let deadline = Instant::now() + Duration::from_secs(180);
        let done = loop {
            let body = grant(&server.base, &id).await;
            if body["status"] == "done" {
                break body;
            }
            assert!(Instant::now() < deadline, "not finished: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        eprintln!(
            "{database_url}: 100,000 users, killed at {}, done after {:?}",
            before_kill["processed"],
            started.elapsed()
        );
        let skipped = &done["skipped"];
        assert_eq!(
            (
                &done["total"],
                &done["processed"],
                &done["done"],
                &done["failed"]
            ),
            (&json!(USERS), &json!(USERS), &json!(USERS), &json!(0)),
            "{done}"
        );
        assert_eq!(skipped["limit_reached"], 0, "{done}");
        let (_, stored) = call(
            reqwest::Method::GET,
            format!("{}/v1/templates/{template}", server.base),
            None,
        )
        .await;
        assert_eq!(stored["issued"], USERS);
        drop(server); // stopped before the database is read directly

        let store = couponflow_store::Store::open(&database_url).await.unwrap();
        let (users, coupons, worst): (i64, i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(n), 0) AS BIGINT), COALESCE(MAX(n), 0) FROM \
             (SELECT user_id, COUNT(*) AS n FROM coupons WHERE template_id = $1 GROUP BY user_id) AS held",
        )
        .bind(&template)
        .fetch_one(store.reader())
        .await
        .unwrap();
        assert_eq!(
            (users, coupons, worst),
            (USERS as i64, USERS as i64, 1),
            "on {database_url}"
        );
        let unrecorded: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM grant_users WHERE grant_id = $1 AND outcome IS NULL",
        )
        .bind(&id)
        .fetch_one(store.reader())
        .await
        .unwrap();
        assert_eq!(unrecorded, 0);
        store.close().await;
        drop_database(&database_url).await;
    }
}

/// A 100,000-user database takes some 150 MB: this test leaves none behind.
async fn drop_database(database_url: &str) {
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
        return;
    }
    let Ok(server) = std::env::var(couponflow_store::testing::TEST_DATABASE_URL_VAR) else {
        return;
    };
    let name = database_url.rsplit('/').next().unwrap();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&server)
        .await
        .unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_create_follows_the_grant_and_prints_its_counts() {
    let directory = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", directory.path().join("cli.db").display());
    let server = start(&database_url, ADMIN);
    let template = live_template(&server.base).await;
    let created = grants_cli(
        &server.base,
        &[
            "create",
            "--template",
            &template,
            "--users",
            "c-1,c-2,c-1",
            "--reason",
            "客服补偿",
        ],
    );
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success(), "{stderr}");
    let id = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert!(id.starts_with("gr_"), "{id}");
    assert!(
        stderr.contains("2 users (1 duplicates dropped)"),
        "{stderr}"
    );
    assert!(stderr.contains("granted 2"), "{stderr}");

    let shown = grants_cli(&server.base, &["show", &id]);
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(
        (&shown["status"], &shown["done"], &shown["reason"]),
        (&json!("done"), &json!(2), &json!("客服补偿"))
    );

    let refused = grants_cli(
        &server.base,
        &["create", "--template", "nope", "--users", "c-1"],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("404 TEMPLATE_NOT_FOUND"), "{stderr}");
}
