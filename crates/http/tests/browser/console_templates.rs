//! The console's templates, reviews, campaigns and dashboard, through the
//! real pages in Chromium against a real server: a template made in the
//! form with live validation, reviewed by a second staff user, paused and
//! resumed, offered in a campaign, and its claim on the dashboard.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{self, ADMIN_KEY, Browser, Screen, TestServer};

const SUMMARY: &str = "满300减50，全场通用，领取后30天内有效，每人限领1张，限量100张";

async fn hash(browser: &Browser) -> String {
    browser
        .eval("return window.location.hash;", vec![])
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn go(browser: &Browser, server: &TestServer, hash: &str) {
    browser.open(&server.url(&format!("/console/{hash}"))).await;
}

fn template(name: &str) -> Value {
    json!({
        "name": name,
        "benefit": {"kind": "cash", "amount": 1000},
        "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": 7}
    })
}

#[tokio::test]
async fn a_template_made_in_the_form_is_reviewed_by_a_second_staff_user_then_paused_and_resumed() {
    let server = harness::server().await;
    let operator = server.key("operator", "运营小王").await;
    let reviewer = server.key("reviewer", "审核小李").await;
    // The admin's own template, waiting for review: the admin may not approve it.
    let own = server
        .api(
            Method::POST,
            "/v1/templates",
            ADMIN_KEY,
            template("管理员自建券"),
        )
        .await;
    let own_id = own["id"].as_str().expect("an id").to_owned();
    server
        .api(
            Method::POST,
            &format!("/v1/templates/{own_id}/submit"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };

    // A wrong key is refused with a readable message, not JSON.
    browser.open(&server.url("/console/")).await;
    browser
        .fill("#login-key", "cf_not_a_key_at_all_0000000000000")
        .await;
    browser.click("form.login-card button[type=submit]").await;
    let refused = browser.wait_text(".login-error", "登录已失效").await;
    assert!(!refused.contains('{'), "{refused}");
    browser.fill("#login-key", &operator).await;
    browser.click("form.login-card button[type=submit]").await;
    browser.wait_text("[data-who]", "运营").await;

    // The form: typing shows the plain-language summary, live.
    browser.click("[data-nav=templates]").await;
    browser.click("[data-action=new-template]").await;
    browser.fill("[data-path=name]", "满300减50").await;
    browser
        .fill("[data-tiers=threshold] [data-tier-field=min_amount]", "300")
        .await;
    browser
        .fill("[data-tiers=threshold] [data-tier-field=off]", "50")
        .await;
    browser.fill("[data-path='limits.total']", "100").await;
    browser.fill("[data-path='limits.per_user']", "1").await;
    browser.wait_text("[data-preview=summary]", SUMMARY).await;
    browser.wait_text("[data-preview=state]", "设置有效").await;
    tidy(&browser).await;
    browser.screenshot("console-template-form").await;

    // An off as large as the threshold is refused next to its field, and
    // saving is refused too: nothing is stored.
    browser
        .fill("[data-tiers=threshold] [data-tier-field=off]", "300")
        .await;
    let error = wait_nonempty(
        &browser,
        "[data-tiers=threshold] [data-tier-cell=off] .field-error",
    )
    .await;
    assert!(error.contains("允许 0 元订单"), "{error}");
    browser
        .wait_text("[data-preview=summary]", "请先修正标记的字段")
        .await;
    browser.click("[data-action=save]").await;
    wait_toast(&browser, "请先修正标记的字段").await;
    assert_eq!(hash(&browser).await, "#/templates/new");
    // Money that is not money is caught in the page, before the server.
    browser
        .fill("[data-tiers=threshold] [data-tier-field=off]", "5o")
        .await;
    browser
        .wait_text(
            "[data-tiers=threshold] [data-tier-cell=off] .field-error",
            "请输入金额",
        )
        .await;
    let listed = server
        .api(
            Method::GET,
            "/v1/templates?status=draft",
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(listed["items"], json!([]));

    // Fixed, saved and submitted in one go.
    browser
        .fill("[data-tiers=threshold] [data-tier-field=off]", "50")
        .await;
    browser.wait_text("[data-preview=summary]", SUMMARY).await;
    browser.click("[data-action=save-submit]").await;
    browser.wait_text("[data-status]", "待审核").await;
    browser.wait_text("[data-detail=summary]", SUMMARY).await;
    let id = hash(&browser)
        .await
        .trim_start_matches("#/templates/")
        .to_owned();
    let stored = server
        .api(
            Method::GET,
            &format!("/v1/templates/{id}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(
        stored["benefit"],
        json!({"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]})
    );
    assert_eq!(stored["limits"], json!({"total": 100, "per_user": 1}));
    browser.wait_text("[data-list=events]", "提交审核").await;

    // The admin cannot approve their own template: the API's SELF_REVIEW,
    // in words.
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    go(&browser, &server, "#/reviews").await;
    browser
        .click(&format!("[data-review='{own_id}'] [data-action=approve]"))
        .await;
    browser.click("[data-action=confirm-review]").await;
    browser
        .wait_text("[data-dialog=error]", "不能审核自己创建的券模板")
        .await;

    // A second staff user, the reviewer, sees the queue with the summary.
    browser
        .console_sign_in(&server, &reviewer, "审核小李")
        .await;
    browser.click("[data-nav=reviews]").await;
    browser
        .wait_text(&format!("[data-summary='{id}']"), SUMMARY)
        .await;
    browser.wait_text("[data-count=reviews]", "2").await;
    tidy(&browser).await;
    browser.screenshot("console-reviews").await;
    // A rejection needs a reason.
    browser
        .click(&format!("[data-review='{own_id}'] [data-action=reject]"))
        .await;
    browser.click("[data-action=confirm-review]").await;
    browser
        .wait_text("[data-dialog=error]", "驳回时必须填写原因")
        .await;
    browser
        .fill("[data-field=reason]", "面额与活动方案不符")
        .await;
    browser.click("[data-action=confirm-review]").await;
    wait_toast(&browser, "已驳回").await;
    browser.wait_text("[data-count=reviews]", "1").await;
    browser
        .click(&format!("[data-review='{id}'] [data-action=approve]"))
        .await;
    browser.click("[data-action=confirm-review]").await;
    wait_toast(&browser, "已通过").await;
    browser.find("[data-empty=reviews]").await;
    go(&browser, &server, &format!("#/templates/{id}")).await;
    browser.wait_text("[data-status]", "生效中").await;
    browser.wait_text("[data-list=events]", "审核通过").await;

    let rejected = server
        .api(
            Method::GET,
            &format!("/v1/templates/{own_id}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(rejected["status"], "rejected");

    // The operator pauses and resumes it.
    browser
        .console_sign_in(&server, &operator, "运营小王")
        .await;
    go(&browser, &server, &format!("#/templates/{id}")).await;
    browser.click("[data-action=pause]").await;
    browser.wait_text("[data-status]", "已暂停").await;
    browser.click("[data-action=resume]").await;
    browser.wait_text("[data-status]", "生效中").await;
    let events = server
        .api(
            Method::GET,
            &format!("/v1/templates/{id}/events"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    let actions: Vec<&str> = events["items"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(
        actions,
        ["created", "submitted", "approved", "paused", "resumed"]
    );
    browser.close().await;
}

/// Readies the page for a screenshot: at the top, no notes in the corner,
/// no focus ring.
async fn tidy(browser: &Browser) {
    browser
        .eval(
            "document.querySelectorAll('.toast').forEach((note) => note.remove()); \
             if (document.activeElement) document.activeElement.blur(); \
             window.scrollTo(0, 0); return true;",
            vec![],
        )
        .await;
}

/// Waits until a note in the corner says `text` (notes come and go, so
/// every one showing is read each time).
async fn wait_toast(browser: &Browser, text: &str) {
    let deadline = tokio::time::Instant::now() + harness::WAIT;
    while tokio::time::Instant::now() < deadline {
        let seen = browser
            .eval(
                "return [...document.querySelectorAll('.toast')].some((note) => note.textContent.includes(arguments[0]));",
                vec![json!(text)],
            )
            .await;
        if seen == json!(true) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no note said {text:?}");
}

/// Waits until `css` shows some text, and answers it.
async fn wait_nonempty(browser: &Browser, css: &str) -> String {
    let deadline = tokio::time::Instant::now() + harness::WAIT;
    while tokio::time::Instant::now() < deadline {
        let text = browser
            .eval(
                "const el = document.querySelector(arguments[0]); return el ? el.textContent : '';",
                vec![json!(css)],
            )
            .await;
        if let Some(text) = text.as_str().filter(|text| !text.is_empty()) {
            return text.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} stayed empty");
}

#[tokio::test]
async fn a_campaign_offers_an_approved_template_and_the_dashboard_counts_its_claim() {
    let server = harness::server().await;
    let operator = server.key("operator", "运营小王").await;
    let reviewer = server.key("reviewer", "审核小李").await;
    let made = server
        .api(
            Method::POST,
            "/v1/templates",
            &operator,
            template("新人立减10元"),
        )
        .await;
    let id = made["id"].as_str().expect("an id").to_owned();
    server
        .api(
            Method::POST,
            &format!("/v1/templates/{id}/submit"),
            &operator,
            Value::Null,
        )
        .await;
    server
        .api(
            Method::POST,
            &format!("/v1/templates/{id}/reviews"),
            &reviewer,
            json!({"decision": "approve"}),
        )
        .await;
    // Others, so the pages look as they do in use; only `id` is chosen.
    for (name, benefit) in [
        (
            "男装8折 封顶30元",
            json!({"kind": "percent", "tiers": [{"rate_bp": 8000}], "cap": 3000}),
        ),
        (
            "包邮券",
            json!({"kind": "shipping", "max_off": 1000, "min_amount": 9900}),
        ),
    ] {
        let mut body = template(name);
        body["benefit"] = benefit;
        let other = server
            .api(Method::POST, "/v1/templates", &operator, body)
            .await;
        let other = other["id"].as_str().expect("an id").to_owned();
        server
            .api(
                Method::POST,
                &format!("/v1/templates/{other}/submit"),
                &operator,
                Value::Null,
            )
            .await;
        server
            .api(
                Method::POST,
                &format!("/v1/templates/{other}/reviews"),
                &reviewer,
                json!({"decision": "approve"}),
            )
            .await;
    }
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser
        .console_sign_in(&server, &operator, "运营小王")
        .await;

    // A campaign made in the form, offering the template, then scheduled.
    browser.click("[data-nav=campaigns]").await;
    browser.click("[data-action=new-campaign]").await;
    browser.fill("[data-path=name]", "双12 领券中心").await;
    browser
        .fill("[data-path=description]", "每人每券限领一张")
        .await;
    browser.click(&format!("[data-choose='{id}']")).await;
    browser.click("[data-action=save-campaign]").await;
    browser.wait_text("[data-status]", "草稿").await;
    browser
        .wait_text(&format!("[data-entry-template='{id}']"), "新人立减10元")
        .await;
    browser.click("[data-action=schedule]").await;
    browser.wait_text("[data-status]", "进行中").await;
    tidy(&browser).await;
    browser.screenshot("console-campaigns").await;
    let campaign = hash(&browser)
        .await
        .trim_start_matches("#/campaigns/")
        .to_owned();
    let stored = server
        .api(
            Method::GET,
            &format!("/v1/campaigns/{campaign}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(stored["templates"], json!([{"template": id}]));
    assert_eq!(stored["status"], "running");
    browser.click("[data-nav=campaigns]").await;
    browser
        .wait_text(&format!("[data-campaign='{campaign}']"), "双12 领券中心")
        .await;

    // The dashboard before and after a claim made through the API.
    browser.click("[data-nav=dashboard]").await;
    browser.wait_text("[data-value=claimed]", "0").await;
    for user in ["u-1", "u-2", "u-3"] {
        server
            .api(
                Method::POST,
                &format!("/v1/campaigns/{campaign}/claims"),
                ADMIN_KEY,
                json!({"template": id, "user": {"id": user}, "request_id": format!("req-{user}")}),
            )
            .await;
    }
    // The figures are fed by the outbox, which `serve` drains in the background.
    while server.app.dispatch_outbox().await.expect("dispatched") > 0 {}
    browser.click("[data-action=refresh]").await;
    browser.wait_text("[data-value=claimed]", "3").await;
    let bars = browser
        .eval(
            "return [...document.querySelectorAll('[data-chart=hours] rect[data-claimed]')].reduce((sum, bar) => sum + Number(bar.dataset.claimed), 0);",
            vec![],
        )
        .await;
    assert_eq!(bars, json!(3));
    tidy(&browser).await;
    browser.screenshot("console-dashboard").await;
    browser.close().await;
}

#[tokio::test]
async fn a_rejected_template_is_changed_in_the_form_in_english_down_to_another_kind() {
    let server = harness::server().await;
    let operator = server.key("operator", "ops").await;
    let reviewer = server.key("reviewer", "rev").await;
    let made = server
        .api(
            Method::POST,
            "/v1/templates",
            &operator,
            json!({
                "name": "Multi-buy",
                "benefit": {"kind": "percent", "tiers": [{"min_quantity": 2, "rate_bp": 9000}], "cap": 5000},
                "scope": {"include": {"all": true}},
                "validity": {"type": "absolute", "from": "2026-12-01T00:00:00Z", "until": "2026-12-31T23:59:00Z"}
            }),
        )
        .await;
    let id = made["id"].as_str().expect("an id").to_owned();
    server
        .api(
            Method::POST,
            &format!("/v1/templates/{id}/submit"),
            &operator,
            Value::Null,
        )
        .await;
    server
        .api(
            Method::POST,
            &format!("/v1/templates/{id}/reviews"),
            &reviewer,
            json!({"decision": "reject", "reason": "cap too high"}),
        )
        .await;
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, &operator, "ops").await;
    browser.click("button[data-lang=en]").await;
    browser.wait_text("[data-who]", "Operator").await;
    go(&browser, &server, &format!("#/templates/{id}")).await;
    browser.wait_text("[data-status]", "Rejected").await;
    browser
        .wait_text("[data-list=events]", "cap too high")
        .await;

    // The form opens filled in with what is stored, and previews it.
    browser.click("[data-action=edit]").await;
    browser
        .wait_text(
            "[data-preview=summary]",
            "10% off 2 items or more, up to ¥50 off, storewide, valid 2026-12-01 00:00 to 2026-12-31 23:59 UTC",
        )
        .await;
    browser
        .fill("[data-tiers=percent] [data-tier-field=rate_bp]", "8.5")
        .await;
    browser
        .wait_text("[data-preview=summary]", "15% off 2 items or more")
        .await;
    // Another kind: its own settings, and the old kind's leave the template.
    browser.select("[data-path='benefit.kind']", "gift").await;
    browser
        .fill(
            "[data-panel=gift] [data-path='benefit.item']",
            "a cup of coffee",
        )
        .await;
    browser
        .wait_text(
            "[data-preview=summary]",
            "Gift: a cup of coffee, redeemed at a counter, valid 2026-12-01 00:00",
        )
        .await;
    browser.wait_text("[data-preview=state]", "Valid").await;
    browser.click("[data-action=save]").await;
    browser
        .wait_text("[data-detail=summary]", "Gift: a cup of coffee")
        .await;
    let stored = server
        .api(
            Method::GET,
            &format!("/v1/templates/{id}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(
        stored["benefit"],
        json!({"kind": "gift", "item": "a cup of coffee"})
    );
    assert_eq!(stored["validity"]["until"], "2026-12-31T23:59:00Z");
    assert!(stored.get("stacking").is_none(), "{stored}");
    browser.close().await;
}

#[tokio::test]
async fn a_large_budget_waits_for_the_finance_review_which_a_finance_key_takes_in_the_queue() {
    let server = harness::server().await;
    let operator = server.key("operator", "运营小王").await;
    let reviewer = server.key("reviewer", "审核小李").await;
    let finance = server.key("finance", "财务小赵").await;
    let mut big = template("大额补贴券");
    big["limits"] = json!({"budget": 50_000_000});
    let made = server
        .api(Method::POST, "/v1/templates", &operator, big)
        .await;
    let id = made["id"].as_str().expect("an id").to_owned();
    server
        .api(
            Method::POST,
            &format!("/v1/templates/{id}/submit"),
            &operator,
            Value::Null,
        )
        .await;
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    // Finance has nothing to do before operations has approved it.
    browser.console_sign_in(&server, &finance, "财务小赵").await;
    browser.click("[data-nav=reviews]").await;
    browser.find("[data-empty=reviews]").await;

    browser
        .console_sign_in(&server, &reviewer, "审核小李")
        .await;
    browser.click("[data-nav=reviews]").await;
    browser
        .wait_text(&format!("[data-review='{id}']"), "预算 ¥500000.00")
        .await;
    browser
        .click(&format!("[data-review='{id}'] [data-action=approve]"))
        .await;
    browser.click("[data-action=confirm-review]").await;
    wait_toast(&browser, "等待财务复核").await;
    browser.find("[data-empty=reviews]").await;

    browser.console_sign_in(&server, &finance, "财务小赵").await;
    browser.click("[data-nav=reviews]").await;
    browser
        .wait_text(&format!("[data-review='{id}']"), "财务复核")
        .await;
    browser
        .click(&format!("[data-review='{id}'] [data-action=approve]"))
        .await;
    browser.fill("[data-field=reason]", "预算已确认").await;
    browser.click("[data-action=confirm-review]").await;
    wait_toast(&browser, "已通过").await;
    let stored = server
        .api(
            Method::GET,
            &format!("/v1/templates/{id}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(stored["status"], "active");
    browser.close().await;
}
