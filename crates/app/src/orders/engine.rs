//! The node's order batcher: lock, redeem and release calls queue to one
//! task, which takes everything waiting (up to [`ORDER_BATCH_MAX`]) and
//! decides it as one unit of the store's group-commit pipeline
//! (`orders::batch`). Every caller hears its answer once the batch has
//! committed.
//!
//! A batch that hits a unique violation or a lost race (PostgreSQL: an order
//! id placed on another node meanwhile, a deadlock) is rolled back whole and
//! decided again on what is then committed, up to
//! [`BATCH_ATTEMPTS_MAX`] times, so one order's race never fails the
//! others.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use couponflow_store::{Store, StoreError};

use super::batch;
use super::decide::OrderRequest;
use super::view::OrderView;
use super::{ORDER_BATCH_MAX, ORDER_QUEUE_MAX, Order};
use crate::{AppError, AppResult};

/// Times one batch is decided at most when it loses a race.
const BATCH_ATTEMPTS_MAX: usize = 3;
/// Yields to the callers before a batch is cut, at most (see `run`).
const GATHER_YIELDS_MAX: usize = 8;

struct Pending {
    request: OrderRequest,
    reply: oneshot::Sender<AppResult<OrderView>>,
}

/// The order batcher of one node, started on the first call.
#[derive(Default)]
pub(crate) struct OrderEngine {
    sender: Mutex<Option<mpsc::Sender<Pending>>>,
}

impl OrderEngine {
    fn sender(&self, store: &Arc<Store>) -> mpsc::Sender<Pending> {
        let mut sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(running) = sender.as_ref().filter(|s| !s.is_closed()) {
            return running.clone();
        }
        let (started, receiver) = mpsc::channel(ORDER_QUEUE_MAX);
        tokio::spawn(run(store.clone(), receiver));
        *sender = Some(started.clone());
        started
    }

    /// Queues one call and waits for its answer (whose stored body is
    /// parsed here, on the caller's task rather than the writer's).
    pub(crate) async fn call(&self, store: &Arc<Store>, request: OrderRequest) -> AppResult<Order> {
        let stopped =
            || AppError::Store(StoreError::Unavailable("the order batcher stopped".into()));
        let (reply, answer) = oneshot::channel();
        self.sender(store)
            .send(Pending { request, reply })
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .unwrap_or_else(|_| Err(stopped()))?
            .into_order()
    }
}

/// Takes everything waiting, decides it as one unit, answers each caller,
/// one batch at a time.
///
/// The callers a batch answers mostly make their next call at once, but
/// they need the processor to do it, and the batcher would otherwise cut
/// the next batch before they had it: batches would alternate between a
/// handful of calls and everyone else, and every batch costs a commit and
/// a few statements whatever its size. So before cutting a batch the
/// batcher yields to them, up to [`GATHER_YIELDS_MAX`] times, for as long
/// as each yield brings more calls.
async fn run(store: Arc<Store>, mut receiver: mpsc::Receiver<Pending>) {
    let mut waiting = Vec::with_capacity(ORDER_BATCH_MAX);
    while receiver.recv_many(&mut waiting, ORDER_BATCH_MAX).await > 0 {
        for _ in 0..GATHER_YIELDS_MAX {
            tokio::task::yield_now().await;
            let before = waiting.len();
            while waiting.len() < ORDER_BATCH_MAX {
                match receiver.try_recv() {
                    Ok(pending) => waiting.push(pending),
                    Err(_) => break,
                }
            }
            if waiting.len() == before {
                break;
            }
        }
        decide_and_answer(&store, std::mem::take(&mut waiting)).await;
    }
}

async fn decide_and_answer(store: &Store, batch: Vec<Pending>) {
    let (requests, replies): (Vec<OrderRequest>, Vec<_>) = batch
        .into_iter()
        .map(|pending| (pending.request, pending.reply))
        .unzip();
    match decide_with_retries(store, Arc::new(requests)).await {
        Ok(answers) => {
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer); // the caller may have gone away
            }
        }
        Err(error) => {
            let text = error.to_string();
            for reply in replies {
                let _ = reply.send(Err(copy(&error, &text)));
            }
        }
    }
}

async fn decide_with_retries(
    store: &Store,
    requests: Arc<Vec<OrderRequest>>,
) -> AppResult<Vec<AppResult<OrderView>>> {
    let mut attempt = 1;
    loop {
        let batch = requests.clone();
        let outcome = store
            .write(move |connection| {
                Box::pin(async move { batch::decide_batch(connection, &batch).await })
            })
            .await;
        match outcome {
            Err(AppError::Store(StoreError::Conflict { .. } | StoreError::Busy))
                if attempt < BATCH_ATTEMPTS_MAX =>
            {
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The batch's error for each of its callers.
fn copy(error: &AppError, text: &str) -> AppError {
    match error {
        AppError::Store(StoreError::Busy) => AppError::Store(StoreError::Busy),
        _ => AppError::Store(StoreError::Unavailable(text.to_owned())),
    }
}
