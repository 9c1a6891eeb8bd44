//! Orders (SPEC §8) as the API shows them: the order with the cart and the
//! quote stored when it was locked, its refunds, and what `complete` earns.

use chrono::{DateTime, Utc};
use couponflow_app::orders::{
    CashbackPosting, CompletedOrder, Order, OrderState, Refund, RefundedCoupon,
};
use couponflow_core::refund::{CouponOutcome, LineRefund};
use couponflow_core::template::BalanceKind;
use serde::Serialize;
use utoipa::ToSchema;

use super::cart_body::CartBody;
use super::checkout_views::{CashbackView, QuoteView};
use super::docs::{balance_kind_schema, order_state_schema, refund_outcome_schema};

/// An order: where it is, and the cart and quote (with the apportionment
/// refunds are measured by) as they were when it was locked.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub order_id: String,
    pub user_id: String,
    /// `locked → paid → completed`, or `locked → released`; `refunded` once
    /// every unit is refunded.
    #[schema(schema_with = order_state_schema)]
    pub state: OrderState,
    pub cart: CartBody,
    pub quote: QuoteView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Order> for OrderView {
    fn from(order: Order) -> Self {
        OrderView {
            order_id: order.order_id,
            user_id: order.user_id,
            state: order.state,
            cart: order.cart.into(),
            quote: order.quote.into(),
            created_at: order.created_at,
            updated_at: order.updated_at,
        }
    }
}

/// An order with every refund taken on it, oldest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OrderWithRefunds {
    #[serde(flatten)]
    pub order: OrderView,
    pub refunds: Vec<RefundView>,
}

/// The completed order and the cashback it earns (credited to the user's
/// balances, SPEC §7.7).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CompletedOrderView {
    #[serde(flatten)]
    pub order: OrderView,
    /// Cashback the stored quote earns.
    pub cashback: Vec<CashbackView>,
    /// What was credited to the user's balances: the cashback less the
    /// share of refunds taken before completion.
    pub credited: Vec<CashbackPostingView>,
}

/// One coupon's cashback credited to a balance, or debited back from it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CashbackPostingView {
    pub coupon: String,
    #[schema(schema_with = balance_kind_schema)]
    pub to: BalanceKind,
    /// Credited (complete) or debited back (refund).
    pub amount: i64,
    /// On a refund: the part of the reversal the balance no longer held
    /// (the balance stops at zero).
    pub shortfall: i64,
    /// The ledger entry; absent when nothing moved.
    pub entry_id: Option<String>,
    pub balance_after: Option<i64>,
}

impl From<CashbackPosting> for CashbackPostingView {
    fn from(posting: CashbackPosting) -> Self {
        CashbackPostingView {
            coupon: posting.coupon,
            to: posting.to,
            amount: posting.amount,
            shortfall: posting.shortfall,
            entry_id: posting.entry_id,
            balance_after: posting.balance_after,
        }
    }
}

impl From<CompletedOrder> for CompletedOrderView {
    fn from(completed: CompletedOrder) -> Self {
        CompletedOrderView {
            order: completed.order.into(),
            cashback: completed.cashback.into_iter().map(Into::into).collect(),
            credited: completed.credited.into_iter().map(Into::into).collect(),
        }
    }
}

/// One refund: the money back per line and what became of each coupon.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub refund_id: String,
    pub order_id: String,
    pub lines: Vec<LineRefundView>,
    /// Money back, the sum of the lines' amounts.
    pub amount: i64,
    pub coupons: Vec<RefundedCouponView>,
    /// Every unit of the order is refunded once this refund is done.
    pub order_fully_refunded: bool,
    /// Cashback debited back (a completed order only): this refund's pro-rata
    /// piece of each credit; the refund that completes the order takes the rest.
    pub cashback_reversed: Vec<CashbackPostingView>,
    /// The sum of the reversals' shortfalls: cashback already spent.
    pub cashback_shortfall: i64,
    pub at: DateTime<Utc>,
}

/// The money back on one line.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LineRefundView {
    pub line_id: String,
    pub quantity: u32,
    /// The line's stored payable pro rata of the quantity; the last units
    /// refunded take the remainder.
    pub amount: i64,
    /// `unit_price × quantity` of the refunded units.
    pub original_amount: i64,
}

/// What the refund did to one coupon of the order, by its template's
/// `return_policy`: `outcome` is `return` (the coupon came back), `keep` (it
/// stays spent), `new_cash` (a new cash coupon was given back) or `nothing`
/// (it came back earlier).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RefundedCouponView {
    pub code: String,
    #[schema(schema_with = refund_outcome_schema)]
    pub outcome: &'static str,
    /// For `new_cash`: the new coupon's code …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_coupon: Option<String>,
    /// … and its face value, in minor units.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_coupon_face_value: Option<i64>,
}

impl From<Refund> for RefundView {
    fn from(refund: Refund) -> Self {
        RefundView {
            refund_id: refund.refund_id,
            order_id: refund.order_id,
            lines: refund.lines.into_iter().map(Into::into).collect(),
            amount: refund.amount,
            coupons: refund.coupons.into_iter().map(Into::into).collect(),
            order_fully_refunded: refund.order_fully_refunded,
            cashback_reversed: refund
                .cashback_reversed
                .into_iter()
                .map(Into::into)
                .collect(),
            cashback_shortfall: refund.cashback_shortfall,
            at: refund.at,
        }
    }
}

impl From<LineRefund> for LineRefundView {
    fn from(line: LineRefund) -> Self {
        LineRefundView {
            line_id: line.line_id,
            quantity: line.quantity,
            amount: line.amount,
            original_amount: line.original_amount,
        }
    }
}

impl From<RefundedCoupon> for RefundedCouponView {
    fn from(coupon: RefundedCoupon) -> Self {
        let (outcome, face_value) = match coupon.outcome {
            CouponOutcome::Return => ("return", None),
            CouponOutcome::Keep => ("keep", None),
            CouponOutcome::NewCash { amount } => ("new_cash", Some(amount)),
            CouponOutcome::Nothing => ("nothing", None),
        };
        RefundedCouponView {
            code: coupon.code,
            outcome,
            new_coupon: coupon.new_coupon,
            new_coupon_face_value: face_value,
        }
    }
}
