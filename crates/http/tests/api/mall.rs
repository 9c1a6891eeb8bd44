//! The demo mall at `/m/api` (user pages, SPEC §13's demo login): absent
//! unless turned on; when on, a demo sign-in signs a user token and a demo
//! order is locked and paid through the order use cases.

use std::sync::Arc;

use couponflow_app::{App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_http::auth::UserTokenSecret;
use couponflow_http::{AppState, RequestLimits, serve, service_app};
use couponflow_store::testing::{fresh_store, fresh_urls};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, USER_TOKEN_SECRET, now, servers, template_json};

#[tokio::test]
async fn without_demo_mode_the_mall_routes_are_not_there() {
    for server in servers().await {
        let token = server.user_token("u-1");
        let session = server
            .call(
                reqwest::Method::POST,
                "/m/api/session",
                None,
                Some(&json!({"user_id": "u-1"})),
            )
            .await;
        session.expect_problem(404, "NOT_FOUND");
        assert_eq!(session.content_type, "application/problem+json");
        server
            .get("/m/api/catalogue", &token)
            .await
            .expect_problem(404, "NOT_FOUND");
        let order = json!({"lines": [line(19900)], "select": "best"});
        server
            .post("/m/api/orders", &token, &order)
            .await
            .expect_problem(404, "NOT_FOUND");
    }
}

fn line(unit_price: i64) -> Value {
    json!({"line_id": "l1", "sku": "sku-oxford-shirt-l", "unit_price": unit_price, "quantity": 1})
}

/// A server on a fresh database with the demo mall on.
async fn demo_server(database: &str) -> (String, Arc<App>) {
    let store = Arc::new(fresh_store(database).await.expect("a migrated store"));
    let clock = Arc::new(FixedClock::new(now()));
    let app = Arc::new(App::new(store, clock, Settings::default()));
    app.ensure_bootstrap_admin(Some(ADMIN_KEY))
        .await
        .expect("the bootstrap admin");
    let secret = UserTokenSecret::new(USER_TOKEN_SECRET).expect("a long secret");
    let state = AppState::new(app.clone(), Some(secret))
        .expect("the state")
        .with_demo_mall();
    let service = service_app(state, &RequestLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(serve(listener, service.router, std::future::pending()));
    (format!("http://{address}"), app)
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn the_demo_mall_signs_users_in_and_pays_their_orders() {
    for database in fresh_urls().await.expect("test databases") {
        let (base, _app) = demo_server(&database).await;
        let http = reqwest::Client::new();
        let url = |path: &str| format!("{base}{path}");

        // The catalogue lists the demo's products and users.
        let (status, catalogue) = send(http.get(url("/m/api/catalogue"))).await;
        assert_eq!(status, 200, "{database}: {catalogue}");
        let shirt = catalogue["products"]
            .as_array()
            .expect("products")
            .iter()
            .find(|product| product["sku"] == "sku-oxford-shirt-l")
            .expect("the shirt")
            .clone();
        assert_eq!(shirt["price"], 19900);
        assert_eq!(catalogue["users"][0], "u-1001");

        // A bad user id is refused; a good one gets a token for that user.
        let (status, refused) = send(
            http.post(url("/m/api/session"))
                .json(&json!({"user_id": "no spaces"})),
        )
        .await;
        assert_eq!(status, 422, "{refused}");
        assert_eq!(refused["code"], "VALIDATION_FAILED");
        let (status, session) = send(
            http.post(url("/m/api/session"))
                .json(&json!({"user_id": "u-1001"})),
        )
        .await;
        assert_eq!(status, 200, "{session}");
        let token = session["token"].as_str().expect("a token").to_owned();
        assert!(token.starts_with("u1."), "{token}");
        let (_, me) = send(http.get(url("/v1/me")).bearer_auth(&token)).await;
        assert_eq!(me, json!({"kind": "user", "user_id": "u-1001"}));

        // The user holds 满300减50: a ¥399.00 order pays ¥349.00 with it.
        let made = send(
            http.post(url("/v1/templates"))
                .bearer_auth(ADMIN_KEY)
                .json(&template_json("满300减50")),
        )
        .await;
        let id = made.1["id"].as_str().expect("a template").to_owned();
        send(
            http.post(url(&format!("/v1/templates/{id}/submit")))
                .bearer_auth(ADMIN_KEY),
        )
        .await;
        let (_, reviewer) = send(
            http.post(url("/v1/api-keys"))
                .bearer_auth(ADMIN_KEY)
                .json(&json!({"role": "reviewer", "label": "r"})),
        )
        .await;
        let reviewer = reviewer["key"].as_str().expect("a key").to_owned();
        let (_, reviewed) = send(
            http.post(url(&format!("/v1/templates/{id}/reviews")))
                .bearer_auth(&reviewer)
                .json(&json!({"decision": "approve"})),
        )
        .await;
        assert_eq!(reviewed["status"], "active", "{reviewed}");
        let (status, claimed) = send(
            http.post(url(&format!("/v1/templates/{id}/claims")))
                .bearer_auth(&token)
                .json(&json!({"user": {"id": "u-1001"}, "request_id": "r-1"})),
        )
        .await;
        assert_eq!(status, 201, "{claimed}");
        let code = claimed["code"].as_str().expect("a code").to_owned();

        // Staff keys do not place demo orders; the shopper does.
        let order = json!({"lines": [line(39900)], "codes": [code]});
        let (status, _) = send(
            http.post(url("/m/api/orders"))
                .bearer_auth(ADMIN_KEY)
                .json(&order),
        )
        .await;
        assert_eq!(status, 403, "{database}");
        let (status, paid) = send(
            http.post(url("/m/api/orders"))
                .bearer_auth(&token)
                .json(&order),
        )
        .await;
        assert_eq!(status, 200, "{database}: {paid}");
        assert_eq!(paid["amount"], 39900);
        assert_eq!(paid["discount"], 5000);
        assert_eq!(paid["paid"], 34900);
        assert_eq!(paid["coupons"], json!([code]));
        let order_id = paid["order_id"].as_str().expect("an order id");
        let (_, stored) = send(
            http.get(url(&format!("/v1/orders/{order_id}")))
                .bearer_auth(ADMIN_KEY),
        )
        .await;
        assert_eq!(stored["state"], "paid", "{stored}");
        assert_eq!(stored["user_id"], "u-1001");
        let (_, coupon) = send(
            http.get(url(&format!("/v1/coupons/{code}")))
                .bearer_auth(ADMIN_KEY),
        )
        .await;
        assert_eq!(coupon["state"], "redeemed", "{coupon}");

        // The spent coupon cannot pay again: a readable refusal, nothing locked.
        let (status, again) = send(
            http.post(url("/m/api/orders"))
                .bearer_auth(&token)
                .json(&order),
        )
        .await;
        assert_eq!(status, 409, "{again}");
        assert_eq!(again["code"], "COUPON_STATE", "{again}");

        // The user pages read a template's public face.
        let (status, faces) = send(
            http.get(url(&format!("/m/api/templates?ids={id},missing")))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(status, 200, "{faces}");
        assert_eq!(faces["items"].as_array().map(Vec::len), Some(1), "{faces}");
        assert_eq!(
            faces["items"][0]["benefit"]["tiers"][0]["min_amount"],
            30000
        );
        assert!(faces["items"][0].get("limits").is_none(), "{faces}");
        let (status, _) = send(http.get(url(&format!("/m/api/templates?ids={id}")))).await;
        assert_eq!(status, 401);
    }
}
