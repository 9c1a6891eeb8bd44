//! `/openapi.json` describes exactly what the router serves: every routed
//! path is documented, every documented operation is routed, and every
//! `/v1` operation needs a bearer and names its roles.

use reqwest::Method;
use serde_json::Value;

use crate::harness::{TestServer, servers};

async fn document(server: &TestServer) -> Value {
    let answer = server.call(Method::GET, "/openapi.json", None, None).await;
    assert!(answer.content_type.starts_with("application/json"));
    answer.expect(200).clone()
}

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut all = Vec::new();
    for (path, methods) in document["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("operations") {
            all.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_of_the_router_is_in_the_served_document() {
    let server = servers().await.remove(0);
    let document = document(&server).await;
    let missing: Vec<&String> = server
        .route_paths
        .iter()
        .filter(|path| document["paths"].get(path.as_str()).is_none())
        .collect();
    assert!(missing.is_empty(), "undocumented routes: {missing:?}");
    assert!(
        server
            .route_paths
            .iter()
            .any(|path| path == "/v1/templates")
    );
    assert!(
        document["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let server = servers().await.remove(0);
    for (method, path, _) in operations(&document(&server).await) {
        let concrete = path
            .replace("{id}", "x")
            .replace("{code}", "x")
            .replace("{user}", "x")
            .replace("{order}", "x")
            .replace("{product}", "x");
        let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let answer = server.call(method.clone(), &concrete, None, None).await;
        let expected = if path.starts_with("/v1/") { 401 } else { 200 };
        assert_eq!(
            answer.status.as_u16(),
            expected,
            "{method} {path}: {}",
            answer.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_v1_operation_needs_a_bearer_and_names_its_roles() {
    let server = servers().await.remove(0);
    let document = document(&server).await;
    assert!(document["components"]["schemas"]["Problem"].is_object());
    for (method, path, operation) in operations(&document) {
        if !path.starts_with("/v1/") {
            continue;
        }
        let text = format!("{} {}", operation["summary"], operation["description"]);
        assert!(
            text.contains("Roles:"),
            "{method} {path} names no roles: {text}"
        );
        assert_eq!(
            operation["security"][0]["bearer"],
            Value::Array(vec![]),
            "{method} {path}"
        );
        for status in ["401", "403"] {
            assert!(
                operation["responses"][status].is_object(),
                "{method} {path} lacks {status}"
            );
        }
    }
}
