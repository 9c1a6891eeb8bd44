//! Coupons (券): the states of SPEC §5.2 and the pure transition function.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a coupon is in its life (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    /// 未领取: generated, no owner yet.
    Unbound,
    /// 待使用: owned, usable inside its validity.
    Available,
    /// 冻结: held by an unpaid order.
    Locked,
    /// 已使用 / 已核销: spent.
    Redeemed,
    /// 已过期: validity passed without use.
    Expired,
    /// 已作废: cancelled by staff.
    Voided,
    /// 已删除: hidden from the wallet.
    Deleted,
}

impl CouponState {
    pub const ALL: [CouponState; 7] = [
        CouponState::Unbound,
        CouponState::Available,
        CouponState::Locked,
        CouponState::Redeemed,
        CouponState::Expired,
        CouponState::Voided,
        CouponState::Deleted,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            CouponState::Unbound => "unbound",
            CouponState::Available => "available",
            CouponState::Locked => "locked",
            CouponState::Redeemed => "redeemed",
            CouponState::Expired => "expired",
            CouponState::Voided => "voided",
            CouponState::Deleted => "deleted",
        }
    }
}

impl std::fmt::Display for CouponState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can happen to a coupon (§5.2). Each event names the use case that
/// causes it, not the state it leads to: where it leads depends on the
/// state, the validity and the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponEvent {
    /// Claim, grant or exchange of an unbound code.
    Bind,
    /// An order is placed with the coupon.
    Lock,
    /// The order is cancelled or its lock timed out before payment.
    Release,
    /// The order is paid.
    Pay,
    /// Counter verification (§9).
    Verify,
    /// The coupon is given back on a refund (§8.4).
    Return,
    /// The validity has passed without use.
    Expire,
    /// Staff cancel the coupon.
    Void,
    /// The user hides the coupon from the wallet.
    Delete,
}

impl CouponEvent {
    pub const ALL: [CouponEvent; 9] = [
        CouponEvent::Bind,
        CouponEvent::Lock,
        CouponEvent::Release,
        CouponEvent::Pay,
        CouponEvent::Verify,
        CouponEvent::Return,
        CouponEvent::Expire,
        CouponEvent::Void,
        CouponEvent::Delete,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            CouponEvent::Bind => "bind",
            CouponEvent::Lock => "lock",
            CouponEvent::Release => "release",
            CouponEvent::Pay => "pay",
            CouponEvent::Verify => "verify",
            CouponEvent::Return => "return",
            CouponEvent::Expire => "expire",
            CouponEvent::Void => "void",
            CouponEvent::Delete => "delete",
        }
    }
}

impl std::fmt::Display for CouponEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A coupon's validity (§4.5). Both bounds are inclusive; a missing bound is
/// open. Unbound coupons of a relative-validity template have neither yet:
/// their validity starts when they are bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CouponTimes {
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl CouponTimes {
    /// `now` is before `valid_from`.
    pub fn has_not_started(&self, now: DateTime<Utc>) -> bool {
        self.valid_from.is_some_and(|from| now < from)
    }

    /// `now` is after `valid_until` (the last instant itself is still valid).
    pub fn has_passed(&self, now: DateTime<Utc>) -> bool {
        self.valid_until.is_some_and(|until| now > until)
    }

    /// `valid_from <= now <= valid_until`.
    pub fn is_within(&self, now: DateTime<Utc>) -> bool {
        !self.has_not_started(now) && !self.has_passed(now)
    }

    /// Ok inside the validity, else why not.
    fn check_within(&self, now: DateTime<Utc>) -> Result<(), TransitionError> {
        if let Some(valid_from) = self.valid_from.filter(|from| now < *from) {
            return Err(TransitionError::NotStarted { valid_from });
        }
        if let Some(valid_until) = self.valid_until.filter(|until| now > *until) {
            return Err(TransitionError::Expired { valid_until });
        }
        Ok(())
    }
}

/// Why a coupon cannot move. A refused transition changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {event} a coupon that is {from}")]
    NotAllowed {
        from: CouponState,
        event: CouponEvent,
    },
    #[error("the coupon is not valid yet: its validity starts at {valid_from}")]
    NotStarted { valid_from: DateTime<Utc> },
    #[error("the coupon has expired: its validity ended at {valid_until}")]
    Expired { valid_until: DateTime<Utc> },
    #[error("the coupon cannot expire before its validity has passed ({})", describe_until(.valid_until))]
    NotYetExpired { valid_until: Option<DateTime<Utc>> },
}

fn describe_until(valid_until: &Option<DateTime<Utc>>) -> String {
    match valid_until {
        Some(until) => format!("it ends at {until}"),
        None => "it has no end yet".to_owned(),
    }
}

impl CouponState {
    /// Consuming form of [`transition`].
    pub fn apply(
        self,
        event: CouponEvent,
        times: &CouponTimes,
        now: DateTime<Utc>,
    ) -> Result<CouponState, TransitionError> {
        transition(self, event, times, now)
    }
}

/// The coupon state machine of §5.2: where `event` takes a coupon in
/// `state`, given its validity and the time. Pure; a refusal names why.
///
/// Every match names every state, so a new state does not compile until
/// each event has decided what to do with it.
pub fn transition(
    state: CouponState,
    event: CouponEvent,
    times: &CouponTimes,
    now: DateTime<Utc>,
) -> Result<CouponState, TransitionError> {
    match event {
        CouponEvent::Bind => bind(state),
        CouponEvent::Lock => lock(state, times, now),
        CouponEvent::Release => release(state, times, now),
        CouponEvent::Pay => pay(state),
        CouponEvent::Verify => verify(state, times, now),
        CouponEvent::Return => give_back(state, times, now),
        CouponEvent::Expire => expire(state, times, now),
        CouponEvent::Void => void(state),
        CouponEvent::Delete => delete(state),
    }
}

fn not_allowed(from: CouponState, event: CouponEvent) -> Result<CouponState, TransitionError> {
    Err(TransitionError::NotAllowed { from, event })
}

/// Where a coupon goes when it comes back from an order: usable again if
/// its validity has not passed, else straight to `expired` (a coupon never
/// sits `available` after its validity).
fn back_to_wallet(times: &CouponTimes, now: DateTime<Utc>) -> CouponState {
    if times.has_passed(now) {
        CouponState::Expired
    } else {
        CouponState::Available
    }
}

fn bind(state: CouponState) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Unbound => Ok(S::Available),
        S::Available | S::Locked | S::Redeemed | S::Expired | S::Voided | S::Deleted => {
            not_allowed(state, CouponEvent::Bind)
        }
    }
}

/// Order placed: only inside the validity.
fn lock(
    state: CouponState,
    times: &CouponTimes,
    now: DateTime<Utc>,
) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Available => times.check_within(now).map(|()| S::Locked),
        S::Unbound | S::Locked | S::Redeemed | S::Expired | S::Voided | S::Deleted => {
            not_allowed(state, CouponEvent::Lock)
        }
    }
}

/// Counter verification: only inside the validity.
fn verify(
    state: CouponState,
    times: &CouponTimes,
    now: DateTime<Utc>,
) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Available => times.check_within(now).map(|()| S::Redeemed),
        S::Unbound | S::Locked | S::Redeemed | S::Expired | S::Voided | S::Deleted => {
            not_allowed(state, CouponEvent::Verify)
        }
    }
}

fn release(
    state: CouponState,
    times: &CouponTimes,
    now: DateTime<Utc>,
) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Locked => Ok(back_to_wallet(times, now)),
        S::Unbound | S::Available | S::Redeemed | S::Expired | S::Voided | S::Deleted => {
            not_allowed(state, CouponEvent::Release)
        }
    }
}

/// Payment is allowed after `valid_until`: the lock was taken inside the
/// validity, and the user must not lose the discount to a slow payment.
fn pay(state: CouponState) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Locked => Ok(S::Redeemed),
        S::Unbound | S::Available | S::Redeemed | S::Expired | S::Voided | S::Deleted => {
            not_allowed(state, CouponEvent::Pay)
        }
    }
}

fn give_back(
    state: CouponState,
    times: &CouponTimes,
    now: DateTime<Utc>,
) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Redeemed => Ok(back_to_wallet(times, now)),
        S::Unbound | S::Available | S::Locked | S::Expired | S::Voided | S::Deleted => {
            not_allowed(state, CouponEvent::Return)
        }
    }
}

/// Only once the validity has passed; an unbound coupon without a
/// `valid_until` (relative validity) has no end yet and cannot expire.
fn expire(
    state: CouponState,
    times: &CouponTimes,
    now: DateTime<Utc>,
) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Unbound | S::Available => {
            if times.has_passed(now) {
                Ok(S::Expired)
            } else {
                Err(TransitionError::NotYetExpired {
                    valid_until: times.valid_until,
                })
            }
        }
        S::Locked | S::Redeemed | S::Expired | S::Voided | S::Deleted => {
            not_allowed(state, CouponEvent::Expire)
        }
    }
}

/// Voiding twice is refused rather than a no-op, so the history never
/// records a transition that did nothing.
fn void(state: CouponState) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Unbound | S::Available | S::Locked | S::Redeemed | S::Expired => Ok(S::Voided),
        S::Voided | S::Deleted => not_allowed(state, CouponEvent::Void),
    }
}

fn delete(state: CouponState) -> Result<CouponState, TransitionError> {
    use CouponState as S;
    match state {
        S::Redeemed | S::Expired | S::Voided => Ok(S::Deleted),
        S::Unbound | S::Available | S::Locked | S::Deleted => {
            not_allowed(state, CouponEvent::Delete)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, day, 0, 0, 0)
            .single()
            .expect("a valid date")
    }

    #[test]
    fn coupon_validity_includes_both_bounds() {
        let times = CouponTimes {
            valid_from: Some(at(10)),
            valid_until: Some(at(20)),
        };
        assert!(times.is_within(at(10)));
        assert!(times.is_within(at(20)));
        assert!(times.has_not_started(at(9)));
        assert!(times.has_passed(at(21)));
        assert!(!times.has_passed(at(20)));
    }

    #[test]
    fn coupon_validity_without_bounds_is_open_both_ways() {
        let open = CouponTimes::default();
        assert!(open.is_within(at(1)));
        assert!(!open.has_passed(at(31)));
    }

    #[test]
    fn coupon_event_names_are_snake_case_on_the_wire() {
        for event in CouponEvent::ALL {
            let wire = serde_json::to_string(&event).expect("serialises");
            assert_eq!(wire, format!("\"{}\"", event.as_str()));
        }
    }

    #[test]
    fn coupon_transition_errors_read_clearly() {
        let error = TransitionError::NotAllowed {
            from: CouponState::Deleted,
            event: CouponEvent::Void,
        };
        assert_eq!(error.to_string(), "cannot void a coupon that is deleted");
        let error = TransitionError::NotYetExpired { valid_until: None };
        assert_eq!(
            error.to_string(),
            "the coupon cannot expire before its validity has passed (it has no end yet)"
        );
    }
}
