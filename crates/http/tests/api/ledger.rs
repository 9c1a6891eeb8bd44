//! `/v1/ledger/…` over HTTP on every back end: the report after a real
//! order, the check, and a bad period.

use serde_json::json;

use crate::harness::{ADMIN_KEY, servers, template_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_shows_what_an_order_spent_and_the_check_finds_nothing_wrong() {
    for server in servers().await {
        let mut body = template_json("满300减50");
        body["limits"]["budget"] = json!(500_000);
        let template = server.active_template(&body).await;
        let code = server.claimed(&template, "u-1").await;
        let cart = json!({"user": {"id": "u-1"}, "select": [code],
                          "lines": [{"line_id": "1", "sku": "s", "unit_price": 40000, "quantity": 1}]});
        let mall = server.key("service").await;
        server
            .post("/v1/orders/o-1/lock", &mall, &cart)
            .await
            .expect(200);
        server.act("/v1/orders/o-1/redeem", &mall).await.expect(200);

        let finance = server.key("finance").await;
        let report = server
            .get(&format!("/v1/ledger/report?template={template}"), &finance)
            .await;
        let report = report.expect(200).clone();
        let row = &report["templates"][0];
        assert_eq!(
            (
                &row["issuer"],
                &row["reserved"],
                &row["spent"],
                &row["released"]
            ),
            (&json!("platform"), &json!(500_000), &json!(5000), &json!(0)),
            "{report} on {}",
            server.database
        );
        assert_eq!(report["issuers"][0]["spent"], json!(5000));

        let check = server.get("/v1/ledger/check", ADMIN_KEY).await;
        let check = check.expect(200);
        assert_eq!(check["consistent"], json!(true), "{check}");
        assert_eq!(check["mismatch_count"], json!(0));

        server
            .get(
                "/v1/ledger/report?from=2026-12-06T00:00:00Z&until=2026-12-05T00:00:00Z",
                &finance,
            )
            .await
            .expect_problem(422, "VALIDATION_FAILED");
    }
}
