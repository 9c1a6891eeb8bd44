//! The audit log (SPEC §11.6): every staff action, with who, what, the
//! change asked for and the answer; nothing for reads, the mall or users.

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, servers, template_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_actions_are_logged_with_their_bodies_and_reads_the_mall_and_users_are_not() {
    for server in servers().await {
        let operator = server.key("operator").await;
        let template = server
            .create_template(&operator, &template_json("满300减50"))
            .await;
        server
            .patch(
                &format!("/v1/templates/{template}"),
                &operator,
                &template_json("满300减60"),
            )
            .await
            .expect(200);
        server
            .get(&format!("/v1/templates/{template}"), &operator)
            .await
            .expect(200);
        server
            .act(&format!("/v1/templates/{template}/submit"), &operator)
            .await
            .expect(200);
        let reviewer = server.key("reviewer").await;
        server
            .post(
                &format!("/v1/templates/{template}/reviews"),
                &reviewer,
                &json!({"decision": "approve"}),
            )
            .await
            .expect(200);
        let mall = server.key("service").await;
        server
            .claim(&mall, &template, "u-1", "r-1")
            .await
            .expect(201);
        let user = server.user_token("u-2");
        server
            .claim(&user, &template, "u-2", "r-2")
            .await
            .expect(201);
        // A refused action is logged too, with its status.
        server
            .post(
                &format!("/v1/templates/{template}/reviews"),
                &reviewer,
                &json!({"decision": "approve"}),
            )
            .await
            .expect_problem(409, "TEMPLATE_STATE");

        let finance = server.key("finance").await;
        let path = format!("/v1/audit-log?path=/v1/templates/{template}");
        let page = server.get(&path, &finance).await.expect(200).clone();
        let items = page["items"].as_array().expect("items").clone();
        let seen: Vec<(String, String, i64)> = items
            .iter()
            .map(|e| {
                let path = e["path"].as_str().unwrap_or_default();
                let tail = path.rsplit('/').next().unwrap_or_default().to_owned();
                (
                    e["method"].as_str().unwrap_or_default().to_owned(),
                    tail,
                    e["status"].as_i64().unwrap_or(0),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("POST".to_owned(), "reviews".to_owned(), 409),
                ("POST".to_owned(), "reviews".to_owned(), 200),
                ("POST".to_owned(), "submit".to_owned(), 200),
                ("PATCH".to_owned(), template.clone(), 200),
            ],
            "{page} on {}",
            server.database
        );
        let patch = &items[3];
        assert_eq!(patch["role"], "operator");
        let asked: Value =
            serde_json::from_str(patch["request"].as_str().expect("a body")).expect("json");
        assert_eq!(asked["name"], "满300减60");
        let after: Value =
            serde_json::from_str(patch["response"].as_str().expect("a body")).expect("json");
        assert_eq!(after["name"], "满300减60");
        // Before and after: the template as it stood before the change.
        let before: Value =
            serde_json::from_str(patch["before"].as_str().expect("the state before"))
                .expect("json");
        assert_eq!(before["name"], "满300减50", "{before}");
        let approve = &items[1];
        let before: Value =
            serde_json::from_str(approve["before"].as_str().expect("the state before"))
                .expect("json");
        assert_eq!(before["status"], "pending_review", "{before}");

        // The create is under /v1/templates; filter by the operator's key.
        let mine = server
            .get(
                &format!(
                    "/v1/audit-log?actor={}",
                    items[3]["actor"].as_str().unwrap_or_default()
                ),
                ADMIN_KEY,
            )
            .await
            .expect(200)
            .clone();
        let methods: Vec<&str> = mine["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| e["method"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(methods, ["POST", "PATCH", "POST"], "{mine}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_secrets_never_reach_the_log() {
    for server in servers().await {
        let made = server
            .post(
                "/v1/api-keys",
                ADMIN_KEY,
                &json!({"role": "admin", "label": "second admin"}),
            )
            .await;
        let key = made.expect(201)["key"].as_str().expect("a key").to_owned();
        server
            .post(
                "/v1/webhooks",
                ADMIN_KEY,
                &json!({"url": "http://127.0.0.1:9/hook", "events": ["*"], "secret": "whsec-very-private"}),
            )
            .await
            .expect(201);
        let finance = server.key("finance").await;
        let page = server
            .get("/v1/audit-log", &finance)
            .await
            .expect(200)
            .clone();
        let text = page.to_string();
        assert!(!text.contains(&key), "a new key leaked: {text}");
        assert!(
            !text.contains("whsec-very-private"),
            "a secret leaked: {text}"
        );
        assert!(text.contains("[redacted]"), "{text}");
    }
}
