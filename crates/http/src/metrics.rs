//! Prometheus metrics: one recorder per process, a middleware that counts
//! requests by route template and status, and the `/metrics` page.
//!
//! Routes are labelled by their template (`/v1/coupons/{code}`), never by the
//! raw path: a label per coupon code would grow without bound.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `method`, `route` and `status`.
pub const REQUESTS_TOTAL: &str = "couponflow_http_requests_total";
/// Time to answer, by `method` and `route`.
pub const REQUEST_DURATION_SECONDS: &str = "couponflow_http_request_duration_seconds";
/// The `route` label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Histogram buckets, in seconds: a claim takes microseconds, a big grant seconds.
const DURATION_BUCKETS_SECS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// How often histogram samples are folded into buckets even when no one scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The handle that renders the process' metrics; cheap to clone into state.
#[derive(Clone, Debug)]
pub struct MetricsHandle(PrometheusHandle);

#[derive(Debug, thiserror::Error)]
#[error("the metrics recorder could not be installed: {0}")]
pub struct MetricsError(String);

static RECORDER: OnceLock<Result<MetricsHandle, String>> = OnceLock::new();

impl MetricsHandle {
    /// Installs the process-wide recorder the first time, and returns its
    /// handle every time, so several servers (or tests) in one process share it.
    pub fn install() -> Result<MetricsHandle, MetricsError> {
        RECORDER
            .get_or_init(install_once)
            .clone()
            .map_err(MetricsError)
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        self.0.render()
    }
}

fn install_once() -> Result<MetricsHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(REQUEST_DURATION_SECONDS.to_owned()),
            &DURATION_BUCKETS_SECS,
        )
        .map_err(|error| error.to_string())?
        .install_recorder()
        .map_err(|error| error.to_string())?;
    spawn_upkeep(handle.clone());
    Ok(MetricsHandle(handle))
}

/// Without upkeep, histogram samples pile up between scrapes.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "metrics upkeep thread not started; samples drain on scrape only");
    }
}

/// Middleware: counts the request and times it. Add with `Router::layer` so
/// the matched route is known.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None => UNMATCHED_ROUTE.to_owned(),
    };
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let elapsed = started.elapsed().as_secs_f64();
    metrics::counter!(REQUESTS_TOTAL, "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_DURATION_SECONDS, "method" => method, "route" => route)
        .record(elapsed);
    response
}

/// Prometheus' text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String))
)]
pub async fn metrics_page(State(handle): State<MetricsHandle>) -> Response {
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[test]
    fn installing_twice_returns_the_same_recorder() {
        let first = MetricsHandle::install().unwrap();
        let second = MetricsHandle::install().unwrap();
        metrics::counter!("couponflow_test_shared_total").increment(1);
        assert!(first.render().contains("couponflow_test_shared_total"));
        assert!(second.render().contains("couponflow_test_shared_total"));
    }

    #[tokio::test]
    async fn requests_are_counted_by_route_template_not_raw_path() {
        let handle = MetricsHandle::install().unwrap();
        let app = Router::new()
            .route("/metrics-test/{code}", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(track_requests));
        let request = Request::builder()
            .uri("/metrics-test/c-42")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        let text = handle.render();
        let line = text
            .lines()
            .find(|line| line.starts_with(REQUESTS_TOTAL) && line.contains("/metrics-test/{code}"))
            .unwrap_or_else(|| panic!("no counter line in:\n{text}"));
        assert!(line.contains(r#"status="200""#), "{line}");
        assert!(!text.contains("c-42"));
        assert!(text.contains(&format!("{REQUEST_DURATION_SECONDS}_bucket")));
    }
}
