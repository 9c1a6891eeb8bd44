//! Work a running service does on its own (SPEC §5.1, §5.2, §14): making
//! the codes of a batch after the request that started it has been
//! answered, finishing batches a previous process left `running`, and
//! moving coupons whose validity has passed to `expired` on an interval.
//!
//! Every node runs all of it: both jobs are safe on several nodes at once
//! (a batch's runners take turns on its row; expiry re-checks each coupon
//! under its row lock), so nothing needs electing and a node's death loses
//! nothing. Stopping drops the work at its next await: an open chunk of
//! codes rolls back and is made again when the batch is resumed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::codes::CodeBatch;
use crate::expiry::EXPIRY_BATCH_MAX;
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
    /// time) and the expiry job, which runs at once and then every
    /// `expiry_interval`.
    pub fn start(app: Arc<App>, expiry_interval: Duration) -> Background {
        let (stop, stopped) = watch::channel(false);
        let resume = until_stopped(stopped.clone(), resume_code_batches(app.clone()));
        let expire = until_stopped(stopped, expire_every(app, expiry_interval));
        Background {
            stop,
            tasks: vec![tokio::spawn(resume), tokio::spawn(expire)],
        }
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
