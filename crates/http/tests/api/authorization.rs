//! The authorization matrix: every `/v1` route called by every kind of
//! caller. No credentials (or unknown ones) is 401; a role the route does
//! not name is 403 `FORBIDDEN`, checked before anything is looked up; a
//! caller it names is neither. A route missing from the table fails the
//! test, so a new route cannot ship without saying who may call it.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, servers, template_json};

const ROLES: [&str; 7] = [
    "admin", "operator", "reviewer", "finance", "merchant", "partner", "service",
];
const STAFF: &[&str] = &["admin", "operator", "reviewer", "finance"];
const EDITORS: &[&str] = &["admin", "operator"];
const FOR_ANY_USER: &[&str] = &["admin", "operator", "service"];
const ORDER_DRIVERS: &[&str] = &["admin", "service"];
const VERIFIERS: &[&str] = &["admin", "operator", "merchant", "partner"];
const CODE_BATCH_EXPORTERS: &[&str] = &["admin", "operator", "partner"];
const BALANCE_READERS: &[&str] = &["admin", "operator", "finance", "service"];
const BALANCE_ADJUSTERS: &[&str] = &["admin", "finance"];
const LEDGER_READERS: &[&str] = &["admin", "finance"];
const LEDGER_CHECKERS: &[&str] = &["admin"];
const CLAIM_CENTRE_READERS: &[&str] = &["admin", "operator", "reviewer", "finance", "service"];
const SEGMENT_WRITERS: &[&str] = &["admin", "operator", "service"];

/// One route: how to call it, as documented, and who may.
struct Route {
    method: Method,
    /// The documented path; `{…}` are filled with things that do not exist,
    /// so an allowed caller gets 404 (or creates something), never 401/403.
    path: &'static str,
    /// Appended to the path as its query string.
    query: Option<&'static str>,
    body: Option<Value>,
    roles: &'static [&'static str],
    /// Whether user `u-1`, with a user token, may call it (their own wallet,
    /// claims, quotes and product pages).
    own_user: bool,
    /// Whether any user token may call it (`/v1/me`): then the other user is
    /// admitted too.
    any_user: bool,
}

fn route(method: Method, path: &'static str, roles: &'static [&'static str]) -> Route {
    Route {
        method,
        path,
        query: None,
        body: None,
        roles,
        own_user: false,
        any_user: false,
    }
}

fn table() -> Vec<Route> {
    let with = |mut route: Route, body: Value| {
        route.body = Some(body);
        route
    };
    let own = |mut route: Route| {
        route.own_user = true;
        route
    };
    let anyone = |mut route: Route| {
        route.own_user = true;
        route.any_user = true;
        route
    };
    let asking = |mut route: Route, query: &'static str| {
        route.query = Some(query);
        route
    };
    // A cart of user u-1, the one whose token the matrix holds.
    let cart = json!({"user": {"id": "u-1"}, "select": "best",
                      "lines": [{"line_id": "1", "sku": "sku-1", "unit_price": 10000, "quantity": 1}]});
    vec![
        // A platform template: not a merchant's to create.
        with(
            route(Method::POST, "/v1/templates", EDITORS),
            template_json("m"),
        ),
        with(
            route(Method::POST, "/v1/templates/preview", EDITORS),
            template_json("m"),
        ),
        route(Method::GET, "/v1/templates", STAFF),
        route(Method::GET, "/v1/templates/{id}", STAFF),
        with(
            route(Method::PATCH, "/v1/templates/{id}", EDITORS),
            template_json("m"),
        ),
        route(Method::POST, "/v1/templates/{id}/submit", EDITORS),
        with(
            route(
                Method::POST,
                "/v1/templates/{id}/reviews",
                &["admin", "reviewer", "finance"],
            ),
            json!({"decision": "approve"}),
        ),
        route(Method::POST, "/v1/templates/{id}/pause", EDITORS),
        route(Method::POST, "/v1/templates/{id}/resume", EDITORS),
        route(Method::POST, "/v1/templates/{id}/end", EDITORS),
        route(Method::GET, "/v1/templates/{id}/events", STAFF),
        with(
            route(Method::POST, "/v1/templates/{id}/code-batches", EDITORS),
            json!({"count": 1}),
        ),
        route(Method::GET, "/v1/code-batches/{id}", EDITORS),
        route(
            Method::GET,
            "/v1/code-batches/{id}/codes.csv",
            CODE_BATCH_EXPORTERS,
        ),
        with(
            route(Method::POST, "/v1/campaigns", EDITORS),
            json!({"name": "m", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-31T00:00:00Z"}),
        ),
        route(Method::GET, "/v1/campaigns", STAFF),
        route(Method::GET, "/v1/campaigns/{id}", STAFF),
        with(
            route(Method::PATCH, "/v1/campaigns/{id}", EDITORS),
            json!({"name": "m", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-31T00:00:00Z"}),
        ),
        route(Method::POST, "/v1/campaigns/{id}/schedule", EDITORS),
        route(Method::POST, "/v1/campaigns/{id}/pause", EDITORS),
        route(Method::POST, "/v1/campaigns/{id}/resume", EDITORS),
        route(Method::POST, "/v1/campaigns/{id}/end", EDITORS),
        own(with(
            route(Method::POST, "/v1/campaigns/{id}/claims", FOR_ANY_USER),
            json!({"template": "t-1", "user": {"id": "u-1"}, "request_id": "matrix-1"}),
        )),
        own(route(
            Method::GET,
            "/v1/users/{user}/claim-centre",
            CLAIM_CENTRE_READERS,
        )),
        with(
            route(Method::POST, "/v1/grants", EDITORS),
            json!({"template": "NOSUCHTEMPLATE", "users": ["u-1"]}),
        ),
        route(Method::GET, "/v1/grants", STAFF),
        route(Method::GET, "/v1/grants/{id}", STAFF),
        route(Method::GET, "/v1/grants/{id}/results", STAFF),
        route(Method::GET, "/v1/grants/{id}/results.csv", STAFF),
        with(
            route(Method::PUT, "/v1/segments/{tag}/members", SEGMENT_WRITERS),
            json!({"users": ["u-1"]}),
        ),
        route(Method::GET, "/v1/segments/{tag}", SEGMENT_WRITERS),
        route(
            Method::DELETE,
            "/v1/segments/{tag}/members/{user}",
            SEGMENT_WRITERS,
        ),
        route(Method::GET, "/v1/coupons/{code}", STAFF),
        route(Method::POST, "/v1/coupons/{code}/void", EDITORS),
        own(with(
            route(Method::POST, "/v1/templates/{id}/claims", FOR_ANY_USER),
            json!({"user": {"id": "u-1"}, "request_id": "matrix-1"}),
        )),
        own(with(
            route(Method::POST, "/v1/quote", FOR_ANY_USER),
            cart.clone(),
        )),
        own(asking(
            route(Method::GET, "/v1/products/{product}/coupons", FOR_ANY_USER),
            "user=u-1&unit_price=10000&categories=c-1,c-2",
        )),
        route(Method::GET, "/v1/orders/{order}", ORDER_DRIVERS),
        with(
            route(Method::POST, "/v1/orders/{order}/lock", ORDER_DRIVERS),
            cart,
        ),
        route(Method::POST, "/v1/orders/{order}/redeem", ORDER_DRIVERS),
        route(Method::POST, "/v1/orders/{order}/release", ORDER_DRIVERS),
        route(Method::POST, "/v1/orders/{order}/complete", ORDER_DRIVERS),
        with(
            route(Method::POST, "/v1/orders/{order}/refunds", ORDER_DRIVERS),
            json!({"refund_id": "r-1", "lines": [{"line_id": "1", "quantity": 1}]}),
        ),
        with(
            route(Method::POST, "/v1/verifications", VERIFIERS),
            json!({"code": "NOSUCHCODE", "store": "st-1"}),
        ),
        with(
            route(Method::POST, "/v1/verifications/{code}/confirm", VERIFIERS),
            json!({"store": "st-1", "staff": "clerk-1"}),
        ),
        own(route(Method::GET, "/v1/users/{user}/coupons", FOR_ANY_USER)),
        own(route(
            Method::DELETE,
            "/v1/users/{user}/coupons/{code}",
            FOR_ANY_USER,
        )),
        own(route(
            Method::GET,
            "/v1/users/{user}/balances",
            BALANCE_READERS,
        )),
        own(route(
            Method::GET,
            "/v1/users/{user}/balances/{kind}/entries",
            BALANCE_READERS,
        )),
        with(
            route(
                Method::POST,
                "/v1/users/{user}/balances/{kind}/adjustments",
                BALANCE_ADJUSTERS,
            ),
            json!({"amount": 100, "reason": "matrix", "idempotency_key": "matrix-1"}),
        ),
        with(
            route(Method::POST, "/v1/api-keys", &["admin"]),
            json!({"role": "service"}),
        ),
        route(Method::GET, "/v1/api-keys/{id}", &["admin"]),
        anyone(route(Method::GET, "/v1/me", &ROLES)),
        route(Method::GET, "/v1/risk/alerts", STAFF),
        route(Method::GET, "/v1/stats/overview", STAFF),
        route(Method::DELETE, "/v1/api-keys/{id}", &["admin"]),
        with(
            route(Method::POST, "/v1/webhooks", &["admin"]),
            json!({"url": "http://127.0.0.1:9/hook", "events": ["*"]}),
        ),
        route(Method::GET, "/v1/webhooks", &["admin"]),
        route(Method::DELETE, "/v1/webhooks/{id}", &["admin"]),
        route(Method::GET, "/v1/webhooks/{id}/deliveries", &["admin"]),
        own(route(
            Method::GET,
            "/v1/users/{user}/messages",
            FOR_ANY_USER,
        )),
        own(route(
            Method::POST,
            "/v1/users/{user}/messages/{id}/read",
            FOR_ANY_USER,
        )),
        with(
            route(Method::POST, "/v1/grant-rules", EDITORS),
            json!({"name": "matrix", "event_type": "user.registered", "templates": ["NOSUCHID"]}),
        ),
        route(Method::GET, "/v1/grant-rules", STAFF),
        route(Method::GET, "/v1/grant-rules/{id}", STAFF),
        with(
            route(Method::PATCH, "/v1/grant-rules/{id}", EDITORS),
            json!({"enabled": false}),
        ),
        with(
            route(Method::POST, "/v1/events", ORDER_DRIVERS),
            json!({"id": "matrix-1", "type": "user.registered", "user": {"id": "u-1"}}),
        ),
        own(with(
            route(Method::POST, "/v1/codes/{code}/exchange", FOR_ANY_USER),
            json!({"user": {"id": "u-1"}}),
        )),
        route(Method::GET, "/v1/code-failures/{subject}", STAFF),
        route(Method::GET, "/v1/stats/templates/{id}", STAFF),
        route(Method::GET, "/v1/stats/templates/{id}/series.csv", STAFF),
        route(Method::GET, "/v1/stats/campaigns/{id}", STAFF),
        route(Method::GET, "/v1/stats/issuers/{issuer}", STAFF),
        route(Method::GET, "/v1/stats/templates/{id}/claims", STAFF),
        route(Method::GET, "/v1/stats/templates/{id}/claims.csv", STAFF),
        route(Method::GET, "/v1/stats/templates/{id}/uses", STAFF),
        route(Method::GET, "/v1/stats/templates/{id}/uses.csv", STAFF),
        route(Method::GET, "/v1/audit-log", &["admin", "finance"]),
        route(Method::GET, "/v1/ledger/check", LEDGER_CHECKERS),
        asking(
            route(Method::GET, "/v1/ledger/report", LEDGER_READERS),
            "issuer=platform",
        ),
    ]
}

fn concrete(route: &Route) -> String {
    let path = route
        .path
        .replace("{id}", "NOSUCHID")
        .replace("{code}", "NOSUCHCODE")
        .replace("{user}", "u-1")
        .replace("{order}", "NOSUCHORDER")
        .replace("{product}", "NOSUCHPRODUCT")
        .replace("{kind}", "points")
        .replace("{subject}", "user:u-1")
        .replace("{issuer}", "platform")
        .replace("{tag}", "matrix-tag");
    match route.query {
        Some(query) => format!("{path}?{query}"),
        None => path,
    }
}

/// Every caller: a key per role, user tokens, and no or bad credentials.
struct Callers {
    keys: Vec<(&'static str, String)>,
    own_user: String,
    other_user: String,
}

async fn callers(server: &TestServer) -> Callers {
    let template = server
        .create_template(ADMIN_KEY, &template_json("partner's"))
        .await;
    let mut keys = Vec::new();
    for role in ROLES {
        let key = match role {
            "admin" => ADMIN_KEY.to_owned(),
            "merchant" => server.scoped_key(role, &["s-1"], &[]).await,
            "partner" => server.scoped_key(role, &[], &[&template]).await,
            _ => server.key(role).await,
        };
        keys.push((role, key));
    }
    Callers {
        keys,
        own_user: server.user_token("u-1"),
        other_user: server.user_token("u-2"),
    }
}

async fn call(server: &TestServer, route: &Route, bearer: Option<&str>) -> (u16, Value) {
    let answer = server
        .call(
            route.method.clone(),
            &concrete(route),
            bearer,
            route.body.as_ref(),
        )
        .await;
    (answer.status.as_u16(), answer.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_callers_it_does_not_name_and_admits_those_it_does() {
    for server in servers().await {
        let callers = callers(&server).await;
        for route in table() {
            let name = format!("{} {} on {}", route.method, route.path, server.database);
            let unknown_key = format!("cf_{}", "f".repeat(32));
            for bearer in [None, Some(unknown_key.as_str()), Some("not-a-key")] {
                let (status, body) = call(&server, &route, bearer).await;
                assert_eq!(
                    (status, &body["code"]),
                    (401, &json!("UNAUTHORIZED")),
                    "{name} {bearer:?}"
                );
            }
            for (role, key) in &callers.keys {
                let (status, body) = call(&server, &route, Some(key)).await;
                if route.roles.contains(role) {
                    assert!(
                        ![401, 403].contains(&status),
                        "{name}: {role} refused: {body}"
                    );
                } else {
                    assert_eq!(
                        (status, &body["code"]),
                        (403, &json!("FORBIDDEN")),
                        "{name}: {role}"
                    );
                }
            }
            let (status, body) = call(&server, &route, Some(&callers.other_user)).await;
            if route.any_user {
                assert_eq!(status, 200, "{name}: another user: {body}");
            } else {
                assert_eq!(
                    (status, &body["code"]),
                    (403, &json!("FORBIDDEN")),
                    "{name}: another user"
                );
            }
            let (status, body) = call(&server, &route, Some(&callers.own_user)).await;
            match route.own_user {
                true => assert!(
                    ![401, 403].contains(&status),
                    "{name}: own user refused: {body}"
                ),
                false => assert_eq!(status, 403, "{name}: a user: {body}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matrix_names_every_v1_operation_of_the_document() {
    let server = servers().await.remove(0);
    let document = server.call(Method::GET, "/openapi.json", None, None).await;
    let mut documented = BTreeSet::new();
    for (path, operations) in document.expect(200)["paths"].as_object().expect("paths") {
        if !path.starts_with("/v1/") {
            continue;
        }
        for method in operations.as_object().expect("operations").keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let in_table: BTreeSet<String> = table()
        .iter()
        .map(|route| format!("{} {}", route.method, route.path))
        .collect();
    assert_eq!(in_table, documented);
}
