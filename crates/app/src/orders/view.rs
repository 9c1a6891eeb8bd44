//! An order as a batch handles it, and the answers a batch stores.
//!
//! A batch decides from an order's row fields alone (state, owner, times);
//! the body — the cart and the quote, a kilobyte or more of JSON — is
//! carried through as the text read and parsed by the caller once it has
//! its answer, off the single writer's path. A body a lock has just built
//! is carried as is.
//!
//! For the same reason a batch stores compact answers for replay: the
//! state and time the order had when the call was answered
//! ([`StoredOrderAnswer::Reference`]). An order's body, owner and creation
//! time never change once it is placed, so these two fields and the order
//! row give the first answer back exactly, without writing the body again
//! for every call. Answers stored whole (before batches) still replay.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use couponflow_store::StoreError;

use super::{Order, OrderBody, OrderState};
use crate::{AppError, AppResult};

/// An order's cart and quote: as stored (JSON text) or as just built.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Stored(Arc<str>),
    Built(Arc<OrderBody>),
}

/// An order's row, with its body unparsed.
#[derive(Debug, Clone)]
pub(crate) struct OrderView {
    pub order_id: String,
    pub user_id: String,
    pub state: OrderState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub body: Body,
}

impl OrderView {
    /// The order a lock builds.
    pub(crate) fn built(order: Order) -> OrderView {
        let Order {
            order_id,
            user_id,
            state,
            cart,
            quote,
            created_at,
            updated_at,
        } = order;
        OrderView {
            order_id,
            user_id,
            state,
            created_at,
            updated_at,
            body: Body::Built(Arc::new(OrderBody { cart, quote })),
        }
    }

    /// The answer as the caller gets it; the stored body is parsed here.
    pub(crate) fn into_order(self) -> AppResult<Order> {
        let OrderBody { cart, quote } = match self.body {
            Body::Stored(text) => serde_json::from_str(&text).map_err(|e| {
                AppError::Store(StoreError::Corrupt {
                    table: "orders",
                    reason: e.to_string(),
                })
            })?,
            Body::Built(body) => Arc::try_unwrap(body).unwrap_or_else(|shared| (*shared).clone()),
        };
        Ok(Order {
            order_id: self.order_id,
            user_id: self.user_id,
            state: self.state,
            cart,
            quote,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// The body as stored in `orders.body`.
    pub(crate) fn body_json(&self) -> AppResult<String> {
        match &self.body {
            Body::Stored(text) => Ok(text.to_string()),
            Body::Built(body) => serde_json::to_string(body.as_ref())
                .map_err(|e| StoreError::Other(e.to_string()).into()),
        }
    }

    /// The codes a just-built order holds (an order read from storage
    /// lists them in `order_coupons`).
    pub(crate) fn built_codes(&self) -> &[String] {
        match &self.body {
            Body::Built(body) => &body.quote.selected,
            Body::Stored(_) => &[],
        }
    }
}

/// An answer to a lock, redeem or release as stored in `idempotency`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum StoredOrderAnswer {
    /// The order as it was when answered: its row gives the rest.
    Reference {
        order_state: OrderState,
        order_updated_at: DateTime<Utc>,
    },
    /// The whole order, as answers were stored before batches.
    Whole(Box<Order>),
}

impl StoredOrderAnswer {
    pub(crate) fn of(view: &OrderView) -> StoredOrderAnswer {
        StoredOrderAnswer::Reference {
            order_state: view.state,
            order_updated_at: view.updated_at,
        }
    }

    /// The first answer again, from the order as it is now.
    pub(crate) fn replay(self, order: Option<&OrderView>) -> AppResult<OrderView> {
        match self {
            StoredOrderAnswer::Whole(order) => Ok(OrderView::built(*order)),
            StoredOrderAnswer::Reference {
                order_state,
                order_updated_at,
            } => {
                let order = order.ok_or_else(|| {
                    AppError::Store(StoreError::Corrupt {
                        table: "idempotency",
                        reason: "an answer refers to an order that does not exist".into(),
                    })
                })?;
                let mut first = order.clone();
                first.state = order_state;
                first.updated_at = order_updated_at;
                Ok(first)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_answer_does_not_parse_as_a_whole_order_and_back() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = serde_json::to_string(&StoredOrderAnswer::Reference {
            order_state: OrderState::Paid,
            order_updated_at: at,
        })
        .unwrap();
        let parsed: StoredOrderAnswer = serde_json::from_str(&text).unwrap();
        assert!(matches!(
            parsed,
            StoredOrderAnswer::Reference {
                order_state: OrderState::Paid,
                order_updated_at
            } if order_updated_at == at
        ));
    }
}
