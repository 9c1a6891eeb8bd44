//! The user pages (`/m`) on a phone, against a real server with the demo
//! mall on: sign-in, the claim centre, the wallet, the product page, the
//! checkout (recommendation, unusable coupons and why, switching, paying)
//! and the inbox.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{self, ADMIN_KEY, Browser, Screen, TestServer};

const USER: &str = "u-1001";

fn at(offset: Duration) -> String {
    (DateTime::<Utc>::from(std::time::SystemTime::now()) + offset)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn threshold(name: &str, min: i64, off: i64, days: u32) -> Value {
    json!({
        "name": name,
        "description": "全场通用",
        "benefit": {"kind": "threshold", "tiers": [{"min_amount": min, "off": off}]},
        "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": days},
        "limits": {"total": 100, "per_user": 1}
    })
}

async fn claim(server: &TestServer, template: &str, request: &str) -> String {
    let claimed = server
        .api(
            Method::POST,
            &format!("/v1/templates/{template}/claims"),
            ADMIN_KEY,
            json!({"user": {"id": USER}, "request_id": request}),
        )
        .await;
    claimed["code"].as_str().expect("a code").to_owned()
}

/// A screenshot without the passing toasts (they would cover the page).
async fn shot(browser: &Browser, name: &str) {
    browser
        .eval(
            "document.querySelectorAll('.toast').forEach(e => e.remove())",
            vec![],
        )
        .await;
    browser.screenshot(name).await;
}

/// Opens `/m/` and signs in as the demo user through the picker.
async fn sign_in(browser: &Browser, server: &TestServer) {
    browser.open(&server.url("/m/")).await;
    browser.click(&format!("[data-demo-user=\"{USER}\"]")).await;
    browser.wait_text(".who", USER).await;
}

#[tokio::test]
async fn a_shopper_claims_coupons_and_finds_them_in_the_wallet() {
    let server = harness::server_with_demo_mall().await;
    let reviewer = server.key("reviewer", "审核").await;
    let big = server
        .approved_template(&reviewer, threshold("满300减50 全场", 30000, 5000, 30))
        .await;
    let small = server
        .approved_template(&reviewer, threshold("满100减15 限时", 10000, 1500, 2))
        .await;
    let campaign = server
        .api(
            Method::POST,
            "/v1/campaigns",
            ADMIN_KEY,
            json!({
                "name": "双12 领券中心", "description": "活动规则：每人每券限领一张",
                "starts_at": at(-Duration::days(1)), "ends_at": at(Duration::days(6)),
                "share": {"title": "双12", "image": "https://cdn.example/s.png", "text": "快来领券"},
                "templates": [{"template": big}, {"template": small}]
            }),
        )
        .await;
    let campaign = campaign["id"].as_str().expect("an id").to_owned();
    server
        .api(
            Method::POST,
            &format!("/v1/campaigns/{campaign}/schedule"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;

    let Some(browser) = harness::browser(Screen::Phone).await else {
        return;
    };
    sign_in(&browser, &server).await;
    // The card says what the coupon is, and claims on the card.
    let card = format!("[data-entry=\"{big}\"]");
    browser
        .wait_text(&format!("{card} [data-cond]"), "满300可用")
        .await;
    browser.wait_text(&card, "领取后30天内有效").await;
    browser.click(&format!("{card} [data-action=claim]")).await;
    browser
        .wait_text(&format!("{card} [data-claimed]"), "已领取")
        .await;
    // Meanwhile the same user claimed the other one elsewhere: the page
    // still offers it, and the refusal shows readable on the card.
    let small_code = claim(&server, &small, "elsewhere-1").await;
    let other = format!("[data-entry=\"{small}\"]");
    browser.click(&format!("{other} [data-action=claim]")).await;
    browser
        .wait_text(
            &format!("{other} [data-refusal]"),
            "您已领取过，达到每人限领数量",
        )
        .await;
    shot(&browser, "m-claim-centre").await;

    // Both are in 待使用; the one that ends within three days is first and tagged.
    browser.click("[data-tab=wallet]").await;
    let wallet = "[data-wallet=available]";
    browser.wait_text(wallet, "满300减50 全场").await;
    browser.wait_text(wallet, "满100减15 限时").await;
    let order = browser
        .eval(
            "return [...document.querySelectorAll('[data-wallet=available] [data-coupon]')].map(e => e.dataset.coupon)",
            vec![],
        )
        .await;
    assert_eq!(
        order[0],
        small_code.as_str(),
        "soonest-expiring first: {order}"
    );
    browser
        .wait_text(
            &format!("[data-coupon=\"{small_code}\"] [data-expiring]"),
            "即将过期",
        )
        .await;
    let big_code = order[1].as_str().expect("a code").to_owned();
    let expiring = browser
        .eval(
            "return document.querySelectorAll(arguments[0]).length",
            vec![json!(format!(
                "[data-coupon=\"{big_code}\"] [data-expiring]"
            ))],
        )
        .await;
    assert_eq!(expiring, 0, "30 days left is not 即将过期");
    // A tap shows the code and the rules.
    browser
        .click(&format!("[data-coupon=\"{big_code}\"]"))
        .await;
    browser.wait_text("[data-detail-code]", &big_code).await;
    browser.wait_text("[data-sheet]", "满300可用").await;
    browser.click("[data-action=close-sheet]").await;
    shot(&browser, "m-wallet").await;
    browser.click("[data-wallet-tab=used]").await;
    browser
        .wait_text("[data-state=empty]", "还没有使用过的券")
        .await;

    // English on the switch.
    browser.click("[data-action=lang]").await;
    browser.wait_text("[data-tab=wallet]", "My coupons").await;
    browser.close().await;
}

#[tokio::test]
async fn a_shopper_sees_the_price_after_coupons_and_pays_with_the_chosen_one_then_reads_the_inbox()
{
    let server = harness::server_with_demo_mall().await;
    let reviewer = server.key("reviewer", "审核").await;
    let big = server
        .approved_template(&reviewer, threshold("满300减50 全场", 30000, 5000, 30))
        .await;
    let fifteen = server
        .approved_template(&reviewer, threshold("满100减15", 10000, 1500, 30))
        .await;
    let twenty = server
        .approved_template(&reviewer, threshold("满150减20 新品", 15000, 2000, 30))
        .await;
    let big_code = claim(&server, &big, "r-big").await;
    let fifteen_code = claim(&server, &fifteen, "r-15").await;

    let Some(browser) = harness::browser(Screen::Phone).await else {
        return;
    };
    sign_in(&browser, &server).await;
    // The Oxford shirt costs ¥199.00: the best coupon, 满150减20 (still to
    // claim), makes it ¥179.00.
    browser
        .open(&server.url("/m/#/product/sku-oxford-shirt-l"))
        .await;
    browser.wait_text("[data-after-price]", "¥179.00").await;
    browser.wait_text("[data-price]", "¥199.00").await;
    browser
        .wait_text(&format!("[data-held=\"{fifteen_code}\"]"), "¥15.00")
        .await;
    shot(&browser, "m-product").await;
    browser
        .click(&format!("[data-offer=\"{twenty}\"] [data-action=claim]"))
        .await;
    browser.wait_text("[data-toast=ok]", "领取成功").await;
    browser.wait_text("#app", "满150减20 新品").await;
    browser.click("[data-action=buy]").await;

    // Checkout recommends the best coupon: ¥199.00 − ¥20.00.
    browser.wait_text("[data-sum=payable]", "¥179.00").await;
    browser.wait_text("[data-coupon-discount]", "-¥20.00").await;
    browser.wait_text("[data-sum=subtotal]", "¥199.00").await;
    browser
        .wait_text(
            "[data-chosen-names]",
            "已为您选择最优惠的组合：满150减20 新品",
        )
        .await;
    browser.click("[data-action=coupons]").await;
    // 满300减50 is greyed: ¥300.00 − ¥199.00 = ¥101.00 short.
    let greyed = format!("[data-pick=\"{big_code}\"][data-applicable=false]");
    browser.wait_text(&greyed, "还差101.00元可用").await;
    shot(&browser, "m-checkout").await;
    // Switch: drop 满150减20, take 满100减15 → ¥184.00.
    let chosen = browser
        .eval(
            "return document.querySelector('[data-pick][aria-checked=true]').dataset.pick",
            vec![],
        )
        .await;
    let twenty_code = chosen.as_str().expect("a chosen code").to_owned();
    assert_ne!(twenty_code, fifteen_code);
    browser
        .click(&format!("[data-pick=\"{twenty_code}\"]"))
        .await;
    browser.wait_text("[data-sheet-total]", "¥199.00").await;
    browser
        .click(&format!("[data-pick=\"{fifteen_code}\"]"))
        .await;
    browser.wait_text("[data-sheet-total]", "¥184.00").await;
    // A tap on the greyed one changes nothing.
    browser.click(&greyed).await;
    browser.wait_text("[data-sheet-total]", "¥184.00").await;
    browser.click("[data-action=confirm-coupons]").await;
    browser.wait_text("[data-sum=payable]", "¥184.00").await;
    browser.wait_text("[data-coupon-discount]", "-¥15.00").await;
    browser.wait_text("[data-chosen-names]", "满100减15").await;

    // Pay: the demo mall locks and redeems the order.
    browser.click("[data-action=pay]").await;
    browser.wait_text("[data-paid-amount]", "¥184.00").await;
    browser.wait_text("[data-paid-discount]", "-¥15.00").await;
    let order_id = browser
        .find("[data-order-id]")
        .await
        .text()
        .await
        .expect("the order id");
    let order = server
        .api(
            Method::GET,
            &format!("/v1/orders/{order_id}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(order["state"], "paid", "{order}");
    assert_eq!(order["user_id"], USER);
    assert_eq!(order["quote"]["payable"], 18400);
    assert_eq!(order["quote"]["selected"], json!([fifteen_code]));
    // The coupon moved to 已使用.
    browser.click("[data-action=see-used]").await;
    browser
        .wait_text(
            &format!("[data-wallet=used] [data-coupon=\"{fifteen_code}\"]"),
            "已使用",
        )
        .await;
    let coupon = server
        .api(
            Method::GET,
            &format!("/v1/coupons/{fifteen_code}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(coupon["state"], "redeemed", "{coupon}");
    // A used coupon can be removed from the wallet.
    browser
        .click(&format!(
            "[data-wallet=used] [data-coupon=\"{fifteen_code}\"]"
        ))
        .await;
    browser.wait_text("[data-detail-code]", &fifteen_code).await;
    browser.click("[data-action=hide]").await;
    browser
        .wait_text("[data-state=empty]", "还没有使用过的券")
        .await;
    // The payment became a message; a tap reads it.
    while server.app.dispatch_outbox().await.expect("the outbox") > 0 {}
    browser.click("[data-tab=inbox]").await;
    browser.wait_text("[data-message]", "你的券已使用").await;
    browser.wait_text("[data-unread]", "1条未读").await;
    shot(&browser, "m-inbox").await;
    browser.click("[data-message][data-read=false]").await;
    browser.find("[data-message][data-read=true]").await;
    let inbox = server
        .api(
            Method::GET,
            &format!("/v1/users/{USER}/messages"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(inbox["unread"], 0, "{inbox}");
    assert!(
        inbox["items"][0]["body_zh"]
            .as_str()
            .unwrap()
            .contains(&fifteen_code),
        "{inbox}"
    );
    browser.close().await;
}

/// Everything but letters and digits as `%XX`, for a URL's query or fragment.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn without_the_demo_mall_the_mall_hands_over_the_shopper_and_gets_the_codes_back() {
    let server = harness::server().await;
    let reviewer = server.key("reviewer", "审核").await;
    let fifteen = server
        .approved_template(&reviewer, threshold("满100减15", 10000, 1500, 30))
        .await;
    let code = claim(&server, &fifteen, "r-15").await;
    let token = server.user_token(USER);
    let cart = json!([{"sku": "sku-mall-1", "product": "p-mall-1", "name": "商城商品", "shop": "s-mall",
                       "shop_name": "商城自营", "categories": ["c-home"], "price": 12000, "quantity": 1}]);
    let next = format!("/checkout?cart={}", encode(&cart.to_string()));
    let url = server.url(&format!(
        "/m/?return_url={}#token={}&next={}",
        encode("/m/api/back-to-the-mall"),
        token,
        encode(&next)
    ));

    let Some(browser) = harness::browser(Screen::Phone).await else {
        return;
    };
    browser.open(&url).await;
    // The token left the address at once; the cart came with the link.
    browser.wait_text("[data-sum=payable]", "¥105.00").await;
    let address = browser.eval("return window.location.href", vec![]).await;
    assert!(!address.as_str().unwrap().contains("u1."), "{address}");
    // Pay hands the chosen codes back to the mall.
    browser.click("[data-action=pay]").await;
    let deadline = tokio::time::Instant::now() + harness::WAIT;
    loop {
        let address = browser.eval("return window.location.href", vec![]).await;
        let address = address.as_str().unwrap_or_default().to_owned();
        if address.contains("/m/api/back-to-the-mall") {
            assert!(address.ends_with(&format!("codes={code}")), "{address}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never went back: {address}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Nothing was locked: the mall places the order itself.
    let coupon = server
        .api(
            Method::GET,
            &format!("/v1/coupons/{code}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(coupon["state"], "available", "{coupon}");
    browser.close().await;
}
