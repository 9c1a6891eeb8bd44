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
//! On a SQLite file the writer does not wait for the disk itself: it
//! commits with `synchronous=NORMAL` (the commit's WAL frames are written,
//! not yet synced) and goes straight on to the next batch, while a syncer
//! thread syncs the WAL and only then answers the batches it covers (see
//! [`Syncer`]). An answer still means "on disk"; the fsync of one batch
//! overlaps the work of the next.
//!
//! A unit that returns `Err` is rolled back to its savepoint; its error is
//! delivered as is. If the commit itself fails, every unit of the batch gets
//! the commit's error and nothing of the batch is stored.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
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
type NativeFn = Box<dyn FnOnce(&rusqlite::Connection) -> Ran + Send>;

/// What a unit runs against: the sqlx connection, or (SQLite) the writer
/// thread's native connection (`crate::native`).
enum Work {
    Any(RunFn),
    Native(NativeFn),
}

/// A unit of work and the way to tell its caller that it could not run.
struct UnitFn {
    work: Work,
    fail: Box<dyn FnOnce(&StoreError) + Send>,
}

/// Where a unit's result goes, once: to the caller's oneshot, or to a
/// callback of the caller's ([`Pipeline::queue_native_then`]).
type Answer<T, E> = Arc<Mutex<Option<Box<dyn FnOnce(Result<T, E>) + Send>>>>;

fn answer_to<T, E>(then: impl FnOnce(Result<T, E>) + Send + 'static) -> Answer<T, E> {
    Arc::new(Mutex::new(Some(Box::new(then))))
}

/// An [`Answer`] that hands the result to a oneshot, and its receiver.
fn answer_by_oneshot<T: Send + 'static, E: Send + 'static>()
-> (Answer<T, E>, oneshot::Receiver<Result<T, E>>) {
    let (sender, answered) = oneshot::channel::<Result<T, E>>();
    // The caller may have gone away: nobody to tell.
    let answer = answer_to(move |result| {
        let _ = sender.send(result);
    });
    (answer, answered)
}

fn send<T, E>(answer: &Answer<T, E>, result: Result<T, E>) {
    let then = answer
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .take();
    if let Some(then) = then {
        then(result);
    }
}

/// What a unit that ran tells the writer: keep its changes when it
/// succeeded, and once the commit's fate is known, answer its caller (a
/// success whose commit failed answers the commit's error).
fn ran<T, E>(answer: Answer<T, E>, outcome: Result<T, E>) -> Ran
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let keep = outcome.is_ok();
    let deliver = Box::new(move |commit_error: Option<&StoreError>| {
        let result = match (commit_error, outcome) {
            (Some(error), Ok(_)) => Err(E::from(copy_error(error))),
            (_, outcome) => outcome,
        };
        send(&answer, result);
    });
    Ran { keep, deliver }
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
    /// `native` is the SQLite file the writer may open natively.
    pub(crate) fn start(backend: Backend, pool: AnyPool, native: Option<PathBuf>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_UNITS_MAX);
        let stats = Arc::new(Stats::default());
        let writer = match backend {
            Backend::Sqlite => spawn_thread(pool, native, receiver, stats.clone()),
            Backend::Postgres => Writer::Task(tokio::spawn(writer(
                backend,
                pool,
                None,
                receiver,
                stats.clone(),
            ))),
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

    /// Queues `work` for the next batch; the answer comes once that batch
    /// committed (and is on disk). Units are run in the order queued.
    pub(crate) async fn queue<T, E, F>(&self, work: F) -> Answered<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (answer, answered) = answer_by_oneshot::<T, E>();
        let on_failure = answer.clone();
        let run: RunFn = Box::new(move |connection| {
            Box::pin(async move {
                let outcome = AssertUnwindSafe(work(connection)).catch_unwind().await;
                let outcome = outcome.unwrap_or_else(|_| {
                    Err(E::from(StoreError::Other("a write unit panicked".into())))
                });
                ran(answer, outcome)
            })
        });
        let unit = UnitFn {
            work: Work::Any(run),
            fail: Box::new(move |error| send(&on_failure, Err(E::from(copy_error(error))))),
        };
        self.submit(unit, answered).await
    }

    /// Queues `work` for the SQLite writer's native connection; the answer
    /// comes once its transaction committed (and is on disk). Only for a
    /// store whose [`crate::Store::native_writes`] is true; elsewhere it
    /// answers `Unavailable` (the unit cannot run).
    pub(crate) async fn queue_native<T, E, F>(&self, work: F) -> Answered<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, E> + Send + 'static,
    {
        let (answer, answered) = answer_by_oneshot::<T, E>();
        self.submit(native_unit(work, answer), answered).await
    }

    /// [`Pipeline::queue_native`], with the answer handed to `then` where
    /// it becomes known (on the syncer's thread, or the writer's) instead
    /// of to a future: no task has to wake up to pass it on. `then` must
    /// be quick; it is called exactly once, also when nothing could be
    /// queued.
    pub(crate) async fn queue_native_then<T, E, F, G>(&self, work: F, then: G)
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, E> + Send + 'static,
        G: FnOnce(Result<T, E>) + Send + 'static,
    {
        let unit = native_unit(work, answer_to(then));
        if let Err(refused) = self.sender.send(unit).await {
            (refused.0.fail)(&StoreError::Unavailable(
                "the write pipeline stopped".into(),
            ));
        }
    }

    async fn submit<T, E>(
        &self,
        unit: UnitFn,
        answered: oneshot::Receiver<Result<T, E>>,
    ) -> Answered<T, E> {
        match self.sender.send(unit).await {
            Ok(()) => Answered(Queued::Waiting(answered)),
            Err(_) => Answered::unavailable("the write pipeline stopped"),
        }
    }
}

/// A native unit that runs `work` and hands its outcome to `answer`.
fn native_unit<T, E, F>(work: F, answer: Answer<T, E>) -> UnitFn
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
    F: FnOnce(&rusqlite::Connection) -> Result<T, E> + Send + 'static,
{
    let on_failure = answer.clone();
    let run: NativeFn = Box::new(move |connection| {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| work(connection)))
            .unwrap_or_else(|_| Err(E::from(StoreError::Other("a write unit panicked".into()))));
        ran(answer, outcome)
    });
    UnitFn {
        work: Work::Native(run),
        fail: Box::new(move |error| send(&on_failure, Err(E::from(copy_error(error))))),
    }
}

/// A queued unit's answer, to await (see [`Pipeline::queue`]).
#[must_use = "a queued unit's answer says whether it was stored"]
pub struct Answered<T, E>(Queued<T, E>);

enum Queued<T, E> {
    Waiting(oneshot::Receiver<Result<T, E>>),
    /// The unit was not queued, for this reason.
    Refused(&'static str),
}

impl<T, E> Answered<T, E> {
    /// An answer for a unit that could not be queued.
    pub(crate) fn unavailable(reason: &'static str) -> Self {
        Answered(Queued::Refused(reason))
    }
}

impl<T, E: From<StoreError>> Future for Answered<T, E> {
    type Output = Result<T, E>;

    fn poll(
        mut self: Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        const STOPPED: &str = "the write pipeline stopped";
        let unavailable = |reason: &str| E::from(StoreError::Unavailable(reason.to_owned()));
        match &mut self.0 {
            Queued::Refused(reason) => std::task::Poll::Ready(Err(unavailable(reason))),
            Queued::Waiting(receiver) => Pin::new(receiver)
                .poll(context)
                .map(|answer| answer.unwrap_or_else(|_| Err(unavailable(STOPPED)))),
        }
    }
}

/// The SQLite writer on a thread of its own with a single-threaded runtime.
/// If the thread cannot start, no writer runs and every write answers that
/// the pipeline stopped.
fn spawn_thread(
    pool: AnyPool,
    native: Option<PathBuf>,
    receiver: mpsc::Receiver<UnitFn>,
    stats: Arc<Stats>,
) -> Writer {
    let (done, finished) = oneshot::channel();
    let started = std::thread::Builder::new()
        .name("couponflow-writer".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => {
                    runtime.block_on(writer(Backend::Sqlite, pool, native, receiver, stats))
                }
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
/// A batch's sqlx units share one transaction and its native units another.
async fn writer(
    backend: Backend,
    pool: AnyPool,
    native_path: Option<PathBuf>,
    mut receiver: mpsc::Receiver<UnitFn>,
    stats: Arc<Stats>,
) {
    let mut connection: Option<PoolConnection<Any>> = None;
    // A SQLite file's commits are made durable by the syncer.
    let syncer = native_path.clone().map(Syncer::start);
    let durability = syncer
        .as_ref()
        .map_or(Durability::AtCommit, Syncer::durability);
    let mut native = NativeConnection::new(native_path, durability.synced_later());
    let mut batch = Vec::with_capacity(BATCH_UNITS_MAX);
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        while batch.len() < BATCH_UNITS_MAX {
            match receiver.try_recv() {
                Ok(unit) => batch.push(unit),
                Err(_) => break,
            }
        }
        // In the order sent, each run of one kind in a transaction of its
        // own: a unit sees what every unit queued before it wrote (a
        // template's claim batches are queued several at once).
        let mut units = batch.drain(..).peekable();
        while let Some(first) = units.next() {
            let native_run = matches!(first.work, Work::Native(_));
            let mut run = vec![first];
            while let Some(unit) =
                units.next_if(|u| matches!(u.work, Work::Native(_)) == native_run)
            {
                run.push(unit);
            }
            if native_run {
                native.run_batch(&mut run, &stats, &durability);
                continue;
            }
            let connection_result = match connection.take() {
                Some(held) => Ok(held),
                None => acquire_writer(&pool, &durability).await,
            };
            match connection_result {
                Ok(mut held) => {
                    let healthy =
                        run_batch(backend, &mut held, &mut run, &stats, &durability).await;
                    if healthy {
                        connection = Some(held);
                    } else {
                        // Not back to the pool: its commits are not synced.
                        drop(held.detach());
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "write pipeline cannot reach the database");
                    for unit in run.drain(..) {
                        fail_unit(unit, &error);
                    }
                }
            }
        }
    }
    drop(durability);
    if let Some(syncer) = syncer {
        syncer.finish();
    }
}

/// The pool's write connection for the writer; with a syncer behind it,
/// its commits no longer sync the WAL themselves.
async fn acquire_writer(
    pool: &AnyPool,
    durability: &Durability,
) -> Result<PoolConnection<Any>, StoreError> {
    let mut held = pool.acquire().await.map_err(StoreError::from)?;
    if durability.synced_later() {
        if let Err(error) = held.execute("PRAGMA synchronous = NORMAL").await {
            drop(held.detach());
            return Err(StoreError::from(error));
        }
    }
    Ok(held)
}

/// What happens to a committed batch's answers.
enum Durability {
    /// The commit itself was durable (PostgreSQL; SQLite in memory):
    /// answer at once.
    AtCommit,
    /// The syncer answers once the WAL holding the commit is synced.
    Syncer(std::sync::mpsc::Sender<Vec<Deliver>>),
}

impl Durability {
    fn synced_later(&self) -> bool {
        matches!(self, Durability::Syncer(_))
    }

    /// Answers a committed batch's units, now or after the sync.
    fn committed(&self, delivered: Vec<Deliver>) {
        match self {
            Durability::AtCommit => delivered.into_iter().for_each(|deliver| deliver(None)),
            Durability::Syncer(sender) => {
                if let Err(unsent) = sender.send(delivered) {
                    // The syncer is gone: nobody can vouch for the disk.
                    let error = StoreError::Unavailable("the WAL syncer stopped".into());
                    unsent
                        .0
                        .into_iter()
                        .for_each(|deliver| deliver(Some(&error)));
                }
            }
        }
    }
}

/// Makes a SQLite file's commits durable off the writer's path.
///
/// The writer commits with `synchronous=NORMAL`: the commit's frames are in
/// the WAL (in the OS's page cache), and a process crash cannot lose them,
/// but a power cut could. The syncer takes every batch committed since its
/// last round, syncs the WAL file once (`fdatasync`), and only then answers
/// them. The WAL is written in order, so one sync covers every commit before
/// it; a checkpoint syncs the WAL before it copies it back (SQLite does so
/// at every level but OFF), so no frame reaches the database file unsynced.
///
/// Reads on other connections can see a commit during the sync, before its
/// writer is answered: a power cut in that window loses a change nobody was
/// told had happened.
///
/// If a sync fails, the disk may have dropped what it was given: from then
/// on every answer is an error, until the node restarts and SQLite recovers
/// the WAL as it stands.
struct Syncer {
    sender: std::sync::mpsc::Sender<Vec<Deliver>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Syncer {
    fn start(database: PathBuf) -> Syncer {
        let (sender, receiver) = std::sync::mpsc::channel::<Vec<Deliver>>();
        let thread = std::thread::Builder::new()
            .name("couponflow-syncer".into())
            .spawn(move || sync_rounds(&database, &receiver))
            .map_err(|error| tracing::error!(%error, "the WAL syncer did not start"))
            .ok();
        Syncer { sender, thread }
    }

    fn durability(&self) -> Durability {
        Durability::Syncer(self.sender.clone())
    }

    /// Answers what is queued, then stops.
    fn finish(mut self) {
        drop(self.sender);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The syncer's loop: one `fdatasync` per round for every batch waiting.
fn sync_rounds(database: &std::path::Path, receiver: &std::sync::mpsc::Receiver<Vec<Deliver>>) {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let mut failed: Option<String> = None;
    while let Ok(mut waiting) = receiver.recv() {
        while let Ok(more) = receiver.try_recv() {
            waiting.extend(more);
        }
        if failed.is_none() {
            if let Err(error) = sync_wal(&wal, database) {
                tracing::error!(%error, "syncing the WAL failed; this node answers no more writes");
                failed = Some(format!(
                    "syncing the database failed ({error}); restart the node"
                ));
            }
        }
        let error = failed
            .as_ref()
            .map(|text| StoreError::Unavailable(text.clone()));
        waiting
            .into_iter()
            .for_each(|deliver| deliver(error.as_ref()));
    }
}

/// Syncs the WAL file's data; with no WAL file (everything checkpointed
/// and the file gone), the database file's.
fn sync_wal(wal: &std::path::Path, database: &std::path::Path) -> std::io::Result<()> {
    match std::fs::File::open(wal) {
        Ok(file) => file.sync_data(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::File::open(database)?.sync_data()
        }
        Err(error) => Err(error),
    }
}

/// The writer's native SQLite connection, opened at its first unit.
struct NativeConnection {
    path: Option<PathBuf>,
    open: Option<rusqlite::Connection>,
    /// Commits leave the sync to the syncer.
    synced_later: bool,
}

impl NativeConnection {
    fn new(path: Option<PathBuf>, synced_later: bool) -> Self {
        NativeConnection {
            path,
            open: None,
            synced_later,
        }
    }

    fn connection(&mut self) -> Result<&rusqlite::Connection, StoreError> {
        if self.open.is_none() {
            let path = self.path.as_deref().ok_or_else(|| {
                StoreError::Unavailable("this database takes no native writes".into())
            })?;
            let connection = crate::native::open(path)?;
            if self.synced_later {
                connection
                    .execute_batch("PRAGMA synchronous = NORMAL")
                    .map_err(StoreError::from)?;
            }
            self.open = Some(connection);
        }
        self.open
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the native connection is closed".into()))
    }

    /// Runs the native units in one transaction (each in a savepoint when
    /// there are several), delivering after the commit.
    fn run_batch(&mut self, batch: &mut Vec<UnitFn>, stats: &Stats, durability: &Durability) {
        let units = batch.len();
        let connection = match self.connection() {
            Ok(connection) => connection,
            Err(error) => {
                stats.record(false, units);
                batch.drain(..).for_each(|unit| fail_unit(unit, &error));
                return;
            }
        };
        if let Err(error) = connection.execute_batch("BEGIN IMMEDIATE") {
            let error = StoreError::from(error);
            tracing::error!(%error, "cannot begin a native write transaction");
            stats.record(false, units);
            batch.drain(..).for_each(|unit| fail_unit(unit, &error));
            self.open = None;
            return;
        }
        let alone = batch.len() == 1;
        let mut delivered = Vec::with_capacity(batch.len());
        let mut broken: Option<StoreError> = None;
        for unit in batch.drain(..) {
            match (&broken, unit.work) {
                (Some(error), _) => (unit.fail)(error),
                (None, Work::Native(run)) => match run_native_unit(connection, run, alone) {
                    Ok(ran) => delivered.push(ran.deliver),
                    Err((ran, error)) => {
                        delivered.push(ran.deliver);
                        broken = Some(error);
                    }
                },
                (None, Work::Any(_)) => (unit.fail)(&StoreError::Other(
                    "a sqlx unit reached the native writer".into(),
                )),
            }
        }
        let commit = match broken {
            None => connection.execute_batch("COMMIT").map_err(StoreError::from),
            Some(error) => Err(error),
        };
        match commit {
            Ok(()) => {
                stats.record(true, units);
                durability.committed(delivered);
            }
            Err(error) => {
                tracing::error!(%error, "a native write batch failed to commit");
                let _ = connection.execute_batch("ROLLBACK");
                stats.record(false, units);
                delivered
                    .into_iter()
                    .for_each(|deliver| deliver(Some(&error)));
                self.open = None;
            }
        }
    }
}

/// One native unit, in a savepoint unless it is alone in its transaction
/// (then a failed unit's changes go with the rollback of the whole batch,
/// which is only its own).
fn run_native_unit(
    connection: &rusqlite::Connection,
    run: NativeFn,
    alone: bool,
) -> Result<Ran, (Ran, StoreError)> {
    let nothing = || Ran {
        keep: false,
        deliver: Box::new(|_| {}),
    };
    if !alone {
        if let Err(error) = connection.execute_batch("SAVEPOINT unit") {
            return Err((nothing(), StoreError::from(error)));
        }
    }
    let ran = run(connection);
    let end = match (alone, ran.keep) {
        (true, true) => Ok(()),
        // Alone and failed: nothing of it may be committed.
        (true, false) => connection
            .execute_batch("ROLLBACK; BEGIN IMMEDIATE")
            .map_err(StoreError::from),
        (false, true) => connection
            .execute_batch("RELEASE SAVEPOINT unit")
            .map_err(StoreError::from),
        (false, false) => connection
            .execute_batch("ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit")
            .map_err(StoreError::from),
    };
    match end {
        Ok(()) => Ok(ran),
        Err(error) => Err((ran, error)),
    }
}

/// Runs one batch in one transaction. Returns false when the connection
/// should be dropped (it failed in a way that may leave it unusable).
async fn run_batch(
    backend: Backend,
    connection: &mut PoolConnection<Any>,
    batch: &mut Vec<UnitFn>,
    stats: &Stats,
    durability: &Durability,
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
            return run_alone(connection, unit, stats, durability).await;
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
            durability.committed(delivered);
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
async fn run_alone(
    connection: &mut AnyConnection,
    unit: UnitFn,
    stats: &Stats,
    durability: &Durability,
) -> bool {
    let Work::Any(run) = unit.work else {
        (unit.fail)(&StoreError::Other(
            "a native unit reached the sqlx writer".into(),
        ));
        let _ = connection.execute("ROLLBACK").await;
        return true;
    };
    let ran = run(connection).await;
    let end = if ran.keep { "COMMIT" } else { "ROLLBACK" };
    match connection.execute(end).await {
        Ok(_) => {
            stats.record(true, 1);
            match ran.keep {
                true => durability.committed(vec![ran.deliver]),
                false => (ran.deliver)(None),
            }
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
    let Work::Any(run) = unit.work else {
        (unit.fail)(&StoreError::Other(
            "a native unit reached the sqlx writer".into(),
        ));
        let ran = Ran {
            keep: false,
            deliver: Box::new(|_| {}),
        };
        return Ok(ran);
    };
    if let Err(error) = connection.execute("SAVEPOINT unit").await {
        let error = StoreError::from(error);
        (unit.fail)(&error);
        let ran = Ran {
            keep: false,
            deliver: Box::new(|_| {}),
        };
        return Err((ran, error));
    }
    let ran = run(connection).await;
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
