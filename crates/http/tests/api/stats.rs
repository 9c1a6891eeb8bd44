//! `/v1/stats/…` over HTTP on every back end: the figures after real
//! claims and an order, the CSV series, and bad ranges.

use serde_json::json;

use crate::harness::{ADMIN_KEY, servers, template_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_campaign_and_issuer_figures_follow_claims_and_orders() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let code = server.claimed(&template, "u-1").await;
        server.claimed(&template, "u-2").await;
        let cart = json!({"user": {"id": "u-1"}, "select": [code],
                          "lines": [{"line_id": "1", "sku": "s", "unit_price": 40000, "quantity": 1}]});
        let mall = server.key("service").await;
        server
            .post("/v1/orders/o-1/lock", &mall, &cart)
            .await
            .expect(200);
        server.act("/v1/orders/o-1/redeem", &mall).await.expect(200);
        while server.app.dispatch_outbox().await.expect("dispatched") > 0 {}

        let finance = server.key("finance").await;
        let stats = server
            .get(&format!("/v1/stats/templates/{template}"), &finance)
            .await;
        let stats = stats.expect(200).clone();
        let f = &stats["figures"];
        assert_eq!(
            (
                &f["claimed"],
                &f["used"],
                &f["discount"],
                &f["sales"],
                &f["orders"]
            ),
            (&json!(2), &json!(1), &json!(5000), &json!(40000), &json!(1)),
            "{stats} on {}",
            server.database
        );
        assert_eq!(
            (&f["offered"], &f["claim_rate"], &f["use_rate"]),
            (&json!(100), &json!(0.02), &json!(0.5))
        );
        assert_eq!(
            (&f["average_order_value"], &f["cost_ratio"]),
            (&json!(40000), &json!(0.125))
        );
        assert_eq!(stats["granularity"], "day");
        assert_eq!(stats["series"].as_array().map(Vec::len), Some(1));

        let hourly = server
            .get(
                &format!("/v1/stats/templates/{template}?granularity=hour"),
                &finance,
            )
            .await;
        assert_eq!(
            hourly.expect(200)["series"][0]["start"],
            "2026-12-05T12:00:00Z"
        );

        let csv = reqwest::Client::new()
            .get(server.url(&format!("/v1/stats/templates/{template}/series.csv")))
            .bearer_auth(&finance)
            .send()
            .await
            .expect("answers");
        assert_eq!(csv.status(), 200);
        let text = csv.text().await.expect("text");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "period_start,generated,claimed,granted,new_users,used,returned,expired,voided,discount,sales,orders",
                "2026-12-04T16:00:00Z,0,2,0,0,1,0,0,0,5000,40000,1",
            ]
        );

        let platform = server.get("/v1/stats/issuers/platform", &finance).await;
        assert_eq!(platform.expect(200)["figures"]["claimed"], 2);
        // The overview counts every template: a shop's too.
        let shop_template = server
            .active_template(
                &json!({"name": "街角咖啡 5 元券", "issuer": {"type": "shop", "shop": "s-1"},
                                     "benefit": {"kind": "cash", "amount": 500},
                                     "scope": {"include": {"all": true}},
                                     "validity": {"type": "relative", "days": 7},
                                     "limits": {"total": 10}}),
            )
            .await;
        server.claimed(&shop_template, "u-3").await;
        while server.app.dispatch_outbox().await.expect("dispatched") > 0 {}
        let overview = server.get("/v1/stats/overview", &finance).await;
        let overview = overview.expect(200).clone();
        assert_eq!(
            (
                &overview["figures"]["claimed"],
                &overview["figures"]["used"],
                &overview["figures"]["discount"],
                &overview["figures"]["offered"]
            ),
            (&json!(3), &json!(1), &json!(5000), &json!(110)),
            "{overview}"
        );
        let today = server
            .get(
                "/v1/stats/overview?from=2026-12-05T12:00:00Z&until=2026-12-05T13:00:00Z&granularity=hour",
                &finance,
            )
            .await;
        assert_eq!(today.expect(200)["series"][0]["claimed"], 3);
        let before = server
            .get("/v1/stats/overview?until=2026-12-05T12:00:00Z", &finance)
            .await;
        assert_eq!(before.expect(200)["figures"]["claimed"], 0);
        let campaign = server.get("/v1/stats/campaigns/cmp-none", &finance).await;
        let campaign = campaign.expect(200).clone();
        assert_eq!(
            (&campaign["figures"]["claimed"], &campaign["templates"]),
            (&json!(0), &json!([]))
        );

        for query in [
            "granularity=week",
            "from=2026-12-05T00:00:00Z&until=2026-12-04T00:00:00Z",
            "from=yesterday",
        ] {
            let path = format!("/v1/stats/templates/{template}?{query}");
            let answer = server.get(&path, ADMIN_KEY).await;
            assert!(
                matches!(answer.status.as_u16(), 400 | 422),
                "{query}: {}",
                answer.status
            );
        }
        server
            .get("/v1/stats/templates/tpl_nosuch", ADMIN_KEY)
            .await
            .expect_problem(404, "TEMPLATE_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_records_behind_the_figures_show_who_claimed_and_what_was_bought() {
    for server in servers().await {
        let template = server.active_template(&template_json("满300减50")).await;
        let mall = server.key("service").await;
        let claim = json!({"user": {"id": "u-1"}, "request_id": "r-1",
                           "context": {"phone": "13812345678"}});
        let claimed = server
            .post(&format!("/v1/templates/{template}/claims"), &mall, &claim)
            .await;
        let code = claimed.expect(201)["code"]
            .as_str()
            .expect("a code")
            .to_owned();
        server.claimed(&template, "u-2").await;
        let cart = json!({"user": {"id": "u-1"}, "select": [code],
                          "lines": [{"line_id": "1", "sku": "tea", "unit_price": 20000, "quantity": 2}]});
        server
            .post("/v1/orders/o-9/lock", &mall, &cart)
            .await
            .expect(200);
        server.act("/v1/orders/o-9/redeem", &mall).await.expect(200);

        let finance = server.key("finance").await;
        let claims = server
            .get(&format!("/v1/stats/templates/{template}/claims"), &finance)
            .await
            .expect(200)
            .clone();
        let rows = claims["items"].as_array().expect("items").clone();
        assert_eq!(rows.len(), 2, "{claims} on {}", server.database);
        let first = rows
            .iter()
            .find(|r| r["code"] == code.as_str())
            .expect("the claim");
        assert_eq!(
            (
                &first["user_id"],
                &first["phone_masked"],
                &first["source"],
                &first["state"]
            ),
            (
                &json!("u-1"),
                &json!("138****5678"),
                &json!("claim"),
                &json!("redeemed")
            )
        );
        let uses = server
            .get(&format!("/v1/stats/templates/{template}/uses"), &finance)
            .await
            .expect(200)
            .clone();
        assert_eq!(
            uses["items"],
            json!([{"code": code, "user_id": "u-1", "order_id": "o-9", "store_id": null,
                    "used_at": "2026-12-05T12:00:00Z", "order_amount": 40000, "discount": 5000,
                    "items": ["tea×2"]}]),
            "{uses}"
        );
        let csv = reqwest::Client::new()
            .get(server.url(&format!("/v1/stats/templates/{template}/uses.csv")))
            .bearer_auth(&finance)
            .send()
            .await
            .expect("answers")
            .text()
            .await
            .expect("text");
        assert_eq!(
            csv.lines().collect::<Vec<_>>(),
            [
                "code,user_id,order_id,store_id,used_at,order_amount,discount,items",
                format!("{code},u-1,o-9,,2026-12-05T12:00:00Z,40000,5000,tea×2").as_str(),
            ]
        );
        let later = server
            .get(
                &format!("/v1/stats/templates/{template}/claims.csv?from=2026-12-06T00:00:00Z"),
                &finance,
            )
            .await;
        assert_eq!(later.status, 200);
        server
            .get("/v1/stats/templates/tpl_nosuch/uses", &finance)
            .await
            .expect_problem(404, "TEMPLATE_NOT_FOUND");
    }
}
