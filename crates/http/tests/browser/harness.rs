//! A real server on a fresh SQLite database, and a real headless Chromium
//! driven over WebDriver (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs).
//!
//! Without a chromedriver on the machine the browser tests say so and pass
//! on a developer's machine; under `CI` they fail, so CI never skips them.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use couponflow_app::{App, Settings};
use couponflow_http::auth::{UserTokenSecret, issue_user_token};
use couponflow_http::{AppState, RequestLimits, SystemClock, serve, service_app};
use couponflow_store::testing::fresh_store;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// The bootstrap admin key every test server starts with.
pub const ADMIN_KEY: &str = "cf_0123456789abcdef0123456789abcdef";
/// The secret the test "mall" signs user tokens with.
pub const USER_TOKEN_SECRET: &[u8] = b"the-test-mall-and-couponflow-share-this";
/// How long a page gets to show what a step waits for.
pub const WAIT: Duration = Duration::from_secs(15);

pub struct TestServer {
    pub app: Arc<App>,
    address: SocketAddr,
    secret: UserTokenSecret,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A started server on a fresh embedded database, with the real clock.
pub async fn server() -> TestServer {
    start(false).await
}

/// [`server`] with the demo mall on: `/m/api/session` signs demo users in
/// and `/m/api/orders` places and pays their orders.
pub async fn server_with_demo_mall() -> TestServer {
    start(true).await
}

async fn start(demo_mall: bool) -> TestServer {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("couponflow.db").display());
    let store = Arc::new(fresh_store(&url).await.expect("a migrated store"));
    let app = Arc::new(App::new(store, Arc::new(SystemClock), Settings::default()));
    app.ensure_bootstrap_admin(Some(ADMIN_KEY))
        .await
        .expect("the bootstrap admin");
    let secret = UserTokenSecret::new(USER_TOKEN_SECRET).expect("a long secret");
    let mut state = AppState::new(app.clone(), Some(secret.clone())).expect("the state");
    if demo_mall {
        state = state.with_demo_mall();
    }
    let service = service_app(state, &RequestLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(serve(listener, service.router, std::future::pending()));
    TestServer {
        app,
        address,
        secret,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// A user token for `user`, valid for an hour, as the mall would sign it.
    pub fn user_token(&self, user: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let expires = i64::try_from(now).expect("a plausible time") + 3600;
        issue_user_token(&self.secret, user, expires)
    }

    /// A JSON call to the API (set-up the browser steps do not cover);
    /// panics unless the status is 2xx.
    pub async fn api(&self, method: reqwest::Method, path: &str, key: &str, body: Value) -> Value {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(key);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Waits until `check` holds for the JSON at `path` (read with the
    /// admin key), polling: roll-ups, jobs and deliveries trail the calls.
    pub async fn until(&self, path: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let value = self
                .api(reqwest::Method::GET, path, ADMIN_KEY, Value::Null)
                .await;
            if check(&value) {
                return value;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{path} never got there: {value}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A template made by the admin and approved by `reviewer` (then by a
    /// finance key, when its budget needs the second review): its id.
    pub async fn approved_template(&self, reviewer: &str, body: Value) -> String {
        let made = self
            .api(reqwest::Method::POST, "/v1/templates", ADMIN_KEY, body)
            .await;
        let id = made["id"].as_str().expect("an id").to_owned();
        let submit = format!("/v1/templates/{id}/submit");
        self.api(reqwest::Method::POST, &submit, ADMIN_KEY, Value::Null)
            .await;
        let reviews = format!("/v1/templates/{id}/reviews");
        let approve = json!({"decision": "approve", "reason": "核对无误"});
        let mut reviewed = self
            .api(reqwest::Method::POST, &reviews, reviewer, approve.clone())
            .await;
        if reviewed["status"] == "pending_review" {
            let finance = self.key("finance", "财务 陈会计").await;
            reviewed = self
                .api(reqwest::Method::POST, &reviews, &finance, approve)
                .await;
        }
        assert!(
            matches!(reviewed["status"].as_str(), Some("active" | "approved")),
            "{reviewed}"
        );
        id
    }

    /// A new API key with `role`; the plaintext key.
    pub async fn key(&self, role: &str, label: &str) -> String {
        let made = self
            .api(
                reqwest::Method::POST,
                "/v1/api-keys",
                ADMIN_KEY,
                json!({"role": role, "label": label}),
            )
            .await;
        made["key"].as_str().expect("a key").to_owned()
    }
}

/// The screen a browser session emulates.
#[derive(Clone, Copy)]
pub enum Screen {
    /// A staff member's desktop, 1366×900.
    Desktop,
    /// A shopper's phone, 390×844 at 2×, with touch.
    Phone,
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    /// A place among the browsers that may run at once.
    _turn: tokio::sync::OwnedSemaphorePermit,
}

/// Browsers running at once: a Chromium per core. A test opens one at a
/// time, so waiting for a turn cannot deadlock; more at once on a two-core
/// machine make page waits time out under load.
static TURNS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(2)));

impl Drop for Browser {
    /// Ends chromedriver and every Chromium it started (they share its
    /// process group), also when a test failed before `close`.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromedriver() -> Option<PathBuf> {
    let configured = std::env::var_os("CHROMEDRIVER").map(PathBuf::from);
    configured
        .into_iter()
        .chain([PathBuf::from("/usr/bin/chromedriver")])
        .find(|path| path.exists())
}

/// A headless Chromium, or `None` (with a note) when this machine has none
/// and this is not CI.
pub async fn browser(screen: Screen) -> Option<Browser> {
    let turn = TURNS
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore stays open");
    let Some(driver_path) = chromedriver() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser tests: install chromium and chromium-driver (.ci/run does)"
        );
        eprintln!(
            "no chromedriver on this machine: the browser test is not run (apt install chromium chromium-driver)"
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let driver = Command::new(driver_path)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        "--lang=zh-CN".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let mut options = json!({});
    match screen {
        Screen::Desktop => args.push("--window-size=1366,900".into()),
        Screen::Phone => {
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2.0, "touch": true},
                "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
            });
        }
    }
    options["args"] = json!(args);
    if std::path::Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = String::new();
    for _ in 0..100 {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    _profile: profile,
                    _turn: turn,
                });
            }
            Err(error) => last_error = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer: {last_error}");
}

impl Browser {
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    /// The first element matching `css`, once the page shows it.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!(
                "no {css} on the page: {error}\npage: {}",
                self.body_text_now().await
            ),
        }
    }

    /// Waits until the element matching `css` shows `text` (a substring).
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut seen = String::new();
        while tokio::time::Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                seen = element.text().await.unwrap_or_default();
                if seen.contains(text) {
                    return seen;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{css} never showed {text:?}; it showed {seen:?}\npage: {}",
            self.body_text_now().await
        );
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("click {css}: {error}"));
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|error| panic!("clear {css}: {error}"));
        field
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("type into {css}: {error}"));
    }

    /// Chooses the option whose value is `value` in the select matching `css`.
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|error| panic!("select {value} in {css}: {error}"));
    }

    /// Signs in to the console with `key`, after signing out of any earlier
    /// session, and waits until the shell names `who`.
    pub async fn console_sign_in(&self, server: &TestServer, key: &str, who: &str) {
        // Cleared from a page of the same origin that runs none of the
        // console's code: on the console itself, a sign-in still waiting
        // for its `/v1/me` answer stored the key again after the clear.
        self.open(&server.url("/healthz")).await;
        self.eval("sessionStorage.clear(); return true;", vec![])
            .await;
        self.open(&server.url("/console/")).await;
        self.fill("#login-key", key).await;
        self.click("form.login-card button[type=submit]").await;
        self.wait_text("[data-who]", who).await;
    }

    /// Runs `script` in the page and answers its value.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("the script runs")
    }

    async fn body_text_now(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Saves the page as `docs/screenshots/{name}.png` when
    /// `COUPONFLOW_SCREENSHOTS` is set (so a test run leaves the tree alone).
    pub async fn screenshot(&self, name: &str) {
        if std::env::var_os("COUPONFLOW_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshots directory");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("the screenshot is written");
    }

    pub async fn close(self) {
        let Browser { client, .. } = &self;
        let _ = client.clone().close().await;
    }
}
