//! Refunds (SPEC §8.4): money back per line against the payables stored at
//! lock time and the refunds taken before, and each coupon's outcome by
//! its template's `return_policy`.
//!
//! A `cash` coupon's proportional give-back is a new coupon of the same
//! template, for the same user and validity, whose `face_value` is the
//! amount given back (`source = 'refund'`, and its history says which
//! refund, order and coupon it came from). The engine prices a cash coupon
//! by its own face value (`checkout::TemplateCache::rules_for`), so no
//! template is invented per refund and the template's lists, statistics
//! and review stay as they were. The give-back is not a new issue: it does
//! not count against the template's `total` or `budget`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AnyConnection;

use couponflow_core::coupon::{CouponEvent, CouponState};
use couponflow_core::refund::{
    CouponOutcome, CouponRefundInput, LineRefund, RefundLine, coupon_outcome_on_refund,
    refund_order,
};
use couponflow_store::StoreError;
use couponflow_store::time::to_micros;

use super::cashback::{self, CashbackPosting};
use super::{Order, OrderState, check_id, expect_state, idempotency, order_change, repository};
use crate::checkout::TemplateCache;
use crate::coupons::{self, Change, CouponRecord};
use crate::notify::{self, Event, outbox};
use crate::{Actor, App, AppError, AppResult, ids};

/// `POST /v1/orders/{order}/refunds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub refund_id: String,
    pub lines: Vec<RefundRequestLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequestLine {
    pub line_id: String,
    pub quantity: u32,
}

/// What happened to one coupon of the order on a refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundedCoupon {
    pub code: String,
    #[serde(flatten)]
    pub outcome: CouponOutcome,
    /// The new cash coupon given back, for `new_cash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_coupon: Option<String>,
}

/// A refund as stored and answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refund_id: String,
    pub order_id: String,
    pub lines: Vec<LineRefund>,
    /// Money back, the sum of the lines' amounts.
    pub amount: i64,
    pub coupons: Vec<RefundedCoupon>,
    /// Every unit of the order is refunded once this refund is done.
    pub order_fully_refunded: bool,
    /// Cashback debited back, for a completed order: this refund's pro-rata
    /// piece of each credit (SPEC §8.4).
    #[serde(default)]
    pub cashback_reversed: Vec<CashbackPosting>,
    /// What the reversals could not take because the balance was spent:
    /// the sum of their shortfalls (the balance stops at zero).
    #[serde(default)]
    pub cashback_shortfall: i64,
    pub at: DateTime<Utc>,
}

/// What the client sent, hashed for idempotency.
#[derive(Serialize)]
struct RefundCall<'a> {
    order_id: &'a str,
    request: &'a RefundRequest,
}

impl App {
    /// Refund (SPEC §8.4), idempotent by `refund_id`.
    pub async fn refund_order(
        &self,
        actor: &Actor,
        order_id: &str,
        request: RefundRequest,
    ) -> AppResult<Refund> {
        check_id("order_id", order_id)?;
        check_id("refund_id", &request.refund_id)?;
        let call = RefundCall {
            order_id,
            request: &request,
        };
        let key = idempotency::Key::new("order.refund", &request.refund_id, &call)?;
        let (actor, order_id, now) = (actor.clone(), order_id.to_owned(), self.now());
        self.idempotent(key, move |connection| {
            Box::pin(async move { refund_unit(connection, &actor, &order_id, &request, now).await })
        })
        .await
    }
}

async fn refund_unit(
    connection: &mut AnyConnection,
    actor: &Actor,
    order_id: &str,
    request: &RefundRequest,
    now: DateTime<Utc>,
) -> AppResult<Refund> {
    let mut order = repository::lock(connection, order_id).await?;
    expect_state(&order, &[OrderState::Paid, OrderState::Completed], "refund")?;
    let earlier = repository::refunds(connection, order_id).await?;
    let lines = refund_lines(&order, &earlier);
    let asked: Vec<(String, u32)> = request
        .lines
        .iter()
        .map(|line| (line.line_id.clone(), line.quantity))
        .collect();
    let refunded = refund_order(&lines, &asked)
        .map_err(|error| AppError::invalid("lines", error.to_string()))?;
    let fully = fully_refunded_after(&lines, &refunded);
    let context = Context {
        order: &order,
        earlier: &earlier,
        now_lines: &refunded,
        fully,
        refund_id: &request.refund_id,
        actor,
        now,
    };
    let mut outcomes = Vec::new();
    let mut events = Vec::new();
    let mut cache = TemplateCache::default();
    for code in repository::coupon_codes(connection, order_id).await? {
        let settled = settle_coupon(connection, &mut cache, &context, &code, &mut events).await?;
        outcomes.push(settled);
    }
    outbox::append(connection, &events).await?;
    let amount = refunded.iter().map(|line| line.amount).sum();
    let cashback_reversed = match order.state {
        OrderState::Completed => {
            let id = &request.refund_id;
            cashback::reverse_on_refund(connection, &order, &earlier, amount, id, actor, now)
                .await?
        }
        // Never completed: nothing was credited, nothing goes back.
        OrderState::Paid | OrderState::Locked | OrderState::Released | OrderState::Refunded => {
            Vec::new()
        }
    };
    let refund = Refund {
        refund_id: request.refund_id.clone(),
        order_id: order_id.to_owned(),
        amount,
        lines: refunded,
        coupons: outcomes,
        order_fully_refunded: fully,
        cashback_shortfall: cashback_reversed.iter().map(|p| p.shortfall).sum(),
        cashback_reversed,
        at: now,
    };
    repository::insert_refund(connection, &refund).await?;
    if fully {
        order.state = OrderState::Refunded;
        order.updated_at = now;
        repository::save_state(connection, &order).await?;
    }
    Ok(refund)
}

/// The order's lines as the refund arithmetic takes them: the payables of
/// the stored quote, and the units refunded before.
fn refund_lines(order: &Order, earlier: &[Refund]) -> Vec<RefundLine> {
    order
        .cart
        .lines
        .iter()
        .zip(&order.quote.lines)
        .map(|(line, priced)| RefundLine {
            line_id: line.line_id.clone(),
            unit_price: line.unit_price,
            quantity: line.quantity,
            payable: priced.payable,
            refunded_quantity: earlier
                .iter()
                .flat_map(|refund| &refund.lines)
                .filter(|refunded| refunded.line_id == line.line_id)
                .map(|refunded| refunded.quantity)
                .sum(),
        })
        .collect()
}

/// Whether every unit of every line is refunded once `now` is done.
fn fully_refunded_after(lines: &[RefundLine], now: &[LineRefund]) -> bool {
    lines.iter().all(|line| {
        let now_units: u32 = now
            .iter()
            .filter(|refund| refund.line_id == line.line_id)
            .map(|refund| refund.quantity)
            .sum();
        line.refunded_quantity + now_units == line.quantity
    })
}

/// What every coupon of one refund is decided against.
struct Context<'a> {
    order: &'a Order,
    earlier: &'a [Refund],
    now_lines: &'a [LineRefund],
    fully: bool,
    refund_id: &'a str,
    actor: &'a Actor,
    now: DateTime<Utc>,
}

impl Context<'_> {
    /// The figures of §8.4 for one coupon of the order.
    fn coupon_input(&self, code: &str) -> CouponRefundInput {
        let touched: HashSet<&str> = self
            .order
            .quote
            .lines
            .iter()
            .filter(|line| line.shares.iter().any(|s| s.coupon == code && s.amount > 0))
            .map(|line| line.line_id.as_str())
            .collect();
        let original = |lines: &mut dyn Iterator<Item = &LineRefund>| -> i64 {
            lines
                .filter(|line| touched.contains(line.line_id.as_str()))
                .map(|line| line.original_amount)
                .sum()
        };
        let earlier_outcomes = self.earlier.iter().flat_map(|refund| &refund.coupons);
        let earlier_of_coupon: Vec<&RefundedCoupon> =
            earlier_outcomes.filter(|c| c.code == code).collect();
        CouponRefundInput {
            discount: self.discount_of(code),
            touched_original_amount: self
                .order
                .quote
                .lines
                .iter()
                .filter(|line| touched.contains(line.line_id.as_str()))
                .map(|line| line.amount)
                .sum(),
            refunded_original_before: original(
                &mut self.earlier.iter().flat_map(|refund| &refund.lines),
            ),
            refunded_original_now: original(&mut self.now_lines.iter()),
            order_fully_refunded_after: self.fully,
            value_given_back_before: earlier_of_coupon
                .iter()
                .map(|c| match c.outcome {
                    CouponOutcome::NewCash { amount } => amount,
                    CouponOutcome::Return | CouponOutcome::Keep | CouponOutcome::Nothing => 0,
                })
                .sum(),
            returned_before: earlier_of_coupon
                .iter()
                .any(|c| c.outcome == CouponOutcome::Return),
        }
    }

    /// What the coupon took off the order's lines.
    fn discount_of(&self, code: &str) -> i64 {
        self.order
            .quote
            .lines
            .iter()
            .flat_map(|line| &line.shares)
            .filter(|share| share.coupon == code)
            .map(|share| share.amount)
            .sum()
    }
}

/// Decides and carries out one coupon's outcome.
async fn settle_coupon(
    connection: &mut AnyConnection,
    cache: &mut TemplateCache,
    context: &Context<'_>,
    code: &str,
    events: &mut Vec<Event>,
) -> AppResult<RefundedCoupon> {
    let mut coupon = coupons::lock(connection, code).await?;
    let record = cache.get(connection, &coupon.template_id).await?;
    let rules = cache.rules_for(&record, &coupon)?;
    let mut outcome = coupon_outcome_on_refund(&rules, &context.coupon_input(code));
    let mut new_coupon = None;
    match outcome {
        CouponOutcome::Return if coupon.state == CouponState::Redeemed => {
            let reason = format!("returned on refund {}", context.refund_id);
            let change = order_change(
                CouponEvent::Return,
                &reason,
                &context.order.order_id,
                context.actor,
                context.now,
            );
            coupons::apply(connection, &mut coupon, &change).await?;
            let mut returned = Event::coupon(notify::events::COUPON_RETURNED, &coupon, context.now);
            returned.data["order_id"] = json!(context.order.order_id);
            returned.data["refund_id"] = json!(context.refund_id);
            events.push(returned);
        }
        // Voided (or otherwise moved) since payment: nothing comes back.
        CouponOutcome::Return => outcome = CouponOutcome::Nothing,
        CouponOutcome::NewCash { amount } => {
            let given = give_back_cash(connection, context, &coupon, amount).await?;
            events.push(granted_on_refund(context, &coupon, &given, amount));
            new_coupon = Some(given);
        }
        CouponOutcome::Keep | CouponOutcome::Nothing => {}
    }
    Ok(RefundedCoupon {
        code: code.to_owned(),
        outcome,
        new_coupon,
    })
}

/// Issues the new cash coupon worth `amount` to the coupon's owner, with
/// the original's validity (`expired` at once if that has passed, as a
/// returned coupon would be).
async fn give_back_cash(
    connection: &mut AnyConnection,
    context: &Context<'_>,
    original: &CouponRecord,
    amount: i64,
) -> AppResult<String> {
    let code = ids::new_coupon_code();
    let now = context.now;
    let state = if original.times().has_passed(now) {
        CouponState::Expired
    } else {
        CouponState::Available
    };
    sqlx::query(
        "INSERT INTO coupons (code, template_id, user_id, state, valid_from, valid_until, face_value, \
         source, hidden, created_at, bound_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'refund', 0, $8, $8, $8)",
    )
    .bind(&code)
    .bind(&original.template_id)
    .bind(original.user_id.as_deref())
    .bind(state.as_str())
    .bind(original.valid_from.map(to_micros))
    .bind(original.valid_until.map(to_micros))
    .bind(amount)
    .bind(to_micros(now))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let reason = format!(
        "{amount} given back as new cash on refund {} of coupon {}",
        context.refund_id, original.code
    );
    let change = Change {
        event: CouponEvent::Bind,
        reason: &reason,
        order_id: Some(&context.order.order_id),
        actor: context.actor,
        now,
    };
    coupons::append_history(connection, &code, None, state, &change).await?;
    crate::ledger::post::on_new_cash_coupon(
        connection,
        &original.template_id,
        &code,
        amount,
        state,
        now,
    )
    .await?;
    Ok(code)
}

/// `coupon.granted` for the new cash coupon a refund gives back.
fn granted_on_refund(
    context: &Context<'_>,
    original: &CouponRecord,
    code: &str,
    amount: i64,
) -> Event {
    let data = json!({
        "code": code,
        "template_id": original.template_id,
        "state": if original.times().has_passed(context.now) { "expired" } else { "available" },
        "face_value": amount,
        "valid_from": original.valid_from,
        "valid_until": original.valid_until,
        "source": "refund",
        "order_id": context.order.order_id,
        "refund_id": context.refund_id,
        "replaces": original.code,
    });
    Event::new(
        notify::events::COUPON_GRANTED,
        context.now,
        original.user_id.clone(),
        data,
    )
}
