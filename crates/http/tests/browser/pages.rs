//! The pages are served from the binary with their security headers.

use crate::harness::{self, Screen};

#[tokio::test]
async fn the_console_and_the_user_pages_load_in_a_browser() {
    let server = harness::server().await;
    // Served files carry the strict policy and an ETag a reload can use.
    let page = reqwest::get(server.url("/console/"))
        .await
        .expect("the console answers");
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let etag = page.headers()["etag"].clone();
    let again = reqwest::Client::new()
        .get(server.url("/console/"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("the console answers");
    assert_eq!(again.status(), 304);
    let missing = reqwest::get(server.url("/console/../Cargo.toml"))
        .await
        .expect("an answer");
    assert_eq!(missing.status(), 404);
    let script = reqwest::get(server.url("/web/api.js"))
        .await
        .expect("the shared script");
    assert_eq!(script.headers()["content-type"], "text/javascript");

    let Some(browser) = harness::browser(Screen::Desktop).await else {
        return;
    };
    browser.open(&server.url("/console/")).await;
    browser
        .fill("#login-key", "cf_not_a_key_at_all_0000000000000")
        .await;
    browser.click("form.login-card button[type=submit]").await;
    browser.wait_text(".login-error", "登录").await;
    browser.fill("#login-key", harness::ADMIN_KEY).await;
    browser.click("form.login-card button[type=submit]").await;
    browser.wait_text("[data-who]", "管理员").await;
    browser.find("[data-nav=webhooks]").await;
    browser.click("button[data-lang=en]").await;
    browser.wait_text("[data-who]", "Admin").await;
    browser.open(&server.url("/m/")).await;
    browser.find("[data-page=m]").await;
    browser.close().await;
}
