//! Couponflow's storage: the two databases behind one interface.
//!
//! Both back ends are reached through sqlx's `Any` driver with one query
//! text (`$1` placeholders, `RETURNING`, `ON CONFLICT`, times as epoch
//! microseconds, JSON as text), and each has its own embedded migrations.
//! Reads go to a pool; every write goes through the group-commit
//! [`pipeline`], which gives SQLite one fsync per batch of writes and
//! PostgreSQL one commit per batch.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod error;
pub mod native;
mod pipeline;
pub mod sql;
pub mod testing;
pub mod time;

use std::str::FromStr;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, install_default_drivers};
use sqlx::{AnyConnection, Executor};

pub use error::StoreError;
pub use pipeline::{Answered, BATCH_UNITS_MAX, BoxFuture, PipelineStats, QUEUE_UNITS_MAX};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default: one file, one node.
    Sqlite,
    /// Scale-out: any number of nodes against one server.
    Postgres,
}

/// Connections a node opens, at most.
pub const READ_CONNECTIONS_MAX_SQLITE: u32 = 4;
pub const READ_CONNECTIONS_MAX_POSTGRES: u32 = 16;
/// How long a SQLite connection waits for a lock before it answers busy.
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;
/// Page cache per SQLite connection: the claim path touches seven indexes
/// per coupon, and the default 2 MiB cache makes inserts fall to disk reads.
pub const SQLITE_CACHE_KIB: u32 = 131_072;
/// SQLite page size for new files. Sessions 1–2 used 1 KiB pages to write
/// fewer bytes per claim; with claims written natively (`native`), what
/// a commit costs is the number of WAL frames (two `pwrite`s each) and
/// B-tree splits, and 4 KiB pages measured faster with a lower p99
/// (docs/BENCHMARKS.md, session 3).
pub const SQLITE_PAGE_BYTES: u32 = 4_096;
/// Memory-mapped I/O for SQLite reads.
pub const SQLITE_MMAP_BYTES: u64 = 1 << 30;
/// How long to wait for a free connection.
pub const ACQUIRE_TIMEOUT_SECS: u64 = 10;

/// The database, for reads (a pool) and writes (the pipeline).
pub struct Store {
    backend: Backend,
    /// True when the writer can run native units (a SQLite file).
    native: bool,
    /// SQLite files: the thread that checkpoints beside the writer.
    checkpointer: Option<native::Checkpointer>,
    read: AnyPool,
    write: AnyPool,
    pipeline: pipeline::Pipeline,
}

impl Store {
    /// Connects (creating the SQLite file if needed). Does not migrate.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let (backend, url) = normalise_url(url)?;
        let options = AnyConnectOptions::from_str(&url).map_err(StoreError::from)?;
        let (read_max, write_max) = match backend {
            Backend::Sqlite => (READ_CONNECTIONS_MAX_SQLITE, 1),
            Backend::Postgres => (READ_CONNECTIONS_MAX_POSTGRES, 2),
        };
        let read = pool(backend, read_max)
            .connect_with(options.clone())
            .await?;
        let write = pool(backend, write_max).connect_with(options).await?;
        let native_file = match backend {
            Backend::Sqlite => native::sqlite_file(&url),
            Backend::Postgres => None,
        };
        let native = native_file.is_some();
        let checkpointer = native_file.clone().map(native::Checkpointer::start);
        let pipeline = pipeline::Pipeline::start(backend, write.clone(), native_file);
        Ok(Store {
            backend,
            native,
            checkpointer,
            read,
            write,
            pipeline,
        })
    }

    /// Opens and applies the embedded migrations.
    pub async fn open_and_migrate(url: &str) -> Result<Store, StoreError> {
        let store = Store::open(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations embedded in the binary for this back end.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator
            .run(&self.write)
            .await
            .map_err(|error| StoreError::Migration(error.to_string()))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads. Reads see committed data only.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    /// A connection outside the pipeline, for long jobs (code batches) that
    /// must not hold the pipeline's transaction.
    pub fn writer_pool(&self) -> &AnyPool {
        &self.write
    }

    /// Runs `work` in the next group-commit batch, in its own savepoint,
    /// and answers once that batch is committed (on disk).
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.pipeline.queue(work).await.await
    }

    /// [`Store::write`] in two steps: queues `work` now (units run in the
    /// order queued) and hands back its answer to await later, so that a
    /// caller can queue the next unit before this one is on disk.
    pub async fn queue_write<T, E, F>(&self, work: F) -> Answered<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.pipeline.queue(work).await
    }

    /// Whether [`Store::write_native`] can run: SQLite on a file.
    pub fn native_writes(&self) -> bool {
        self.native
    }

    /// Runs `work` on the SQLite writer thread's own connection (see
    /// [`native`]) in the next batch, and answers once that batch's
    /// transaction is committed (on disk). Only when
    /// [`Store::native_writes`]; otherwise it answers `Unavailable`.
    pub async fn write_native<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&native::rusqlite::Connection) -> Result<T, E> + Send + 'static,
    {
        self.queue_native(work).await.await
    }

    /// [`Store::write_native`] in two steps, as [`Store::queue_write`].
    pub async fn queue_native<T, E, F>(&self, work: F) -> Answered<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&native::rusqlite::Connection) -> Result<T, E> + Send + 'static,
    {
        if !self.native {
            return Answered::unavailable("this database takes no native writes");
        }
        self.pipeline.queue_native(work).await
    }

    /// [`Store::queue_native`], with the answer handed to `then` on the
    /// thread where it becomes known (see `pipeline`), so that no task has
    /// to wake up only to pass it on. `then` must be quick and is called
    /// exactly once, also when the unit could not be queued.
    pub async fn queue_native_then<T, E, F, G>(&self, work: F, then: G)
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&native::rusqlite::Connection) -> Result<T, E> + Send + 'static,
        G: FnOnce(Result<T, E>) + Send + 'static,
    {
        if !self.native {
            then(Err(E::from(StoreError::Unavailable(
                "this database takes no native writes".into(),
            ))));
            return;
        }
        self.pipeline.queue_native_then(work, then).await;
    }

    /// What the write pipeline has done so far.
    pub fn pipeline_stats(&self) -> PipelineStats {
        self.pipeline.stats()
    }

    /// Readiness: the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read.execute("SELECT 1").await?;
        Ok(())
    }

    /// Stops the write pipeline (its writer gives its connection back once
    /// the units already queued are done) and closes both pools.
    pub async fn close(self) {
        let Store {
            read,
            write,
            pipeline,
            checkpointer,
            ..
        } = self;
        pipeline.stop().await;
        if let Some(checkpointer) = checkpointer {
            checkpointer.stop();
        }
        read.close().await;
        write.close().await;
    }
}

fn pool(backend: Backend, max: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(ACQUIRE_TIMEOUT_SECS));
    match backend {
        Backend::Postgres => options,
        Backend::Sqlite => options.after_connect(|connection, _| {
            Box::pin(async move {
                // WAL lets reads run beside the writer; FULL syncs the WAL on
                // every commit, so an acknowledged write survives a crash.
                connection
                    .execute(
                        format!(
                            "PRAGMA page_size = {SQLITE_PAGE_BYTES}; \
                             PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
                             PRAGMA cache_size = -{SQLITE_CACHE_KIB}; PRAGMA mmap_size = {SQLITE_MMAP_BYTES}; \
                             PRAGMA temp_store = MEMORY; \
                             PRAGMA wal_autocheckpoint = {};",
                            native::WRITER_CHECKPOINT_PAGES
                        )
                        .as_str(),
                    )
                    .await?;
                Ok(())
            })
        }),
    }
}

/// Recognises the back end and makes a SQLite URL create its file.
fn normalise_url(url: &str) -> Result<(Backend, String), StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let url = if rest.contains("mode=") {
            url.to_owned()
        } else if rest.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        };
        return Ok((Backend::Sqlite, url));
    }
    Err(StoreError::UnsupportedUrl(url.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_back_end_and_sqlite_files_are_created() {
        assert_eq!(
            normalise_url("sqlite://couponflow.db").unwrap(),
            (
                Backend::Sqlite,
                "sqlite://couponflow.db?mode=rwc".to_owned()
            )
        );
        assert_eq!(
            normalise_url("postgres://u@h/db").unwrap().0,
            Backend::Postgres
        );
        assert!(normalise_url("mysql://x").is_err());
    }
}
