//! Orders (SPEC §8): lock (下单), redeem (支付成功), release (取消 / 超时),
//! refund (退款) and complete — each idempotent by the mall's order id (or
//! refund id): the request's hash and the answer are stored in the unit of
//! the effect, so a retry gets the first answer and changes nothing.
//!
//! An order moves `locked → paid → completed`, or `locked → released`;
//! refunds are taken while it is `paid` or `completed`, and the one that
//! refunds the last unit makes it `refunded`.
//!
//! Lock, redeem and release — the calls of every order, at checkout rates —
//! queue to the node's order batcher (`engine`), which decides everything
//! waiting as one unit in a few set statements (`batch`, `decide`), the way
//! claims are decided. Complete and refund run one unit per call.

mod batch;
mod cashback;
mod coupon_rows;
mod decide;
mod engine;
mod idempotency;
mod ledger_rows;
mod outbox_rows;
mod refund;
mod repository;
mod statements;
mod use_risk;
mod view;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use couponflow_core::coupon::CouponEvent;
use couponflow_core::quote::{Cart, Cashback, Quote};
use couponflow_store::{BoxFuture, StoreError};

use crate::coupons::Change;
use crate::{Actor, App, AppError, AppResult};
use decide::{Call, OrderRequest};

pub use cashback::CashbackPosting;
pub(crate) use engine::OrderEngine;
pub use refund::{Refund, RefundRequest, RefundRequestLine, RefundedCoupon};

/// The idempotency scopes of the calls the order batcher decides.
const LOCK_SCOPE: &str = "order.lock";
const REDEEM_SCOPE: &str = "order.redeem";
const RELEASE_SCOPE: &str = "order.release";
const BATCHED_SCOPES: [&str; 3] = [LOCK_SCOPE, REDEEM_SCOPE, RELEASE_SCOPE];

/// Longest order or refund id accepted.
pub const ORDER_ID_LENGTH_MAX: usize = 128;
/// Order calls one batch decides at most.
pub const ORDER_BATCH_MAX: usize = 1_000;
/// Order calls waiting for the batcher at most (back-pressure past it).
pub const ORDER_QUEUE_MAX: usize = 20_000;

/// Where an order is (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Placed, not paid: its coupons are `locked`.
    Locked,
    /// Paid: its coupons are `redeemed`.
    Paid,
    /// Cancelled or timed out before payment: its coupons went back.
    Released,
    /// Delivered and closed; cashback is due.
    Completed,
    /// Every unit refunded.
    Refunded,
}

impl OrderState {
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderState::Locked => "locked",
            OrderState::Paid => "paid",
            OrderState::Released => "released",
            OrderState::Completed => "completed",
            OrderState::Refunded => "refunded",
        }
    }

    pub fn parse(text: &str) -> Option<OrderState> {
        [
            OrderState::Locked,
            OrderState::Paid,
            OrderState::Released,
            OrderState::Completed,
            OrderState::Refunded,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// An order as stored: the cart and the quote (with its apportionment) as
/// they were when it was locked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub user_id: String,
    pub state: OrderState,
    pub cart: Cart,
    pub quote: Quote,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The JSON kept in `orders.body`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrderBody {
    cart: Cart,
    quote: Quote,
}

/// The answer of `complete`: the order, the cashback its quote earns, and
/// what was credited to the user's balances (SPEC §7.7) — less the share
/// of refunds taken before completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedOrder {
    pub order: Order,
    pub cashback: Vec<Cashback>,
    #[serde(default)]
    pub credited: Vec<CashbackPosting>,
}

/// What a call about one order sends, hashed for idempotency.
#[derive(Serialize)]
struct OrderCall<'a> {
    order_id: &'a str,
}

fn check_id(field: &str, id: &str) -> AppResult<()> {
    if id.trim().is_empty() || id.len() > ORDER_ID_LENGTH_MAX {
        return Err(AppError::invalid(field, "must be 1 to 128 characters"));
    }
    Ok(())
}

/// Refuses an action on an order that is not in one of `allowed`.
fn expect_state(order: &Order, allowed: &[OrderState], action: &'static str) -> AppResult<()> {
    if allowed.contains(&order.state) {
        return Ok(());
    }
    Err(AppError::OrderState {
        order_id: order.order_id.clone(),
        state: order.state.as_str(),
        action,
    })
}

impl App {
    /// One read of an order.
    pub async fn order(&self, order_id: &str) -> AppResult<Order> {
        let mut connection = self
            .store
            .reader()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        repository::read(&mut connection, order_id).await
    }

    /// The refunds of an order, oldest first.
    pub async fn order_refunds(&self, order_id: &str) -> AppResult<Vec<Refund>> {
        let mut connection = self
            .store
            .reader()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        repository::refunds(&mut connection, order_id).await
    }

    /// Runs `work` in one unit with its idempotency record: a repeated key
    /// with the same content gets the stored answer, with other content a
    /// conflict.
    async fn idempotent<T, F>(&self, key: idempotency::Key, work: F) -> AppResult<T>
    where
        T: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFuture<'c, AppResult<T>> + Send + 'static,
    {
        let now = self.now();
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    if let Some(answer) = idempotency::replay(connection, &key).await? {
                        return Ok(answer);
                    }
                    let answer = work(connection).await?;
                    idempotency::remember(connection, &key, &answer, now).await?;
                    Ok(answer)
                })
            })
            .await
    }

    /// Lock (SPEC §8.1): the quote is recomputed over the user's coupons,
    /// the chosen ones move to `locked` for this order, and the order is
    /// stored with its apportionment. `cart.select` is `best` or codes.
    pub async fn lock_order(&self, actor: &Actor, order_id: &str, cart: Cart) -> AppResult<Order> {
        check_id("order_id", order_id)?;
        if cart.order_id.as_deref().is_some_and(|id| id != order_id) {
            return Err(AppError::invalid(
                "order_id",
                "differs from the order being locked",
            ));
        }
        let mut cart = cart;
        cart.order_id = Some(order_id.to_owned());
        let key = idempotency::Key::new(LOCK_SCOPE, order_id, &cart)?;
        self.order_call(actor, order_id, key, Call::Lock(Box::new(cart)))
            .await
    }

    /// Redeem (SPEC §8.2): payment arrived; the coupons are spent.
    pub async fn redeem_order(&self, actor: &Actor, order_id: &str) -> AppResult<Order> {
        check_id("order_id", order_id)?;
        let key = idempotency::Key::new(REDEEM_SCOPE, order_id, &OrderCall { order_id })?;
        self.order_call(actor, order_id, key, Call::Redeem).await
    }

    /// Release (SPEC §8.3): cancelled or timed out before payment. Each
    /// coupon follows its template's `on_cancel`: `return` gives it back
    /// (`available`, or `expired` past its validity); `keep` leaves it
    /// spent, so it moves to `redeemed` as if the order had been paid.
    pub async fn release_order(&self, actor: &Actor, order_id: &str) -> AppResult<Order> {
        check_id("order_id", order_id)?;
        let key = idempotency::Key::new(RELEASE_SCOPE, order_id, &OrderCall { order_id })?;
        self.order_call(actor, order_id, key, Call::Release).await
    }

    /// Queues a lock, redeem or release to the order batcher.
    async fn order_call(
        &self,
        actor: &Actor,
        order_id: &str,
        key: idempotency::Key,
        call: Call,
    ) -> AppResult<Order> {
        let request = OrderRequest {
            call,
            order_id: order_id.to_owned(),
            key,
            actor: actor.clone(),
            now: self.now(),
            zone: self.settings.time_zone,
        };
        self.orders.call(&self.store, request).await
    }

    /// Complete: the order is closed and its cashback is credited to the
    /// user's balances in the same unit, once (the answer is stored with
    /// the idempotency record, and each credit is keyed by order and coupon).
    pub async fn complete_order(&self, actor: &Actor, order_id: &str) -> AppResult<CompletedOrder> {
        check_id("order_id", order_id)?;
        let key = idempotency::Key::new("order.complete", order_id, &OrderCall { order_id })?;
        let (actor, order_id, now) = (actor.clone(), order_id.to_owned(), self.now());
        self.idempotent(key, move |connection| {
            Box::pin(async move {
                let mut order = repository::lock(connection, &order_id).await?;
                expect_state(&order, &[OrderState::Paid], "complete")?;
                order.state = OrderState::Completed;
                order.updated_at = now;
                repository::save_state(connection, &order).await?;
                let refunds = repository::refunds(connection, &order_id).await?;
                let credited =
                    cashback::credit_on_complete(connection, &order, &refunds, &actor, now).await?;
                let cashback = order.quote.cashback.clone();
                Ok(CompletedOrder {
                    order,
                    cashback,
                    credited,
                })
            })
        })
        .await
    }
}

fn order_change<'a>(
    event: CouponEvent,
    reason: &'a str,
    order_id: &'a str,
    actor: &'a Actor,
    now: DateTime<Utc>,
) -> Change<'a> {
    Change {
        event,
        reason,
        order_id: Some(order_id),
        actor,
        now,
    }
}
