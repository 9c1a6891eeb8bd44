//! Couponflow's use cases. Each one: begin a write (a unit of the store's
//! group-commit pipeline) → load → a pure transition from `core` → save,
//! with its history and idempotency record in the same unit → commit.
//!
//! The HTTP layer calls these and nothing else; these never see HTTP.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod alerts;
pub mod audit;
pub mod background;
pub mod balances;
pub mod campaigns;
pub mod captcha;
pub mod checkout;
pub mod claims;
pub mod codes;
pub mod coupons;
mod error;
pub mod exchange;
pub mod expiry;
pub mod grants;
pub mod ids;
pub mod keys;
pub mod ledger;
pub mod notify;
pub mod orders;
pub mod rules;
pub mod stats;
pub mod templates;
pub mod verify;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use couponflow_core::clock::Clock;
use couponflow_store::Store;

pub use error::{AppError, AppResult, ClaimRefusal, ErrorKind};
pub use notify::outbox;

/// Deployment settings the use cases need.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Templates whose budget (or `total × face value`) reaches this amount
    /// need the finance review too (SPEC §4.9).
    pub finance_review_threshold_minor: i64,
    /// The deployment's time zone: calendar days for `per_user_per_day`.
    pub time_zone: Tz,
    /// Webhook retries and timeouts, the jobs' interval, the reminders' lead time.
    pub notify: notify::NotifySettings,
    /// Failed redemption-code attempts a user or an IP address may make in
    /// a local day before they are refused for `code_cooldown_secs`
    /// (SPEC §11.5).
    pub code_failures_limit: i64,
    pub code_cooldown_secs: i64,
    /// How claims' captcha tokens are checked (SPEC §11.4).
    pub captcha: captcha::CaptchaVerifier,
    /// How long a node holds a grant between two chunks before another
    /// node may take it over.
    pub grant_lease_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            finance_review_threshold_minor: 10_000_000,
            time_zone: chrono_tz::Asia::Shanghai,
            notify: notify::NotifySettings::default(),
            code_failures_limit: 20,
            code_cooldown_secs: 900,
            captcha: captcha::CaptchaVerifier::None,
            grant_lease_secs: grants::GRANT_LEASE_SECS_DEFAULT,
        }
    }
}

/// Who acts: recorded in every history row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

impl Actor {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The use cases, over one store and one clock.
pub struct App {
    pub(crate) store: Arc<Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: Settings,
    pub(crate) claims: claims::ClaimEngine,
    pub(crate) orders: orders::OrderEngine,
    pub(crate) grants: grants::GrantRunner,
}

impl App {
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        App {
            store,
            clock,
            settings,
            claims: claims::ClaimEngine::default(),
            orders: orders::OrderEngine::default(),
            grants: grants::GrantRunner::default(),
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}
