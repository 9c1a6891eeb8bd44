//! Liveness and readiness for load balancers and orchestrators.
//!
//! `/healthz` says the process answers; it checks nothing else, so a slow
//! database never gets a live node restarted. `/readyz` runs a readiness check
//! (a database ping) and says whether to send traffic here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, Problem, codes};

/// A readiness check that takes longer than this counts as failed.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// The future a [`ReadinessCheck`] returns: `Err` names what is not ready.
pub type ReadinessFuture<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Whether this node can serve traffic now.
pub trait ReadinessCheck: Send + Sync {
    fn check(&self) -> ReadinessFuture<'_>;
}

struct FnCheck<F>(F);

impl<F, Fut> ReadinessCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    fn check(&self) -> ReadinessFuture<'_> {
        Box::pin((self.0)())
    }
}

/// The readiness check held in router state.
#[derive(Clone)]
pub struct Readiness(Arc<dyn ReadinessCheck>);

impl Readiness {
    pub fn new(check: Arc<dyn ReadinessCheck>) -> Self {
        Readiness(check)
    }

    /// A check from a closure, such as `|| async { store.ping().await }`.
    pub fn from_fn<F, Fut>(check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Readiness(Arc::new(FnCheck(check)))
    }

    /// Always ready: for a process with nothing to wait for.
    pub fn always() -> Self {
        Readiness::from_fn(|| async { Ok(()) })
    }

    /// Runs the check, bounded by [`READINESS_TIMEOUT`].
    pub async fn run(&self) -> Result<(), String> {
        match tokio::time::timeout(READINESS_TIMEOUT, self.0.check()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!(
                "the readiness check took longer than {} ms",
                READINESS_TIMEOUT.as_millis()
            )),
        }
    }
}

/// The body of a healthy answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthStatus {
    /// Always `ok`.
    pub status: String,
}

fn ok() -> Json<HealthStatus> {
    Json(HealthStatus {
        status: "ok".to_owned(),
    })
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process answers", body = HealthStatus))
)]
pub async fn healthz() -> Json<HealthStatus> {
    ok()
}

/// The node can serve traffic (its database answers).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready for traffic", body = HealthStatus),
        (status = 503, description = "Not ready; the reason is logged", body = Problem, content_type = "application/problem+json")
    )
)]
pub async fn readyz(State(readiness): State<Readiness>) -> Result<Json<HealthStatus>, ApiError> {
    readiness
        .run()
        .await
        .map_err(|reason| ApiError::from_code(codes::NOT_READY, reason))?;
    Ok(ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readiness_reports_the_check_outcome() {
        assert_eq!(Readiness::always().run().await, Ok(()));
        let failing = Readiness::from_fn(|| async { Err("database down".to_owned()) });
        assert_eq!(failing.run().await, Err("database down".to_owned()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_check_counts_as_not_ready() {
        let hanging = Readiness::from_fn(std::future::pending::<Result<(), String>>);
        let outcome = hanging.run().await;
        assert!(outcome.unwrap_err().contains("longer than"));
    }

    #[tokio::test]
    async fn readyz_is_503_not_ready_when_the_check_fails() {
        let failing = Readiness::from_fn(|| async { Err("database down".to_owned()) });
        let error = readyz(State(failing)).await.unwrap_err();
        assert_eq!(error.code(), "NOT_READY");
        assert_eq!(error.status().as_u16(), 503);
        assert_eq!(healthz().await.0.status, "ok");
    }
}
