//! Claims queued straight for the SQLite writer.
//!
//! On a SQLite file the writer is one thread that runs every write in
//! order, so a template's claims need no batcher task in between: a claim
//! joins its template's queue, and the first claim to find no unit waiting
//! for that queue puts one in the writer's. When the writer reaches the
//! unit, it takes everything queued by then (up to [`CLAIM_BATCH_MAX`]) and
//! decides it as one batch (`native::decide_batch`). The callers are
//! answered on the thread that learns the batch is durable (the syncer's).
//!
//! Compared with the batcher (`batch::run`, which PostgreSQL, points
//! exchanges and templates with risk rules still take), nothing waits for a
//! task to be scheduled between the HTTP handler and the writer, and a
//! batch is formed as late as possible, so it holds everything that arrived
//! while the writer was busy. Measured at 64 connections with the batcher:
//! of a claim's 3.2 ms in the server, 0.7 ms went on waiting for the
//! batcher's turn and 0.5 ms on the task that passed the answers on.
//!
//! Limits hold as before: every batch is decided on the writer, against
//! what every unit before it wrote, whichever path queued it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono_tz::Tz;
use couponflow_core::clock::Clock;
use couponflow_store::{Store, StoreError};
use tokio::sync::oneshot;

use super::batch::{Reply, answer, queue_sqlx};
use super::{CLAIM_BATCH_MAX, CLAIM_QUEUE_MAX, ClaimedCoupon, Issue, Pending};
use crate::{AppError, AppResult};

/// One template's claims waiting for the writer.
#[derive(Default)]
pub(crate) struct TemplateQueue {
    state: Mutex<QueueState>,
    /// Learnt from a unit that found risk rules on the template: its claims
    /// take the batcher's sqlx units from then on.
    sqlx_only: AtomicBool,
}

/// The queue holds [`CLAIM_QUEUE_MAX`] claims already.
#[derive(Debug)]
struct QueueFull;

#[derive(Default)]
struct QueueState {
    pending: Vec<Pending>,
    /// Units in the writer's queue that have not yet taken their claims.
    units: usize,
}

impl TemplateQueue {
    pub(crate) fn sqlx_only(&self) -> bool {
        self.sqlx_only.load(Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a claim. `Ok(true)`: the caller must queue a unit for it (no
    /// unit is waiting, or those waiting will not take it all).
    fn push(&self, pending: Pending) -> Result<bool, QueueFull> {
        let mut state = self.state();
        if state.pending.len() >= CLAIM_QUEUE_MAX {
            return Err(QueueFull);
        }
        state.pending.push(pending);
        let taken_by_waiting = state.units.saturating_mul(CLAIM_BATCH_MAX);
        let needs_unit = state.pending.len() > taken_by_waiting;
        if needs_unit {
            state.units += 1;
        }
        Ok(needs_unit)
    }

    /// A unit's claims: the oldest [`CLAIM_BATCH_MAX`] queued.
    fn take(&self) -> Vec<Pending> {
        let mut state = self.state();
        state.units = state.units.saturating_sub(1);
        let count = state.pending.len().min(CLAIM_BATCH_MAX);
        state.pending.drain(..count).collect()
    }

    /// Everything queued, for when no unit will come for it.
    fn take_all(&self) -> Vec<Pending> {
        let mut state = self.state();
        state.units = 0;
        std::mem::take(&mut state.pending)
    }
}

/// Claims `issue` through the template's queue; answers once the batch it
/// joined is durable.
pub(super) async fn claim(
    queue: Arc<TemplateQueue>,
    template_id: Arc<str>,
    store: &Arc<Store>,
    clock: &Arc<dyn Clock>,
    zone: Tz,
    issue: Issue,
) -> AppResult<ClaimedCoupon> {
    let (reply, answered) = oneshot::channel();
    match queue.push(Pending { issue, reply }) {
        Err(_) => return Err(AppError::Store(StoreError::Busy)),
        Ok(true) => queue_unit(queue, template_id, store, clock.clone(), zone).await,
        Ok(false) => {}
    }
    answered.await.unwrap_or_else(|_| {
        Err(AppError::Store(StoreError::Unavailable(
            "the claim queue stopped".into(),
        )))
    })
}

/// Puts one unit in the writer's queue for `queue`'s claims.
async fn queue_unit(
    queue: Arc<TemplateQueue>,
    template_id: Arc<str>,
    store: &Arc<Store>,
    clock: Arc<dyn Clock>,
    zone: Tz,
) {
    // The callers of the claims the unit took; `None` until it ran.
    let taken: Arc<Mutex<Option<Vec<Reply>>>> = Arc::default();
    let took = taken.clone();
    let (id, ran_queue) = (template_id.clone(), queue.clone());
    let (store_again, runtime) = (store.clone(), tokio::runtime::Handle::current());
    store
        .queue_native_then(
            move |connection| {
                let (requests, replies): (Vec<Issue>, Vec<Reply>) = ran_queue
                    .take()
                    .into_iter()
                    .map(|pending| (pending.issue, pending.reply))
                    .unzip();
                *took.lock().unwrap_or_else(|p| p.into_inner()) = Some(replies);
                if requests.is_empty() {
                    return Ok(Ok(Vec::new()));
                }
                super::native::decide_batch(connection, &id, requests, clock.now(), zone)
                    .map(|decided| decided.map_err(|requests| (requests, clock.now())))
            },
            move |outcome| {
                let replies = taken.lock().unwrap_or_else(|p| p.into_inner()).take();
                let Some(replies) = replies else {
                    // The unit never ran (the writer stopped): nothing will
                    // take what is queued, so it all gets the error.
                    let error = outcome.err().unwrap_or_else(|| {
                        AppError::Store(StoreError::Unavailable("the writer stopped".into()))
                    });
                    let replies = queue
                        .take_all()
                        .into_iter()
                        .map(|pending| pending.reply)
                        .collect();
                    answer(replies, Err(error));
                    return;
                };
                match outcome {
                    Ok(Ok(answers)) => answer(replies, Ok(answers)),
                    // Risk rules: this batch and every later one as the
                    // batcher's sqlx units.
                    Ok(Err((requests, now))) => {
                        queue.sqlx_only.store(true, Ordering::Relaxed);
                        runtime.spawn(async move {
                            let outcome =
                                queue_sqlx(template_id, &store_again, requests, now, zone)
                                    .await
                                    .await;
                            answer(replies, outcome);
                        });
                    }
                    Err(error) => answer(replies, Err(error)),
                }
            },
        )
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::{ClaimRequest, ClaimUser};

    fn pending(n: usize) -> Pending {
        let (reply, _answered) = oneshot::channel();
        let issue = Issue::claim(ClaimRequest {
            user: ClaimUser {
                id: format!("u-{n}"),
                ..ClaimUser::default()
            },
            request_id: format!("r-{n}"),
            context: serde_json::Value::Null,
        });
        Pending { issue, reply }
    }

    fn pushed(queue: &TemplateQueue, n: usize) -> bool {
        queue
            .push(pending(n))
            .unwrap_or_else(|_| panic!("claim {n} refused"))
    }

    #[test]
    fn a_unit_is_queued_for_the_first_claim_and_for_every_full_batch_after_it() {
        let queue = TemplateQueue::default();
        assert!(pushed(&queue, 0), "nothing waits for the first claim");
        for n in 1..CLAIM_BATCH_MAX {
            assert!(!pushed(&queue, n), "claim {n} joins the waiting unit");
        }
        assert!(
            pushed(&queue, CLAIM_BATCH_MAX),
            "one unit takes a batch at most"
        );
        assert!(!pushed(&queue, CLAIM_BATCH_MAX + 1));

        let first = queue.take();
        assert_eq!(first.len(), CLAIM_BATCH_MAX);
        assert_eq!(first[0].issue.request_id, "r-0", "oldest first");
        let second = queue.take();
        assert_eq!(second.len(), 2);
        assert_eq!(
            second[1].issue.request_id,
            format!("r-{}", CLAIM_BATCH_MAX + 1)
        );
        assert!(queue.take().is_empty(), "a late unit finds nothing");
        assert!(
            pushed(&queue, 0),
            "with no unit waiting, the next claim queues one"
        );
    }

    #[test]
    fn claims_arriving_after_a_unit_took_its_batch_get_a_unit_of_their_own() {
        let queue = TemplateQueue::default();
        assert!(pushed(&queue, 0));
        assert_eq!(queue.take().len(), 1);
        assert!(pushed(&queue, 1), "the unit that took claim 0 is gone");
        assert!(!pushed(&queue, 2));
    }

    #[test]
    fn a_full_queue_refuses_and_keeps_what_it_holds() {
        let queue = TemplateQueue::default();
        for n in 0..CLAIM_QUEUE_MAX {
            let _ = pushed(&queue, n);
        }
        assert!(queue.push(pending(CLAIM_QUEUE_MAX)).is_err());
        assert_eq!(queue.take_all().len(), CLAIM_QUEUE_MAX);
        assert!(pushed(&queue, 0), "emptied, it takes claims again");
    }
}
