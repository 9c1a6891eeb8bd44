//! `POST /v1/templates/{id}/claims` (SPEC §6.2.1): the coupon lands in the
//! wallet, a replay answers the same, and every refusal is a 409 with its code.

use chrono::Duration;
use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, now, servers, template_json};

/// `template_json` with `extra` laid over it.
fn template_with(name: &str, extra: Value) -> Value {
    let mut template = template_json(name);
    for (key, value) in extra.as_object().expect("an object") {
        template[key] = value.clone();
    }
    template
}

fn at(offset: Duration) -> String {
    (now() + offset).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_puts_the_coupon_in_the_wallet_and_a_replay_answers_the_same_coupon() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let user = server.user_token("u-1");
        let claimed = server.claim(&user, &template, "u-1", "req-1").await;
        let coupon = claimed.expect(201).clone();
        let code = coupon["code"].as_str().expect("a code").to_owned();
        let expected = json!({"code": code, "template_id": template, "user_id": "u-1",
                              "valid_from": "2026-12-05T12:00:00Z",
                              "valid_until": "2027-01-04T12:00:00Z", "state": "available"});
        assert_eq!(coupon, expected, "{}", server.database);
        assert_eq!(claimed.location, Some(format!("/v1/coupons/{code}")));

        let replay = server.claim(&user, &template, "u-1", "req-1").await;
        assert_eq!(replay.expect(201), &expected);
        let wallet = server.get("/v1/users/u-1/coupons", &user).await;
        let items = wallet.expect(200)["items"]
            .as_array()
            .expect("items")
            .clone();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["code"], code.as_str());
        assert_eq!(items[0]["source"], "claim");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_claim_replayed_is_refused_the_same_way() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let mall = server.key("service").await;
        server
            .claim(&mall, &template, "u-1", "req-1")
            .await
            .expect(201);
        let second = server.claim(&mall, &template, "u-1", "req-2").await;
        let refusal = second.expect_problem(409, "PER_USER_LIMIT").clone();
        let replay = server.claim(&mall, &template, "u-1", "req-2").await;
        assert_eq!(replay.expect_problem(409, "PER_USER_LIMIT"), &refusal);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_claims_only_for_themself_and_a_request_id_is_scoped_to_its_user() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let for_another = server
            .claim(&server.user_token("u-2"), &template, "u-1", "req-1")
            .await;
        for_another.expect_problem(403, "FORBIDDEN");
        let first = server.claim(ADMIN_KEY, &template, "u-1", "req-1").await;
        let code = first.expect(201)["code"]
            .as_str()
            .expect("a code")
            .to_owned();
        // Another user's claim under the same request id is that user's own
        // claim: it never answers u-1's coupon.
        let reused = server.claim(ADMIN_KEY, &template, "u-2", "req-1").await;
        let theirs = reused.expect(201).clone();
        assert_eq!(theirs["user_id"], "u-2", "{theirs}");
        assert_ne!(theirs["code"], code.as_str(), "{theirs}");
        let wallet = server.get("/v1/users/u-2/coupons", ADMIN_KEY).await;
        let items = wallet.expect(200)["items"].clone();
        assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
        assert_eq!(items[0]["code"], theirs["code"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_claim_is_refused_before_anything_is_claimed() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let path = format!("/v1/templates/{template}/claims");
        let extra = json!({"user": {"id": "u-1"}, "request_id": "r", "coupon": "free"});
        server
            .post(&path, ADMIN_KEY, &extra)
            .await
            .expect_problem(400, "BAD_JSON");
        let bad_context =
            json!({"user": {"id": "u-1"}, "request_id": "r", "context": {"mood": "x"}});
        server
            .post(&path, ADMIN_KEY, &bad_context)
            .await
            .expect_problem(400, "BAD_JSON");
        let long_id = json!({"user": {"id": "u-1"}, "request_id": "r".repeat(129)});
        server
            .post(&path, ADMIN_KEY, &long_id)
            .await
            .expect_problem(422, "VALIDATION_FAILED");
        let context = json!({"device_id": "d-1", "ip": "10.0.0.1"});
        let with_context = json!({"user": {"id": "u-1", "tags": ["vip"], "channel": "app"},
                                  "request_id": "r", "context": context});
        server
            .post(&path, ADMIN_KEY, &with_context)
            .await
            .expect(201);
        server
            .claim(ADMIN_KEY, "NOSUCHTEMPLATE", "u-1", "r")
            .await
            .expect_problem(404, "TEMPLATE_NOT_FOUND");
    }
}

/// Claims once for `user` and answers the refusal's code (or `CLAIMED`).
async fn outcome(server: &TestServer, template: &str, user: Value, request_id: &str) -> String {
    let body = json!({"user": user, "request_id": request_id});
    let answer = server
        .post(
            &format!("/v1/templates/{template}/claims"),
            ADMIN_KEY,
            &body,
        )
        .await;
    match answer.status.as_u16() {
        201 => "CLAIMED".to_owned(),
        409 => {
            assert_eq!(answer.content_type, "application/problem+json");
            answer.body["code"].as_str().expect("a code").to_owned()
        }
        other => panic!("{request_id}: {other} {}", answer.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_claim_refusal_is_a_409_with_its_own_code() {
    for server in servers().await {
        let limits = |limits: Value| template_with("限", json!({"limits": limits}));
        let u1 = json!({"id": "u-1"});
        let u2 = json!({"id": "u-2"});
        let draft = server
            .create_template(ADMIN_KEY, &template_json("draft"))
            .await;
        let vip = server
            .active_template(&template_with(
                "vip",
                json!({"audience": {"tags_any": ["vip"]}}),
            ))
            .await;
        let app_only = server
            .active_template(&template_with("app", json!({"channels": ["app"]})))
            .await;
        let per_day = server
            .active_template(&limits(json!({"per_user": 5, "per_user_per_day": 1})))
            .await;
        let one_left = server.active_template(&limits(json!({"total": 1}))).await;
        let budget = server
            .active_template(&limits(json!({"budget": 5000})))
            .await;
        let mut no_validity = template_json("no validity");
        no_validity
            .as_object_mut()
            .expect("an object")
            .remove("validity");
        let no_validity = server.active_template(&no_validity).await;
        let window = json!({"claim_window": {"until": at(Duration::hours(1))}});
        let closing = server
            .active_template(&template_with("closing", window))
            .await;

        let cases = [
            (vip.as_str(), json!({"id": " "}), "USER_UNKNOWN"),
            (draft.as_str(), u1.clone(), "TEMPLATE_NOT_ACTIVE"),
            (vip.as_str(), u1.clone(), "NOT_IN_AUDIENCE"),
            (
                vip.as_str(),
                json!({"id": "u-1", "tags": ["vip"]}),
                "CLAIMED",
            ),
            (
                app_only.as_str(),
                json!({"id": "u-1", "channel": "web"}),
                "CHANNEL",
            ),
            (
                app_only.as_str(),
                json!({"id": "u-1", "channel": "app"}),
                "CLAIMED",
            ),
            (per_day.as_str(), u1.clone(), "CLAIMED"),
            (per_day.as_str(), u1.clone(), "PER_DAY_LIMIT"),
            (one_left.as_str(), u1.clone(), "CLAIMED"),
            (one_left.as_str(), u2.clone(), "SOLD_OUT"),
            (budget.as_str(), u1.clone(), "CLAIMED"),
            (budget.as_str(), u2.clone(), "BUDGET_EXHAUSTED"),
            (no_validity.as_str(), u1.clone(), "NO_VALIDITY"),
        ];
        for (index, (template, user, expected)) in cases.into_iter().enumerate() {
            let got = outcome(&server, template, user, &format!("req-{index}")).await;
            assert_eq!(got, expected, "case {index} on {}", server.database);
        }
        // The per-user limit: a second claim of a one-per-user template.
        let again = outcome(
            &server,
            &vip,
            json!({"id": "u-1", "tags": ["vip"]}),
            "vip-2",
        )
        .await;
        assert_eq!(again, "PER_USER_LIMIT");
        // Past its claim window.
        server.clock.advance(Duration::hours(2));
        assert_eq!(outcome(&server, &closing, u1, "late").await, "CLAIM_ENDED");
    }
}

/// SPEC §6.2.1 names `CLAIM_NOT_STARTED` for a claim before the window
/// opens; the use case answers `TEMPLATE_NOT_ACTIVE` instead, because an
/// approved template whose window has not opened is `approved`, not
/// `active`, and the status is checked first (crates/app/src/claims/decide.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_before_the_window_opens_is_claim_not_started() {
    for server in servers().await {
        let window = json!({"claim_window": {"from": at(Duration::days(1))}});
        let template = server
            .create_template(ADMIN_KEY, &template_with("soon", window))
            .await;
        server
            .act(&format!("/v1/templates/{template}/submit"), ADMIN_KEY)
            .await
            .expect(200);
        let reviewer = server.key("reviewer").await;
        let approve = json!({"decision": "approve"});
        server
            .post(
                &format!("/v1/templates/{template}/reviews"),
                &reviewer,
                &approve,
            )
            .await
            .expect(200);
        let early = outcome(&server, &template, json!({"id": "u-1"}), "early").await;
        assert_eq!(early, "CLAIM_NOT_STARTED");
    }
}
