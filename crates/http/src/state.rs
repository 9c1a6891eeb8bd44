//! The service's router state: the use cases, authentication, metrics and
//! readiness, handed to each handler through `FromRef`.
//!
//! Everything here takes its time and its data from the one [`App`]: the
//! key lookup is a use case over the database, readiness is the store's
//! ping, and the clock that decides whether a key or a user token has
//! expired is the clock the use cases run on (tests move one clock, not two).

use std::sync::Arc;
use std::time::Duration;

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
    /// Whether Couponflow plays the mall for the user pages (`/m/api/session`,
    /// `/m/api/orders`, `/m/api/catalogue`); see [`crate::web`]'s `mall`.
    pub demo_mall: bool,
}

impl AppState {
    /// The state for `app`. `user_token_secret: None` refuses every user token.
    pub fn new(
        app: Arc<App>,
        user_token_secret: Option<UserTokenSecret>,
    ) -> Result<AppState, MetricsError> {
        let auth = AuthState {
            keys: Arc::new(DatabaseKeys::new(app.clone())),
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
            demo_mall: false,
        })
    }

    /// This state with the demo mall on (`couponflow serve --demo`,
    /// `demo_mall = true`): demo sign-in and demo orders for the user pages.
    pub fn with_demo_mall(mut self) -> Self {
        self.demo_mall = true;
        self
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

/// How long a node trusts what it read of a key. Every authenticated call
/// would otherwise read the database (on SQLite, a hand-off to a reader
/// thread that costs more than the rest of a claim). A key revoked on this
/// node is refused at once (the revocation empties the cache); on other
/// nodes within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// Keys remembered at most (unknown keys too, so a flood of made-up keys
/// does not reach the database more than once each per TTL).
pub const KEY_CACHE_ENTRIES_MAX: u64 = 10_000;

/// API keys as the database holds them, found through the keys use case
/// and remembered for [`KEY_CACHE_TTL`].
pub struct DatabaseKeys {
    app: Arc<App>,
    cache: moka::sync::Cache<String, Option<KeyRecord>>,
}

impl DatabaseKeys {
    pub fn new(app: Arc<App>) -> Self {
        DatabaseKeys {
            app,
            cache: moka::sync::Cache::builder()
                .max_capacity(KEY_CACHE_ENTRIES_MAX)
                .time_to_live(KEY_CACHE_TTL)
                .build(),
        }
    }
}

impl KeyStore for DatabaseKeys {
    fn find_by_hash<'a>(&'a self, hash: &'a str) -> KeyLookup<'a> {
        Box::pin(async move {
            if let Some(known) = self.cache.get(hash) {
                return Ok(known);
            }
            let found = self
                .app
                .find_key_by_hash(hash)
                .await
                .map_err(|error| KeyStoreError(error.to_string()))?;
            let record = match found {
                // Revoked keys must not be found, whatever the query did.
                Some(stored) if stored.revoked_at.is_none() => Some(key_record(stored)?),
                Some(_) | None => None,
            };
            self.cache.insert(hash.to_owned(), record.clone());
            Ok(record)
        })
    }

    fn forget(&self) {
        self.cache.invalidate_all();
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
