//! Couponflow's pricing engine: what every coupon means and what it does to
//! a cart. Pure: no I/O, no clock (time is passed in), no floats.
//!
//! - [`money`]: minor units, currencies, rounding helpers, apportionment.
//! - [`template`]: templates in the wire shape of SPEC §4 and their validation.
//! - [`coupon`]: coupon states and the state machine of §5.2.
//! - [`quote`]: eligibility, the `best` selection and apportionment (§7).
//! - [`refund`]: refund arithmetic and the return policy (§8.4).

#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![deny(clippy::float_arithmetic)]

pub mod clock;
pub mod code;
pub mod coupon;
pub mod money;
pub mod quote;
pub mod refund;
pub mod template;
