//! Couponflow's HTTP foundation: the pieces every route stands on.
//!
//! - [`error`]: [`ApiError`], the one table of error codes, problem+json responses.
//! - [`extract`]: [`ApiJson`], [`ApiQuery`], [`ApiPath`] with problem+json rejections.
//! - [`auth`]: roles, API keys, user tokens, the [`Principal`] extractor, access checks.
//! - [`pagination`]: opaque cursors, [`PageQuery`], [`Page`].
//! - [`metrics`]: the Prometheus recorder, request metrics, `/metrics`.
//! - [`health`]: `/healthz`, `/readyz`.
//! - [`config`]: [`ServerConfig`] from defaults, a TOML file and `COUPONFLOW_*`.
//! - [`server`]: the standard layers and graceful [`serve`].
//! - [`openapi`]: [`ApiRouter`], which registers routes and their OpenAPI 3.1
//!   documentation together, and the check that nothing is undocumented.
//! - [`routes`](mod@routes): the `/v1` API, one file per area, over the use cases of
//!   `couponflow_app`; [`service_app`] is the whole service.
//! - [`state`]: [`AppState`], and the [`KeyStore`] over the database.
//! - [`web`]: the console (`/console`) and the user pages (`/m`), served from the binary.
//!
//! This crate knows nothing of SQL or of coupons' rules: handlers call the
//! use cases and map their answers; the foundation pieces take a
//! [`KeyStore`] and a readiness check, so they can be tested alone.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod server;
pub mod state;
pub mod web;

use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use couponflow_core::clock::Clock;
use utoipa_axum::routes;

pub use auth::{AuthState, KeyStore, Principal, Role};
pub use config::ServerConfig;
pub use error::{ApiError, codes};
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use health::Readiness;
pub use metrics::MetricsHandle;
pub use openapi::{ApiParts, ApiRouter, undocumented_routes};
pub use pagination::{Page, PageQuery};
pub use routes::{service_app, v1_routes};
pub use server::{RequestLimits, serve};
pub use state::AppState;

/// The wall clock, for production; tests use `couponflow_core::clock::FixedClock`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(SystemTime::now())
    }
}

/// The state the foundation routes need. An application state that holds
/// more implements `FromRef` for [`Readiness`], [`MetricsHandle`] and
/// [`AuthState`] instead of using this.
#[derive(Clone)]
pub struct FoundationState {
    pub readiness: Readiness,
    pub metrics: MetricsHandle,
    pub auth: AuthState,
}

impl FromRef<FoundationState> for Readiness {
    fn from_ref(state: &FoundationState) -> Self {
        state.readiness.clone()
    }
}

impl FromRef<FoundationState> for MetricsHandle {
    fn from_ref(state: &FoundationState) -> Self {
        state.metrics.clone()
    }
}

impl FromRef<FoundationState> for AuthState {
    fn from_ref(state: &FoundationState) -> Self {
        state.auth.clone()
    }
}

/// `/healthz`, `/readyz` and `/metrics`, documented.
pub fn foundation_routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Readiness: FromRef<S>,
    MetricsHandle: FromRef<S>,
{
    ApiRouter::new()
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics_page))
}

/// A finished application: the router to serve and what it was built from.
pub struct App {
    pub router: Router,
    pub openapi: utoipa::openapi::OpenApi,
    pub route_paths: Vec<String>,
}

impl App {
    /// Routes that reached the router without documentation; empty when all is well.
    pub fn undocumented_routes(&self) -> Vec<String> {
        undocumented_routes(&self.route_paths, &self.openapi)
    }
}

/// The foundation routes plus `routes`, with `/openapi.json`, the state and
/// the standard layers applied.
pub fn build_app<S>(routes: ApiRouter<S>, state: S, limits: &RequestLimits) -> App
where
    S: Clone + Send + Sync + 'static,
    Readiness: FromRef<S>,
    MetricsHandle: FromRef<S>,
{
    build_app_with_pages(routes, Router::new(), state, limits)
}

/// [`build_app`] plus `pages`: routes outside the API (the browser pages),
/// which the OpenAPI document does not describe.
pub fn build_app_with_pages<S>(
    routes: ApiRouter<S>,
    pages: Router<S>,
    state: S,
    limits: &RequestLimits,
) -> App
where
    S: Clone + Send + Sync + 'static,
    Readiness: FromRef<S>,
    MetricsHandle: FromRef<S>,
{
    let parts = foundation_routes().merge(routes).into_parts();
    let router = server::with_standard_layers(parts.router.merge(pages).with_state(state), limits);
    App {
        router,
        openapi: parts.openapi,
        route_paths: parts.route_paths,
    }
}

/// Only the foundation: health, readiness, metrics and the OpenAPI document.
pub fn foundation_router(state: FoundationState, limits: &RequestLimits) -> Router {
    build_app(ApiRouter::new(), state, limits).router
}

/// Wraps a key store for [`AuthState`].
pub fn auth_state(
    keys: Arc<dyn KeyStore>,
    user_token_secret: Option<auth::UserTokenSecret>,
    clock: Arc<dyn Clock>,
) -> AuthState {
    AuthState {
        keys,
        user_token_secret: user_token_secret.map(Arc::new),
        clock,
    }
}
