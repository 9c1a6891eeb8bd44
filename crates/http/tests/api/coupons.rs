//! One coupon with its history, void; the wallet and hiding from it.

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, servers, template_json};

/// An active template and a coupon of it claimed for `user`; answers the code.
async fn claimed(server: &TestServer, user: &str) -> String {
    let template = server.active_template(&template_json("满300减50")).await;
    server.claimed(&template, user).await
}

fn codes(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|coupon| coupon["code"].as_str().expect("a code"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_coupon_is_404_coupon_not_found() {
    for server in servers().await {
        let read = server.get("/v1/coupons/NOSUCHCODE", ADMIN_KEY).await;
        assert_eq!(
            read.expect_problem(404, "COUPON_NOT_FOUND")["coupon"],
            "NOSUCHCODE"
        );
        let void = server.act("/v1/coupons/NOSUCHCODE/void", ADMIN_KEY).await;
        void.expect_problem(404, "COUPON_NOT_FOUND");
        let hide = server
            .delete("/v1/users/u-1/coupons/NOSUCHCODE", ADMIN_KEY)
            .await;
        hide.expect_problem(404, "COUPON_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sees_their_own_wallet_and_no_one_elses() {
    for server in servers().await {
        let code = claimed(&server, "u-1").await;
        let own = server
            .get("/v1/users/u-1/coupons", &server.user_token("u-1"))
            .await;
        assert_eq!(
            codes(own.expect(200)),
            [code.as_str()],
            "{}",
            server.database
        );
        assert_eq!(own.body["items"][0]["state"], "available");
        assert_eq!(own.body["next_cursor"], Value::Null);
        let filtered = server
            .get(
                "/v1/users/u-1/coupons?state=redeemed",
                &server.user_token("u-1"),
            )
            .await;
        assert_eq!(filtered.expect(200)["items"], json!([]));

        let other = server
            .get("/v1/users/u-1/coupons", &server.user_token("u-2"))
            .await;
        other.expect_problem(403, "FORBIDDEN");
        let mall = server.key("service").await;
        let for_the_mall = server.get("/v1/users/u-1/coupons", &mall).await;
        assert_eq!(codes(for_the_mall.expect(200)), [code.as_str()]);
        let bad_state = server.get("/v1/users/u-1/coupons?state=lost", &mall).await;
        bad_state.expect_problem(400, "BAD_QUERY");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voided_coupon_keeps_its_history_and_its_owner_can_hide_it() {
    for server in servers().await {
        let code = claimed(&server, "u-1").await;
        let operator = server.key("operator").await;
        let user = server.user_token("u-1");
        let wallet_path = format!("/v1/users/u-1/coupons/{code}");

        let usable = server.delete(&wallet_path, &user).await;
        usable.expect_problem(409, "COUPON_STATE");
        let reason = json!({"reason": "issued by mistake"});
        let voided = server
            .post(&format!("/v1/coupons/{code}/void"), &operator, &reason)
            .await;
        assert_eq!(voided.expect(200)["state"], "voided", "{}", server.database);
        let twice = server
            .act(&format!("/v1/coupons/{code}/void"), &operator)
            .await;
        twice.expect_problem(409, "COUPON_STATE");

        let read = server.get(&format!("/v1/coupons/{code}"), &operator).await;
        let history = read.expect(200)["history"]
            .as_array()
            .expect("a history")
            .clone();
        let last = history.last().expect("a last entry");
        assert_eq!(
            (&last["from"], &last["to"]),
            (&json!("available"), &json!("voided"))
        );
        assert_eq!(last["reason"], "issued by mistake");

        server
            .delete(
                &format!("/v1/users/u-2/coupons/{code}"),
                &server.user_token("u-2"),
            )
            .await
            .expect_problem(404, "COUPON_NOT_FOUND");
        let hidden = server.delete(&wallet_path, &user).await;
        assert_eq!(hidden.expect(200)["state"], "deleted");
        let wallet = server.get("/v1/users/u-1/coupons", &user).await;
        assert_eq!(wallet.expect(200)["items"], json!([]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_void_body_is_optional_but_must_be_json_when_sent() {
    for server in servers().await {
        let code = claimed(&server, "u-1").await;
        let path = format!("/v1/coupons/{code}/void");
        let extra = server.post(&path, ADMIN_KEY, &json!({"why": "x"})).await;
        extra.expect_problem(400, "BAD_JSON");
        let voided = server.act(&path, ADMIN_KEY).await;
        assert_eq!(voided.expect(200)["state"], "voided", "{}", server.database);
    }
}
