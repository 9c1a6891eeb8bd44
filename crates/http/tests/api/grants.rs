//! Staff grants over HTTP (SPEC §6.2.2): a grant is stored and answered at
//! once, worked in the background, and counts every user exactly —
//! granted, skipped by reason, failed — against the template's limits and
//! audience; segments are the tags the mall sends; bad input stores nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Row;

use crate::harness::{ADMIN_KEY, TestServer, servers, template_json};

/// ¥10 off for VIPs: at most `total` coupons, one per user.
fn vip_cash(total: u64) -> Value {
    json!({"name": "VIP 10元", "benefit": {"kind": "cash", "amount": 1000},
           "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
           "audience": {"tags_any": ["vip"]},
           "limits": {"total": total, "per_user": 1}})
}

/// ¥10 off for everyone under `limits`.
fn cash_with(limits: Value) -> Value {
    json!({"name": "10元", "benefit": {"kind": "cash", "amount": 1000},
           "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
           "limits": limits})
}

/// A raw upload: (status, body as JSON, or the text as a string).
async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, server.url(path))
        .bearer_auth(ADMIN_KEY)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Creates a grant as the admin; answers its id.
async fn granted(server: &TestServer, body: &Value) -> String {
    let answer = server.post("/v1/grants", ADMIN_KEY, body).await;
    let created = answer.expect(202);
    assert_eq!(created["status"], "pending", "{created}");
    let id = created["id"].as_str().expect("a grant id").to_owned();
    assert_eq!(
        answer.location.as_deref(),
        Some(&*format!("/v1/grants/{id}"))
    );
    id
}

/// Polls the grant until it is `done`; answers it.
async fn finished(server: &TestServer, grant: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = server
            .get(&format!("/v1/grants/{grant}"), ADMIN_KEY)
            .await
            .expect(200)
            .clone();
        if body["status"] == "done" {
            return body;
        }
        assert!(Instant::now() < deadline, "{grant} not done: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Coupons of `template` per user, read from the database.
async fn coupons_per_user(server: &TestServer, template: &str) -> HashMap<String, i64> {
    let rows = sqlx::query(
        "SELECT user_id, COUNT(*) AS n FROM coupons WHERE template_id = $1 GROUP BY user_id",
    )
    .bind(template)
    .fetch_all(server.app.store().reader())
    .await
    .expect("counts");
    rows.iter()
        .map(|row| (row.get("user_id"), row.get("n")))
        .collect()
}

fn counts(grant: &Value) -> Value {
    json!({"total": grant["total"], "duplicates": grant["duplicates"], "processed": grant["processed"],
           "done": grant["done"], "skipped": grant["skipped"], "failed": grant["failed"],
           "progress_percent": grant["progress_percent"]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_counts_granted_skipped_by_reason_and_failed_exactly() {
    for server in servers().await {
        let template = server.active_template(&vip_cash(5)).await;
        let vips: Vec<String> = [
            "u-1", "u-2", "u-3", "u-4", "u-5", "u-6", "u-7", "u-8", "u-10",
        ]
        .map(String::from)
        .to_vec();
        let path = "/v1/segments/vip/members";
        let segment = server
            .call(
                reqwest::Method::PUT,
                path,
                Some(ADMIN_KEY),
                Some(&json!({"users": vips})),
            )
            .await;
        assert_eq!(segment.expect(200)["members"], 9);
        // u-1 and u-2 already hold one (per_user 1): 2 of the 5 are gone.
        for user in ["u-1", "u-2"] {
            let claim = json!({"user": {"id": user, "tags": ["vip"]}, "request_id": "before"});
            let claims = format!("/v1/templates/{template}/claims");
            server.post(&claims, ADMIN_KEY, &claim).await.expect(201);
        }
        let mut users: Vec<String> = (1..=10).map(|n| format!("u-{n}")).collect();
        users.push("u-3".into()); // listed twice: granted once
        let grant = granted(
            &server,
            &json!({"template": template, "users": users, "reason": "补偿 ticket 42"}),
        )
        .await;
        let done = finished(&server, &grant).await;
        // u-9 is no VIP; u-1, u-2 hold theirs; 3 left for the other 7.
        assert_eq!(
            counts(&done),
            json!({"total": 10, "duplicates": 1, "processed": 10, "done": 3,
                   "skipped": {"limit_reached": 2, "sold_out": 4, "budget_exhausted": 0, "not_in_audience": 1},
                   "failed": 0, "progress_percent": 100}),
            "on {}",
            server.database
        );
        assert_eq!(done["reason"], "补偿 ticket 42");
        assert!(done["created_by"].as_str().unwrap().starts_with("key:"));
        let held = coupons_per_user(&server, &template).await;
        assert_eq!(held.values().sum::<i64>(), 5, "{held:?}");
        assert!(held.values().all(|n| *n == 1), "{held:?}");

        let results = server
            .get(&format!("/v1/grants/{grant}/results?limit=4"), ADMIN_KEY)
            .await;
        let page = results.expect(200);
        let first: Vec<_> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["position"].as_u64().unwrap(),
                    r["user_id"].as_str().unwrap().to_owned(),
                    r["outcome"].as_str().unwrap().to_owned(),
                    r["reason"].clone(),
                )
            })
            .collect();
        assert_eq!(
            first[0],
            (1, "u-1".into(), "skipped".into(), json!("PER_USER_LIMIT"))
        );
        assert_eq!(first[3].0, 4);
        let cursor = page["next_cursor"].as_str().expect("a next page");
        let rest = server
            .get(
                &format!("/v1/grants/{grant}/results?limit=500&cursor={cursor}"),
                ADMIN_KEY,
            )
            .await;
        let rest = rest.expect(200)["items"].as_array().unwrap().clone();
        assert_eq!(rest.len(), 6);
        let mut all = page["items"].as_array().unwrap().clone();
        all.extend(rest.iter().cloned());
        let positions: Vec<u64> = all
            .iter()
            .map(|r| r["position"].as_u64().unwrap())
            .collect();
        assert_eq!(positions, (1..=10).collect::<Vec<u64>>());
        let u9 = rest.iter().find(|r| r["user_id"] == "u-9").unwrap();
        assert_eq!(
            (&u9["outcome"], &u9["reason"]),
            (&json!("skipped"), &json!("NOT_IN_AUDIENCE"))
        );
        let granted_codes: Vec<_> = all.iter().filter(|r| r["outcome"] == "granted").collect();
        assert_eq!(granted_codes.len(), 3);
        for row in granted_codes {
            let code = row["coupon_code"].as_str().unwrap();
            let coupon = server.get(&format!("/v1/coupons/{code}"), ADMIN_KEY).await;
            assert_eq!(coupon.expect(200)["user_id"], row["user_id"]);
        }

        let csv = reqwest::Client::new()
            .get(server.url(&format!("/v1/grants/{grant}/results.csv")))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        let text = csv.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 11, "{text}");
        assert_eq!(lines[0], "position,user_id,outcome,reason,coupon_code");
        assert_eq!(lines[1], "1,u-1,skipped,PER_USER_LIMIT,");
        let list = server.get("/v1/grants", ADMIN_KEY).await;
        assert_eq!(list.expect(200)["items"][0]["id"], grant.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_and_daily_limits_skip_with_their_reasons() {
    for server in servers().await {
        // ¥10 coupons, a ¥25 budget: two fit.
        let template = server
            .active_template(&cash_with(json!({"budget": 2500, "per_user_per_day": 1})))
            .await;
        let users: Vec<String> = (1..=4).map(|n| format!("b-{n}")).collect();
        let grant = granted(&server, &json!({"template": template, "users": users})).await;
        let done = finished(&server, &grant).await;
        assert_eq!(done["done"], 2, "{done}");
        assert_eq!(done["skipped"]["budget_exhausted"], 2, "{done}");
        // The same users again, same day: a new grant. The two who got one
        // are refused by the daily limit (checked before the budget), the
        // other two by the budget.
        let again = granted(&server, &json!({"template": template, "users": users})).await;
        assert_ne!(again, grant);
        let again = finished(&server, &again).await;
        let skipped = &again["skipped"];
        assert_eq!(
            (
                &again["done"],
                &skipped["limit_reached"],
                &skipped["budget_exhausted"]
            ),
            (&json!(0), &json!(2), &json!(2)),
            "{again}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_grant_is_new_but_one_grant_never_grants_a_user_twice() {
    for server in servers().await {
        let template = server
            .active_template(&cash_with(json!({"per_user": 2})))
            .await;
        // The longest id accepted (128 bytes) is granted like any other.
        let longest = "z".repeat(128);
        let users = json!(["a-1", "a-2", "a-1", "a-1", longest]);
        let first = granted(&server, &json!({"template": template, "users": users})).await;
        let first_done = finished(&server, &first).await;
        assert_eq!(
            (
                &first_done["done"],
                &first_done["duplicates"],
                &first_done["failed"]
            ),
            (&json!(3), &json!(2), &json!(0)),
            "{first_done}"
        );
        // Running the job again (as a restarted node would) grants nothing more.
        server.app.run_grants().await.expect("a run");
        let held = coupons_per_user(&server, &template).await;
        assert_eq!((held["a-1"], held["a-2"], held[&longest]), (1, 1, 1));
        // Another POST is another grant: per_user 2 lets each have a second.
        let second = granted(
            &server,
            &json!({"template": template, "users": ["a-1", "a-2"]}),
        )
        .await;
        assert_eq!(finished(&server, &second).await["done"], 2);
        let third = granted(&server, &json!({"template": template, "users": ["a-1"]})).await;
        let third = finished(&server, &third).await;
        assert_eq!(third["skipped"]["limit_reached"], 1, "{third}");
        let held = coupons_per_user(&server, &template).await;
        assert_eq!((held["a-1"], held["a-2"]), (2, 2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_grant_reaches_the_members_the_mall_sent() {
    for server in servers().await {
        let template = server.active_template(&vip_cash(100)).await;
        let path = "/v1/segments/vip/members";
        let (status, body) = send(
            &server,
            reqwest::Method::PUT,
            path,
            "text/csv",
            "user_id\r\ns-1\r\ns-2\r\ns-3\r\ns-2\r\n",
        )
        .await;
        assert_eq!((status, &body["members"]), (200, &json!(3)), "{body}");
        let removed = server
            .delete("/v1/segments/vip/members/s-3", ADMIN_KEY)
            .await;
        assert_eq!(removed.expect(200)["members"], 2);
        let grant = granted(&server, &json!({"template": template, "segment": "vip"})).await;
        let done = finished(&server, &grant).await;
        assert_eq!(
            (&done["done"], &done["total"], &done["segment"]),
            (&json!(2), &json!(2), &json!("vip"))
        );
        // Listed by hand, s-3 (no longer tagged) is outside the VIP audience.
        let by_hand = granted(&server, &json!({"template": template, "users": ["s-3"]})).await;
        let by_hand = finished(&server, &by_hand).await;
        assert_eq!(by_hand["skipped"]["not_in_audience"], 1, "{by_hand}");
        // A CSV upload names the template in the query.
        let csv_path = format!("/v1/grants?template={template}&reason=csv");
        let (status, body) = send(
            &server,
            reqwest::Method::POST,
            &csv_path,
            "text/csv",
            "s-1\ns-4\n",
        )
        .await;
        assert_eq!(status, 202, "{body}");
        let csv = finished(&server, body["id"].as_str().unwrap()).await;
        assert_eq!(
            (
                &csv["total"],
                &csv["skipped"]["limit_reached"],
                &csv["skipped"]["not_in_audience"]
            ),
            (&json!(2), &json!(1), &json!(1)),
            "{csv}"
        );
        let empty = server
            .post(
                "/v1/grants",
                ADMIN_KEY,
                &json!({"template": template, "segment": "nobody"}),
            )
            .await;
        empty.expect_problem(422, "VALIDATION_FAILED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_grants_are_clear_problems_and_store_nothing() {
    for server in servers().await {
        let template = server.active_template(&template_json("grants")).await;
        let draft = server
            .create_template(ADMIN_KEY, &template_json("draft"))
            .await;
        let long = "x".repeat(129);
        let server = &server;
        let post = |body: Value| async move { server.post("/v1/grants", ADMIN_KEY, &body).await };
        post(json!({"template": "nope", "users": ["u-1"]}))
            .await
            .expect_problem(404, "TEMPLATE_NOT_FOUND");
        let state = post(json!({"template": draft, "users": ["u-1"]})).await;
        assert_eq!(
            state.expect_problem(409, "TEMPLATE_STATE")["template_status"],
            "draft"
        );
        post(json!({"template": template, "users": []}))
            .await
            .expect_problem(422, "VALIDATION_FAILED");
        let too_long = post(json!({"template": template, "users": ["u-1", long]})).await;
        assert_eq!(
            too_long.expect_problem(422, "VALIDATION_FAILED")["errors"][0]["field"],
            "users[1]"
        );
        post(json!({"template": template}))
            .await
            .expect_problem(422, "VALIDATION_FAILED");
        post(json!({"template": template, "users": ["u-1"], "segment": "vip"}))
            .await
            .expect_problem(422, "VALIDATION_FAILED");
        post(json!({"template": template, "users": ["u-1"], "extra": 1}))
            .await
            .expect_problem(400, "BAD_JSON");
        let reason = "长".repeat(1001);
        post(json!({"template": template, "users": ["u-1"], "reason": reason}))
            .await
            .expect_problem(422, "VALIDATION_FAILED");

        let csv_path = format!("/v1/grants?template={template}");
        let (status, body) = send(
            server,
            reqwest::Method::POST,
            &csv_path,
            "text/csv",
            "user_id\nu-1\nu-2,vip\n",
        )
        .await;
        assert_eq!((status, &body["code"]), (400, &json!("BAD_CSV")), "{body}");
        assert_eq!(body["errors"][0]["field"], "line 3");
        let (status, body) = send(
            server,
            reqwest::Method::POST,
            &csv_path,
            "text/csv",
            format!("u-1\n{}\n", "y".repeat(129)),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("VALIDATION_FAILED")),
            "{body}"
        );
        let (status, body) = send(
            server,
            reqwest::Method::POST,
            &csv_path,
            "text/csv",
            "user_id\n\n",
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("VALIDATION_FAILED")),
            "{body}"
        );
        let (status, body) = send(
            server,
            reqwest::Method::POST,
            "/v1/grants",
            "text/csv",
            "u-1\n",
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("VALIDATION_FAILED")),
            "{body}"
        );
        let (status, body) = send(
            server,
            reqwest::Method::POST,
            &csv_path,
            "text/plain",
            "u-1\n",
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (415, &json!("UNSUPPORTED_MEDIA_TYPE")),
            "{body}"
        );
        let (status, body) = send(
            server,
            reqwest::Method::PUT,
            "/v1/segments/a%20b/members",
            "application/json",
            r#"{"users":[]}"#,
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("VALIDATION_FAILED")),
            "{body}"
        );
        server
            .get("/v1/grants/gr_nope", ADMIN_KEY)
            .await
            .expect_problem(404, "GRANT_NOT_FOUND");
        server
            .get("/v1/grants/gr_nope/results", ADMIN_KEY)
            .await
            .expect_problem(404, "GRANT_NOT_FOUND");

        let list = server.get("/v1/grants", ADMIN_KEY).await;
        assert_eq!(
            list.expect(200)["items"],
            json!([]),
            "on {}",
            server.database
        );
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grant_users")
            .fetch_one(server.app.store().reader())
            .await
            .unwrap();
        assert_eq!(stored, 0);
        assert!(coupons_per_user(server, &template).await.is_empty());
    }
}
