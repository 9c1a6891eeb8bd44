//! Fresh databases for tests: a new SQLite file, or a new PostgreSQL
//! database on the server named by `COUPONFLOW_TEST_DATABASE_URL`.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

use crate::{Store, StoreError};

/// The environment variable that names the PostgreSQL server for tests.
pub const TEST_DATABASE_URL_VAR: &str = "COUPONFLOW_TEST_DATABASE_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A URL for a new, empty SQLite file under the system's temp directory.
pub fn fresh_sqlite_url() -> String {
    let path = std::env::temp_dir().join(format!("{}.db", unique_name("couponflow_test")));
    format!("sqlite://{}", path.display())
}

/// A URL for a new, empty PostgreSQL database, or `None` when
/// `COUPONFLOW_TEST_DATABASE_URL` is not set.
pub async fn fresh_postgres_url() -> Result<Option<String>, StoreError> {
    let Ok(base) = std::env::var(TEST_DATABASE_URL_VAR) else {
        return Ok(None);
    };
    sqlx::any::install_default_drivers();
    let name = unique_name("cf_test");
    let mut admin = sqlx::AnyConnection::connect(&base).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    let (prefix, _) = base.rsplit_once('/').unwrap_or((base.as_str(), ""));
    Ok(Some(format!("{prefix}/{name}")))
}

/// URLs of a fresh database on every back end available: SQLite always,
/// PostgreSQL when the test server is configured.
pub async fn fresh_urls() -> Result<Vec<String>, StoreError> {
    let mut urls = vec![fresh_sqlite_url()];
    if let Some(url) = fresh_postgres_url().await? {
        urls.push(url);
    }
    Ok(urls)
}

/// A migrated store on a fresh database at `url`.
pub async fn fresh_store(url: &str) -> Result<Store, StoreError> {
    Store::open_and_migrate(url).await
}
