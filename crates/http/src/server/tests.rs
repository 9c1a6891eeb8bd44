use super::*;
use axum::body::Body;
use axum::routing::{get, post};
use serde_json::Value;
use tower::ServiceExt;

fn limits() -> RequestLimits {
    RequestLimits {
        body_limit_bytes: 64,
        request_timeout: Duration::from_millis(200),
    }
}

fn app() -> Router {
    let router = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "late"
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("boom");
                }
                "never"
            }),
        );
    with_standard_layers(router, &limits())
}

async fn call(method: &str, uri: &str, body: Body) -> (StatusCode, Response) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .body(body)
        .unwrap();
    let response = app().oneshot(request).await.unwrap();
    (response.status(), response)
}

async fn problem(response: Response) -> Value {
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn unknown_path_is_a_not_found_problem() {
    let (status, response) = call("GET", "/nowhere", Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem(response).await["code"], "NOT_FOUND");
}

#[tokio::test]
async fn wrong_method_is_a_problem_that_keeps_the_allow_header() {
    let (status, response) = call("DELETE", "/ok", Body::empty()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().get(header::ALLOW).is_some());
    assert_eq!(problem(response).await["code"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn body_over_the_limit_is_refused_with_413() {
    let (status, response) = call("POST", "/echo", Body::from("x".repeat(65))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(response).await["code"], "PAYLOAD_TOO_LARGE");
    let (status, _) = call("POST", "/echo", Body::from("x".repeat(64))).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn slow_request_times_out_with_408() {
    let (status, response) = call("GET", "/slow", Body::empty()).await;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
    assert_eq!(problem(response).await["code"], "REQUEST_TIMEOUT");
}

#[tokio::test]
async fn panic_becomes_a_500_without_its_message() {
    let (status, response) = call("GET", "/panic", Body::empty()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = problem(response).await;
    assert_eq!(body["code"], "INTERNAL");
    assert!(!body.to_string().contains("boom"));
}

async fn get_text(address: SocketAddr, path: &str) -> reqwest::Result<String> {
    reqwest::get(format!("http://{address}{path}"))
        .await?
        .text()
        .await
}

#[tokio::test]
async fn server_stops_when_the_shutdown_future_completes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app(), async {
        let _ = stopped.await;
    }));
    assert_eq!(get_text(address, "/ok").await.unwrap(), "ok");
    stop.send(()).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(outcome.unwrap().unwrap().is_ok());
}

#[tokio::test]
async fn open_requests_get_at_most_the_drain_limit_after_shutdown() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hanging = Router::new().route("/hang", get(std::future::pending::<&'static str>));
    let server = tokio::spawn(serve_with_drain_limit(
        listener,
        hanging,
        async {
            let _ = stopped.await;
        },
        Duration::from_millis(100),
    ));
    let client = tokio::spawn(get_text(address, "/hang"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(outcome.unwrap().unwrap().is_ok());
    client.abort();
}
