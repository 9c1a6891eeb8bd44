//! Serving: the layers every request passes through, and a server that stops
//! gracefully.
//!
//! Layers, outermost first: tracing → metrics → problem+json for bare errors →
//! panic catcher → timeout → body limit. They are added with `Router::layer`,
//! which wraps each route after routing, so the metrics see the matched route
//! template.

use std::any::Any;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::config::{SHUTDOWN_DRAIN_SECS_DEFAULT, ServerConfig};
use crate::error::{ApiError, PROBLEM_JSON};
use crate::metrics::track_requests;

/// The per-request limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    pub body_limit_bytes: usize,
    pub request_timeout: Duration,
}

impl RequestLimits {
    pub fn from_config(config: &ServerConfig) -> Self {
        RequestLimits {
            body_limit_bytes: config.body_limit_bytes,
            request_timeout: Duration::from_secs(config.request_timeout_secs),
        }
    }
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits::from_config(&ServerConfig::default())
    }
}

/// Wraps every route (and the fallback) in the standard layers.
pub fn with_standard_layers(router: Router, limits: &RequestLimits) -> Router {
    router
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits.body_limit_bytes))
        // The outer bound is the largest any route takes (list uploads);
        // every other route's extractor keeps `body_limit_bytes`.
        .layer(RequestBodyLimitLayer::new(
            limits
                .body_limit_bytes
                .max(crate::routes::UPLOAD_BODY_LIMIT_BYTES),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(track_requests))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                // Server errors are logged with their detail by `ApiError`.
                .on_failure(()),
        )
}

async fn not_found() -> ApiError {
    ApiError::not_found("no route matches this path")
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a handler panicked");
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

/// Answers from axum or tower (405, 408, 413, a rejection's plain text) become
/// problem+json like every other error. JSON bodies are left alone.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut problem = ApiError::from_status(status).into_response();
    if let Some(allow) = allow {
        problem.headers_mut().insert(header::ALLOW, allow);
    }
    problem
}

fn is_json(response: &Response) -> bool {
    let Some(content_type) = response.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let content_type = content_type.to_str().unwrap_or("");
    content_type.starts_with(PROBLEM_JSON) || content_type.starts_with("application/json")
}

/// Serves `router` until `shutdown` completes or the process gets SIGTERM or
/// Ctrl-C, then lets open requests finish for up to 30 seconds.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let drain = Duration::from_secs(SHUTDOWN_DRAIN_SECS_DEFAULT);
    serve_with_drain_limit(listener, router, shutdown, drain).await
}

/// [`serve`], with the time open requests may take after the signal.
pub async fn serve_with_drain_limit(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        tokio::select! {
            () = shutdown => {}
            () = os_shutdown_signal() => {}
        }
        tracing::info!("shutting down: no new connections, finishing open requests");
        let _ = stopping_tx.send(());
    };
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(signal)
        .into_future();
    tokio::pin!(server);
    tokio::select! {
        outcome = &mut server => outcome,
        () = drain_deadline(stopping_rx, drain) => {
            tracing::warn!(drain_secs = drain.as_secs(), "requests still open after the drain limit; stopping anyway");
            Ok(())
        }
    }
}

/// Completes `drain` after shutdown began; never if it did not.
async fn drain_deadline(stopping: tokio::sync::oneshot::Receiver<()>, drain: Duration) {
    if stopping.await.is_err() {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(drain).await;
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub async fn os_shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate() => {}
    }
}

#[cfg(unix)]
async fn terminate() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut stream) => {
            stream.recv().await;
        }
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await;
}

#[cfg(test)]
mod tests;
