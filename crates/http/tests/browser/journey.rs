//! The whole journey of issue 6 in one run, through the real pages only:
//! an operator creates a template in the console's form, a second staff
//! user approves it from the review queue, a shopper claims it on the
//! user pages, finds it in the wallet and pays an order with it on the
//! checkout page, a clerk verifies a gift coupon at the desk, and the
//! statistics page shows the claim, the use and the discount.

use couponflow_app::background::Background;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{self, ADMIN_KEY, Browser, Screen, TestServer};

const SHOPPER: &str = "u-1001";
/// ¥199.00 in the demo mall's catalogue.
const SHIRT: &str = "sku-oxford-shirt-l";

async fn go(browser: &Browser, server: &TestServer, hash: &str) {
    browser.open(&server.url(&format!("/console/{hash}"))).await;
}

#[tokio::test]
async fn a_template_goes_from_the_form_through_review_to_a_paid_order_and_the_statistics() {
    let server = harness::server_with_demo_mall().await;
    let jobs = Background::start_notifications(server.app.clone());
    let operator = server.key("operator", "运营小王").await;
    let reviewer = server.key("reviewer", "审核小李").await;
    let clerk = server.key("operator", "门店店员").await;
    let Some(desktop) = harness::browser(Screen::Desktop).await else {
        return;
    };

    // 1. The operator makes 满100减15 in the form and sends it to review.
    desktop
        .console_sign_in(&server, &operator, "运营小王")
        .await;
    desktop.click("[data-nav=templates]").await;
    desktop.click("[data-action=new-template]").await;
    desktop.fill("[data-path=name]", "满100减15 周末").await;
    desktop
        .fill("[data-tiers=threshold] [data-tier-field=min_amount]", "100")
        .await;
    desktop
        .fill("[data-tiers=threshold] [data-tier-field=off]", "15")
        .await;
    desktop.fill("[data-path='limits.total']", "500").await;
    desktop.fill("[data-path='limits.per_user']", "1").await;
    desktop
        .wait_text("[data-preview=summary]", "满100减15，全场通用")
        .await;
    desktop.click("[data-action=save-submit]").await;
    desktop.wait_text("[data-status]", "待审核").await;
    let hash = desktop.eval("return window.location.hash;", vec![]).await;
    let template = hash
        .as_str()
        .expect("a hash")
        .trim_start_matches("#/templates/")
        .to_owned();

    // 2. A second staff user approves it from the queue.
    desktop
        .console_sign_in(&server, &reviewer, "审核小李")
        .await;
    desktop.click("[data-nav=reviews]").await;
    desktop
        .click(&format!("[data-review='{template}'] [data-action=approve]"))
        .await;
    desktop.click("[data-action=confirm-review]").await;
    desktop.find("[data-empty=reviews]").await;
    go(&desktop, &server, &format!("#/templates/{template}")).await;
    desktop.wait_text("[data-status]", "生效中").await;
    desktop.close().await;

    // 3. The shopper claims it on the product page, 4. sees it in the
    // wallet, and 5. pays for the shirt with it: ¥199.00 − ¥15.00.
    let Some(phone) = harness::browser(Screen::Phone).await else {
        return;
    };
    phone.open(&server.url("/m/")).await;
    phone
        .click(&format!("[data-demo-user=\"{SHOPPER}\"]"))
        .await;
    phone.wait_text(".who", SHOPPER).await;
    phone
        .open(&server.url(&format!("/m/#/product/{SHIRT}")))
        .await;
    phone.wait_text("[data-after-price]", "¥184.00").await;
    phone
        .click(&format!("[data-offer=\"{template}\"] [data-action=claim]"))
        .await;
    phone.wait_text("[data-toast=ok]", "领取成功").await;
    phone.open(&server.url("/m/#/wallet")).await;
    phone
        .wait_text("[data-wallet=available]", "满100减15 周末")
        .await;
    let wallet = server
        .api(
            Method::GET,
            &format!("/v1/users/{SHOPPER}/coupons"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    let code = wallet["items"][0]["code"]
        .as_str()
        .expect("the claimed coupon")
        .to_owned();
    phone
        .open(&server.url(&format!("/m/#/product/{SHIRT}")))
        .await;
    phone.click("[data-action=buy]").await;
    phone.wait_text("[data-sum=payable]", "¥184.00").await;
    phone
        .wait_text("[data-chosen-names]", "满100减15 周末")
        .await;
    phone.click("[data-action=pay]").await;
    phone.wait_text("[data-paid-discount]", "-¥15.00").await;
    phone.click("[data-action=see-used]").await;
    phone
        .wait_text(
            &format!("[data-wallet=used] [data-coupon=\"{code}\"]"),
            "已使用",
        )
        .await;
    phone.close().await;

    // 6. A gift coupon granted to the shopper is verified at the desk.
    let gift = server
        .approved_template(
            &reviewer,
            json!({"name": "街角咖啡 礼品券", "benefit": {"kind": "gift", "item": "一杯咖啡"},
                   "scope": {"include": {"all": true}},
                   "validity": {"type": "relative", "days": 30}, "limits": {"total": 10}}),
        )
        .await;
    let claim = json!({"user": {"id": SHOPPER}, "request_id": "gift-1"});
    let claimed = server
        .api(
            Method::POST,
            &format!("/v1/templates/{gift}/claims"),
            ADMIN_KEY,
            claim,
        )
        .await;
    let gift_code = claimed["code"].as_str().expect("a code").to_owned();
    let Some(desk) = harness::browser(Screen::Desktop).await else {
        return;
    };
    desk.console_sign_in(&server, &clerk, "门店店员").await;
    go(&desk, &server, "#/desk").await;
    desk.fill("input[data-field=store]", "s-bj-guomao").await;
    desk.fill("input[data-field=staff]", "emp-0231").await;
    desk.fill("input[data-field=code]", &gift_code).await;
    desk.click("[data-action=preview]").await;
    desk.wait_text(".coupon-ticket", "一杯咖啡").await;
    desk.click("[data-action=confirm]").await;
    desk.wait_text("[data-verdict=done]", "核销成功").await;
    let verified = server
        .api(
            Method::GET,
            &format!("/v1/coupons/{gift_code}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(verified["state"], "redeemed", "{verified}");

    // 7. The statistics page shows the claim, the use and the discount.
    server
        .until(&format!("/v1/stats/templates/{template}"), |s| {
            s["figures"]["used"] == 1
        })
        .await;
    go(&desk, &server, &format!("#/stats/template/{template}")).await;
    desk.wait_text("[data-kpi=claimed] .kpi-value", "1").await;
    desk.wait_text("[data-kpi=used] .kpi-value", "1").await;
    desk.wait_text("[data-kpi=discount] .kpi-value", "¥15.00")
        .await;
    desk.wait_text("[data-kpi=sales] .kpi-value", "¥199.00")
        .await;
    desk.close().await;
    jobs.stop().await;
}
