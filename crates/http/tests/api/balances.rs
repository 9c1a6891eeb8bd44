//! Balances over HTTP (SPEC §7.7): cashback credited on complete and
//! debited back on refund as the answers say, the balances and their
//! ledger readable by the user and staff only, paged, and adjustments.

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, servers};

/// 满200返20 to `to`.
fn cashback_template(to: &str) -> Value {
    json!({
        "name": "满200返20",
        "benefit": {"kind": "cashback", "tiers": [{"min_amount": 20000, "back": 2000}], "to": to},
        "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": 30}
    })
}

fn cart(user: &str, code: &str) -> Value {
    json!({"user": {"id": user}, "select": [code],
           "lines": [{"line_id": "a", "sku": "sku-a", "unit_price": 10000, "quantity": 1},
                     {"line_id": "b", "sku": "sku-b", "unit_price": 3334, "quantity": 3}]})
}

async fn balance_of(server: &TestServer, user: &str, kind: &str) -> Value {
    let answer = server
        .get(&format!("/v1/users/{user}/balances"), ADMIN_KEY)
        .await;
    let balances = answer.expect(200)["balances"]
        .as_array()
        .expect("balances")
        .clone();
    let one = balances
        .iter()
        .find(|b| b["kind"] == kind)
        .expect("the kind");
    one["balance"].clone()
}

/// A paid order `o-1` of u-1 with a cashback coupon of `to`.
async fn paid_order(server: &TestServer, mall: &str, to: &str) -> String {
    let template = server.active_template(&cashback_template(to)).await;
    let code = server.claimed(&template, "u-1").await;
    let locked = server
        .post("/v1/orders/o-1/lock", mall, &cart("u-1", &code))
        .await;
    assert_eq!(locked.expect(200)["quote"]["cashback"][0]["amount"], 2000);
    server.act("/v1/orders/o-1/redeem", mall).await.expect(200);
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_credits_the_cashback_and_refunds_debit_it_back_as_the_answers_say() {
    for server in servers().await {
        let mall = server.key("service").await;
        let code = paid_order(&server, &mall, "wallet").await;
        let completed = server.act("/v1/orders/o-1/complete", &mall).await;
        let completed = completed.expect(200).clone();
        assert_eq!(
            completed["credited"],
            json!([{"coupon": code, "to": "wallet", "amount": 2000, "shortfall": 0,
                    "entry_id": completed["credited"][0]["entry_id"], "balance_after": 2000}]),
            "{}",
            server.database
        );
        let again = server.act("/v1/orders/o-1/complete", &mall).await;
        assert_eq!(again.expect(200), &completed);
        assert_eq!(balance_of(&server, "u-1", "wallet").await, 2000);

        let body = json!({"refund_id": "r-1", "lines": [{"line_id": "b", "quantity": 1}]});
        let refunded = server.post("/v1/orders/o-1/refunds", &mall, &body).await;
        let refunded = refunded.expect(200);
        assert_eq!(refunded["cashback_reversed"][0]["amount"], 333);
        assert_eq!(refunded["cashback_shortfall"], 0);
        assert_eq!(balance_of(&server, "u-1", "wallet").await, 1667);

        let order = server.get("/v1/orders/o-1", &mall).await;
        assert_eq!(
            order.expect(200)["refunds"][0]["cashback_reversed"][0]["amount"],
            333
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balances_are_the_users_own_and_staffs_and_no_one_elses() {
    for server in servers().await {
        let finance = server.key("finance").await;
        let body = json!({"amount": 150, "reason": "compensation", "idempotency_key": "adj-1"});
        let path = "/v1/users/u-1/balances/points/adjustments";
        let entry = server.post(path, &finance, &body).await;
        let entry = entry.expect(200).clone();
        assert_eq!(
            (&entry["amount"], &entry["balance_after"], &entry["reason"]),
            (&json!(150), &json!(150), &json!("adjustment")),
            "{}",
            server.database
        );
        assert_eq!(entry["note"], "compensation");
        assert!(
            entry["actor"]
                .as_str()
                .expect("an actor")
                .starts_with("key:")
        );
        assert_eq!(server.post(path, &finance, &body).await.expect(200), &entry);

        let own = server
            .get("/v1/users/u-1/balances", &server.user_token("u-1"))
            .await;
        let own = own.expect(200);
        assert_eq!(
            own["balances"][0],
            json!({"kind": "points", "balance": 150, "version": 1,
                                                 "updated_at": own["balances"][0]["updated_at"]})
        );
        assert_eq!(own["balances"][1]["balance"], 0);
        let other = server
            .get("/v1/users/u-1/balances", &server.user_token("u-2"))
            .await;
        other.expect_problem(403, "FORBIDDEN");
        let entries = "/v1/users/u-1/balances/points/entries";
        let other = server.get(entries, &server.user_token("u-2")).await;
        other.expect_problem(403, "FORBIDDEN");
        let merchant = server.scoped_key("merchant", &["s-1"], &[]).await;
        server
            .get(entries, &merchant)
            .await
            .expect_problem(403, "FORBIDDEN");
        let listed = server.get(entries, &server.user_token("u-1")).await;
        assert_eq!(listed.expect(200)["items"][0]["id"], entry["id"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdraft_is_409_and_bad_adjustments_are_refused_changing_nothing() {
    for server in servers().await {
        let path = "/v1/users/u-1/balances/wallet/adjustments";
        let credit = json!({"amount": 100, "reason": "r", "idempotency_key": "k-1"});
        server.post(path, ADMIN_KEY, &credit).await.expect(200);
        let overdraft = json!({"amount": -101, "reason": "r", "idempotency_key": "k-2"});
        let refused = server.post(path, ADMIN_KEY, &overdraft).await;
        let problem = refused.expect_problem(409, "INSUFFICIENT_BALANCE");
        assert_eq!(
            (&problem["balance"], &problem["requested"]),
            (&json!(100), &json!(101))
        );
        let reused = json!({"amount": 5, "reason": "r", "idempotency_key": "k-1"});
        let conflict = server.post(path, ADMIN_KEY, &reused).await;
        conflict.expect_problem(409, "IDEMPOTENCY_CONFLICT");
        let zero = json!({"amount": 0, "reason": "r", "idempotency_key": "k-3"});
        let zero = server.post(path, ADMIN_KEY, &zero).await;
        zero.expect_problem(422, "VALIDATION_FAILED");
        let unknown = json!({"amount": 1, "reason": "r", "idempotency_key": "k-4", "x": 1});
        server
            .post(path, ADMIN_KEY, &unknown)
            .await
            .expect_problem(400, "BAD_JSON");
        let coins = "/v1/users/u-1/balances/coins/adjustments";
        server
            .post(coins, ADMIN_KEY, &credit)
            .await
            .expect_problem(400, "BAD_PATH");
        assert_eq!(
            balance_of(&server, "u-1", "wallet").await,
            100,
            "{}",
            server.database
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_come_newest_first_a_page_at_a_time() {
    for server in servers().await {
        let path = "/v1/users/u-1/balances/points/adjustments";
        for n in 1..=5 {
            let body = json!({"amount": n, "reason": "r", "idempotency_key": format!("k-{n}")});
            server.post(path, ADMIN_KEY, &body).await.expect(200);
        }
        let mut seen = Vec::new();
        let mut query = "limit=2".to_owned();
        loop {
            let url = format!("/v1/users/u-1/balances/points/entries?{query}");
            let page = server.get(&url, ADMIN_KEY).await;
            let page = page.expect(200).clone();
            for item in page["items"].as_array().expect("items") {
                seen.push(item["seq"].as_i64().expect("a seq"));
            }
            match page["next_cursor"].as_str() {
                Some(cursor) => query = format!("limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, vec![5, 4, 3, 2, 1], "{}", server.database);
        let bad = "/v1/users/u-1/balances/points/entries?cursor=***";
        server
            .get(bad, ADMIN_KEY)
            .await
            .expect_problem(400, "BAD_CURSOR");
    }
}
