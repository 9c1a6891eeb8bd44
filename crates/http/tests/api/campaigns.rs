//! Campaigns over HTTP (SPEC §6.1, §6.2.1): the life cycle and its
//! refusals, validation, every claim refusal code in its order, claims
//! that cost points, and the claim centre.

use chrono::Duration;
use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, now, servers, template_json};

fn at(offset: Duration) -> String {
    (now() + offset).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A campaign from a day ago for a week, offering `templates`, with
/// `extra` laid over it.
fn campaign_json(templates: Value, extra: Value) -> Value {
    let mut campaign = json!({
        "name": "双12 领券中心", "description": "活动规则：每人每券限领一张",
        "image": "https://cdn.example/1212.png",
        "starts_at": at(-Duration::days(1)), "ends_at": at(Duration::days(6)),
        "share": {"title": "双12 抢券", "image": "https://cdn.example/share.png", "text": "快来领券"},
        "templates": templates
    });
    for (key, value) in extra.as_object().expect("an object") {
        campaign[key] = value.clone();
    }
    campaign
}

fn template_with(name: &str, extra: Value) -> Value {
    let mut template = template_json(name);
    for (key, value) in extra.as_object().expect("an object") {
        template[key] = value.clone();
    }
    template
}

async fn create(server: &TestServer, campaign: &Value) -> String {
    let created = server.post("/v1/campaigns", ADMIN_KEY, campaign).await;
    created.expect(201)["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// Created and scheduled: running, since its window is open.
async fn running(server: &TestServer, campaign: &Value) -> String {
    let id = create(server, campaign).await;
    let scheduled = server
        .act(&format!("/v1/campaigns/{id}/schedule"), ADMIN_KEY)
        .await;
    assert_eq!(scheduled.expect(200)["status"], "running");
    id
}

async fn step(server: &TestServer, id: &str, action: &str, key: &str) -> crate::harness::Answer {
    server
        .act(&format!("/v1/campaigns/{id}/{action}"), key)
        .await
}

async fn claim(
    server: &TestServer,
    campaign: &str,
    template: &str,
    user: Value,
    request: &str,
) -> crate::harness::Answer {
    let body = json!({"template": template, "user": user, "request_id": request});
    server
        .post(
            &format!("/v1/campaigns/{campaign}/claims"),
            ADMIN_KEY,
            &body,
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_goes_from_draft_to_running_paused_and_ended_and_refuses_other_steps() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let operator = server.key("operator").await;
        let body = campaign_json(json!([{"template": template}]), json!({}));
        let created = server.post("/v1/campaigns", &operator, &body).await;
        let view = created.expect(201).clone();
        let id = view["id"].as_str().expect("an id").to_owned();
        assert_eq!(created.location, Some(format!("/v1/campaigns/{id}")));
        assert_eq!(
            (view["status"].as_str(), view["version"].as_i64()),
            (Some("draft"), Some(1))
        );
        assert_eq!(view["share"]["title"], "双12 抢券", "{}", server.database);
        step(&server, &id, "pause", &operator)
            .await
            .expect_problem(409, "CAMPAIGN_STATE");
        assert_eq!(
            step(&server, &id, "schedule", &operator).await.expect(200)["status"],
            "running"
        );
        step(&server, &id, "schedule", &operator)
            .await
            .expect_problem(409, "CAMPAIGN_STATE");
        assert_eq!(
            step(&server, &id, "pause", &operator).await.expect(200)["status"],
            "paused"
        );
        let again = step(&server, &id, "pause", &operator).await;
        let problem = again.expect_problem(409, "CAMPAIGN_STATE");
        assert_eq!(
            (
                problem["campaign_status"].as_str(),
                problem["action"].as_str()
            ),
            (Some("paused"), Some("paused"))
        );
        assert_eq!(
            step(&server, &id, "resume", &operator).await.expect(200)["status"],
            "running"
        );
        let mut renamed = body.clone();
        renamed["name"] = json!("双12 领券中心（加场）");
        let changed = server
            .patch(&format!("/v1/campaigns/{id}"), &operator, &renamed)
            .await;
        assert_eq!(changed.expect(200)["name"], "双12 领券中心（加场）");
        assert_eq!(
            step(&server, &id, "end", &operator).await.expect(200)["status"],
            "ended"
        );
        step(&server, &id, "resume", &operator)
            .await
            .expect_problem(409, "CAMPAIGN_STATE");
        step(&server, &id, "end", &operator)
            .await
            .expect_problem(409, "CAMPAIGN_STATE");
        let frozen = server
            .patch(&format!("/v1/campaigns/{id}"), &operator, &body)
            .await;
        frozen.expect_problem(409, "CAMPAIGN_STATE");
        let read = server
            .get(&format!("/v1/campaigns/{id}"), &server.key("finance").await)
            .await;
        assert_eq!(
            (
                read.expect(200)["status"].as_str(),
                read.body["version"].as_i64()
            ),
            (Some("ended"), Some(6))
        );

        // A campaign that starts tomorrow is scheduled, then runs, then ends by itself.
        let later = campaign_json(
            json!([{"template": template}]),
            json!({"starts_at": at(Duration::days(1)), "ends_at": at(Duration::days(2))}),
        );
        let later = create(&server, &later).await;
        let scheduled = server
            .act(&format!("/v1/campaigns/{later}/schedule"), ADMIN_KEY)
            .await;
        assert_eq!(scheduled.expect(200)["status"], "scheduled");
        server.clock.advance(Duration::days(1));
        let read = server
            .get(&format!("/v1/campaigns/{later}"), ADMIN_KEY)
            .await;
        assert_eq!(read.expect(200)["status"], "running");
        server.clock.advance(Duration::days(2));
        let read = server
            .get(&format!("/v1/campaigns/{later}"), ADMIN_KEY)
            .await;
        assert_eq!(read.expect(200)["status"], "ended", "{}", server.database);
        server
            .get("/v1/campaigns/NOSUCH", ADMIN_KEY)
            .await
            .expect_problem(404, "CAMPAIGN_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_campaign_is_refused_with_every_broken_rule_and_nothing_is_stored() {
    for server in servers().await {
        let active = server.active_template(&template_json("满300减50")).await;
        let draft = server
            .create_template(ADMIN_KEY, &template_json("草稿"))
            .await;
        let bad = campaign_json(
            json!([{"template": active, "points": 0},
                   {"template": active},
                   {"template": draft},
                   {"template": "NOSUCH"},
                   {"template": "x", "claim_window": {"from": at(-Duration::days(3))}}]),
            json!({"ends_at": at(-Duration::days(2)), "rollout": {"percent": 101}}),
        );
        let refused = server.post("/v1/campaigns", ADMIN_KEY, &bad).await;
        let problem = refused.expect_problem(422, "INVALID_CAMPAIGN");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().expect("a field"))
            .collect();
        assert_eq!(
            fields,
            [
                "ends_at",
                "rollout.percent",
                "templates[0].points",
                "templates[1].template",
                "templates[4].claim_window.from",
                "templates[2].template",
                "templates[3].template",
                "templates[4].template"
            ],
            "{}",
            server.database
        );
        let list = server.get("/v1/campaigns", ADMIN_KEY).await;
        assert_eq!(list.expect(200)["items"], json!([]));
        let unknown = campaign_json(json!([]), json!({"colour": "red"}));
        server
            .post("/v1/campaigns", ADMIN_KEY, &unknown)
            .await
            .expect_problem(400, "BAD_JSON");
        // A draft without templates is kept, but cannot be scheduled.
        let empty = create(&server, &campaign_json(json!([]), json!({}))).await;
        let scheduled = server
            .act(&format!("/v1/campaigns/{empty}/schedule"), ADMIN_KEY)
            .await;
        scheduled.expect_problem(422, "VALIDATION_FAILED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaigns_are_listed_a_page_at_a_time() {
    for server in servers().await {
        for n in 0..3 {
            let body = campaign_json(json!([]), json!({"id": format!("c-{n}")}));
            create(&server, &body).await;
        }
        let first = server.get("/v1/campaigns?limit=2", ADMIN_KEY).await;
        let ids: Vec<&str> = first.expect(200)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|c| c["id"].as_str().expect("an id"))
            .collect();
        assert_eq!(ids, ["c-0", "c-1"], "{}", server.database);
        let cursor = first.body["next_cursor"].as_str().expect("a cursor");
        let rest = server
            .get(&format!("/v1/campaigns?limit=2&cursor={cursor}"), ADMIN_KEY)
            .await;
        assert_eq!(rest.expect(200)["items"][0]["id"], "c-2");
        assert_eq!(rest.body["next_cursor"], Value::Null);
        let again = server
            .post(
                "/v1/campaigns",
                ADMIN_KEY,
                &campaign_json(json!([]), json!({"id": "c-0"})),
            )
            .await;
        again.expect_problem(409, "CONFLICT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_of_a_campaign_claim_refuses_with_its_own_code() {
    for server in servers().await {
        let plain = server
            .active_template(&template_with(
                "满300减50",
                json!({"limits": {"per_user": 1}}),
            ))
            .await;
        let daily = server
            .active_template(&template_with(
                "每日券",
                json!({"limits": {"per_user_per_day": 1}}),
            ))
            .await;
        let stock = server
            .active_template(&template_with("限量券", json!({"limits": {"total": 1}})))
            .await;
        let budget = server
            .active_template(&template_with(
                "预算券",
                json!({"limits": {"budget": 5000}}),
            ))
            .await;
        let paused = server.active_template(&template_json("暂停券")).await;
        let mut entries = vec![
            json!({"template": plain}),
            json!({"template": daily}),
            json!({"template": stock}),
            json!({"template": budget}),
            json!({"template": paused}),
        ];
        let soon = server.active_template(&template_json("未开始")).await;
        let over = server.active_template(&template_json("已结束")).await;
        entries.push(json!({"template": soon, "claim_window": {"from": at(Duration::hours(1))}}));
        entries.push(json!({"template": over, "claim_window": {"until": at(-Duration::hours(1))}}));
        let all = running(
            &server,
            &campaign_json(Value::Array(entries.clone()), json!({})),
        )
        .await;
        server
            .act(&format!("/v1/templates/{paused}/pause"), ADMIN_KEY)
            .await
            .expect(200);
        let u = |id: &str| json!({"id": id});
        let cases = [
            (plain.as_str(), json!({"id": ""}), "USER_UNKNOWN"),
            (soon.as_str(), u("u-1"), "CLAIM_NOT_STARTED"),
            (over.as_str(), u("u-1"), "CLAIM_ENDED"),
            (paused.as_str(), u("u-1"), "TEMPLATE_NOT_ACTIVE"),
        ];
        for (n, (template, user, code)) in cases.into_iter().enumerate() {
            let answer = claim(&server, &all, template, user, &format!("r-{n}")).await;
            answer.expect_problem(409, code);
        }
        for (template, code) in [
            (&plain, "PER_USER_LIMIT"),
            (&daily, "PER_DAY_LIMIT"),
            (&stock, "SOLD_OUT"),
            (&budget, "BUDGET_EXHAUSTED"),
        ] {
            claim(&server, &all, template, u("u-1"), &format!("{template}-1"))
                .await
                .expect(201);
            let user = if code == "SOLD_OUT" || code == "BUDGET_EXHAUSTED" {
                "u-2"
            } else {
                "u-1"
            };
            let second = claim(&server, &all, template, u(user), &format!("{template}-2")).await;
            second.expect_problem(409, code);
        }
        claim(&server, &all, "NOSUCH", u("u-1"), "r-x")
            .await
            .expect_problem(422, "TEMPLATE_NOT_IN_CAMPAIGN");
        let missing = server
            .post(
                "/v1/campaigns/NOSUCH/claims",
                ADMIN_KEY,
                &json!({"template": plain, "user": {"id": "u-1"}, "request_id": "r"}),
            )
            .await;
        missing.expect_problem(404, "CAMPAIGN_NOT_FOUND");
        let long = claim(&server, &all, &plain, u("u-1"), &"r".repeat(129)).await;
        long.expect_problem(422, "VALIDATION_FAILED");

        // The campaign's own audience, channel and rollout.
        let fresh = server.active_template(&template_json("新券")).await;
        let entry = json!([{"template": fresh}]);
        let vip = running(
            &server,
            &campaign_json(entry.clone(), json!({"audience": {"tags_any": ["vip"]}})),
        )
        .await;
        claim(&server, &vip, &fresh, u("u-1"), "a-1")
            .await
            .expect_problem(409, "NOT_IN_AUDIENCE");
        let app = running(
            &server,
            &campaign_json(entry.clone(), json!({"channels": ["app"]})),
        )
        .await;
        claim(
            &server,
            &app,
            &fresh,
            json!({"id": "u-1", "channel": "web"}),
            "c-1",
        )
        .await
        .expect_problem(409, "CHANNEL");
        let gray = running(
            &server,
            &campaign_json(entry.clone(), json!({"rollout": {"percent": 0}})),
        )
        .await;
        claim(&server, &gray, &fresh, u("u-1"), "g-1")
            .await
            .expect_problem(409, "NOT_IN_ROLLOUT");
        let tagged = running(
            &server,
            &campaign_json(entry.clone(), json!({"rollout": {"tags": ["beta"]}})),
        )
        .await;
        claim(&server, &tagged, &fresh, u("u-1"), "t-1")
            .await
            .expect_problem(409, "NOT_IN_ROLLOUT");
        claim(
            &server,
            &tagged,
            &fresh,
            json!({"id": "u-1", "tags": ["beta"]}),
            "t-2",
        )
        .await
        .expect(201);
        let draft = create(&server, &campaign_json(entry.clone(), json!({}))).await;
        claim(&server, &draft, &fresh, u("u-2"), "d-1")
            .await
            .expect_problem(409, "CAMPAIGN_NOT_RUNNING");
        let later = campaign_json(
            entry.clone(),
            json!({"starts_at": at(Duration::days(1)), "ends_at": at(Duration::days(2))}),
        );
        let later = create(&server, &later).await;
        server
            .act(&format!("/v1/campaigns/{later}/schedule"), ADMIN_KEY)
            .await
            .expect(200);
        claim(&server, &later, &fresh, u("u-2"), "l-1")
            .await
            .expect_problem(409, "CLAIM_NOT_STARTED");
        // The order: not running comes before the audience, the audience before the rollout.
        let both = running(
            &server,
            &campaign_json(
                entry,
                json!({"audience": {"tags_any": ["vip"]}, "rollout": {"percent": 0}}),
            ),
        )
        .await;
        claim(&server, &both, &fresh, u("u-3"), "o-1")
            .await
            .expect_problem(409, "NOT_IN_AUDIENCE");
        server
            .act(&format!("/v1/campaigns/{both}/pause"), ADMIN_KEY)
            .await
            .expect(200);
        claim(&server, &both, &fresh, u("u-3"), "o-2")
            .await
            .expect_problem(409, "CAMPAIGN_NOT_RUNNING");
        server.clock.advance(Duration::days(7));
        claim(
            &server,
            &tagged,
            &fresh,
            json!({"id": "u-4", "tags": ["beta"]}),
            "t-3",
        )
        .await
        .expect_problem(409, "CLAIM_ENDED");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_that_costs_points_debits_them_and_a_short_balance_refuses_it() {
    for server in servers().await {
        let template = server
            .active_template(&template_with(
                "积分兑换券",
                json!({"limits": {"per_user": 5}}),
            ))
            .await;
        let campaign = running(
            &server,
            &campaign_json(json!([{"template": template, "points": 300}]), json!({})),
        )
        .await;
        let credit = json!({"amount": 500, "reason": "积分活动", "idempotency_key": "c-1"});
        server
            .post(
                "/v1/users/u-1/balances/points/adjustments",
                ADMIN_KEY,
                &credit,
            )
            .await
            .expect(200);
        let user = server.user_token("u-1");
        let body = |request: &str| json!({"template": template, "user": {"id": "u-1"}, "request_id": request});
        let path = format!("/v1/campaigns/{campaign}/claims");
        let first = server
            .post(&path, &user, &body("r-1"))
            .await
            .expect(201)
            .clone();
        let short = server.post(&path, &user, &body("r-2")).await;
        short.expect_problem(409, "INSUFFICIENT_POINTS");
        let retry = server.post(&path, &user, &body("r-1")).await;
        assert_eq!(retry.expect(201), &first, "{}", server.database);
        let balances = server.get("/v1/users/u-1/balances", &user).await;
        let points = balances.expect(200)["balances"]
            .as_array()
            .expect("balances")
            .iter()
            .find(|b| b["kind"] == "points")
            .expect("points")["balance"]
            .clone();
        assert_eq!(points, 200, "{}", server.database);
        let other = server.user_token("u-2");
        server
            .post(&path, &other, &body("r-3"))
            .await
            .expect_problem(403, "FORBIDDEN");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claim_centre_shows_what_the_user_may_still_claim() {
    for server in servers().await {
        let limited = server
            .active_template(&template_with(
                "限量券",
                json!({"limits": {"total": 5, "per_user": 2}}),
            ))
            .await;
        let daily = server
            .active_template(&template_with(
                "每日券",
                json!({"limits": {"per_user_per_day": 1}}),
            ))
            .await;
        let entries = json!([{"template": limited}, {"template": daily, "points": 100}]);
        let campaign = running(&server, &campaign_json(entries, json!({}))).await;
        let beta = server.active_template(&template_json("内测券")).await;
        running(
            &server,
            &campaign_json(
                json!([{"template": beta}]),
                json!({"rollout": {"tags": ["beta"]}}),
            ),
        )
        .await;
        for (user, request) in [("u-2", "a"), ("u-2", "b"), ("u-1", "c")] {
            claim(&server, &campaign, &limited, json!({"id": user}), request)
                .await
                .expect(201);
        }
        let token = server.user_token("u-1");
        let centre = server.get("/v1/users/u-1/claim-centre", &token).await;
        let body = centre.expect(200);
        assert_eq!(body["user_id"], "u-1");
        let campaigns = body["campaigns"].as_array().expect("campaigns");
        assert_eq!(campaigns.len(), 1, "{}: {body}", server.database);
        assert_eq!(campaigns[0]["id"], campaign.as_str());
        assert_eq!(campaigns[0]["description"], "活动规则：每人每券限领一张");
        let templates = &campaigns[0]["templates"];
        // 5 - 3 = 2 left; u-1 holds 1 of per_user 2: one more.
        assert_eq!(
            (
                &templates[0]["remaining"],
                &templates[0]["held"],
                &templates[0]["may_claim"]
            ),
            (&json!(2), &json!(1), &json!(1)),
            "{}",
            server.database
        );
        assert_eq!(templates[0]["refusal"], Value::Null);
        assert_eq!(
            (
                &templates[1]["remaining"],
                &templates[1]["may_claim"],
                &templates[1]["points"]
            ),
            (&Value::Null, &json!(1), &json!(100))
        );
        let staff = server.key("reviewer").await;
        let beta_view = server
            .get("/v1/users/u-2/claim-centre?tags=beta,vip", &staff)
            .await;
        let beta_body = beta_view.expect(200);
        assert_eq!(
            beta_body["campaigns"].as_array().expect("campaigns").len(),
            2
        );
        // u-2 holds 2 of per_user 2.
        let shown = beta_body["campaigns"].as_array().expect("campaigns");
        let first = shown
            .iter()
            .find(|c| c["id"] == campaign.as_str())
            .expect("the campaign");
        let t = &first["templates"][0];
        assert_eq!(
            (&t["may_claim"], &t["refusal"]),
            (&json!(0), &json!("PER_USER_LIMIT")),
            "{}",
            server.database
        );
        let other = server.get("/v1/users/u-2/claim-centre", &token).await;
        other.expect_problem(403, "FORBIDDEN");
        let bad = server
            .get("/v1/users/u-1/claim-centre?colour=red", &token)
            .await;
        bad.expect_problem(400, "BAD_QUERY");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_over_http_stop_exactly_at_stock_with_no_user_above_the_limit() {
    use std::collections::HashMap;
    use std::sync::Arc;
    for server in servers().await {
        let limits = json!({"limits": {"total": 200, "per_user": 2}});
        let template = server
            .active_template(&template_with("秒杀券", limits))
            .await;
        let campaign = running(
            &server,
            &campaign_json(json!([{"template": template}]), json!({})),
        )
        .await;
        let url = server.url(&format!("/v1/campaigns/{campaign}/claims"));
        let client = reqwest::Client::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(64));
        let mut calls = tokio::task::JoinSet::new();
        // 1,000 claims from 300 users; the first 400 from 50 users asking eight times.
        for n in 0..1_000 {
            let user = format!("u-{}", if n < 400 { n % 50 } else { n % 300 });
            let body =
                json!({"template": template, "user": {"id": user}, "request_id": format!("r-{n}")});
            let (client, url, gate) = (client.clone(), url.clone(), gate.clone());
            calls.spawn(async move {
                let _permit = gate.acquire().await.expect("the gate");
                let answer = client
                    .post(url)
                    .bearer_auth(ADMIN_KEY)
                    .json(&body)
                    .send()
                    .await
                    .expect("an answer");
                let status = answer.status().as_u16();
                let body: Value = answer.json().await.expect("JSON");
                (user, status, body)
            });
        }
        let mut per_user: HashMap<String, usize> = HashMap::new();
        let mut codes: HashMap<String, usize> = HashMap::new();
        while let Some(done) = calls.join_next().await {
            let (user, status, body) = done.expect("the call ran");
            let code = match status {
                201 => "OK".to_owned(),
                _ => body["code"].as_str().unwrap_or("?").to_owned(),
            };
            if status == 201 {
                *per_user.entry(user).or_default() += 1;
            }
            *codes.entry(code).or_default() += 1;
        }
        assert_eq!(
            codes.get("OK"),
            Some(&200),
            "{}: {codes:?}",
            server.database
        );
        let refused: usize = ["SOLD_OUT", "PER_USER_LIMIT"]
            .iter()
            .filter_map(|c| codes.get(*c))
            .sum();
        assert_eq!(refused, 800, "{}: {codes:?}", server.database);
        assert!(per_user.values().all(|&n| n <= 2), "{}", server.database);
        let read = server
            .get(&format!("/v1/templates/{template}"), ADMIN_KEY)
            .await;
        assert_eq!(read.expect(200)["issued"], 200, "{}", server.database);
    }
}
