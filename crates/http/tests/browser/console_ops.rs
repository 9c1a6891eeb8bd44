//! The console's operations pages in Chromium against a real server: code
//! batches, grants, the verification desk, statistics, the audit log,
//! webhooks and risk alerts. Set-up goes through the API; what is under
//! test goes through the pages.

use std::sync::{Arc, Mutex};

use couponflow_app::background::Background;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{self, ADMIN_KEY, Browser, Screen, TestServer};

/// Opens a console page by its hash route, as a click in the side bar would.
async fn go(browser: &Browser, hash: &str) {
    browser
        .eval(
            "window.location.hash = arguments[0]; return true;",
            vec![json!(hash)],
        )
        .await;
}

/// Makes the window `height` pixels tall, so a screenshot shows the page.
async fn tall(browser: &Browser, height: u32) {
    browser
        .client
        .set_window_size(1366, height)
        .await
        .expect("the window is resized");
}

/// Clears the passing notes, so a screenshot shows the page under them.
async fn no_toasts(browser: &Browser) {
    browser
        .eval(
            "document.getElementById('toasts').replaceChildren(); return true;",
            vec![],
        )
        .await;
}

async fn text(browser: &Browser, css: &str) -> String {
    browser.find(css).await.text().await.expect("the text")
}

#[tokio::test]
async fn a_code_batch_shows_its_progress_and_downloads_its_codes() {
    let server = harness::server().await;
    let template = approved(
        &server,
        json!({"name": "兑换码 立减20元", "benefit": {"kind": "cash", "amount": 2000},
               "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
               "limits": {"total": 100000, "per_user": 1}}),
    )
    .await;
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    go(&browser, "#/codes").await;
    browser
        .select("select[data-field=template]", &template)
        .await;
    // A count out of range is refused in the form, before any call.
    browser.fill("input[data-field=count]", "0").await;
    browser.click("[data-action=generate]").await;
    browser
        .wait_text("[data-field=count] .field-error", "1 至 10,000,000")
        .await;
    browser.fill("input[data-field=count]", "30000").await;
    browser.click("[data-action=generate]").await;
    browser.find("[data-batch-status]").await;
    browser
        .find("[data-batch-status=completed] [data-progress='100']")
        .await;
    browser.wait_text("[data-fact=generated]", "30,000").await;
    browser.click("[data-action=download]").await;
    browser.find("[data-downloaded][data-rows]").await;
    let rows = browser
        .eval(
            "return document.querySelector('[data-downloaded]').dataset.rows;",
            vec![],
        )
        .await;
    assert_eq!(rows, json!("30000"));
    // The page's batch is the template's, as the API reports it.
    let hash = browser.eval("return window.location.hash;", vec![]).await;
    let batch = hash
        .as_str()
        .unwrap()
        .trim_start_matches("#/codes/")
        .to_owned();
    let shown = server
        .api(
            Method::GET,
            &format!("/v1/code-batches/{batch}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(shown["template_id"], json!(template));
    assert_eq!(shown["generated"], json!(30000));
    // The page shows the file's first rows: the API's first codes.
    let csv = reqwest::Client::new()
        .get(server.url(&format!("/v1/code-batches/{batch}/codes.csv")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("the CSV")
        .text()
        .await
        .expect("its text");
    let first = csv
        .lines()
        .nth(1)
        .expect("a code")
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    browser
        .wait_text("[data-view=codes] table.grid", &first)
        .await;
    tall(&browser, 1000).await;
    no_toasts(&browser).await;
    browser.screenshot("console-codes").await;
    // The recent list remembers it.
    go(&browser, "#/codes").await;
    browser.find(&format!("[data-batch='{batch}']")).await;
    browser.close().await;
}

#[tokio::test]
async fn a_csv_grant_finishes_with_the_right_counts() {
    let server = harness::server().await;
    let template = approved(&server,
        json!({"name": "客诉补偿 满100减20", "benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 2000}]},
               "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
               "limits": {"total": 1000, "per_user": 1}}),
    )
    .await;
    // u-3 already holds one, so the upload skips them.
    let first = server
        .api(
            Method::POST,
            "/v1/grants",
            ADMIN_KEY,
            json!({"template": template, "users": ["u-3"]}),
        )
        .await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    server
        .until(&format!("/v1/grants/{first_id}"), |g| g["status"] == "done")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("users.csv");
    std::fs::write(&csv, "user_id\nu-1\nu-2\n\nu-3\nu-2\nu-4\n").unwrap();

    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    go(&browser, "#/grants").await;
    browser.click("[data-action=new-grant]").await;
    browser
        .select("select[data-field=template]", &template)
        .await;
    // No file yet: the form says so instead of calling the API.
    browser.click("[data-action=submit]").await;
    browser.wait_text("[data-problem]", "CSV").await;
    // A file dropped on the zone is taken …
    browser
        .eval(
            "const drop = new DataTransfer();
             drop.items.add(new File(['user_id\\nx-1\\n'], 'dropped.csv', { type: 'text/csv' }));
             const zone = document.querySelector('[data-drop]');
             zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: drop, bubbles: true, cancelable: true }));
             zone.dispatchEvent(new DragEvent('drop', { dataTransfer: drop, bubbles: true, cancelable: true }));
             return true;",
            vec![],
        )
        .await;
    browser
        .wait_text("[data-file-note]", "dropped.csv：约 1 个用户")
        .await;
    // … and so is one chosen with the picker, which replaces it.
    browser
        .find("input[data-field=csv]")
        .await
        .send_keys(csv.to_str().unwrap())
        .await
        .expect("the file is chosen");
    browser.wait_text("[data-file-note]", "users.csv").await;
    browser.fill("input[data-field=reason]", "双12 补发").await;
    browser.click("[data-action=submit]").await;
    browser.find("[data-grant-status=done]").await;
    assert_eq!(text(&browser, "[data-count=total] .n").await, "4");
    assert_eq!(text(&browser, "[data-count=issued] .n").await, "3");
    assert_eq!(text(&browser, "[data-count=limit_reached] .n").await, "1");
    assert_eq!(text(&browser, "[data-count=duplicates] .n").await, "1");
    browser
        .find("[data-grant-status=done] [data-progress='100']")
        .await;
    // Each user's outcome, the refusal in words.
    browser.wait_text("table.grid", "u-4").await;
    browser.wait_text("table.grid", "您已领取过").await;
    tall(&browser, 1000).await;
    no_toasts(&browser).await;
    browser.screenshot("console-grants").await;
    // The list shows both grants, the upload with its reason.
    go(&browser, "#/grants").await;
    browser.wait_text("table.grid", "双12 补发").await;
    browser.find(&format!("[data-grant='{first_id}']")).await;
    browser.close().await;
}

/// Grants `template` to `users` and answers their coupon codes in order.
async fn granted_codes(server: &TestServer, template: &str, users: &[&str]) -> Vec<String> {
    let grant = server
        .api(
            Method::POST,
            "/v1/grants",
            ADMIN_KEY,
            json!({"template": template, "users": users}),
        )
        .await;
    let id = grant["id"].as_str().unwrap().to_owned();
    server
        .until(&format!("/v1/grants/{id}"), |g| g["status"] == "done")
        .await;
    let results = server
        .api(
            Method::GET,
            &format!("/v1/grants/{id}/results"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    results["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["coupon_code"].as_str().expect("a coupon").to_owned())
        .collect()
}

#[tokio::test]
async fn the_desk_verifies_a_gift_coupon_once() {
    let server = harness::server().await;
    let template = approved(
        &server,
        json!({"name": "街角咖啡 礼品券", "description": "到店出示券码, 兑换中杯美式或拿铁一杯",
               "benefit": {"kind": "gift", "item": "一杯咖啡"},
               "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
               "limits": {"total": 100, "per_user": 1}}),
    )
    .await;
    let codes = granted_codes(&server, &template, &["u-1", "u-2"]).await;
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    go(&browser, "#/desk").await;
    browser.fill("input[data-field=store]", "s-bj-guomao").await;
    browser.fill("input[data-field=staff]", "emp-0231").await;
    // A mistyped code is refused in words.
    browser
        .fill("input[data-field=code]", "ABCD EFGH JKLM")
        .await;
    browser.click("[data-action=preview]").await;
    let refused = browser.wait_text("[data-verdict=error]", "券码").await;
    assert!(!refused.contains('{'), "{refused}");
    // The real code, typed loosely: lower case with spaces.
    let code = &codes[0];
    let loose = format!("{} {}", &code[..4], &code[4..]).to_lowercase();
    browser.fill("input[data-field=code]", &loose).await;
    browser.click("[data-action=preview]").await;
    browser.find("[data-verdict=usable]").await;
    browser.wait_text(".coupon-ticket", "一杯咖啡").await;
    browser.wait_text(".coupon-ticket", "街角咖啡 礼品券").await;
    browser.wait_text(".coupon-ticket", "u-1").await;
    browser.click("[data-action=confirm]").await;
    browser.wait_text("[data-verdict=done]", "核销成功").await;
    browser
        .wait_text("[data-verdict=done]", "s-bj-guomao")
        .await;
    let spent = server
        .api(
            Method::GET,
            &format!("/v1/coupons/{code}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(spent["state"], json!("redeemed"), "{spent}");
    tall(&browser, 960).await;
    no_toasts(&browser).await;
    browser.screenshot("console-desk").await;
    // Looked up again, it cannot be spent twice.
    browser.click("[data-action=next]").await;
    browser.fill("input[data-field=code]", code).await;
    browser.click("[data-action=preview]").await;
    browser.wait_text("[data-verdict=unusable]", "已使用").await;
    let confirm_disabled = browser
        .eval(
            "return document.querySelector('[data-action=confirm]').disabled;",
            vec![],
        )
        .await;
    assert_eq!(confirm_disabled, json!(true));
    // Two clerks on one coupon: the second confirm is refused readably.
    let other = &codes[1];
    browser.click("[data-action=next]").await;
    browser.fill("input[data-field=code]", other).await;
    browser.click("[data-action=preview]").await;
    browser.find("[data-verdict=usable]").await;
    server
        .api(
            Method::POST,
            &format!("/v1/verifications/{other}/confirm"),
            ADMIN_KEY,
            json!({"store": "s-sh-xintiandi", "staff": "emp-0007"}),
        )
        .await;
    browser.click("[data-action=confirm]").await;
    browser
        .wait_text("[data-verdict=error]", "已核销，不能重复使用")
        .await;
    browser.close().await;
}

#[tokio::test]
async fn statistics_show_the_claims_and_uses_made() {
    let server = harness::server().await;
    // The figures come from roll-ups the notification jobs keep.
    let jobs = Background::start_notifications(server.app.clone());
    let template = approved(
        &server,
        json!({"name": "满300减50", "description": "全场通用",
               "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]},
               "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
               "limits": {"total": 1000, "per_user": 1}}),
    )
    .await;
    for user in ["u-1", "u-2", "u-3", "u-4"] {
        server
            .api(
                Method::POST,
                &format!("/v1/templates/{template}/claims"),
                ADMIN_KEY,
                json!({"user": {"id": user}, "request_id": format!("claim-{user}"),
                       "context": {"phone": "13812345678"}}),
            )
            .await;
    }
    for (order, user) in [("o-1", "u-1"), ("o-2", "u-2")] {
        let cart = json!({"user": {"id": user},
            "lines": [{"line_id": "1", "sku": "sku-1", "unit_price": 20000, "quantity": 2}],
            "select": "best"});
        server
            .api(
                Method::POST,
                &format!("/v1/orders/{order}/lock"),
                ADMIN_KEY,
                cart,
            )
            .await;
        server
            .api(
                Method::POST,
                &format!("/v1/orders/{order}/redeem"),
                ADMIN_KEY,
                Value::Null,
            )
            .await;
    }
    // The roll-ups trail the changes by the dispatcher's poll.
    server
        .until(&format!("/v1/stats/templates/{template}"), |s| {
            s["figures"]["used"] == 2 && s["figures"]["claimed"] == 4
        })
        .await;

    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    go(&browser, &format!("#/stats/template/{template}")).await;
    browser
        .wait_text("[data-kpi=claimed] .kpi-value", "4")
        .await;
    assert_eq!(text(&browser, "[data-kpi=used] .kpi-value").await, "2");
    assert_eq!(
        text(&browser, "[data-kpi=discount] .kpi-value").await,
        "¥100.00"
    );
    assert_eq!(
        text(&browser, "[data-kpi=sales] .kpi-value").await,
        "¥800.00"
    );
    assert_eq!(text(&browser, "[data-kpi=orders] .kpi-value").await, "2");
    assert_eq!(
        text(&browser, "[data-kpi=use_rate] .kpi-value").await,
        "50.00%"
    );
    assert_eq!(
        text(&browser, "[data-kpi=cost_ratio] .kpi-value").await,
        "12.50%"
    );
    assert_eq!(
        text(&browser, "[data-kpi=average_order_value] .kpi-value").await,
        "¥400.00"
    );
    // The charts are drawn: the trend's points carry the day's counts, the
    // funnel's bars claimed → used.
    let drawn = browser
        .eval(
            "const trend = document.querySelector('svg[data-chart=trend]');
             const values = [...trend.querySelectorAll('circle')].map((c) => Number(c.dataset.value));
             const funnel = [...document.querySelectorAll('svg[data-chart=funnel] rect')].map((r) => Number(r.dataset.value));
             return { max: Math.max(...values), funnel };",
            vec![],
        )
        .await;
    assert_eq!(drawn["max"], json!(4), "{drawn}");
    assert_eq!(drawn["funnel"], json!([4, 2, 2]), "{drawn}");
    // The records behind the figures, with the phone masked.
    browser
        .wait_text("[data-records=claims]", "138****5678")
        .await;
    browser.wait_text("[data-records=uses]", "o-2").await;
    // Hovering the chart shows the period's values.
    browser
        .eval(
            "const svg = document.querySelector('svg[data-chart=trend]');
             const box = svg.getBoundingClientRect();
             svg.querySelector('rect').dispatchEvent(new MouseEvent('mousemove',
               { clientX: box.right - 30, clientY: box.top + 50, bubbles: true }));
             return true;",
            vec![],
        )
        .await;
    browser.wait_text("[data-tip]", "领取: 4").await;
    tall(&browser, 1560).await;
    browser.screenshot("console-statistics").await;
    // Every word has its English.
    browser.click("button[data-lang=en]").await;
    browser
        .wait_text("[data-kpi=cost_ratio] .kpi-label", "Cost ratio")
        .await;
    browser.wait_text("[data-records=uses]", "Each use").await;
    browser.click("button[data-lang=zh]").await;
    browser
        .wait_text("[data-kpi=claimed] .kpi-label", "领取量")
        .await;
    // The CSV export sends the key and downloads the series.
    browser.click("[data-action=series-csv]").await;
    browser.click("[data-range='30d']").await;
    browser
        .wait_text("[data-kpi=claimed] .kpi-value", "4")
        .await;
    // The platform as issuer counts the same template.
    browser.select("select[data-field=scope]", "issuer").await;
    browser.wait_text("[data-covered]", "满300减50").await;
    browser
        .wait_text("[data-kpi=claimed] .kpi-value", "4")
        .await;
    assert_eq!(
        text(&browser, "[data-kpi=discount] .kpi-value").await,
        "¥100.00"
    );
    browser.close().await;
    jobs.stop().await;
}

#[tokio::test]
async fn webhooks_are_made_and_deleted_and_the_audit_log_lists_it() {
    let server = harness::server().await;
    // The mall's receiver: acknowledges every event and keeps its type.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let kept = received.clone();
    let receiver = axum::Router::new().route(
        "/couponflow",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let kept = kept.clone();
            async move {
                let kind = headers["x-couponflow-event"]
                    .to_str()
                    .unwrap_or("")
                    .to_owned();
                kept.lock().unwrap().push(kind);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/couponflow", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    go(&browser, "#/webhooks").await;
    browser
        .wait_text("[data-view=webhooks]", "还没有 Webhook")
        .await;
    // A URL that is not http(s) is refused in the form.
    browser
        .fill("input[data-field=url]", "ftp://mall.example/hook")
        .await;
    browser.click("input[data-event='coupon.*']").await;
    browser.click("[data-action=create]").await;
    browser.wait_text("form .field-error", "http").await;
    browser.fill("input[data-field=url]", &hook_url).await;
    browser.click("[data-action=create]").await;
    let secret = browser.wait_text("[data-secret]", "whsec_").await;
    assert!(secret.len() > 16);
    browser.click("[data-action=close]").await;
    browser.wait_text("table.grid", &hook_url).await;
    let hooks = server
        .api(Method::GET, "/v1/webhooks", ADMIN_KEY, Value::Null)
        .await;
    assert_eq!(hooks["items"][0]["events"], json!(["coupon.*"]));
    let id = hooks["items"][0]["id"].as_str().unwrap().to_owned();
    // Its deliveries page opens (none yet) …
    browser.click(&format!("a[data-webhook='{id}']")).await;
    browser
        .wait_text("[data-view=webhooks]", "还没有推送记录")
        .await;
    // … and lists a claim's event once it has been sent.
    let jobs = Background::start_notifications(server.app.clone());
    let template = approved(
        &server,
        json!({"name": "Webhook 测试券", "benefit": {"kind": "cash", "amount": 500},
               "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 7}}),
    )
    .await;
    server
        .api(
            Method::POST,
            &format!("/v1/templates/{template}/claims"),
            ADMIN_KEY,
            json!({"user": {"id": "u-1"}, "request_id": "hook-claim"}),
        )
        .await;
    server
        .until(&format!("/v1/webhooks/{id}/deliveries"), |d| {
            d["items"][0]["status"] == "delivered"
        })
        .await;
    browser.client.refresh().await.expect("the page reloads");
    browser
        .wait_text("[data-view=webhooks]", "coupon.claimed")
        .await;
    browser.wait_text("[data-view=webhooks]", "已送达").await;
    jobs.stop().await;
    assert_eq!(*received.lock().unwrap(), vec!["coupon.claimed".to_owned()]);
    go(&browser, "#/webhooks").await;
    browser
        .click(&format!("[data-action=delete][data-webhook='{id}']"))
        .await;
    browser.click("[data-action=confirm-delete]").await;
    browser
        .wait_text("[data-view=webhooks]", "还没有 Webhook")
        .await;
    let hooks = server
        .api(Method::GET, "/v1/webhooks", ADMIN_KEY, Value::Null)
        .await;
    assert_eq!(hooks["items"], json!([]));

    // The audit log lists both actions, filtered by path, readably.
    go(&browser, "#/audit").await;
    browser.find("[data-audit] table").await;
    browser.fill("input[data-field=path]", "/v1/webhooks").await;
    browser.click("[data-action=filter]").await;
    browser
        .wait_text("[data-audit]", &format!("/v1/webhooks/{id}"))
        .await;
    let rows = browser
        .eval(
            "return [...document.querySelectorAll('[data-audit] tr[data-entry]')].map((r) => r.textContent);",
            vec![],
        )
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[0].as_str().unwrap().contains("DELETE"), "{rows:?}");
    assert!(rows[1].as_str().unwrap().contains("POST"), "{rows:?}");
    // The creation's request and answer, as fields rather than JSON.
    let detail = browser
        .eval(
            "const row = [...document.querySelectorAll('[data-audit] tr[data-entry]')]
               .find((r) => r.textContent.includes('POST'));
             row.querySelector('[data-action=details]').click();
             const shown = row.nextElementSibling;
             return { hidden: shown.classList.contains('hidden'),
                      keys: [...shown.querySelectorAll('dt')].map((dt) => dt.textContent),
                      text: shown.innerText };",
            vec![],
        )
        .await;
    assert_eq!(detail["hidden"], json!(false), "{detail}");
    let keys = detail["keys"].as_array().unwrap();
    assert!(
        keys.contains(&json!("url")) && keys.contains(&json!("secret")),
        "{detail}"
    );
    let shown = detail["text"].as_str().unwrap();
    assert!(shown.contains(&hook_url), "{detail}");
    assert!(!shown.contains("{\""), "{detail}");
    browser.close().await;
}

#[tokio::test]
async fn a_tripped_breaker_is_listed_and_its_template_resumed() {
    let server = harness::server().await;
    // Alerts are recorded by the outbox dispatcher.
    let jobs = Background::start_notifications(server.app.clone());
    let template = approved(&server,
        json!({"name": "秒杀 满100减30", "benefit": {"kind": "threshold", "tiers": [{"min_amount": 10000, "off": 3000}]},
               "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 7},
               "limits": {"total": 1000, "per_user": 1},
               "risk": {"claims_per_minute": {"alert": 2, "pause": 3}}}),
    )
    .await;
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    // Nothing tripped yet: the empty state says so.
    go(&browser, "#/alerts").await;
    browser.wait_text("[data-alerts]", "暂无风控预警").await;
    for user in ["u-1", "u-2", "u-3"] {
        server
            .api(
                Method::POST,
                &format!("/v1/templates/{template}/claims"),
                ADMIN_KEY,
                json!({"user": {"id": user}, "request_id": format!("claim-{user}")}),
            )
            .await;
    }
    server
        .until("/v1/risk/alerts", |a| {
            a["items"].as_array().is_some_and(|items| items.len() == 2)
        })
        .await;
    browser.client.refresh().await.expect("the page reloads");
    browser.find("[data-alerts] table").await;
    let levels = browser
        .eval(
            "return [...document.querySelectorAll('[data-alerts] tr[data-alert] [data-level]')].map((b) => b.dataset.level);",
            vec![],
        )
        .await;
    // Newest first: the pause, then the alert before it.
    assert_eq!(levels, json!(["pause", "alert"]));
    browser.wait_text("[data-alerts]", "秒杀 满100减30").await;
    browser.wait_text("[data-alerts]", "每分钟领取量").await;
    browser.wait_text("[data-alerts]", "已暂停").await;
    browser
        .click(&format!("[data-action=resume][data-template='{template}']"))
        .await;
    browser.wait_text("[data-alerts]", "生效中").await;
    let resumed = server
        .api(
            Method::GET,
            &format!("/v1/templates/{template}"),
            ADMIN_KEY,
            Value::Null,
        )
        .await;
    assert_eq!(resumed["status"], json!("active"), "{resumed}");
    browser.close().await;
    jobs.stop().await;
}

#[tokio::test]
async fn pasted_user_ids_are_granted() {
    let server = harness::server().await;
    let template = approved(
        &server,
        json!({"name": "新人礼 无门槛5元", "benefit": {"kind": "cash", "amount": 500},
               "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 7},
               "limits": {"per_user": 1}}),
    )
    .await;
    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.console_sign_in(&server, ADMIN_KEY, "管理员").await;
    go(&browser, &format!("#/grants/new/{template}")).await;
    browser.click("[data-mode=paste]").await;
    browser
        .fill("textarea[data-field=users]", "u-7, u-8\nu-9 u-7")
        .await;
    browser.wait_text("[data-paste-count]", "共 3 个用户").await;
    browser.click("[data-action=submit]").await;
    browser.find("[data-grant-status=done]").await;
    assert_eq!(text(&browser, "[data-count=total] .n").await, "3");
    assert_eq!(text(&browser, "[data-count=issued] .n").await, "3");
    let held = server
        .api(Method::GET, "/v1/users/u-9/coupons", ADMIN_KEY, Value::Null)
        .await;
    assert_eq!(held["items"][0]["template_id"], json!(template), "{held}");
    browser.close().await;
}

/// A template approved by a reviewer (and finance when it needs it).
async fn approved(server: &TestServer, body: Value) -> String {
    let reviewer = server.key("reviewer", "审核 王经理").await;
    server.approved_template(&reviewer, body).await
}
