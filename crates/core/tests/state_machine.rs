//! The coupon state machine of SPEC §5.2 as a table: every (state, event)
//! pair with its exact outcome before, inside and after the validity, and a
//! model test that random event sequences never leave the table.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use couponflow_core::coupon::{CouponEvent, CouponState, CouponTimes, TransitionError, transition};
use proptest::prelude::*;

use CouponEvent::{Bind, Delete, Expire, Lock, Pay, Release, Return, Verify, Void};
use CouponState::{Available, Deleted, Expired, Locked, Redeemed, Unbound, Voided};

/// The expected outcome of one transition, independent of the exact times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    To(CouponState),
    Refused,
    NotStarted,
    TooLate,
    NotYetExpired,
}

use Expect::{NotStarted, NotYetExpired, Refused, To, TooLate};

/// Where `now` stands against the validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Before,
    Inside,
    After,
}

const MOMENTS: [Moment; 3] = [Moment::Before, Moment::Inside, Moment::After];

/// SPEC §5.2, one row per (state, event): the outcome before `valid_from`,
/// inside the validity, after `valid_until`.
#[rustfmt::skip]
const TABLE: [(CouponState, CouponEvent, [Expect; 3]); 63] = [
    (Unbound, Bind,    [To(Available), To(Available), To(Available)]),
    (Unbound, Lock,    [Refused, Refused, Refused]),
    (Unbound, Release, [Refused, Refused, Refused]),
    (Unbound, Pay,     [Refused, Refused, Refused]),
    (Unbound, Verify,  [Refused, Refused, Refused]),
    (Unbound, Return,  [Refused, Refused, Refused]),
    (Unbound, Expire,  [NotYetExpired, NotYetExpired, To(Expired)]),
    (Unbound, Void,    [To(Voided), To(Voided), To(Voided)]),
    (Unbound, Delete,  [Refused, Refused, Refused]),

    (Available, Bind,    [Refused, Refused, Refused]),
    (Available, Lock,    [NotStarted, To(Locked), TooLate]),
    (Available, Release, [Refused, Refused, Refused]),
    (Available, Pay,     [Refused, Refused, Refused]),
    (Available, Verify,  [NotStarted, To(Redeemed), TooLate]),
    (Available, Return,  [Refused, Refused, Refused]),
    (Available, Expire,  [NotYetExpired, NotYetExpired, To(Expired)]),
    (Available, Void,    [To(Voided), To(Voided), To(Voided)]),
    (Available, Delete,  [Refused, Refused, Refused]),

    (Locked, Bind,    [Refused, Refused, Refused]),
    (Locked, Lock,    [Refused, Refused, Refused]),
    (Locked, Release, [To(Available), To(Available), To(Expired)]),
    (Locked, Pay,     [To(Redeemed), To(Redeemed), To(Redeemed)]),
    (Locked, Verify,  [Refused, Refused, Refused]),
    (Locked, Return,  [Refused, Refused, Refused]),
    (Locked, Expire,  [Refused, Refused, Refused]),
    (Locked, Void,    [To(Voided), To(Voided), To(Voided)]),
    (Locked, Delete,  [Refused, Refused, Refused]),

    (Redeemed, Bind,    [Refused, Refused, Refused]),
    (Redeemed, Lock,    [Refused, Refused, Refused]),
    (Redeemed, Release, [Refused, Refused, Refused]),
    (Redeemed, Pay,     [Refused, Refused, Refused]),
    (Redeemed, Verify,  [Refused, Refused, Refused]),
    (Redeemed, Return,  [To(Available), To(Available), To(Expired)]),
    (Redeemed, Expire,  [Refused, Refused, Refused]),
    (Redeemed, Void,    [To(Voided), To(Voided), To(Voided)]),
    (Redeemed, Delete,  [To(Deleted), To(Deleted), To(Deleted)]),

    (Expired, Bind,    [Refused, Refused, Refused]),
    (Expired, Lock,    [Refused, Refused, Refused]),
    (Expired, Release, [Refused, Refused, Refused]),
    (Expired, Pay,     [Refused, Refused, Refused]),
    (Expired, Verify,  [Refused, Refused, Refused]),
    (Expired, Return,  [Refused, Refused, Refused]),
    (Expired, Expire,  [Refused, Refused, Refused]),
    (Expired, Void,    [To(Voided), To(Voided), To(Voided)]),
    (Expired, Delete,  [To(Deleted), To(Deleted), To(Deleted)]),

    (Voided, Bind,    [Refused, Refused, Refused]),
    (Voided, Lock,    [Refused, Refused, Refused]),
    (Voided, Release, [Refused, Refused, Refused]),
    (Voided, Pay,     [Refused, Refused, Refused]),
    (Voided, Verify,  [Refused, Refused, Refused]),
    (Voided, Return,  [Refused, Refused, Refused]),
    (Voided, Expire,  [Refused, Refused, Refused]),
    (Voided, Void,    [Refused, Refused, Refused]),
    (Voided, Delete,  [To(Deleted), To(Deleted), To(Deleted)]),

    (Deleted, Bind,    [Refused, Refused, Refused]),
    (Deleted, Lock,    [Refused, Refused, Refused]),
    (Deleted, Release, [Refused, Refused, Refused]),
    (Deleted, Pay,     [Refused, Refused, Refused]),
    (Deleted, Verify,  [Refused, Refused, Refused]),
    (Deleted, Return,  [Refused, Refused, Refused]),
    (Deleted, Expire,  [Refused, Refused, Refused]),
    (Deleted, Void,    [Refused, Refused, Refused]),
    (Deleted, Delete,  [Refused, Refused, Refused]),
];

fn instant(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0)
        .single()
        .expect("a valid date")
}

/// Valid from 10 March to 20 March, both at noon.
fn march_times() -> CouponTimes {
    CouponTimes {
        valid_from: Some(instant(10)),
        valid_until: Some(instant(20)),
    }
}

fn moment_at(moment: Moment) -> DateTime<Utc> {
    match moment {
        Moment::Before => instant(10) - Duration::seconds(1),
        Moment::Inside => instant(15),
        Moment::After => instant(20) + Duration::seconds(1),
    }
}

fn moment_of(times: &CouponTimes, now: DateTime<Utc>) -> Moment {
    if times.valid_from.is_some_and(|from| now < from) {
        Moment::Before
    } else if times.valid_until.is_some_and(|until| now > until) {
        Moment::After
    } else {
        Moment::Inside
    }
}

fn expected(state: CouponState, event: CouponEvent, moment: Moment) -> Expect {
    let column = MOMENTS
        .iter()
        .position(|m| *m == moment)
        .expect("every moment has a column");
    TABLE
        .iter()
        .find(|(s, e, _)| *s == state && *e == event)
        .map(|(_, _, outcomes)| outcomes[column])
        .expect("every pair has a row")
}

/// The exact result an expectation stands for, with these times.
fn expected_result(
    expect: Expect,
    state: CouponState,
    event: CouponEvent,
    times: &CouponTimes,
) -> Result<CouponState, TransitionError> {
    match expect {
        To(next) => Ok(next),
        Refused => Err(TransitionError::NotAllowed { from: state, event }),
        NotStarted => Err(TransitionError::NotStarted {
            valid_from: times.valid_from.expect("only with a start"),
        }),
        TooLate => Err(TransitionError::Expired {
            valid_until: times.valid_until.expect("only with an end"),
        }),
        NotYetExpired => Err(TransitionError::NotYetExpired {
            valid_until: times.valid_until,
        }),
    }
}

#[test]
fn the_table_names_every_state_event_pair_once() {
    let pairs: BTreeSet<(CouponState, CouponEvent)> = TABLE
        .iter()
        .map(|(state, event, _)| (*state, *event))
        .collect();
    assert_eq!(pairs.len(), CouponState::ALL.len() * CouponEvent::ALL.len());
    for state in CouponState::ALL {
        for event in CouponEvent::ALL {
            assert!(pairs.contains(&(state, event)), "{state} × {event} missing");
        }
    }
}

#[test]
fn every_transition_follows_the_table_before_inside_and_after_validity() {
    let times = march_times();
    for (state, event, outcomes) in TABLE {
        for (moment, expect) in MOMENTS.into_iter().zip(outcomes) {
            let now = moment_at(moment);
            assert_eq!(
                transition(state, event, &times, now),
                expected_result(expect, state, event, &times),
                "{state} × {event} at {moment:?}"
            );
        }
    }
}

#[test]
fn validity_bounds_are_inclusive_for_lock_and_verify() {
    let times = march_times();
    for now in [instant(10), instant(20)] {
        assert_eq!(transition(Available, Lock, &times, now), Ok(Locked));
        assert_eq!(transition(Available, Verify, &times, now), Ok(Redeemed));
        assert_eq!(
            transition(Available, Expire, &times, now),
            Err(TransitionError::NotYetExpired {
                valid_until: Some(instant(20))
            })
        );
    }
}

#[test]
fn payment_after_valid_until_redeems_a_coupon_locked_in_time() {
    let times = march_times();
    let locked =
        transition(Available, Lock, &times, instant(20)).expect("locks on the last instant");
    let late = instant(20) + Duration::minutes(10);
    assert_eq!(transition(locked, Pay, &times, late), Ok(Redeemed));
}

#[test]
fn release_after_validity_sends_the_coupon_to_expired() {
    let times = march_times();
    assert_eq!(
        transition(Locked, Release, &times, instant(20)),
        Ok(Available)
    );
    assert_eq!(
        transition(Locked, Release, &times, moment_at(Moment::After)),
        Ok(Expired)
    );
}

#[test]
fn unbound_coupon_without_valid_until_cannot_expire() {
    let relative = CouponTimes::default();
    assert_eq!(
        transition(Unbound, Expire, &relative, instant(31)),
        Err(TransitionError::NotYetExpired { valid_until: None })
    );
    assert_eq!(
        transition(Unbound, Bind, &relative, instant(31)),
        Ok(Available)
    );
}

#[test]
fn open_validity_never_refuses_for_time() {
    let open = CouponTimes::default();
    assert_eq!(transition(Available, Lock, &open, instant(1)), Ok(Locked));
    assert_eq!(
        transition(Available, Verify, &open, instant(31)),
        Ok(Redeemed)
    );
    assert_eq!(
        transition(Locked, Release, &open, instant(31)),
        Ok(Available)
    );
    assert_eq!(
        transition(Redeemed, Return, &open, instant(31)),
        Ok(Available)
    );
}

#[test]
fn consuming_apply_agrees_with_transition() {
    let times = march_times();
    let now = instant(15);
    for (state, event, _) in TABLE {
        assert_eq!(
            state.apply(event, &times, now),
            transition(state, event, &times, now)
        );
    }
}

fn any_state() -> impl Strategy<Value = CouponState> {
    prop::sample::select(CouponState::ALL.to_vec())
}

fn any_event() -> impl Strategy<Value = CouponEvent> {
    prop::sample::select(CouponEvent::ALL.to_vec())
}

/// A validity somewhere in March (either bound possibly open, from <= until)
/// and steps whose times fall before, inside and after it.
fn any_times() -> impl Strategy<Value = CouponTimes> {
    (
        prop::option::of(0i64..20 * 86_400),
        prop::option::of(0i64..20 * 86_400),
    )
        .prop_map(|(from, length)| {
            let start = instant(1);
            let valid_from = from.map(|seconds| start + Duration::seconds(seconds));
            let valid_until =
                length.map(|seconds| valid_from.unwrap_or(start) + Duration::seconds(seconds));
            CouponTimes {
                valid_from,
                valid_until,
            }
        })
}

fn any_steps() -> impl Strategy<Value = Vec<(CouponEvent, i64)>> {
    prop::collection::vec((any_event(), 0i64..45 * 86_400), 0..40)
}

proptest! {
    #[test]
    fn random_event_sequences_never_leave_the_table(
        start in any_state(),
        times in any_times(),
        steps in any_steps(),
    ) {
        let mut state = start;
        for (event, offset_seconds) in steps {
            let now = instant(1) - Duration::days(5) + Duration::seconds(offset_seconds);
            let expect = expected(state, event, moment_of(&times, now));
            let result = transition(state, event, &times, now);
            prop_assert_eq!(result, expected_result(expect, state, event, &times));
            match result {
                Ok(next) => {
                    prop_assert!(state != Deleted, "deleted is terminal, left by {}", event);
                    if next == Redeemed {
                        prop_assert!(matches!(event, Pay | Verify), "redeemed by {}", event);
                    }
                    state = next;
                }
                // Refused: the caller keeps the state it had, and asking
                // again gives the same answer (nothing hidden changed).
                Err(error) => {
                    prop_assert!(!matches!(expect, To(_)));
                    prop_assert_eq!(transition(state, event, &times, now), Err(error));
                }
            }
        }
    }

    #[test]
    fn deleted_coupon_refuses_every_event(event in any_event(), times in any_times(), day in 1u32..=31) {
        prop_assert_eq!(
            transition(Deleted, event, &times, instant(day)),
            Err(TransitionError::NotAllowed { from: Deleted, event })
        );
    }
}
