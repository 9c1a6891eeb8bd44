//! The foundation served for real: a server on port 0, called over HTTP.
//!
//! Demo routes stand in for the API routes added later: one that needs the
//! admin role, one a user may reach only for themself, one that reads JSON.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use couponflow_core::clock::FixedClock;
use couponflow_http::auth::{
    KeyLookup, KeyRecord, UserTokenSecret, hash_key, issue_user_token, require_role,
    require_user_access,
};
use couponflow_http::{
    ApiError, ApiJson, ApiPath, ApiRouter, App, FoundationState, MetricsHandle, Principal,
    Readiness, RequestLimits, Role, auth_state, build_app, serve,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::routes;

const ADMIN_KEY: &str = "cf_0123456789abcdef0123456789abcdef";
const REVIEWER_KEY: &str = "cf_abcdefabcdefabcdefabcdefabcdefab";
const SECRET: &[u8] = b"the-mall-and-couponflow-share-this";

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).expect("a valid instant")
}

/// A test double for the database's key lookup.
struct MemoryKeys(HashMap<String, KeyRecord>);

impl couponflow_http::KeyStore for MemoryKeys {
    fn find_by_hash<'a>(&'a self, hash: &'a str) -> KeyLookup<'a> {
        Box::pin(async move { Ok(self.0.get(hash).cloned()) })
    }
}

fn key(key_id: &str, role: Role) -> KeyRecord {
    KeyRecord {
        key_id: key_id.into(),
        role,
        shops: vec![],
        templates: vec![],
        expires_at_unix: None,
    }
}

#[derive(Debug, Serialize, ToSchema)]
struct Who {
    actor: String,
}

/// Demo: admins only. Roles: admin.
#[utoipa::path(get, path = "/demo/admin", security(("bearer" = [])),
    responses((status = 200, body = Who)))]
async fn admin_only(principal: Principal) -> Result<ApiJson<Who>, ApiError> {
    require_role(&principal, &[Role::Admin])?;
    Ok(ApiJson(Who {
        actor: principal.actor(),
    }))
}

/// Demo: a user's own data. Roles: the user, admin, operator, service.
#[utoipa::path(get, path = "/demo/users/{user}", security(("bearer" = [])),
    params(("user" = String, Path)), responses((status = 200, body = Who)))]
async fn user_data(
    principal: Principal,
    ApiPath(user): ApiPath<String>,
) -> Result<ApiJson<Who>, ApiError> {
    require_user_access(&principal, &user)?;
    Ok(ApiJson(Who { actor: user }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Threshold {
    threshold_minor: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EchoRequest {
    name: String,
    rules: Threshold,
}

/// Demo: reads JSON.
#[utoipa::path(post, path = "/demo/echo", request_body = EchoRequest,
    responses((status = 200, body = Object)))]
async fn echo(ApiJson(body): ApiJson<EchoRequest>) -> ApiJson<Value> {
    ApiJson(json!({"name": body.name, "threshold_minor": body.rules.threshold_minor}))
}

fn demo_routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    couponflow_http::AuthState: FromRef<S>,
{
    ApiRouter::new()
        .routes(routes!(admin_only))
        .routes(routes!(user_data))
        .routes(routes!(echo))
}

struct Running {
    address: SocketAddr,
    ready: Arc<AtomicBool>,
    client: reqwest::Client,
    secret: UserTokenSecret,
}

fn build(ready: Arc<AtomicBool>) -> App {
    let mut keys = HashMap::new();
    keys.insert(hash_key(ADMIN_KEY), key("k-admin", Role::Admin));
    keys.insert(hash_key(REVIEWER_KEY), key("k-reviewer", Role::Reviewer));
    let state = FoundationState {
        readiness: Readiness::from_fn(move || {
            let ready = ready.clone();
            async move {
                match ready.load(Ordering::SeqCst) {
                    true => Ok(()),
                    false => Err("database ping failed".to_owned()),
                }
            }
        }),
        metrics: MetricsHandle::install().expect("the recorder installs"),
        auth: auth_state(
            Arc::new(MemoryKeys(keys)),
            Some(UserTokenSecret::new(SECRET).expect("a long secret")),
            Arc::new(FixedClock::new(now())),
        ),
    };
    build_app(demo_routes(), state, &RequestLimits::default())
}

async fn start() -> Running {
    let ready = Arc::new(AtomicBool::new(true));
    let app = build(ready.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(serve(listener, app.router, std::future::pending()));
    Running {
        address,
        ready,
        client: reqwest::Client::new(),
        secret: UserTokenSecret::new(SECRET).expect("a long secret"),
    }
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    async fn get(&self, path: &str, bearer: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the server answers")
    }

    fn user_token(&self, user: &str) -> String {
        issue_user_token(&self.secret, user, now().timestamp() + 600)
    }
}

async fn problem(response: reqwest::Response) -> Value {
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("an ASCII content type")
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    response.json().await.expect("a JSON problem")
}

#[tokio::test]
async fn healthz_is_always_ok() {
    let server = start().await;
    let response = server.get("/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn readyz_follows_the_readiness_check() {
    let server = start().await;
    assert_eq!(server.get("/readyz", None).await.status(), StatusCode::OK);
    server.ready.store(false, Ordering::SeqCst);
    let response = server.get("/readyz", None).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = problem(response).await;
    assert_eq!(body["code"], "NOT_READY");
    assert!(!body.to_string().contains("database ping"), "{body}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let server = start().await;
    server.get("/healthz", None).await;
    let response = server.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let counted = text.lines().any(|line| {
        line.starts_with("couponflow_http_requests_total")
            && line.contains(r#"route="/healthz""#)
            && line.contains(r#"status="200""#)
    });
    assert!(counted, "{text}");
}

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_every_route() {
    let server = start().await;
    let response = server.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/demo/users/{user}",
    ] {
        assert!(document["paths"][path].is_object(), "{path} missing");
    }
}

#[test]
fn no_route_is_missing_from_the_openapi_document() {
    let app = build(Arc::new(AtomicBool::new(true)));
    assert_eq!(app.undocumented_routes(), Vec::<String>::new());
}

#[tokio::test]
async fn protected_route_needs_a_key_with_the_right_role() {
    let server = start().await;
    let without = server.get("/demo/admin", None).await;
    assert_eq!(without.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(without).await["code"], "UNAUTHORIZED");

    let reviewer = server.get("/demo/admin", Some(REVIEWER_KEY)).await;
    assert_eq!(reviewer.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(reviewer).await["code"], "FORBIDDEN");

    let admin = server.get("/demo/admin", Some(ADMIN_KEY)).await;
    assert_eq!(admin.status(), StatusCode::OK);
    assert_eq!(admin.json::<Value>().await.unwrap()["actor"], "key:k-admin");
}

#[tokio::test]
async fn a_user_token_reaches_only_that_users_data() {
    let server = start().await;
    let token = server.user_token("u-1");
    let own = server.get("/demo/users/u-1", Some(&token)).await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = server.get("/demo/users/u-2", Some(&token)).await;
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(other).await["code"], "FORBIDDEN");
    let forged = format!("{}x", &token[..token.len() - 1]);
    let forged = server.get("/demo/users/u-1", Some(&forged)).await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_json_is_refused_naming_the_field() {
    let server = start().await;
    let response = server
        .client
        .post(server.url("/demo/echo"))
        .json(&json!({"name": "a", "rules": {"threshold_minor": "ten"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = problem(response).await;
    assert_eq!(body["code"], "BAD_JSON");
    assert_eq!(body["errors"][0]["field"], "rules.threshold_minor");
    assert_eq!(body["type"], "https://couponflow.dev/problems/bad-json");
}

#[tokio::test]
async fn body_over_the_limit_is_payload_too_large() {
    let server = start().await;
    let name = "x".repeat(RequestLimits::default().body_limit_bytes + 1);
    let response = server
        .client
        .post(server.url("/demo/echo"))
        .json(&json!({"name": name, "rules": {"threshold_minor": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(response).await["code"], "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn unknown_route_is_a_not_found_problem() {
    let server = start().await;
    let response = server.get("/v1/nothing-here", None).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem(response).await["code"], "NOT_FOUND");
}
