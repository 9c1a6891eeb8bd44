//! The SQLite writer's native connection: units that run on the writer
//! thread itself, through `rusqlite`, with no hand-off per statement.
//!
//! sqlx's SQLite driver hands every statement to a worker thread and waits
//! for it to come back: two futex wake-ups per statement, which on a
//! virtual machine cost more than the statement. The claim path runs
//! hundreds of statements per batch, so on SQLite its batches are *native
//! units*: closures over a `rusqlite::Connection` that the writer thread
//! opens on the same file, with the same settings, and runs in a
//! transaction of their own (one fsync per batch, as for the other units).
//! Both connections are used by one thread, one after the other, so they
//! never wait for each other's lock.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;

use crate::{SQLITE_BUSY_TIMEOUT_MS, SQLITE_MMAP_BYTES, StoreError};

/// The native connection's page cache. Reads come through the memory map,
/// so the cache mostly holds the pages a transaction changes; and SQLite
/// walks the whole cache's hash table at the end of every transaction
/// (`pcache1TruncateUnsafe`), which at 128 MiB was 40% of the writer's time.
pub const NATIVE_CACHE_KIB: u32 = 2_048;

pub use rusqlite;

/// The file a SQLite URL names, when it is a file a second connection can
/// open (not an in-memory database).
pub(crate) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let options = SqliteConnectOptions::from_str(url).ok()?;
    let path = options.get_filename();
    let text = path.to_string_lossy();
    if text.is_empty() || text.starts_with(":memory:") || text.contains("mode=memory") {
        return None;
    }
    Some(path.to_path_buf())
}

/// Opens the writer's native connection with the settings of the pool's
/// (WAL, `synchronous=FULL`: an acknowledged write survives a crash).
pub(crate) fn open(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let connection = rusqlite::Connection::open(path).map_err(StoreError::from)?;
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
             PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -{NATIVE_CACHE_KIB}; PRAGMA mmap_size = {SQLITE_MMAP_BYTES}; \
             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES};"
        ))
        .map_err(StoreError::from)?;
    // Claim batches prepare a handful of statements; keep them all.
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        if let rusqlite::Error::SqliteFailure(failure, message) = &error {
            match failure.code {
                ErrorCode::ConstraintViolation => {
                    let text = message.clone().unwrap_or_default();
                    return StoreError::Conflict {
                        constraint: crate::error::sqlite_constraint(&text),
                    };
                }
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => return StoreError::Busy,
                ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::DiskFull => {
                    return StoreError::Unavailable(error.to_string());
                }
                _ => {}
            }
        }
        StoreError::Other(error.to_string())
    }
}

/// How often the checkpointer copies the WAL back into the database file.
pub const CHECKPOINT_INTERVAL_MS: u64 = 100;
/// WAL pages at which a writer checkpoints itself anyway (the pool's
/// connections and the native writer): the safety net should the
/// checkpointer fall behind. Far above what one interval writes, so the
/// writer never stalls on it in normal running.
pub const WRITER_CHECKPOINT_PAGES: u32 = 262_144;

/// Checkpoints beside the writer. Left to the writer (SQLite's
/// auto-checkpoint), copying the WAL back runs inside a commit, so the
/// batch that crosses the threshold waits tens of milliseconds: that was
/// the claim path's p99. A passive checkpoint on a connection of its own
/// never takes the write lock, so batches go on while it copies.
pub struct Checkpointer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(path: PathBuf) -> Checkpointer {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("couponflow-checkpoint".into())
            .spawn(move || {
                let mut connection: Option<rusqlite::Connection> = None;
                while !stopped.load(Ordering::Relaxed) {
                    std::thread::sleep(std::time::Duration::from_millis(CHECKPOINT_INTERVAL_MS));
                    if connection.is_none() {
                        connection = open(&path).ok();
                    }
                    let Some(open) = &connection else { continue };
                    // Busy (another checkpoint running) is fine: next round.
                    if let Err(error) =
                        open.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(%error, "checkpoint failed");
                        connection = None;
                    }
                }
            })
            .map_err(|error| tracing::error!(%error, "the checkpoint thread did not start"))
            .ok();
        Checkpointer { stop, thread }
    }

    pub(crate) fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
