//! Work a running service does on its own (SPEC §5.1, §5.2, §14): making
//! the codes of a batch after the request that started it has been
//! answered, finishing batches a previous process left `running`, and
//! moving coupons whose validity has passed to `expired` on an interval,
//! and the notifications (SPEC §6.3): fanning the outbox out, sending
//! webhook deliveries, and the expiry reminders, every
//! `notify.poll_interval_ms`, and staff grants (SPEC §6.2.2), leased
//! one at a time per node and worked chunk by chunk (see `grants`).
//!
//! Every node runs all of it: every job is safe on several nodes at once
//! (a batch's runners take turns on its row; expiry re-checks each coupon
//! under its row lock; the notification jobs claim their rows, see
//! `notify`), so nothing needs electing and a node's death loses
//! nothing. Stopping drops the work at its next await: an open chunk of
//! codes rolls back and is made again when the batch is resumed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::codes::CodeBatch;
use crate::expiry::EXPIRY_BATCH_MAX;
use crate::notify::deliver::Sender;
use crate::{App, AppResult};

/// Units of [`EXPIRY_BATCH_MAX`] coupons one round of the expiry job runs
/// at most (a million coupons); a backlog bigger than that is worked off
/// over the next rounds instead of holding the job in one loop.
pub const EXPIRY_UNITS_PER_ROUND_MAX: usize = 1_000;
/// The shortest interval between expiry rounds: `tokio`'s interval refuses
/// zero, and a busier loop would only compete with requests for the writer.
pub const EXPIRY_INTERVAL_MIN: Duration = Duration::from_millis(10);

/// The background jobs of one running service, until [`Background::stop`].
pub struct Background {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Background {
    /// Starts resuming the batches left `running` (oldest first, one at a
    /// time), the expiry job, which runs at once and then every
    /// `expiry_interval`, the grant runner and the notification jobs (both
    /// every `settings.notify` poll interval).
    pub fn start(app: Arc<App>, expiry_interval: Duration) -> Background {
        let (stop, stopped) = watch::channel(false);
        let resume = until_stopped(stopped.clone(), resume_code_batches(app.clone()));
        let expire = until_stopped(stopped.clone(), expire_every(app.clone(), expiry_interval));
        let grants = until_stopped(
            stopped.clone(),
            every_tick(app.clone(), "grants", |app| {
                Box::pin(async move { app.run_grants().await })
            }),
        );
        let mut tasks = vec![
            tokio::spawn(resume),
            tokio::spawn(expire),
            tokio::spawn(grants),
        ];
        for job in notify_jobs(app) {
            tasks.push(tokio::spawn(until_stopped(stopped.clone(), job)));
        }
        Background { stop, tasks }
    }

    /// Starts the notification jobs alone (tests, and nodes that only send).
    pub fn start_notifications(app: Arc<App>) -> Background {
        let (stop, stopped) = watch::channel(false);
        let tasks = notify_jobs(app)
            .into_iter()
            .map(|job| tokio::spawn(until_stopped(stopped.clone(), job)))
            .collect();
        Background { stop, tasks }
    }

    /// Stops both jobs and waits until they have let go of the app.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            if let Err(error) = task.await {
                tracing::error!(%error, "a background job panicked");
            }
        }
    }
}

/// Works open grants on a task of its own, so the request that created
/// one is answered at once (the background loop picks up whatever this
/// leaves, on this node or another).
pub fn spawn_grant_run(app: Arc<App>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(error) = app.run_grants().await {
            tracing::warn!(code = error.code(), %error, "a grant run stopped; the background loop resumes it");
        }
    })
}

/// Makes the batch's remaining codes on a task of its own, so the request
/// that started it is answered at once; the outcome is logged. A run cut
/// short (the process stops) leaves the batch `running`, and the next
/// start of the service resumes it.
pub fn spawn_code_batch(app: Arc<App>, batch_id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let outcome = app.run_code_batch(&batch_id, |_, _| {}).await;
        log_run(&batch_id, outcome);
    })
}

async fn until_stopped(mut stopped: watch::Receiver<bool>, work: impl Future<Output = ()>) {
    tokio::select! {
        () = work => {}
        // An error means the sender is gone, which is a stop as well.
        _ = stopped.wait_for(|stop| *stop) => {}
    }
}

async fn resume_code_batches(app: Arc<App>) {
    let batches = match app.running_code_batches().await {
        Ok(batches) => batches,
        Err(error) => {
            tracing::warn!(%error, "cannot list the code batches to resume");
            return;
        }
    };
    for batch in batches {
        tracing::info!(
            batch = %batch.id,
            generated = batch.generated,
            requested = batch.requested,
            "resuming a code batch"
        );
        let outcome = app.run_code_batch(&batch.id, |_, _| {}).await;
        log_run(&batch.id, outcome);
    }
}

fn log_run(batch_id: &str, outcome: AppResult<CodeBatch>) {
    match outcome {
        Ok(batch) => tracing::info!(
            batch = %batch.id,
            generated = batch.generated,
            status = batch.status.as_str(),
            "code batch run finished"
        ),
        Err(error) => tracing::warn!(
            batch = %batch_id,
            code = error.code(),
            %error,
            "code batch run stopped"
        ),
    }
}

async fn expire_every(app: Arc<App>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval.max(EXPIRY_INTERVAL_MIN));
    // A slow round delays the next one rather than causing a burst.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match expire_round(&app).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(expired, "expired coupons past their validity"),
            Err(error) => tracing::warn!(
                code = error.code(),
                %error,
                "the expiry round failed; the next one tries again"
            ),
        }
    }
}

/// Expires units of due coupons until a unit finds none (or the round's
/// bound is reached); answers how many were expired.
async fn expire_round(app: &App) -> AppResult<usize> {
    let activated = app.activate_due().await?;
    if activated > 0 {
        tracing::info!(
            activated,
            "approved templates became active at their claim window"
        );
    }
    let mut expired_total = 0;
    for _ in 0..EXPIRY_UNITS_PER_ROUND_MAX {
        let expired = app.expire_due(EXPIRY_BATCH_MAX).await?;
        if expired == 0 {
            break;
        }
        expired_total += expired;
    }
    Ok(expired_total)
}

/// Rounds of one notification job per tick at most: a backlog bigger than
/// that is worked off over the next ticks.
pub const NOTIFY_ROUNDS_PER_TICK_MAX: usize = 1_000;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The dispatcher, the sender and the reminder job, each on its own task
/// so a slow webhook never holds up the fan-out.
fn notify_jobs(app: Arc<App>) -> Vec<Job> {
    let mut jobs: Vec<Job> = vec![
        Box::pin(every_tick(app.clone(), "outbox dispatch", |app| {
            Box::pin(async move { app.dispatch_outbox().await })
        })),
        Box::pin(every_tick(app.clone(), "expiry reminders", |app| {
            Box::pin(async move { app.send_expiry_reminders().await })
        })),
    ];
    match Sender::new(&app.settings().notify) {
        Ok(sender) => jobs.push(Box::pin(every_tick(
            app,
            "webhook deliveries",
            move |app| {
                let sender = sender.clone();
                Box::pin(async move { app.deliver_due(&sender).await })
            },
        ))),
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook client; webhooks are not sent")
        }
    }
    jobs
}

type Round = Pin<Box<dyn Future<Output = AppResult<usize>> + Send>>;

/// Runs `round` every poll interval until it answers 0 (or the bound).
async fn every_tick(app: Arc<App>, name: &'static str, round: impl Fn(Arc<App>) -> Round) {
    let mut ticks = tokio::time::interval(app.settings().notify.poll_interval());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        for _ in 0..NOTIFY_ROUNDS_PER_TICK_MAX {
            match round(app.clone()).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(job = name, code = error.code(), %error, "a notification round failed; the next tick tries again");
                    break;
                }
            }
        }
    }
}
