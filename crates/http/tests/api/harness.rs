//! A real server per back end, a client, and the keys and tokens to call it with.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use couponflow_app::{App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_http::auth::{UserTokenSecret, issue_user_token};
use couponflow_http::{AppState, RequestLimits, serve, service_app};
use couponflow_store::testing::{fresh_store, fresh_urls};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The bootstrap admin key every test server starts with.
pub const ADMIN_KEY: &str = "cf_0123456789abcdef0123456789abcdef";
/// The secret the test "mall" signs user tokens with.
pub const USER_TOKEN_SECRET: &[u8] = b"the-test-mall-and-couponflow-share-this";
/// Where every test server's clock stands: 2026-12-05 12:00 UTC.
pub const NOW: &str = "2026-12-05T12:00:00Z";

pub struct TestServer {
    /// The database behind this server, to say which back end failed.
    pub database: String,
    pub app: Arc<App>,
    pub clock: Arc<FixedClock>,
    /// Every path the router serves.
    pub route_paths: Vec<String>,
    address: SocketAddr,
    client: reqwest::Client,
    secret: UserTokenSecret,
}

/// An answer: status, content type and the JSON body (`Null` when none).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub location: Option<String>,
    pub body: Value,
}

impl Answer {
    /// The body, after checking the status; the body is shown when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        &self.body
    }

    /// Checks a problem's status and `code`, and that it is problem+json.
    #[track_caller]
    pub fn expect_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{}", self.body);
        &self.body
    }
}

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("a valid instant")
        .with_timezone(&Utc)
}

/// One started server on a fresh database for every back end available.
pub async fn servers() -> Vec<TestServer> {
    let mut servers = Vec::new();
    for database in fresh_urls().await.expect("test databases") {
        servers.push(start(database).await);
    }
    servers
}

async fn start(database: String) -> TestServer {
    let store = Arc::new(fresh_store(&database).await.expect("a migrated store"));
    let clock = Arc::new(FixedClock::new(now()));
    let app = Arc::new(App::new(store, clock.clone(), Settings::default()));
    let generated = app
        .ensure_bootstrap_admin(Some(ADMIN_KEY))
        .await
        .expect("the bootstrap admin");
    assert_eq!(generated, None, "a configured key is not generated");
    let secret = UserTokenSecret::new(USER_TOKEN_SECRET).expect("a long secret");
    let state = AppState::new(app.clone(), Some(secret.clone())).expect("the state");
    let service = service_app(state, &RequestLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(serve(listener, service.router, std::future::pending()));
    TestServer {
        database,
        app,
        clock,
        route_paths: service.route_paths,
        address,
        client: reqwest::Client::new(),
        secret,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Any request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type").unwrap_or_default();
        let location = header("location");
        let text = response.text().await.expect("a readable body");
        let body = match text.is_empty() {
            true => Value::Null,
            false => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        };
        Answer {
            status,
            content_type,
            location,
            body,
        }
    }

    pub async fn get(&self, path: &str, bearer: &str) -> Answer {
        self.call(Method::GET, path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: &Value) -> Answer {
        self.call(Method::POST, path, Some(bearer), Some(body))
            .await
    }

    /// A POST without a body, for actions like `/submit`.
    pub async fn act(&self, path: &str, bearer: &str) -> Answer {
        self.call(Method::POST, path, Some(bearer), None).await
    }

    pub async fn patch(&self, path: &str, bearer: &str, body: &Value) -> Answer {
        self.call(Method::PATCH, path, Some(bearer), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, bearer: &str) -> Answer {
        self.call(Method::DELETE, path, Some(bearer), None).await
    }

    /// A user token for `user`, valid for ten minutes of the server's clock.
    pub fn user_token(&self, user: &str) -> String {
        issue_user_token(&self.secret, user, now().timestamp() + 600)
    }

    /// A new key of `role` made through the API by the admin.
    pub async fn key(&self, role: &str) -> String {
        self.scoped_key(role, &[], &[]).await
    }

    pub async fn scoped_key(&self, role: &str, shops: &[&str], templates: &[&str]) -> String {
        let body = json!({"role": role, "shops": shops, "templates": templates, "label": "test"});
        let created = self.post("/v1/api-keys", ADMIN_KEY, &body).await;
        created.expect(201)["key"]
            .as_str()
            .expect("the plaintext key")
            .to_owned()
    }

    /// Creates a template as `key` and answers its id.
    pub async fn create_template(&self, key: &str, template: &Value) -> String {
        let created = self.post("/v1/templates", key, template).await;
        created.expect(201)["id"]
            .as_str()
            .expect("a template id")
            .to_owned()
    }

    /// `POST /v1/templates/{template}/claims` for `user` as `bearer`.
    pub async fn claim(
        &self,
        bearer: &str,
        template: &str,
        user: &str,
        request_id: &str,
    ) -> Answer {
        let body = json!({"user": {"id": user}, "request_id": request_id});
        self.post(&format!("/v1/templates/{template}/claims"), bearer, &body)
            .await
    }

    /// A coupon of `template` claimed over HTTP by the mall for `user`: its code.
    pub async fn claimed(&self, template: &str, user: &str) -> String {
        let request_id = format!("claim-{template}-{user}");
        let answer = self.claim(ADMIN_KEY, template, user, &request_id).await;
        answer.expect(201)["code"]
            .as_str()
            .expect("a coupon code")
            .to_owned()
    }

    /// A template created by the admin and approved by a reviewer: active.
    pub async fn active_template(&self, template: &Value) -> String {
        let id = self.create_template(ADMIN_KEY, template).await;
        self.act(&format!("/v1/templates/{id}/submit"), ADMIN_KEY)
            .await
            .expect(200);
        let reviewer = self.key("reviewer").await;
        let approve = json!({"decision": "approve"});
        let reviewed = self
            .post(&format!("/v1/templates/{id}/reviews"), &reviewer, &approve)
            .await;
        assert_eq!(reviewed.expect(200)["status"], "active");
        id
    }
}

/// 满300减50 for everyone, 30 days, 100 coupons, one per user.
pub fn template_json(name: &str) -> Value {
    json!({
        "name": name,
        "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]},
        "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": 30},
        "limits": {"total": 100, "per_user": 1}
    })
}
