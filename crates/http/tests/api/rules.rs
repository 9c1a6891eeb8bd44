//! Grant rules fired by the mall's events (SPEC §6.2.3) and redemption
//! codes (SPEC §6.2.4), over HTTP on every back end.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, servers, template_json};

fn template_with(name: &str, extra: Value) -> Value {
    let mut template = template_json(name);
    for (key, value) in extra.as_object().expect("an object") {
        template[key] = value.clone();
    }
    template
}

async fn rule(server: &TestServer, body: Value) -> String {
    let created = server.post("/v1/grant-rules", ADMIN_KEY, &body).await;
    created.expect(201)["id"]
        .as_str()
        .expect("a rule id")
        .to_owned()
}

async fn post_event(server: &TestServer, body: Value) -> Value {
    let mall = server.key("service").await;
    server
        .post("/v1/events", &mall, &body)
        .await
        .expect(200)
        .clone()
}

/// The codes of a new batch of `count` for `template`, once made.
async fn codes(server: &TestServer, template: &str, count: u64) -> Vec<String> {
    let path = format!("/v1/templates/{template}/code-batches");
    let started = server
        .post(&path, ADMIN_KEY, &json!({"count": count}))
        .await;
    let batch = started.expect(202)["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = server
            .get(&format!("/v1/code-batches/{batch}"), ADMIN_KEY)
            .await;
        if answer.expect(200)["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "{batch} still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let csv = reqwest::Client::new()
        .get(server.url(&format!("/v1/code-batches/{batch}/codes.csv")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("text");
    csv.lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap_or_default().to_owned())
        .collect()
}

async fn wallet_codes(server: &TestServer, user: &str) -> Vec<Value> {
    let wallet = server
        .get(&format!("/v1/users/{user}/coupons"), ADMIN_KEY)
        .await;
    wallet.expect(200)["items"]
        .as_array()
        .expect("items")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_rule_grants_from_its_amount_and_an_event_id_grants_once() {
    for server in servers().await {
        let template = server
            .active_template(&template_with(
                "消费满100送券",
                json!({"limits": {"per_user": 5}}),
            ))
            .await;
        let rule_id = rule(
            &server,
            json!({"name": "消费后送券", "event_type": "order.completed",
                   "conditions": {"min_amount": 10000}, "templates": [template]}),
        )
        .await;
        let below = post_event(
            &server,
            json!({"id": "e-1", "type": "order.completed", "user": {"id": "u-1"},
                   "data": {"amount": 9999, "order_id": "o-1"}}),
        )
        .await;
        assert_eq!(below["grants"], json!([]), "{}", server.database);

        let event = json!({"id": "e-2", "type": "order.completed", "user": {"id": "u-1"},
                           "data": {"amount": 10000, "order_id": "o-2"}});
        let first = post_event(&server, event.clone()).await;
        assert_eq!(first["duplicate"], false);
        let grants = first["grants"].as_array().expect("grants").clone();
        assert_eq!(grants.len(), 1, "{first}");
        assert_eq!(
            (
                &grants[0]["rule_id"],
                &grants[0]["outcome"],
                &grants[0]["user_id"]
            ),
            (&json!(rule_id), &json!("granted"), &json!("u-1"))
        );
        let coupon = grants[0]["coupon"].as_str().expect("a coupon").to_owned();

        // Posted again, alone and then ten times at once: the first answer.
        let again = post_event(&server, event.clone()).await;
        assert_eq!(again["duplicate"], true);
        assert_eq!(again["grants"], first["grants"]);
        let storm = json!({"id": "e-3", "type": "order.completed", "user": {"id": "u-1"},
                           "data": {"amount": 50000}});
        let mall = server.key("service").await;
        let posts: Vec<_> = (0..10)
            .map(|_| server.post("/v1/events", &mall, &storm))
            .collect();
        let answers = futures::future::join_all(posts).await;
        let granted: Vec<Value> = answers
            .iter()
            .map(|a| a.expect(200)["grants"][0]["coupon"].clone())
            .collect();
        assert!(
            granted.iter().all(|c| c == &granted[0] && c.is_string()),
            "{granted:?}"
        );

        let wallet = wallet_codes(&server, "u-1").await;
        assert_eq!(wallet.len(), 2, "{wallet:?}");
        assert!(wallet.iter().all(|c| c["source"] == "rule"));
        assert!(wallet.iter().any(|c| c["code"] == coupon.as_str()));

        // The same id with other content is a conflict and grants nothing.
        let mut changed = event;
        changed["data"]["amount"] = json!(20000);
        server
            .post("/v1/events", &mall, &changed)
            .await
            .expect_problem(409, "IDEMPOTENCY_CONFLICT");
        assert_eq!(wallet_codes(&server, "u-1").await.len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invites_reward_the_inviter_and_grants_keep_the_templates_limits_and_audience() {
    for server in servers().await {
        let gift = server.active_template(&template_json("邀请有礼")).await;
        let welcome = server
            .active_template(&template_with(
                "新人礼包",
                json!({"audience": {"new_users_only": true}}),
            ))
            .await;
        rule(
            &server,
            json!({"name": "邀请有礼", "event_type": "user.invited", "recipient": "inviter",
                   "templates": [gift]}),
        )
        .await;
        rule(
            &server,
            json!({"name": "新人礼包", "event_type": "user.registered", "templates": [welcome, gift]}),
        )
        .await;
        let invited = post_event(
            &server,
            json!({"id": "i-1", "type": "user.invited", "user": {"id": "new-1"},
                   "data": {"inviter": "old-1"}}),
        )
        .await;
        assert_eq!(
            invited["grants"][0]["user_id"], "old-1",
            "{}",
            server.database
        );
        assert_eq!(invited["grants"][0]["outcome"], "granted");
        assert_eq!(wallet_codes(&server, "old-1").await.len(), 1);
        assert!(wallet_codes(&server, "new-1").await.is_empty());

        // A new user gets both; a user who is not new only the gift, and the
        // gift's per_user limit refuses a second one.
        let registered = post_event(
            &server,
            json!({"id": "r-1", "type": "user.registered", "user": {"id": "new-1", "new_user": true}}),
        )
        .await;
        let outcomes: Vec<&Value> = registered["grants"]
            .as_array()
            .expect("grants")
            .iter()
            .map(|g| &g["outcome"])
            .collect();
        assert_eq!(outcomes, [&json!("granted"), &json!("granted")]);
        let old = post_event(
            &server,
            json!({"id": "r-2", "type": "user.registered", "user": {"id": "old-1"}}),
        )
        .await;
        let refusals: Vec<&Value> = old["grants"]
            .as_array()
            .expect("grants")
            .iter()
            .map(|g| &g["refusal"])
            .collect();
        assert_eq!(
            refusals,
            [&json!("NOT_IN_AUDIENCE"), &json!("PER_USER_LIMIT")],
            "{old}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_and_recall_conditions_and_a_disabled_rule_grant_only_when_they_hold() {
    for server in servers().await {
        let template = server
            .active_template(&template_with(
                "任务奖励",
                json!({"limits": {"per_user": 9}}),
            ))
            .await;
        let task_rule = rule(
            &server,
            json!({"name": "签到", "event_type": "task.completed", "conditions": {"task": "check-in"},
                   "templates": [template]}),
        )
        .await;
        rule(
            &server,
            json!({"name": "召回", "event_type": "user.inactive", "conditions": {"min_inactive_days": 30},
                   "templates": [template]}),
        )
        .await;
        let count = |answer: &Value| answer["grants"].as_array().map_or(0, Vec::len);
        let other_task = json!({"id": "t-1", "type": "task.completed", "user": {"id": "u-1"}, "data": {"task": "share"}});
        assert_eq!(count(&post_event(&server, other_task).await), 0);
        let check_in = json!({"id": "t-2", "type": "task.completed", "user": {"id": "u-1"}, "data": {"task": "check-in"}});
        assert_eq!(count(&post_event(&server, check_in).await), 1);
        let recent = json!({"id": "a-1", "type": "user.inactive", "user": {"id": "u-1"}, "data": {"inactive_days": 29}});
        assert_eq!(count(&post_event(&server, recent).await), 0);
        let lapsed = json!({"id": "a-2", "type": "user.inactive", "user": {"id": "u-1"}, "data": {"inactive_days": 30}});
        assert_eq!(count(&post_event(&server, lapsed).await), 1);

        let off = server
            .patch(
                &format!("/v1/grant-rules/{task_rule}"),
                ADMIN_KEY,
                &json!({"enabled": false}),
            )
            .await;
        assert_eq!(off.expect(200)["enabled"], false);
        let later = json!({"id": "t-3", "type": "task.completed", "user": {"id": "u-1"}, "data": {"task": "check-in"}});
        assert_eq!(count(&post_event(&server, later).await), 0);
        assert_eq!(
            wallet_codes(&server, "u-1").await.len(),
            2,
            "{}",
            server.database
        );
        let listed = server.get("/v1/grant-rules", ADMIN_KEY).await;
        assert_eq!(
            listed.expect(200)["items"].as_array().map(Vec::len),
            Some(2)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_and_events_are_refused_and_store_nothing() {
    for server in servers().await {
        let template = server.active_template(&template_json("t")).await;
        let cases = [
            (
                json!({"name": "x", "event_type": "user.born", "templates": [template]}),
                422,
                "VALIDATION_FAILED",
            ),
            (
                json!({"name": "x", "event_type": "user.registered", "conditions": {"min_amount": 1}, "templates": [template]}),
                422,
                "VALIDATION_FAILED",
            ),
            (
                json!({"name": "x", "event_type": "user.registered", "recipient": "inviter", "templates": [template]}),
                422,
                "VALIDATION_FAILED",
            ),
            (
                json!({"name": "x", "event_type": "user.registered", "templates": []}),
                422,
                "VALIDATION_FAILED",
            ),
            (
                json!({"name": "", "event_type": "user.registered", "templates": [template]}),
                422,
                "VALIDATION_FAILED",
            ),
            (
                json!({"name": "x", "event_type": "user.registered", "templates": ["tpl_nosuch"]}),
                404,
                "TEMPLATE_NOT_FOUND",
            ),
        ];
        for (body, status, code) in cases {
            server
                .post("/v1/grant-rules", ADMIN_KEY, &body)
                .await
                .expect_problem(status, code);
        }
        let listed = server.get("/v1/grant-rules", ADMIN_KEY).await;
        assert_eq!(
            listed.expect(200)["items"],
            json!([]),
            "{}",
            server.database
        );
        server
            .get("/v1/grant-rules/rule_nosuch", ADMIN_KEY)
            .await
            .expect_problem(404, "GRANT_RULE_NOT_FOUND");

        let events = [
            json!({"id": "e", "type": "user.born", "user": {"id": "u-1"}}),
            json!({"id": "e", "type": "order.completed", "user": {"id": "u-1"}}),
            json!({"id": "e", "type": "order.completed", "user": {"id": "u-1"}, "data": {"amount": -1}}),
            json!({"id": "e", "type": "user.invited", "user": {"id": "u-1"}}),
            json!({"id": "", "type": "user.registered", "user": {"id": "u-1"}}),
        ];
        for event in events {
            server
                .post("/v1/events", ADMIN_KEY, &event)
                .await
                .expect_problem(422, "VALIDATION_FAILED");
        }
        // None of those was stored: the id is still free.
        let fine = json!({"id": "e", "type": "user.registered", "user": {"id": "u-1"}});
        assert_eq!(post_event(&server, fine).await["duplicate"], false);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redemption_code_becomes_the_users_once_and_failures_are_counted() {
    for server in servers().await {
        let template = server.active_template(&template_json("兑换券")).await;
        let batch = codes(&server, &template, 3).await;
        assert_eq!(batch.len(), 3);
        let user = server.user_token("u-1");
        let exchange = |code: String, user_id: &'static str, bearer: String| {
            let server = &server;
            async move {
                let body = json!({"user": {"id": user_id}, "context": {"ip": "10.0.0.9"}});
                server
                    .post(&format!("/v1/codes/{code}/exchange"), &bearer, &body)
                    .await
            }
        };
        // Typed in lower case with a hyphen: still the code.
        let typed = format!("{}-{}", &batch[0][..4], &batch[0][4..]).to_lowercase();
        let first = exchange(typed, "u-1", user.clone()).await;
        let coupon = first.expect(201).clone();
        assert_eq!(
            (&coupon["code"], &coupon["user_id"], &coupon["state"]),
            (&json!(batch[0]), &json!("u-1"), &json!("available")),
            "{}",
            server.database
        );
        assert_eq!(coupon["valid_from"], "2026-12-05T12:00:00Z");
        let again = exchange(batch[0].clone(), "u-1", user.clone()).await;
        assert_eq!(again.expect(201), &coupon);
        let wallet = wallet_codes(&server, "u-1").await;
        assert_eq!(wallet.len(), 1);

        // per_user 1: a second code is refused; another user cannot take the first.
        exchange(batch[1].clone(), "u-1", user.clone())
            .await
            .expect_problem(409, "PER_USER_LIMIT");
        let other = server.user_token("u-2");
        exchange(batch[0].clone(), "u-2", other.clone())
            .await
            .expect_problem(409, "CODE_ALREADY_USED");
        exchange("NOT-A-CODE".into(), "u-2", other.clone())
            .await
            .expect_problem(422, "CODE_MALFORMED");
        // A well-formed code that was never made.
        let unmade = couponflow_core::code::generate("", 12_345, 12).expect("a code");
        exchange(unmade, "u-2", other.clone())
            .await
            .expect_problem(404, "CODE_NOT_FOUND");
        // A user token cannot exchange for someone else.
        exchange(batch[1].clone(), "u-2", user.clone())
            .await
            .expect_problem(403, "FORBIDDEN");

        let failures = server.get("/v1/code-failures/user:u-2", ADMIN_KEY).await;
        let failures = failures.expect(200).clone();
        assert_eq!(
            (&failures["today"], &failures["total"]),
            (&json!(3), &json!(3)),
            "{failures}"
        );
        let by_ip = server.get("/v1/code-failures/ip:10.0.0.9", ADMIN_KEY).await;
        assert_eq!(by_ip.expect(200)["today"], 3);
        // A refusal under the limits is not a guess.
        let mine = server.get("/v1/code-failures/user:u-1", ADMIN_KEY).await;
        assert_eq!(mine.expect(200)["total"], 0);

        // The bound code left `generated` for `issued`: two unbound remain.
        let stock = server
            .get(&format!("/v1/templates/{template}"), ADMIN_KEY)
            .await;
        let stock = stock.expect(200).clone();
        assert_eq!(
            (&stock["issued"], &stock["generated"]),
            (&json!(1), &json!(2)),
            "{stock}"
        );
    }
}
