//! The write pipeline: group commit.
//!
//! Every write is a *unit*: a closure that runs against the write
//! connection. One task per node owns that connection; it takes all the
//! units waiting, runs them in one transaction — each inside its own
//! savepoint, so a unit that fails rolls back alone — and commits once. Only
//! after the commit (so only once the data is on disk) does any unit learn
//! its result. With SQLite in WAL mode and `synchronous=FULL` that is one
//! fsync for a whole batch instead of one per write.
//!
//! A unit that returns `Err` is rolled back to its savepoint; its error is
//! delivered as is. If the commit itself fails, every unit of the batch gets
//! the commit's error and nothing of the batch is stored.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use sqlx::AnyPool;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor};
use tokio::sync::{mpsc, oneshot};

use crate::{Backend, StoreError};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Units one transaction takes at most: bounds how long a batch holds the
/// write lock and how much one failed commit can affect.
pub const BATCH_UNITS_MAX: usize = 2_000;
/// Units waiting for the writer at most; past it, writers wait (back-pressure).
pub const QUEUE_UNITS_MAX: usize = 50_000;

/// What a unit tells the writer once it ran: keep its changes or roll them
/// back, and how to deliver its result after the commit.
struct Ran {
    keep: bool,
    deliver: Deliver,
}

/// Hands a unit its result once the batch's fate is known (`Some` when the
/// commit failed).
type Deliver = Box<dyn FnOnce(Option<&StoreError>) + Send>;

type RunFn = Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Ran> + Send>;

/// A unit of work and the way to tell its caller that it could not run.
struct UnitFn {
    run: RunFn,
    fail: Box<dyn FnOnce(&StoreError) + Send>,
}

type Answer<T, E> = Arc<Mutex<Option<oneshot::Sender<Result<T, E>>>>>;

fn send<T, E>(answer: &Answer<T, E>, result: Result<T, E>) {
    let sender = answer
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .take();
    if let Some(sender) = sender {
        let _ = sender.send(result); // the caller may have gone away
    }
}

pub(crate) struct Pipeline {
    sender: mpsc::Sender<UnitFn>,
    stats: Arc<Stats>,
    writer: Writer,
}

/// Where the writer runs.
enum Writer {
    /// A task of the caller's runtime (PostgreSQL: its connections belong
    /// to the runtime that opened them).
    Task(tokio::task::JoinHandle<()>),
    /// A thread of its own (SQLite), finished when `done` fires.
    Thread(oneshot::Receiver<()>),
}

/// Counters of the pipeline's work, for metrics and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub batches_committed: AtomicU64,
    pub units_committed: AtomicU64,
    pub batches_failed: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineStats {
    pub batches_committed: u64,
    pub units_committed: u64,
    pub batches_failed: u64,
}

impl Stats {
    /// Counts a batch's end. Called before any caller hears its answer, so
    /// a caller that got one sees the batch counted.
    fn record(&self, committed: bool, units: usize) {
        if committed {
            self.batches_committed.fetch_add(1, Ordering::Relaxed);
            self.units_committed
                .fetch_add(units as u64, Ordering::Relaxed);
        } else {
            self.batches_failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Pipeline {
    /// Starts the writer. On SQLite it gets a thread and a runtime of its
    /// own: every statement of a unit is a hand-off to sqlx's SQLite thread
    /// and back, and on the server's runtime each "back" waited in the run
    /// queue behind every HTTP task ready at that moment, so a batch took
    /// several times its work (measured: the claim rate over HTTP was half
    /// the rate below it with SQLite's thread a third busy).
    pub(crate) fn start(backend: Backend, pool: AnyPool) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_UNITS_MAX);
        let stats = Arc::new(Stats::default());
        let writer = match backend {
            Backend::Sqlite => spawn_thread(pool, receiver, stats.clone()),
            Backend::Postgres => {
                Writer::Task(tokio::spawn(writer(backend, pool, receiver, stats.clone())))
            }
        };
        Pipeline {
            sender,
            stats,
            writer,
        }
    }

    /// Lets the writer finish what is queued, then ends it.
    pub(crate) async fn stop(self) {
        drop(self.sender);
        match self.writer {
            Writer::Task(task) => {
                let _ = task.await;
            }
            Writer::Thread(done) => {
                let _ = done.await;
            }
        }
    }

    pub(crate) fn stats(&self) -> PipelineStats {
        PipelineStats {
            batches_committed: self.stats.batches_committed.load(Ordering::Relaxed),
            units_committed: self.stats.units_committed.load(Ordering::Relaxed),
            batches_failed: self.stats.batches_failed.load(Ordering::Relaxed),
        }
    }

    /// Runs `work` in the next batch and answers once that batch committed.
    pub(crate) async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (sender, answered) = oneshot::channel::<Result<T, E>>();
        let answer: Answer<T, E> = Arc::new(Mutex::new(Some(sender)));
        let on_failure = answer.clone();
        let run: RunFn = Box::new(move |connection| {
            Box::pin(async move {
                let outcome = AssertUnwindSafe(work(connection)).catch_unwind().await;
                let outcome = outcome.unwrap_or_else(|_| {
                    Err(E::from(StoreError::Other("a write unit panicked".into())))
                });
                let keep = outcome.is_ok();
                let deliver = Box::new(move |commit_error: Option<&StoreError>| {
                    let result = match (commit_error, outcome) {
                        (Some(error), Ok(_)) => Err(E::from(copy_error(error))),
                        (_, outcome) => outcome,
                    };
                    send(&answer, result);
                });
                Ran { keep, deliver }
            })
        });
        let unit = UnitFn {
            run,
            fail: Box::new(move |error| send(&on_failure, Err(E::from(copy_error(error))))),
        };
        if self.sender.send(unit).await.is_err() {
            return Err(E::from(StoreError::Unavailable(
                "the write pipeline stopped".into(),
            )));
        }
        answered.await.unwrap_or_else(|_| {
            Err(E::from(StoreError::Unavailable(
                "the write pipeline stopped".into(),
            )))
        })
    }
}

/// The SQLite writer on a thread of its own with a single-threaded runtime.
/// If the thread cannot start, no writer runs and every write answers that
/// the pipeline stopped.
fn spawn_thread(pool: AnyPool, receiver: mpsc::Receiver<UnitFn>, stats: Arc<Stats>) -> Writer {
    let (done, finished) = oneshot::channel();
    let started = std::thread::Builder::new()
        .name("couponflow-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(writer(Backend::Sqlite, pool, receiver, stats)),
                Err(error) => tracing::error!(%error, "the writer's runtime did not start"),
            }
            let _ = done.send(());
        });
    if let Err(error) = started {
        tracing::error!(%error, "the writer thread did not start");
    }
    Writer::Thread(finished)
}

/// The writer task: one batch at a time, for as long as anyone can send.
async fn writer(
    backend: Backend,
    pool: AnyPool,
    mut receiver: mpsc::Receiver<UnitFn>,
    stats: Arc<Stats>,
) {
    let mut connection: Option<PoolConnection<Any>> = None;
    let mut batch = Vec::with_capacity(BATCH_UNITS_MAX);
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        while batch.len() < BATCH_UNITS_MAX {
            match receiver.try_recv() {
                Ok(unit) => batch.push(unit),
                Err(_) => break,
            }
        }
        let connection_result = match connection.take() {
            Some(held) => Ok(held),
            None => pool.acquire().await.map_err(StoreError::from),
        };
        match connection_result {
            Ok(mut held) => {
                let healthy = run_batch(backend, &mut held, &mut batch, &stats).await;
                if healthy {
                    connection = Some(held);
                }
            }
            Err(error) => {
                tracing::error!(%error, "write pipeline cannot reach the database");
                for unit in batch.drain(..) {
                    fail_unit(unit, &error);
                }
            }
        }
    }
}

/// Runs one batch in one transaction. Returns false when the connection
/// should be dropped (it failed in a way that may leave it unusable).
async fn run_batch(
    backend: Backend,
    connection: &mut PoolConnection<Any>,
    batch: &mut Vec<UnitFn>,
    stats: &Stats,
) -> bool {
    let units = batch.len();
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    if let Err(error) = connection.execute(begin).await {
        let error = StoreError::from(error);
        tracing::error!(%error, "cannot begin a write transaction");
        stats.record(false, units);
        for unit in batch.drain(..) {
            fail_unit(unit, &error);
        }
        return false;
    }
    if batch.len() == 1 {
        if let Some(unit) = batch.pop() {
            return run_alone(connection, unit, stats).await;
        }
    }
    let mut delivered = Vec::with_capacity(batch.len());
    let mut savepoint_error = None;
    for unit in batch.drain(..) {
        if let Some(error) = &savepoint_error {
            fail_unit(unit, error);
            continue;
        }
        match run_unit(connection, unit).await {
            Ok(ran) => delivered.push(ran.deliver),
            Err((ran, error)) => {
                delivered.push(ran.deliver);
                savepoint_error = Some(error);
            }
        }
    }
    let commit = match &savepoint_error {
        None => connection
            .execute("COMMIT")
            .await
            .map(|_| ())
            .map_err(StoreError::from),
        Some(error) => Err(copy_error(error)),
    };
    match commit {
        Ok(()) => {
            stats.record(true, units);
            for deliver in delivered {
                deliver(None);
            }
            true
        }
        Err(error) => {
            tracing::error!(%error, "a write batch failed to commit");
            let _ = connection.execute("ROLLBACK").await;
            stats.record(false, units);
            for deliver in delivered {
                deliver(Some(&error));
            }
            false
        }
    }
}

/// A batch of one unit needs no savepoint: the transaction is the unit's,
/// and a unit that fails rolls it back. (A savepoint makes SQLite copy every
/// page the unit changes to a statement journal first: measurable on the
/// claim path, where one template's batch is usually alone.)
async fn run_alone(connection: &mut AnyConnection, unit: UnitFn, stats: &Stats) -> bool {
    let ran = (unit.run)(connection).await;
    let end = if ran.keep { "COMMIT" } else { "ROLLBACK" };
    match connection.execute(end).await {
        Ok(_) => {
            stats.record(true, 1);
            (ran.deliver)(None);
            true
        }
        Err(error) => {
            let error = StoreError::from(error);
            tracing::error!(%error, "a write batch failed to end");
            let _ = connection.execute("ROLLBACK").await;
            stats.record(false, 1);
            // A unit that failed keeps its own answer; one that succeeded
            // learns that nothing was kept.
            (ran.deliver)(if ran.keep { Some(&error) } else { None });
            false
        }
    }
}

/// One unit inside its savepoint. `Err` means the savepoint machinery
/// itself failed, which dooms the whole batch.
async fn run_unit(connection: &mut AnyConnection, unit: UnitFn) -> Result<Ran, (Ran, StoreError)> {
    if let Err(error) = connection.execute("SAVEPOINT unit").await {
        let error = StoreError::from(error);
        (unit.fail)(&error);
        let ran = Ran {
            keep: false,
            deliver: Box::new(|_| {}),
        };
        return Err((ran, error));
    }
    let ran = (unit.run)(connection).await;
    let ended = if ran.keep {
        connection
            .execute("RELEASE SAVEPOINT unit")
            .await
            .map(|_| ())
    } else {
        rollback_savepoint(connection).await
    };
    match ended {
        Ok(()) => Ok(ran),
        Err(error) => Err((ran, StoreError::from(error))),
    }
}

async fn rollback_savepoint(connection: &mut AnyConnection) -> Result<(), sqlx::Error> {
    connection.execute("ROLLBACK TO SAVEPOINT unit").await?;
    connection.execute("RELEASE SAVEPOINT unit").await?;
    Ok(())
}

/// A unit that never ran: it learns the error and nothing is kept.
fn fail_unit(unit: UnitFn, error: &StoreError) {
    (unit.fail)(error);
}

/// Errors are delivered to many callers; this makes each its own copy.
fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Conflict { constraint } => StoreError::Conflict {
            constraint: constraint.clone(),
        },
        StoreError::Busy => StoreError::Busy,
        StoreError::Unavailable(text) => StoreError::Unavailable(text.clone()),
        other => StoreError::Other(other.to_string()),
    }
}
