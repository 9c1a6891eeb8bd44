//! `/v1/api-keys`: the plaintext once, scopes that fit the role, revocation.

use serde_json::json;

use crate::harness::{ADMIN_KEY, servers};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_key_is_shown_once_works_at_once_and_stops_when_revoked() {
    for server in servers().await {
        let body = json!({"role": "operator", "label": "ops desk"});
        let created = server.post("/v1/api-keys", ADMIN_KEY, &body).await;
        let record = created.expect(201).clone();
        let key = record["key"]
            .as_str()
            .expect("the plaintext key")
            .to_owned();
        assert!(key.starts_with("cf_"), "{record}");
        assert_eq!(record["role"], "operator");
        assert_eq!(record["label"], "ops desk");
        let id = record["id"].as_str().expect("an id");
        let path = format!("/v1/api-keys/{id}");
        assert_eq!(created.location.as_deref(), Some(path.as_str()));

        let me = server.get("/v1/me", &key).await;
        let me = me.expect(200);
        assert_eq!(me["kind"], "key", "{me}");
        assert_eq!(me["id"], record["id"]);
        assert_eq!(me["role"], "operator");
        assert_eq!(me["label"], "ops desk");
        assert!(me.get("key").is_none(), "{me}");
        let shopper = server.get("/v1/me", &server.user_token("u-7")).await;
        assert_eq!(
            shopper.expect(200),
            &json!({"kind": "user", "user_id": "u-7"})
        );

        let read = server.get(&path, ADMIN_KEY).await;
        assert!(read.expect(200).get("key").is_none(), "{}", read.body);
        assert_eq!(server.get("/v1/templates", &key).await.status, 200);

        let revoked = server.delete(&path, ADMIN_KEY).await;
        assert!(
            revoked.expect(200)["revoked_at"].is_string(),
            "{}",
            server.database
        );
        let refused = server.get("/v1/templates", &key).await;
        refused.expect_problem(401, "UNAUTHORIZED");
        server
            .get("/v1/api-keys/key_NOSUCHKEY", ADMIN_KEY)
            .await
            .expect_problem(404, "API_KEY_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_scope_must_fit_its_role() {
    for server in servers().await {
        let shopless = json!({"role": "merchant"});
        let refused = server.post("/v1/api-keys", ADMIN_KEY, &shopless).await;
        assert_eq!(
            refused.expect_problem(422, "VALIDATION_FAILED")["errors"][0]["field"],
            "shops"
        );
        let scoped_operator = json!({"role": "operator", "shops": ["s-1"]});
        server
            .post("/v1/api-keys", ADMIN_KEY, &scoped_operator)
            .await
            .expect_problem(422, "VALIDATION_FAILED");
        let unknown_role = json!({"role": "root"});
        server
            .post("/v1/api-keys", ADMIN_KEY, &unknown_role)
            .await
            .expect_problem(400, "BAD_JSON");
        let partner = json!({"role": "partner", "templates": ["tpl_NOSUCHTHING"]});
        server
            .post("/v1/api-keys", ADMIN_KEY, &partner)
            .await
            .expect_problem(404, "TEMPLATE_NOT_FOUND");
        let merchant = json!({"role": "merchant", "shops": ["s-1"]});
        assert_eq!(
            server
                .post("/v1/api-keys", ADMIN_KEY, &merchant)
                .await
                .expect(201)["shops"],
            json!(["s-1"])
        );
    }
}
