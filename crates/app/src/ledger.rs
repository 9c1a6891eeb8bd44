//! The budget ledger (SPEC §12): a double-entry ledger per issuer and
//! template. `model` says which entries each event posts (pure), `post`
//! posts them in the caller's write unit, `check` reconciles the ledger
//! with the coupons' states, `report` sums it for finance.

pub mod check;
pub mod model;
pub(crate) mod post;
pub mod report;
