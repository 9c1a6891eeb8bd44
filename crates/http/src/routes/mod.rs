//! The `/v1` API (SPEC §13), one file per area: each area file holds its
//! handlers and their `#[utoipa::path]` documentation, and offers one
//! `routes()` that [`v1_routes`] merges. A handler extracts, checks the
//! caller's role, calls one use case of [`couponflow_app::App`] and maps the
//! result; every `AppError` becomes a problem in `app_error.rs`, and nowhere else.
//!
//! Every operation's description says which roles may call it (`Roles: …`),
//! and the authorization matrix test holds the code to what it says.

mod alerts;
mod api_keys;
mod app_error;
mod audit;
mod balances;
mod body;
mod campaign_claims;
mod campaign_views;
mod campaigns;
mod cart_body;
mod checkout;
mod checkout_views;
mod claims;
mod code_batches;
mod coupon_views;
mod coupons;
mod docs;
mod grant_upload;
mod grants;
mod ledger;
mod messages;
mod order_views;
mod orders;
mod redemption;
mod rules;
mod segments;
mod stats;
mod template_views;
mod templates;
mod verifications;
mod wallet;
mod webhooks;

use couponflow_app::Actor;

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::openapi::ApiRouter;
use crate::server::RequestLimits;
use crate::state::AppState;

pub use body::OptionalJson;
pub use coupon_views::{CouponView, HistoryEntryView};
pub use grant_upload::UPLOAD_BODY_LIMIT_BYTES;
pub use template_views::{TemplateEventView, TemplateView};

/// Staff who may read templates and coupons.
pub const STAFF_READERS: &[Role] = &[Role::Admin, Role::Operator, Role::Reviewer, Role::Finance];
/// Staff who create and change templates and drive their life cycle.
pub const TEMPLATE_EDITORS: &[Role] = &[Role::Admin, Role::Operator];
/// Everyone who reviews some step; whose step it is depends on the template.
pub const REVIEWERS: &[Role] = &[Role::Admin, Role::Reviewer, Role::Finance];
/// Who reviews the operations step of a template (SPEC §4.9).
pub const OPERATIONS_REVIEWERS: &[Role] = &[Role::Admin, Role::Reviewer];
/// Who reviews the finance step of a template (SPEC §4.9).
pub const FINANCE_REVIEWERS: &[Role] = &[Role::Admin, Role::Finance];
/// Staff who create and change campaigns and drive their life cycle.
pub const CAMPAIGN_EDITORS: &[Role] = &[Role::Admin, Role::Operator];
/// Who reads any user's claim centre; the user themself reads their own.
pub const CLAIM_CENTRE_READERS: &[Role] = &[
    Role::Admin,
    Role::Operator,
    Role::Reviewer,
    Role::Finance,
    Role::Service,
];
/// Staff who void coupons.
pub const COUPON_VOIDERS: &[Role] = &[Role::Admin, Role::Operator];
/// Staff who start code batches and follow their progress.
pub const CODE_BATCH_MAKERS: &[Role] = &[Role::Admin, Role::Operator];
/// Who download a batch's codes; partners only for the templates of their key.
pub const CODE_BATCH_EXPORTERS: &[Role] = &[Role::Admin, Role::Operator, Role::Partner];
/// Staff who create grants (SPEC §6.2.2).
pub const GRANT_MAKERS: &[Role] = &[Role::Admin, Role::Operator];
/// Who follow grants and read their results.
pub const GRANT_READERS: &[Role] = STAFF_READERS;
/// Who send segments (user tags): the mall's backend, and staff by hand.
pub const SEGMENT_WRITERS: &[Role] = &[Role::Admin, Role::Operator, Role::Service];
/// Who read a segment's size.
pub const SEGMENT_READERS: &[Role] = SEGMENT_WRITERS;
/// Who issues API keys.
pub const KEY_ISSUERS: &[Role] = &[Role::Admin];
/// Who drives orders: the mall's backend, and admins by hand.
pub const ORDER_DRIVERS: &[Role] = &[Role::Admin, Role::Service];
/// Who registers webhooks and reads their delivery logs.
pub const WEBHOOK_ADMINS: &[Role] = &[Role::Admin];
/// Who may post the mall's events that fire grant rules.
pub const EVENT_SENDERS: &[Role] = &[Role::Admin, Role::Service];
/// Staff who read every user's balances and ledgers (SPEC §7.7); the
/// user themself reads their own.
pub const BALANCE_READERS: &[Role] = &[Role::Admin, Role::Operator, Role::Finance, Role::Service];
/// Who credits or debits a balance by hand.
pub const BALANCE_ADJUSTERS: &[Role] = &[Role::Admin, Role::Finance];
/// Who verifies coupons at a counter; merchants and partners within their scope.
pub const VERIFIERS: &[Role] = &[Role::Admin, Role::Operator, Role::Merchant, Role::Partner];

/// Who reads the budget ledger's reports (SPEC §12).
pub const LEDGER_READERS: &[Role] = &[Role::Admin, Role::Finance];
/// Who runs the ledger's reconciliation check.
pub const LEDGER_CHECKERS: &[Role] = &[Role::Admin];

/// Longest `reason` a review or a void may carry; reasons are shown in the
/// console and kept in the history forever.
pub const REASON_CHARS_MAX: usize = 1000;

/// Every `/v1` route, documented.
pub fn v1_routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .merge(templates::routes())
        .merge(coupons::routes())
        .merge(wallet::routes())
        .merge(messages::routes())
        .merge(balances::routes())
        .merge(claims::routes())
        .merge(campaigns::routes())
        .merge(campaign_claims::routes())
        .merge(code_batches::routes())
        .merge(grants::routes())
        .merge(segments::routes())
        .merge(checkout::routes())
        .merge(orders::routes())
        .merge(verifications::routes())
        .merge(api_keys::routes())
        .merge(webhooks::routes())
        .merge(rules::routes())
        .merge(redemption::routes())
        .merge(stats::routes())
        .merge(audit::routes())
        .merge(alerts::routes())
        .merge(ledger::routes())
}

/// The whole service: the foundation routes, `/v1`, `/openapi.json` and the
/// standard layers, over `state`.
pub fn service_app(state: AppState, limits: &RequestLimits) -> crate::App {
    let layer = axum::middleware::from_fn_with_state(state.clone(), audit::record);
    crate::build_app_with_pages(v1_routes().layer(layer), crate::web::pages(), state, limits)
}

/// Who the use cases record as acting: `key:<id>` or `user:<id>`.
fn actor(principal: &Principal) -> Actor {
    Actor(principal.actor())
}

/// Refuses a reason too long to keep.
fn check_reason(reason: Option<&str>) -> Result<(), ApiError> {
    match reason {
        Some(text) if text.chars().count() > REASON_CHARS_MAX => {
            let why = format!("must be at most {REASON_CHARS_MAX} characters");
            Err(ApiError::validation(format!("reason {why}")).with_field_error("reason", why))
        }
        _ => Ok(()),
    }
}
