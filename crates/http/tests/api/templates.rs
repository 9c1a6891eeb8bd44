//! The template flow over HTTP (SPEC §4.9): draft → review → active ⇄
//! paused → ended, with the exact statuses and problem codes.

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, servers, template_json};

fn actions(events: &Value) -> Vec<&str> {
    events["items"]
        .as_array()
        .expect("a list of events")
        .iter()
        .map(|event| event["action"].as_str().expect("an action"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_is_reviewed_by_another_key_and_then_paused_resumed_and_ended() {
    for server in servers().await {
        let reviewer = server.key("reviewer").await;
        let created = server
            .post("/v1/templates", ADMIN_KEY, &template_json("满300减50"))
            .await;
        let body = created.expect(201);
        assert_eq!(body["status"], "draft", "{}", server.database);
        assert_eq!(body["version"], 1);
        let id = body["id"].as_str().expect("an id").to_owned();
        let path = format!("/v1/templates/{id}");
        assert_eq!(created.location.as_deref(), Some(path.as_str()));
        assert_eq!(
            server.get(&path, &reviewer).await.expect(200)["name"],
            "满300减50"
        );

        let submitted = server.act(&format!("{path}/submit"), ADMIN_KEY).await;
        assert_eq!(submitted.expect(200)["status"], "pending_review");
        assert_eq!(submitted.body["review_step"], "operations");

        let approve = json!({"decision": "approve", "reason": "looks right"});
        let reviews = format!("{path}/reviews");
        let own = server.post(&reviews, ADMIN_KEY, &approve).await;
        own.expect_problem(403, "SELF_REVIEW");
        let approved = server.post(&reviews, &reviewer, &approve).await;
        // No claim window: active as soon as it is approved.
        assert_eq!(approved.expect(200)["status"], "active");

        let operator = server.key("operator").await;
        let paused = server.act(&format!("{path}/pause"), &operator).await;
        assert_eq!(paused.expect(200)["status"], "paused");
        let resumed = server.act(&format!("{path}/resume"), &operator).await;
        assert_eq!(resumed.expect(200)["status"], "active");
        let ended = server.act(&format!("{path}/end"), &operator).await;
        assert_eq!(ended.expect(200)["status"], "ended");
        let again = server.act(&format!("{path}/resume"), &operator).await;
        again.expect_problem(409, "TEMPLATE_STATE");

        let events = server.get(&format!("{path}/events"), &reviewer).await;
        assert_eq!(
            actions(events.expect(200)),
            [
                "created",
                "submitted",
                "approved",
                "paused",
                "resumed",
                "ended"
            ]
        );
        assert_eq!(events.body["items"][2]["reason"], "looks right");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_budget_needs_the_finance_step_which_only_finance_or_admin_may_take() {
    for server in servers().await {
        let (reviewer, finance) = (server.key("reviewer").await, server.key("finance").await);
        let mut big = template_json("大额券");
        big["limits"]["budget"] = json!(50_000_000);
        let id = server.create_template(ADMIN_KEY, &big).await;
        let path = format!("/v1/templates/{id}");
        server
            .act(&format!("{path}/submit"), ADMIN_KEY)
            .await
            .expect(200);
        let approve = json!({"decision": "approve"});
        let reviews = format!("{path}/reviews");

        let early = server.post(&reviews, &finance, &approve).await;
        early.expect_problem(403, "FORBIDDEN");
        let first = server.post(&reviews, &reviewer, &approve).await;
        assert_eq!(first.expect(200)["status"], "pending_review");
        assert_eq!(first.body["review_step"], "finance", "{}", server.database);
        let not_theirs = server.post(&reviews, &reviewer, &approve).await;
        not_theirs.expect_problem(403, "FORBIDDEN");
        let second = server.post(&reviews, &finance, &approve).await;
        assert_eq!(second.expect(200)["status"], "active");
        assert_eq!(second.body["review_step"], Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_template_goes_back_to_draft_with_its_reason_recorded() {
    for server in servers().await {
        let reviewer = server.key("reviewer").await;
        let id = server.create_template(ADMIN_KEY, &template_json("x")).await;
        let path = format!("/v1/templates/{id}");
        server
            .act(&format!("{path}/submit"), ADMIN_KEY)
            .await
            .expect(200);
        let reject = json!({"decision": "reject", "reason": "too generous"});
        let rejected = server
            .post(&format!("{path}/reviews"), &reviewer, &reject)
            .await;
        assert_eq!(rejected.expect(200)["status"], "rejected");
        let resubmitted = server.act(&format!("{path}/submit"), ADMIN_KEY).await;
        assert_eq!(resubmitted.expect(200)["status"], "pending_review");
        let events = server.get(&format!("{path}/events"), &reviewer).await;
        assert_eq!(events.expect(200)["items"][2]["reason"], "too generous");

        let unknown = json!({"decision": "maybe"});
        let bad = server
            .post(&format!("{path}/reviews"), &reviewer, &unknown)
            .await;
        bad.expect_problem(400, "BAD_JSON");
        let long = json!({"decision": "reject", "reason": "x".repeat(1001)});
        let too_long = server
            .post(&format!("{path}/reviews"), &reviewer, &long)
            .await;
        assert_eq!(
            too_long.expect_problem(422, "VALIDATION_FAILED")["errors"][0]["field"],
            "reason"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_template_is_422_with_every_broken_field_and_nothing_is_stored() {
    for server in servers().await {
        let mut bad = template_json("");
        bad["benefit"] = json!({"kind": "threshold", "tiers": [{"min_amount": 100, "off": 100}]});
        let refused = server.post("/v1/templates", ADMIN_KEY, &bad).await;
        let problem = refused.expect_problem(422, "INVALID_TEMPLATE");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("field errors")
            .iter()
            .map(|error| error["field"].as_str().expect("a field"))
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with("benefit.tiers[0]")),
            "{problem}"
        );
        assert!(fields.contains(&"name"), "{problem}");
        let list = server.get("/v1/templates", ADMIN_KEY).await;
        assert_eq!(list.expect(200)["items"], json!([]), "{}", server.database);

        let mut misspelt = template_json("x");
        misspelt["colour"] = json!("red");
        let malformed = server.post("/v1/templates", ADMIN_KEY, &misspelt).await;
        assert!(
            malformed.expect_problem(400, "BAD_JSON")["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("colour"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_template_is_404_template_not_found_on_every_route() {
    for server in servers().await {
        let path = "/v1/templates/tpl_NOSUCHTHING";
        for answer in [
            server.get(path, ADMIN_KEY).await,
            server.patch(path, ADMIN_KEY, &template_json("x")).await,
            server.act(&format!("{path}/submit"), ADMIN_KEY).await,
            server
                .post(
                    &format!("{path}/reviews"),
                    ADMIN_KEY,
                    &json!({"decision": "approve"}),
                )
                .await,
            server.act(&format!("{path}/pause"), ADMIN_KEY).await,
            server.act(&format!("{path}/resume"), ADMIN_KEY).await,
            server.act(&format!("{path}/end"), ADMIN_KEY).await,
            server.get(&format!("{path}/events"), ADMIN_KEY).await,
        ] {
            let problem = answer.expect_problem(404, "TEMPLATE_NOT_FOUND");
            assert_eq!(
                problem["template"], "tpl_NOSUCHTHING",
                "{}",
                server.database
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_out_of_order_is_409_template_state_and_changes_nothing() {
    for server in servers().await {
        let id = server.create_template(ADMIN_KEY, &template_json("x")).await;
        let path = format!("/v1/templates/{id}");
        server
            .act(&format!("{path}/pause"), ADMIN_KEY)
            .await
            .expect_problem(409, "TEMPLATE_STATE");
        let approve = json!({"decision": "approve"});
        let reviewer = server.key("reviewer").await;
        server
            .post(&format!("{path}/reviews"), &reviewer, &approve)
            .await
            .expect_problem(409, "TEMPLATE_STATE");
        server
            .act(&format!("{path}/submit"), ADMIN_KEY)
            .await
            .expect(200);
        server
            .act(&format!("{path}/submit"), ADMIN_KEY)
            .await
            .expect_problem(409, "TEMPLATE_STATE");
        let now = server.get(&path, ADMIN_KEY).await;
        assert_eq!(now.expect(200)["status"], "pending_review");
        assert_eq!(now.body["version"], 2, "{}", server.database);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_live_template_sends_money_changes_back_to_review_but_not_a_new_name() {
    for server in servers().await {
        let id = server.active_template(&template_json("满300减50")).await;
        let path = format!("/v1/templates/{id}");
        let renamed = server
            .patch(&path, ADMIN_KEY, &template_json("满300减50 (双11)"))
            .await;
        assert_eq!(renamed.expect(200)["status"], "active");
        assert_eq!(renamed.body["name"], "满300减50 (双11)");

        let mut richer = template_json("满300减50 (双11)");
        richer["benefit"]["tiers"][0]["off"] = json!(6000);
        let changed = server.patch(&path, ADMIN_KEY, &richer).await;
        assert_eq!(changed.expect(200)["status"], "pending_review");
        assert_eq!(
            changed.body["review_step"], "operations",
            "{}",
            server.database
        );

        let mut other_id = template_json("x");
        other_id["id"] = json!("tpl_SOMETHINGELSE");
        let refused = server.patch(&path, ADMIN_KEY, &other_id).await;
        assert_eq!(
            refused.expect_problem(422, "VALIDATION_FAILED")["errors"][0]["field"],
            "id"
        );
        let mut broken = template_json("x");
        broken["validity"] = json!({"type": "relative", "days": 0});
        server
            .patch(&path, ADMIN_KEY, &broken)
            .await
            .expect_problem(422, "INVALID_TEMPLATE");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_creates_only_templates_that_its_own_shop_issues() {
    for server in servers().await {
        let merchant = server.scoped_key("merchant", &["s-1"], &[]).await;
        let mut own = template_json("店铺券");
        own["issuer"] = json!({"type": "shop", "shop": "s-1"});
        let created = server.post("/v1/templates", &merchant, &own).await;
        assert_eq!(
            created.expect(201)["issuer"]["shop"],
            "s-1",
            "{}",
            server.database
        );

        let mut shared = template_json("共担券");
        shared["issuer"] = json!({"type": "shared", "shop": "s-1", "platform_bp": 5000});
        server
            .post("/v1/templates", &merchant, &shared)
            .await
            .expect(201);

        let mut other = template_json("别家券");
        other["issuer"] = json!({"type": "shop", "shop": "s-2"});
        let refused = server.post("/v1/templates", &merchant, &other).await;
        refused.expect_problem(403, "FORBIDDEN");
        let platform = server
            .post("/v1/templates", &merchant, &template_json("平台券"))
            .await;
        platform.expect_problem(403, "FORBIDDEN");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_checks_and_describes_a_template_without_saving_it() {
    for server in servers().await {
        let good = server
            .post(
                "/v1/templates/preview",
                ADMIN_KEY,
                &template_json("满300减50"),
            )
            .await;
        let good = good.expect(200);
        assert_eq!(good["valid"], json!(true), "{good}");
        assert_eq!(good["errors"], json!([]));
        assert_eq!(
            good["summary"],
            json!({
                "zh": "满300减50，全场通用，领取后30天内有效，每人限领1张，限量100张",
                "en": "¥50 off orders of ¥300 or more, storewide, valid for 30 days after claiming, 1 per user, 100 coupons in total"
            })
        );

        let mut bad = template_json("");
        bad["benefit"] = json!({"kind": "threshold", "tiers": [{"min_amount": 100, "off": 100}]});
        let bad = server.post("/v1/templates/preview", ADMIN_KEY, &bad).await;
        let bad = bad.expect(200);
        assert_eq!(bad["valid"], json!(false), "{bad}");
        assert_eq!(bad["summary"], Value::Null);
        let fields: Vec<&str> = bad["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|error| error["field"].as_str().expect("a field"))
            .collect();
        assert!(fields.contains(&"name"), "{bad}");
        assert!(
            fields.iter().any(|f| f.starts_with("benefit.tiers[0]")),
            "{bad}"
        );

        // A field of the wrong type is a problem with its path, not a 400.
        let mut mistyped = template_json("x");
        mistyped["limits"]["total"] = json!("many");
        let mistyped = server
            .post("/v1/templates/preview", ADMIN_KEY, &mistyped)
            .await;
        let mistyped = mistyped.expect(200);
        assert_eq!(mistyped["valid"], json!(false));
        assert_eq!(mistyped["errors"][0]["field"], "limits.total", "{mistyped}");

        // Nothing was stored, and a stored template carries the same summary.
        let list = server.get("/v1/templates", ADMIN_KEY).await;
        assert_eq!(list.expect(200)["items"], json!([]));
        let created = server
            .post("/v1/templates", ADMIN_KEY, &template_json("满300减50"))
            .await;
        assert_eq!(created.expect(201)["summary"], good["summary"]);
    }
}
