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
