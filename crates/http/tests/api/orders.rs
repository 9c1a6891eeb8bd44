//! The order flow over HTTP (SPEC §8): claim → wallet → quote → lock →
//! redeem → refund with exact amounts, and every order call idempotent.

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, servers, template_json};

/// Two lines, 20000 + 3 × 3334, and 1000 shipping.
fn two_line_cart(user: &str) -> Value {
    json!({"user": {"id": user}, "shipping_fee": 1000, "select": "best",
           "lines": [{"line_id": "a", "sku": "sku-a", "unit_price": 20000, "quantity": 1},
                     {"line_id": "b", "sku": "sku-b", "unit_price": 3334, "quantity": 3}]})
}

fn refund(refund_id: &str, lines: &[(&str, u32)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(line_id, quantity)| json!({"line_id": line_id, "quantity": quantity}))
        .collect();
    json!({"refund_id": refund_id, "lines": lines})
}

async fn coupon_state(server: &TestServer, code: &str) -> Value {
    let coupon = server.get(&format!("/v1/coupons/{code}"), ADMIN_KEY).await;
    coupon.expect(200)["state"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_quote_lock_redeem_and_refund_pay_back_exactly_what_was_paid() {
    for server in servers().await {
        let mall = server.key("service").await;
        let user = server.user_token("u-1");
        let template = server.active_template(&template_json("满300减50")).await;
        let claimed = server.claim(&user, &template, "u-1", "req-1").await;
        let code = claimed.expect(201)["code"]
            .as_str()
            .expect("a code")
            .to_owned();
        let wallet = server
            .get("/v1/users/u-1/coupons?state=available", &user)
            .await;
        assert_eq!(wallet.expect(200)["items"][0]["code"], code.as_str());

        let quote = server.post("/v1/quote", &user, &two_line_cart("u-1")).await;
        let quote = quote.expect(200).clone();
        // 5000 over 20000 and 10002 by largest remainder: 3333 and 1667.
        let shares: Vec<&Value> = quote["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| &l["shares"])
            .collect();
        assert_eq!(
            shares,
            [
                &json!([{"coupon": code, "amount": 3333}]),
                &json!([{"coupon": code, "amount": 1667}])
            ],
            "{}",
            server.database
        );
        assert_eq!(
            (&quote["subtotal"], &quote["payable"]),
            (&json!(30002), &json!(26002))
        );

        let locked = server
            .post("/v1/orders/o-1/lock", &mall, &two_line_cart("u-1"))
            .await;
        let locked = locked.expect(200);
        assert_eq!(
            (&locked["state"], &locked["user_id"]),
            (&json!("locked"), &json!("u-1"))
        );
        assert_eq!(
            locked["quote"], quote,
            "the lock prices the cart as the quote did"
        );
        let payables: Vec<&Value> = locked["quote"]["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| &l["payable"])
            .collect();
        assert_eq!(payables, [&json!(16667), &json!(8335)]);
        assert_eq!(locked["cart"]["order_id"], "o-1");
        assert_eq!(coupon_state(&server, &code).await, "locked");

        let paid = server.act("/v1/orders/o-1/redeem", &mall).await;
        assert_eq!(paid.expect(200)["state"], "paid");
        assert_eq!(coupon_state(&server, &code).await, "redeemed");

        let first = server
            .post("/v1/orders/o-1/refunds", &mall, &refund("r-1", &[("b", 1)]))
            .await;
        let first = first.expect(200).clone();
        assert_eq!(first["amount"], 2778, "round_half_up(8335 / 3)");
        assert_eq!(
            first["lines"],
            json!([{"line_id": "b", "quantity": 1, "amount": 2778, "original_amount": 3334}])
        );
        assert_eq!(first["coupons"], json!([{"code": code, "outcome": "keep"}]));
        assert_eq!(first["order_fully_refunded"], false);
        assert_eq!(coupon_state(&server, &code).await, "redeemed");

        let rest = refund("r-2", &[("b", 2), ("a", 1)]);
        let second = server.post("/v1/orders/o-1/refunds", &mall, &rest).await;
        let second = second.expect(200).clone();
        assert_eq!(second["amount"], (8335 - 2778) + 16667);
        assert_eq!(
            second["coupons"],
            json!([{"code": code, "outcome": "return"}])
        );
        assert_eq!(second["order_fully_refunded"], true);
        assert_eq!(coupon_state(&server, &code).await, "available");

        let order = server.get("/v1/orders/o-1", &mall).await;
        let order = order.expect(200);
        assert_eq!(order["state"], "refunded");
        assert_eq!(order["refunds"], json!([first, second]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_call_repeated_answers_the_same_and_other_content_is_a_conflict() {
    for server in servers().await {
        let mall = server.key("service").await;
        let template = server.active_template(&template_json("满300减50")).await;
        let code = server.claimed(&template, "u-1").await;
        let cart = two_line_cart("u-1");

        let locked = server.post("/v1/orders/o-1/lock", &mall, &cart).await;
        let locked = locked.expect(200).clone();
        let again = server.post("/v1/orders/o-1/lock", ADMIN_KEY, &cart).await;
        assert_eq!(again.expect(200), &locked, "{}", server.database);
        let mut other_cart = cart.clone();
        other_cart["shipping_fee"] = json!(0);
        let other = server.post("/v1/orders/o-1/lock", &mall, &other_cart).await;
        other.expect_problem(409, "IDEMPOTENCY_CONFLICT");

        let paid = server.act("/v1/orders/o-1/redeem", &mall).await;
        let paid = paid.expect(200).clone();
        let again = server
            .post("/v1/orders/o-1/redeem", &mall, &json!({}))
            .await;
        assert_eq!(again.expect(200), &paid);
        let late = server.act("/v1/orders/o-1/release", &mall).await;
        let problem = late.expect_problem(409, "ORDER_STATE");
        assert_eq!(
            (&problem["order"], &problem["state"]),
            (&json!("o-1"), &json!("paid"))
        );

        let body = refund("r-1", &[("b", 1)]);
        let refunded = server.post("/v1/orders/o-1/refunds", &mall, &body).await;
        let refunded = refunded.expect(200).clone();
        let again = server.post("/v1/orders/o-1/refunds", &mall, &body).await;
        assert_eq!(again.expect(200), &refunded);
        let other = refund("r-1", &[("b", 2)]);
        let other = server.post("/v1/orders/o-1/refunds", &mall, &other).await;
        other.expect_problem(409, "IDEMPOTENCY_CONFLICT");
        let order = server.get("/v1/orders/o-1", &mall).await;
        assert_eq!(
            order.expect(200)["refunds"].as_array().map(Vec::len),
            Some(1)
        );

        let completed = server.act("/v1/orders/o-1/complete", &mall).await;
        let completed = completed.expect(200).clone();
        assert_eq!(
            (&completed["state"], &completed["cashback"]),
            (&json!("completed"), &json!([]))
        );
        let again = server
            .post("/v1/orders/o-1/complete", &mall, &json!({}))
            .await;
        assert_eq!(again.expect(200), &completed);
        let history = server.get(&format!("/v1/coupons/{code}"), ADMIN_KEY).await;
        assert_eq!(
            history.expect(200)["history"].as_array().map(Vec::len),
            Some(3)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_order_gives_the_coupon_back_once() {
    for server in servers().await {
        let mall = server.key("service").await;
        let template = server.active_template(&template_json("满300减50")).await;
        let code = server.claimed(&template, "u-1").await;
        let mut cart = two_line_cart("u-1");
        cart["select"] = json!([code]);
        server
            .post("/v1/orders/o-2/lock", &mall, &cart)
            .await
            .expect(200);
        let taken = server.post("/v1/orders/o-3/lock", &mall, &cart).await;
        taken.expect_problem(409, "COUPON_STATE");

        let released = server.act("/v1/orders/o-2/release", &mall).await;
        let released = released.expect(200).clone();
        assert_eq!(released["state"], "released", "{}", server.database);
        let again = server
            .post("/v1/orders/o-2/release", &mall, &json!({}))
            .await;
        assert_eq!(again.expect(200), &released);
        assert_eq!(coupon_state(&server, &code).await, "available");
        server
            .act("/v1/orders/o-2/redeem", &mall)
            .await
            .expect_problem(409, "ORDER_STATE");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_orders_and_malformed_calls_are_refused() {
    for server in servers().await {
        let mall = server.key("service").await;
        for action in ["redeem", "release", "complete"] {
            let path = format!("/v1/orders/nope/{action}");
            let answer = server.act(&path, &mall).await;
            assert_eq!(
                answer.expect_problem(404, "ORDER_NOT_FOUND")["order"],
                "nope"
            );
            let extra = server.post(&path, &mall, &json!({"reason": "x"})).await;
            extra.expect_problem(400, "BAD_JSON");
        }
        server
            .get("/v1/orders/nope", &mall)
            .await
            .expect_problem(404, "ORDER_NOT_FOUND");
        let refund = refund("r-1", &[("a", 1)]);
        server
            .post("/v1/orders/nope/refunds", &mall, &refund)
            .await
            .expect_problem(404, "ORDER_NOT_FOUND");
        let mut bad = refund.clone();
        bad["amount"] = json!(100);
        server
            .post("/v1/orders/nope/refunds", &mall, &bad)
            .await
            .expect_problem(400, "BAD_JSON");
        let mut other_order = two_line_cart("u-1");
        other_order["order_id"] = json!("o-9");
        server
            .post("/v1/orders/o-1/lock", &mall, &other_order)
            .await
            .expect_problem(422, "VALIDATION_FAILED");
    }
}
