//! `POST /v1/quote` over the user's own coupons (SPEC §7) and the product
//! page `GET /v1/products/{product}/coupons` (§7.6), with exact amounts.

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, servers, template_json};

fn cash_for_category(name: &str, amount: i64, category: &str) -> Value {
    json!({"name": name, "benefit": {"kind": "cash", "amount": amount},
           "scope": {"include": {"categories": [category]}},
           "validity": {"type": "relative", "days": 7}})
}

fn cart(user: &str, unit_price: i64, quantity: u32, select: Value) -> Value {
    json!({"user": {"id": user}, "shipping_fee": 0, "select": select,
           "lines": [{"line_id": "1", "sku": "sku-1", "unit_price": unit_price, "quantity": quantity}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_prices_the_users_own_coupons_and_says_why_others_do_not_apply() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let code = server.claimed(&template, "u-1").await;
        let user = server.user_token("u-1");

        let quoted = server
            .post("/v1/quote", &user, &cart("u-1", 10000, 3, json!("best")))
            .await;
        let quote = quoted.expect(200);
        assert_eq!(
            (
                &quote["subtotal"],
                &quote["coupon_discount"],
                &quote["payable"]
            ),
            (&json!(30000), &json!(5000), &json!(25000)),
            "{}",
            server.database
        );
        assert_eq!(quote["currency"], "CNY");
        assert_eq!(quote["selected"], json!([code]));
        assert_eq!(
            quote["lines"][0]["shares"],
            json!([{"coupon": code, "amount": 5000}])
        );
        assert_eq!(
            quote["costs"],
            json!([{"coupon": code, "platform": 5000, "shop": 0, "shop_id": null}])
        );

        let short = server
            .post("/v1/quote", &user, &cart("u-1", 10000, 2, json!("best")))
            .await;
        let short = short.expect(200);
        assert_eq!(
            (&short["payable"], &short["selected"]),
            (&json!(20000), &json!([]))
        );
        assert_eq!(
            short["coupons"],
            json!([{"id": code, "applicable": false, "discount": 0,
                    "reasons": [{"code": "BELOW_THRESHOLD", "missing": 10000}]}])
        );

        let chosen = cart("u-1", 10000, 2, json!([code]));
        let refused = server.post("/v1/quote", &user, &chosen).await;
        let problem = refused.expect_problem(422, "CANNOT_SELECT");
        assert_eq!(
            (&problem["coupon"], &problem["reason"], &problem["missing"]),
            (&json!(code), &json!("BELOW_THRESHOLD"), &json!(10000))
        );
        let unknown = cart("u-1", 10000, 3, json!(["NOSUCHCODE"]));
        let unknown = server.post("/v1/quote", &user, &unknown).await;
        assert_eq!(
            unknown.expect_problem(422, "UNKNOWN_COUPON")["coupon"],
            "NOSUCHCODE"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_is_only_for_the_callers_own_user_and_a_bad_cart_names_its_field() {
    for server in servers().await {
        let other = server
            .post(
                "/v1/quote",
                &server.user_token("u-2"),
                &cart("u-1", 100, 1, json!("best")),
            )
            .await;
        other.expect_problem(403, "FORBIDDEN");
        let mall = server.key("service").await;
        let zero = server
            .post("/v1/quote", &mall, &cart("u-1", 100, 0, json!("best")))
            .await;
        let problem = zero.expect_problem(422, "VALIDATION_FAILED");
        assert_eq!(
            problem["errors"][0]["field"], "lines[0].quantity",
            "{}",
            server.database
        );
        let mut extra = cart("u-1", 100, 1, json!("best"));
        extra["coupons"] = json!([]);
        server
            .post("/v1/quote", &mall, &extra)
            .await
            .expect_problem(400, "BAD_JSON");
        let empty = server
            .post("/v1/quote", &mall, &cart("u-9", 100, 1, json!("best")))
            .await;
        assert_eq!(empty.expect(200)["payable"], 100);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_shows_held_and_claimable_coupons_and_the_price_after_the_best() {
    for server in servers().await {
        let held = server.active_template(&template_json("满300减50")).await;
        let code = server.claimed(&held, "u-1").await;
        let menswear = server
            .active_template(&cash_for_category("男装立减80", 8000, "c-men"))
            .await;
        server
            .active_template(&cash_for_category("食品立减10", 1000, "c-food"))
            .await;
        let user = server.user_token("u-1");
        let query = "user=u-1&unit_price=20000&quantity=2&shop=s-1&categories=c-apparel,c-men";
        let page = server
            .get(&format!("/v1/products/p-1/coupons?{query}"), &user)
            .await;
        let page = page.expect(200);
        assert_eq!(
            page,
            &json!({"product": "p-1", "price": 40000, "price_after_best": 32000,
                    "held": [{"code": code, "template_id": held, "name": "满300减50",
                              "discount": 5000, "valid_until": "2027-01-04T12:00:00Z"}],
                    "claimable": [{"template_id": menswear, "name": "男装立减80", "discount": 8000}],
                    "best_codes": [], "best_templates": [menswear]}),
            "{}",
            server.database
        );

        let food = "user=u-1&unit_price=20000&categories=c-food";
        let page = server
            .get(&format!("/v1/products/p-2/coupons?{food}"), &user)
            .await;
        let page = page.expect(200);
        assert_eq!(
            (
                &page["price"],
                &page["price_after_best"],
                &page["best_codes"]
            ),
            (&json!(20000), &json!(19000), &json!([]))
        );
        assert_eq!(
            page["held"],
            json!([]),
            "20000 is below the 30000 threshold"
        );
        assert_eq!(page["claimable"][0]["name"], "食品立减10");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_query_is_checked() {
    for server in servers().await {
        let user = server.user_token("u-1");
        let path = |query: &str| format!("/v1/products/p-1/coupons?{query}");
        server
            .get(&path("user=u-1&unit_price=100"), &server.user_token("u-2"))
            .await
            .expect_problem(403, "FORBIDDEN");
        server
            .get(&path("user=u-1"), &user)
            .await
            .expect_problem(400, "BAD_QUERY");
        server
            .get(&path("user=u-1&unit_price=100&colour=red"), &user)
            .await
            .expect_problem(400, "BAD_QUERY");
        server
            .get(&path("user=u-1&unit_price=100&quantity=0"), &user)
            .await
            .expect_problem(422, "VALIDATION_FAILED");
        let many = (0..65)
            .map(|n| format!("c-{n}"))
            .collect::<Vec<_>>()
            .join(",");
        let long = server
            .get(
                &path(&format!("user=u-1&unit_price=100&categories={many}")),
                &user,
            )
            .await;
        let problem = long.expect_problem(422, "VALIDATION_FAILED");
        assert_eq!(problem["errors"][0]["field"], "categories");
        let fine = server
            .get(&path("user=u-1&unit_price=100"), ADMIN_KEY)
            .await;
        assert_eq!(fine.expect(200)["price_after_best"], 100);
    }
}
