//! The `/v1` API served for real: every test starts the whole service on
//! port 0 against a fresh database on every back end (SQLite always,
//! PostgreSQL when `COUPONFLOW_TEST_DATABASE_URL` is set) and calls it over
//! HTTP. One binary, so it links once.

mod api_keys;
mod audit;
mod authorization;
mod balances;
mod campaigns;
mod checkout;
mod claims;
mod code_batches;
mod coupons;
mod grants;
mod harness;
mod ledger;
mod mall;
mod notify;
mod openapi;
mod orders;
mod pagination;
mod rules;
mod stats;
mod templates;
mod verifications;
