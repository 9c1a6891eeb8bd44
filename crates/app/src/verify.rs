//! Counter verification (线下核销, SPEC §9): store staff or a partner types
//! or scans a code, sees what the coupon is and whether it can be used
//! here, and on confirmation the coupon is `redeemed` with the store and
//! the staff member recorded.
//!
//! Who may verify what is a [`VerifierScope`]. A merchant accepts the
//! coupons its shops may accept: those its shops issue (or share), those
//! whose scope names one of its shops, and platform coupons whose template
//! carries the label `accept_at_stores`: `"true"` lets every merchant
//! accept them, a comma-separated list of shop ids lets those shops.
//! Whether the coupon is usable is the state machine's word (event
//! `verify`: `available` and inside its validity), plus the channel: a
//! template limited to channels must list `pos` to be spent at a counter.
//! The store is recorded with the spend; it is not matched against the
//! merchant's shops, since a merchant's stores need not carry shop ids.

use chrono::{DateTime, Utc};
use serde::Serialize;

use couponflow_core::code;
use couponflow_core::coupon::{CouponEvent, CouponState, TransitionError, transition};
use couponflow_core::template::{Benefit, Issuer, Template};
use couponflow_store::StoreError;

use crate::checkout::read_template;
use crate::coupons::{self, Change, CouponRecord};
use crate::notify::{Event, events, outbox};
use crate::{Actor, App, AppError, AppResult};

/// The template label that lets merchants accept a platform coupon.
pub const ACCEPT_AT_STORES_LABEL: &str = "accept_at_stores";
/// The channel name of a counter.
pub const COUNTER_CHANNEL: &str = "pos";
/// Longest store or staff id accepted.
pub const VERIFIER_ID_LENGTH_MAX: usize = 128;

/// What a verifying account may see and spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifierScope {
    /// Platform staff: every coupon.
    Staff,
    /// A merchant account: coupons its shops may accept.
    Merchant { shops: Vec<String> },
    /// A partner account: coupons of the templates shared with it.
    Partner { templates: Vec<String> },
}

/// The answer of a preview: what the coupon is and whether it can be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationPreview {
    pub code: String,
    pub template_id: String,
    pub template_name: String,
    pub description: String,
    /// The benefit's kind (`gift`, `trial`, `cash`, …).
    pub benefit_kind: String,
    /// What the holder gets, for `gift` and `trial`.
    pub item: Option<String>,
    pub state: CouponState,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub usable: bool,
    /// Why not, when not usable: `NOT_AVAILABLE`, `NOT_STARTED`,
    /// `EXPIRED` or `CHANNEL`.
    pub reason: Option<String>,
    /// Set once verified: where and by whom.
    pub store_id: Option<String>,
    pub staff_id: Option<String>,
}

/// Normalises a typed code and refuses a mistyped one before any look-up.
pub fn canonical_code(typed: &str) -> AppResult<String> {
    let canonical = code::normalise(typed);
    code::plausible(&canonical).map_err(|error| AppError::invalid("code", error.to_string()))?;
    Ok(canonical)
}

fn check_verifier_id(field: &str, id: &str) -> AppResult<()> {
    if id.trim().is_empty() || id.len() > VERIFIER_ID_LENGTH_MAX {
        return Err(AppError::invalid(field, "must be 1 to 128 characters"));
    }
    Ok(())
}

impl VerifierScope {
    /// Whether this account may verify coupons of `template_id`.
    pub fn admits(&self, template_id: &str, template: &Template) -> bool {
        match self {
            VerifierScope::Staff => true,
            VerifierScope::Partner { templates } => templates.iter().any(|t| t == template_id),
            VerifierScope::Merchant { shops } => shops.iter().any(|shop| accepts(template, shop)),
        }
    }
}

/// Whether `shop` may accept coupons of `template` at its counters.
fn accepts(template: &Template, shop: &str) -> bool {
    if template.issuer.shop() == Some(shop)
        || template.scope.include.shops.iter().any(|s| s == shop)
    {
        return true;
    }
    let allowed = template
        .labels
        .get(ACCEPT_AT_STORES_LABEL)
        .is_some_and(|label| {
            label.trim() == "true" || label.split(',').any(|entry| entry.trim() == shop)
        });
    matches!(template.issuer, Issuer::Platform) && allowed
}

/// Why the coupon cannot be spent at a counter now, as a stable code.
fn refusal(coupon: &CouponRecord, template: &Template, now: DateTime<Utc>) -> Option<String> {
    match transition(coupon.state, CouponEvent::Verify, &coupon.times(), now) {
        Err(TransitionError::NotStarted { .. }) => return Some("NOT_STARTED".into()),
        Err(TransitionError::Expired { .. }) => return Some("EXPIRED".into()),
        Err(TransitionError::NotAllowed { .. } | TransitionError::NotYetExpired { .. }) => {
            return Some("NOT_AVAILABLE".into());
        }
        Ok(_) => {}
    }
    let channel_ok =
        template.channels.is_empty() || template.channels.iter().any(|c| c == COUNTER_CHANNEL);
    (!channel_ok).then(|| "CHANNEL".into())
}

fn preview(coupon: &CouponRecord, template: &Template, now: DateTime<Utc>) -> VerificationPreview {
    let item = match &template.benefit {
        Benefit::Gift { item } | Benefit::Trial { item } => Some(item.clone()),
        _ => None,
    };
    let reason = refusal(coupon, template, now);
    VerificationPreview {
        code: coupon.code.clone(),
        template_id: coupon.template_id.clone(),
        template_name: template.name.clone(),
        description: template.description.clone(),
        benefit_kind: template.benefit.kind().to_owned(),
        item,
        state: coupon.state,
        valid_from: coupon.valid_from,
        valid_until: coupon.valid_until,
        usable: reason.is_none(),
        reason,
        store_id: coupon.store_id.clone(),
        staff_id: coupon.staff_id.clone(),
    }
}

impl App {
    /// `POST /v1/verifications` `{"code","store"}`: what the coupon is and
    /// whether it can be used here. Changes nothing.
    pub async fn preview_verification(
        &self,
        scope: &VerifierScope,
        typed_code: &str,
        store_id: &str,
    ) -> AppResult<VerificationPreview> {
        let code = canonical_code(typed_code)?;
        check_verifier_id("store", store_id)?;
        let now = self.now();
        let coupon = self.coupon(&code).await?;
        let mut connection = self
            .store
            .reader()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let record = read_template(&mut connection, &coupon.template_id).await?;
        let template = record.template.get();
        if !scope.admits(&record.id, template) {
            // Out of scope looks exactly like unknown, so a merchant or a
            // partner cannot probe which codes exist.
            return Err(AppError::CouponNotFound(code));
        }
        Ok(preview(&coupon, template, now))
    }

    /// `POST /v1/verifications/{code}/confirm`: `available → redeemed`
    /// (event `verify`), recording the store and the staff member.
    pub async fn confirm_verification(
        &self,
        actor: &Actor,
        scope: &VerifierScope,
        typed_code: &str,
        store_id: &str,
        staff_id: &str,
    ) -> AppResult<VerificationPreview> {
        let code = canonical_code(typed_code)?;
        check_verifier_id("store", store_id)?;
        check_verifier_id("staff", staff_id)?;
        let (now, actor, scope) = (self.now(), actor.clone(), scope.clone());
        let (store_id, staff_id) = (store_id.to_owned(), staff_id.to_owned());
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let mut coupon = coupons::lock(connection, &code).await?;
                    let record = read_template(connection, &coupon.template_id).await?;
                    let template = record.template.get();
                    if !scope.admits(&record.id, template) {
                        return Err(AppError::CouponNotFound(code));
                    }
                    if refusal(&coupon, template, now).as_deref() == Some("CHANNEL") {
                        return Err(AppError::Conflict(format!(
                            "coupon {code} cannot be spent at a counter: its channels are {:?}",
                            template.channels
                        )));
                    }
                    coupon.store_id = Some(store_id.clone());
                    coupon.staff_id = Some(staff_id);
                    let reason = format!("verified at store {store_id}");
                    let change = Change {
                        event: CouponEvent::Verify,
                        reason: &reason,
                        order_id: None,
                        actor: &actor,
                        now,
                    };
                    coupons::apply(connection, &mut coupon, &change).await?;
                    let mut redeemed = Event::coupon(events::COUPON_REDEEMED, &coupon, now);
                    redeemed.data["store_id"] = serde_json::json!(store_id);
                    outbox::append(connection, &[redeemed]).await?;
                    Ok(preview(&coupon, template, now))
                })
            })
            .await
    }
}
