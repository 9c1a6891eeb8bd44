//! A batch of order calls' events: one outbox row for the whole batch,
//! written with the batch's other statements (so in its transaction), from
//! the history rows the batch decided.

use couponflow_core::coupon::CouponState;
use couponflow_store::Backend;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;

use super::decide::Outcome;
use super::statements::{Statement, Value};
use crate::notify::{Event, events, outbox};

/// The event of each coupon change the batch decided: a lock, a payment,
/// a release (the coupon comes back), or a release after the validity
/// passed (it expires instead).
pub(super) fn events_of(outcome: &Outcome) -> Vec<Event> {
    let mut events: Vec<Event> = outcome
        .history
        .iter()
        .filter_map(|change| {
            let kind = match (change.from, change.to) {
                (_, CouponState::Locked) => events::COUPON_LOCKED,
                (_, CouponState::Redeemed) => events::COUPON_REDEEMED,
                (CouponState::Locked, CouponState::Available) => events::COUPON_RETURNED,
                (_, CouponState::Expired) => events::COUPON_EXPIRED,
                _ => return None,
            };
            let coupon = outcome.coupons.get(&change.code)?;
            let mut event = Event::coupon(kind, coupon, change.at);
            if let Some(order_id) = &change.order_id {
                event.data["order_id"] = serde_json::json!(order_id);
            }
            Some(event)
        })
        .collect();
    events.extend(outcome.use_risk.alerts.iter().cloned());
    events
}

/// The insert of the batch's outbox row, when it has events.
pub(super) fn statement(backend: Backend, events: &[Event]) -> Option<Statement<'static>> {
    let latest = events.iter().map(|event| event.at).max()?;
    let mut params = Params::new(backend);
    let mut insert = Statement::new(format!(
        "INSERT INTO outbox (events, created_at) VALUES ({}, {})",
        params.next(),
        params.next()
    ));
    insert
        .bind(Value::Owned(outbox::encode(events)))
        .bind(Value::Integer(to_micros(latest)));
    Some(insert)
}
