//! Webhooks and the inbox over HTTP (SPEC §6.3): registration with a
//! secret shown once, the delivery log, deletion; a user's messages with
//! the unread count, marking read, and no one else's inbox.

use serde_json::json;

use crate::harness::{ADMIN_KEY, TestServer, servers, template_json};

async fn dispatch(server: &TestServer) {
    while server
        .app
        .dispatch_outbox()
        .await
        .expect("a dispatch round")
        > 0
    {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_registers_a_webhook_sees_its_deliveries_and_deletes_it() {
    for server in servers().await {
        let db = &server.database;
        let body = json!({"url": "http://127.0.0.1:9/hook", "events": ["template.*"]});
        let created = server.post("/v1/webhooks", ADMIN_KEY, &body).await;
        let webhook = created.expect(201).clone();
        let id = webhook["id"].as_str().expect("an id").to_owned();
        assert_eq!(created.location, Some(format!("/v1/webhooks/{id}")), "{db}");
        assert!(webhook["secret"].as_str().unwrap().starts_with("whsec_"));
        let given = json!({"url": "https://mall.example/hooks", "events": ["coupon.redeemed"],
                           "secret": "the-mall-chose-this-secret"});
        let chosen = server.post("/v1/webhooks", ADMIN_KEY, &given).await;
        assert_eq!(chosen.expect(201)["secret"], "the-mall-chose-this-secret");

        let listed = server.get("/v1/webhooks?limit=1", ADMIN_KEY).await;
        let page = listed.expect(200);
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{db}");
        assert!(page["items"][0].get("secret").is_none(), "never listed");
        let cursor = page["next_cursor"].as_str().expect("a second page");
        let rest = server
            .get(&format!("/v1/webhooks?limit=1&cursor={cursor}"), ADMIN_KEY)
            .await;
        assert_eq!(rest.expect(200)["items"].as_array().unwrap().len(), 1);

        server
            .create_template(ADMIN_KEY, &template_json("hooked"))
            .await;
        dispatch(&server).await;
        let log = server
            .get(&format!("/v1/webhooks/{id}/deliveries"), ADMIN_KEY)
            .await;
        let items = log.expect(200)["items"].as_array().unwrap().clone();
        assert_eq!(
            items.len(),
            1,
            "{db}: only the template.* webhook: {items:?}"
        );
        assert_eq!(items[0]["event_type"], "template.created");
        assert_eq!(items[0]["status"], "pending");
        assert_eq!(items[0]["attempts"], 0);

        let deleted = server
            .delete(&format!("/v1/webhooks/{id}"), ADMIN_KEY)
            .await;
        assert_eq!(deleted.expect(200)["id"], id.as_str());
        server
            .get(&format!("/v1/webhooks/{id}/deliveries"), ADMIN_KEY)
            .await
            .expect_problem(404, "WEBHOOK_NOT_FOUND");
        server
            .delete(&format!("/v1/webhooks/{id}"), ADMIN_KEY)
            .await
            .expect_problem(404, "WEBHOOK_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_event_type_or_secret_is_refused_and_nothing_is_registered() {
    for server in servers().await {
        let bad = [
            (
                json!({"url": "ftp://mall.example/x", "events": ["*"]}),
                "url",
            ),
            (json!({"url": "not a url", "events": ["*"]}), "url"),
            (
                json!({"url": "https://mall.example/x", "events": []}),
                "events",
            ),
            (
                json!({"url": "https://mall.example/x", "events": ["coupon.redeem"]}),
                "events",
            ),
            (
                json!({"url": "https://mall.example/x", "events": ["*"], "secret": "short"}),
                "secret",
            ),
        ];
        for (body, field) in bad {
            let answer = server.post("/v1/webhooks", ADMIN_KEY, &body).await;
            let problem = answer.expect_problem(422, "VALIDATION_FAILED");
            assert_eq!(problem["errors"][0]["field"], field, "{body}");
        }
        let unknown = json!({"url": "https://mall.example/x", "events": ["*"], "extra": 1});
        server
            .post("/v1/webhooks", ADMIN_KEY, &unknown)
            .await
            .expect(400);
        let listed = server.get("/v1/webhooks", ADMIN_KEY).await;
        assert_eq!(
            listed.expect(200)["items"],
            json!([]),
            "{}",
            server.database
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_reads_their_own_messages_and_no_one_elses() {
    for server in servers().await {
        let db = &server.database;
        let operator = server.key("operator").await;
        let mut codes = Vec::new();
        for name in ["first", "second"] {
            let template = server.active_template(&template_json(name)).await;
            let code = server.claimed(&template, "u-1").await;
            server
                .act(&format!("/v1/coupons/{code}/void"), &operator)
                .await
                .expect(200);
            codes.push(code);
            server.clock.advance(chrono::Duration::seconds(1));
        }
        dispatch(&server).await;
        let own = server.user_token("u-1");
        let page = server.get("/v1/users/u-1/messages?limit=1", &own).await;
        let page = page.expect(200).clone();
        assert_eq!(page["unread"], 2, "{db}: {page}");
        let first = &page["items"][0];
        assert_eq!(first["event_type"], "coupon.voided");
        assert_eq!(first["title_zh"], "你的券已作废");
        assert_eq!(first["title_en"], "Your coupon was voided");
        assert_eq!(first["data"]["code"], codes[1].as_str(), "newest first");
        let cursor = page["next_cursor"].as_str().expect("a second page");
        let rest = server
            .get(
                &format!("/v1/users/u-1/messages?limit=1&cursor={cursor}"),
                &own,
            )
            .await;
        let rest = rest.expect(200).clone();
        assert_eq!(rest["items"][0]["data"]["code"], codes[0].as_str());
        assert_eq!(rest["next_cursor"], json!(null));

        let other = server.user_token("u-2");
        server
            .get("/v1/users/u-1/messages", &other)
            .await
            .expect_problem(403, "FORBIDDEN");
        let id = first["id"].as_str().unwrap();
        server
            .act(&format!("/v1/users/u-1/messages/{id}/read"), &other)
            .await
            .expect_problem(403, "FORBIDDEN");
        server
            .act(&format!("/v1/users/u-2/messages/{id}/read"), &other)
            .await
            .expect_problem(404, "MESSAGE_NOT_FOUND");

        let read = server
            .act(&format!("/v1/users/u-1/messages/{id}/read"), &own)
            .await;
        assert!(read.expect(200)["read_at"].is_string(), "{db}");
        let after = server.get("/v1/users/u-1/messages", &own).await;
        assert_eq!(after.expect(200)["unread"], 1);
        let staff = server.get("/v1/users/u-1/messages", ADMIN_KEY).await;
        assert_eq!(staff.expect(200)["items"].as_array().unwrap().len(), 2);
    }
}
