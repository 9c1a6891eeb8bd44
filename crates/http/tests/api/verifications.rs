//! Counter verification over HTTP (SPEC §9): a merchant verifies a gift of
//! its own shop; another merchant, a partner without the template and a
//! user cannot.

use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, servers};

fn shop_gift(shop: &str) -> Value {
    json!({"name": "咖啡券", "benefit": {"kind": "gift", "item": "一杯咖啡"},
           "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
           "issuer": {"type": "shop", "shop": shop}})
}

/// `ABCD…` as a clerk might type it: lower case, in groups of four.
fn typed(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).to_lowercase())
        .collect::<Vec<_>>()
        .join("-")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_of_the_issuing_shop_previews_and_spends_a_gift_once() {
    for server in servers().await {
        let template = server.active_template(&shop_gift("s-1")).await;
        let code = server.claimed(&template, "u-1").await;
        let merchant = server.scoped_key("merchant", &["s-1"], &[]).await;

        let preview = json!({"code": typed(&code), "store": "store-9"});
        let seen = server.post("/v1/verifications", &merchant, &preview).await;
        let seen = seen.expect(200);
        assert_eq!(
            (
                &seen["code"],
                &seen["template_id"],
                &seen["benefit_kind"],
                &seen["item"]
            ),
            (
                &json!(code),
                &json!(template),
                &json!("gift"),
                &json!("一杯咖啡")
            ),
            "{}",
            server.database
        );
        assert_eq!(
            (&seen["usable"], &seen["state"]),
            (&json!(true), &json!("available"))
        );

        let path = format!("/v1/verifications/{}/confirm", typed(&code));
        let confirm = json!({"store": "store-9", "staff": "clerk-7"});
        let spent = server.post(&path, &merchant, &confirm).await;
        let spent = spent.expect(200);
        assert_eq!(
            (&spent["state"], &spent["store_id"], &spent["staff_id"]),
            (&json!("redeemed"), &json!("store-9"), &json!("clerk-7"))
        );
        let coupon = server.get(&format!("/v1/coupons/{code}"), ADMIN_KEY).await;
        assert_eq!(coupon.expect(200)["state"], "redeemed");
        server
            .post(&path, &merchant, &confirm)
            .await
            .expect_problem(409, "COUPON_STATE");
        let after = server.post("/v1/verifications", &merchant, &preview).await;
        let after = after.expect(200);
        assert_eq!(
            (&after["usable"], &after["reason"]),
            (&json!(false), &json!("NOT_AVAILABLE"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_merchant_or_a_partner_of_another_template_cannot_verify_it() {
    for server in servers().await {
        let template = server.active_template(&shop_gift("s-1")).await;
        let code = server.claimed(&template, "u-1").await;
        let elsewhere = server.active_template(&shop_gift("s-2")).await;
        let other_merchant = server.scoped_key("merchant", &["s-2"], &[]).await;
        let partner = server.scoped_key("partner", &[], &[&elsewhere]).await;
        let preview = json!({"code": code, "store": "store-1"});
        let confirm = json!({"store": "store-1", "staff": "clerk-1"});
        let path = format!("/v1/verifications/{code}/confirm");
        for key in [&other_merchant, &partner] {
            let seen = server.post("/v1/verifications", key, &preview).await;
            seen.expect_problem(404, "COUPON_NOT_FOUND");
            let spent = server.post(&path, key, &confirm).await;
            spent.expect_problem(404, "COUPON_NOT_FOUND");
        }
        let coupon = server.get(&format!("/v1/coupons/{code}"), ADMIN_KEY).await;
        assert_eq!(
            coupon.expect(200)["state"],
            "available",
            "{}",
            server.database
        );

        let own_partner = server.scoped_key("partner", &[], &[&template]).await;
        let seen = server
            .post("/v1/verifications", &own_partner, &preview)
            .await;
        assert_eq!(seen.expect(200)["usable"], true);
        let operator = server.key("operator").await;
        let spent = server.post(&path, &operator, &confirm).await;
        assert_eq!(spent.expect(200)["state"], "redeemed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_code_or_a_missing_store_is_refused_without_a_look_up() {
    for server in servers().await {
        let template = server.active_template(&shop_gift("s-1")).await;
        let code = server.claimed(&template, "u-1").await;
        let mut typo = code.clone();
        let last = typo.pop().expect("a check character");
        typo.push(if last == '0' { '1' } else { '0' });
        let preview = json!({"code": typo, "store": "store-1"});
        let problem = server.post("/v1/verifications", ADMIN_KEY, &preview).await;
        problem.expect_problem(422, "VALIDATION_FAILED");
        let no_store = json!({"code": code, "store": ""});
        let problem = server.post("/v1/verifications", ADMIN_KEY, &no_store).await;
        problem.expect_problem(422, "VALIDATION_FAILED");
        let extra = json!({"code": code, "store": "store-1", "amount": 1});
        let problem = server.post("/v1/verifications", ADMIN_KEY, &extra).await;
        problem.expect_problem(400, "BAD_JSON");
    }
}
