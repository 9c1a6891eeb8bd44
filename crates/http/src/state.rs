//! The service's router state: the use cases, authentication, metrics and
//! readiness, handed to each handler through `FromRef`.
//!
//! Everything here takes its time and its data from the one [`App`]: the
//! key lookup is a use case over the database, readiness is the store's
//! ping, and the clock that decides whether a key or a user token has
//! expired is the clock the use cases run on (tests move one clock, not two).

use std::sync::Arc;

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_core::clock::Clock;

use crate::auth::{AuthState, KeyLookup, KeyRecord, KeyStore, KeyStoreError, UserTokenSecret};
use crate::health::Readiness;
use crate::metrics::{MetricsError, MetricsHandle};

/// What every `/v1` handler can extract: `State<Arc<App>>`, and through the
/// foundation's extractors the [`AuthState`], [`MetricsHandle`] and [`Readiness`].
#[derive(Clone)]
pub struct AppState {
    pub app: Arc<App>,
    pub auth: AuthState,
    pub metrics: MetricsHandle,
    pub readiness: Readiness,
}

impl AppState {
    /// The state for `app`. `user_token_secret: None` refuses every user token.
    pub fn new(
        app: Arc<App>,
        user_token_secret: Option<UserTokenSecret>,
    ) -> Result<AppState, MetricsError> {
        let auth = AuthState {
            keys: Arc::new(DatabaseKeys(app.clone())),
            user_token_secret: user_token_secret.map(Arc::new),
            clock: Arc::new(AppClock(app.clone())),
        };
        let pinged = app.clone();
        let readiness = Readiness::from_fn(move || {
            let app = pinged.clone();
            async move { app.store().ping().await.map_err(|error| error.to_string()) }
        });
        Ok(AppState {
            app,
            auth,
            metrics: MetricsHandle::install()?,
            readiness,
        })
    }
}

impl FromRef<AppState> for Arc<App> {
    fn from_ref(state: &AppState) -> Self {
        state.app.clone()
    }
}

impl FromRef<AppState> for AuthState {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for MetricsHandle {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

impl FromRef<AppState> for Readiness {
    fn from_ref(state: &AppState) -> Self {
        state.readiness.clone()
    }
}

/// The use cases' clock, for the authentication checks.
struct AppClock(Arc<App>);

impl Clock for AppClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// API keys as the database holds them, found through the keys use case.
pub struct DatabaseKeys(pub Arc<App>);

impl KeyStore for DatabaseKeys {
    fn find_by_hash<'a>(&'a self, hash: &'a str) -> KeyLookup<'a> {
        Box::pin(async move {
            let found = self
                .0
                .find_key_by_hash(hash)
                .await
                .map_err(|error| KeyStoreError(error.to_string()))?;
            match found {
                // Revoked keys must not be found, whatever the query did.
                Some(stored) if stored.revoked_at.is_none() => key_record(stored).map(Some),
                Some(_) | None => Ok(None),
            }
        })
    }
}

/// The database's key as the extractor wants it. A role this build does not
/// know is a broken row, not a missing key: it is logged as a server error.
fn key_record(stored: couponflow_app::keys::KeyRecord) -> Result<KeyRecord, KeyStoreError> {
    let role = crate::auth::Role::ALL
        .into_iter()
        .find(|role| role.as_str() == stored.role)
        .ok_or_else(|| {
            KeyStoreError(format!(
                "key {} has the unknown role `{}`",
                stored.id, stored.role
            ))
        })?;
    Ok(KeyRecord {
        key_id: stored.id,
        role,
        shops: stored.shops,
        templates: stored.templates,
        expires_at_unix: None,
    })
}
