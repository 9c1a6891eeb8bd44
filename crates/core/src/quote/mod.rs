//! Checkout (SPEC §7): what every coupon in the wallet would do to a cart,
//! the best set (or the user's own choice), and the split of every discount
//! over the lines.
//!
//! A quote flows: check the cart → resolve each coupon against it
//! ([`evaluate::Priced`]) → judge each alone (reasons of §7.2) → choose the
//! set ([`search`] for `best`, or check the user's list) → apply the set in
//! priority order with the apportionment of §7.4 → assemble §7.5.

mod evaluate;
mod input;
mod output;
mod search;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::coupon::CouponState;
use crate::money::apply_bp_half_up;
use crate::template::{Benefit, Issuer, Problems, ValidTemplate};

use evaluate::{CartState, Priced, Refusal, Value};
pub use input::{
    CART_LINES_MAX, Cart, CartLine, InlineCoupon, LINE_QUANTITY_MAX, QuoteDocument, QuoteUser,
    Select, WALLET_COUPONS_MAX,
};
pub use output::{Cashback, CouponCost, CouponResult, Quote, QuoteLine, Reason, ReasonCode, Share};
pub use search::SEARCH_EVALUATIONS_MAX;

/// A coupon of the user's wallet, as the engine sees it.
#[derive(Debug, Clone)]
pub struct WalletCoupon {
    pub id: String,
    pub template: Arc<ValidTemplate>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub state: CouponState,
    /// The order holding it, when `locked`.
    pub locked_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("{field}: {reason}")]
    BadInput { field: String, reason: String },
    #[error("select: coupon {coupon} is not in the wallet")]
    UnknownCoupon { coupon: String },
    #[error("select: coupon {coupon} cannot be used: {}{}", reason.code.as_str(), missing_text(reason))]
    CannotSelect { coupon: String, reason: Reason },
}

fn missing_text(reason: &Reason) -> String {
    reason
        .missing
        .map(|missing| format!(" (missing {missing})"))
        .unwrap_or_default()
}

/// Turns the `quote` document's inline coupons into wallet coupons,
/// validating each template; every problem of every template is listed,
/// each naming `coupons[i].template.<field>`.
pub fn wallet_from_inline(coupons: Vec<InlineCoupon>) -> Result<Vec<WalletCoupon>, Problems> {
    let mut wallet = Vec::with_capacity(coupons.len());
    let mut problems: Option<Problems> = None;
    for (index, coupon) in coupons.into_iter().enumerate() {
        match ValidTemplate::new(coupon.template) {
            Ok(template) => wallet.push(WalletCoupon {
                id: coupon.id,
                template: Arc::new(template),
                valid_from: coupon.valid_from,
                valid_until: coupon.valid_until,
                state: coupon.state,
                locked_by: coupon.locked_by,
            }),
            Err(found) => {
                let found = found.within(&format!("coupons[{index}].template"));
                problems = Some(match problems {
                    None => found,
                    Some(earlier) => earlier.merge(found),
                });
            }
        }
    }
    match problems {
        None => Ok(wallet),
        Some(problems) => Err(problems),
    }
}

/// Prices `cart` against `wallet` at `now` (§7.1 → §7.5).
pub fn quote(
    cart: &Cart,
    wallet: &[WalletCoupon],
    now: DateTime<Utc>,
) -> Result<Quote, QuoteError> {
    cart.check()?;
    check_wallet(wallet)?;
    let group_names: Vec<String> = wallet.iter().map(|c| c.template.stacking_group()).collect();
    let groups: Vec<&str> = group_names
        .iter()
        .map(String::as_str)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let initial = CartState::initial(&cart.lines, cart.shipping_fee);
    let entries: Vec<Entry<'_>> = wallet
        .iter()
        .zip(&group_names)
        .map(|(coupon, group)| {
            let group = groups.binary_search(&group.as_str()).unwrap_or(0);
            Entry::new(coupon, cart, &initial, group, now)
        })
        .collect();

    let (chosen, truncated) = match &cart.select {
        Select::Best => best(cart, &entries, &initial, groups.len()),
        Select::Coupons(ids) => (chosen_by_user(cart, &entries, &initial, ids)?, false),
    };
    let mut quote = assemble(cart, &entries, &initial, &chosen);
    quote.search_truncated = truncated;
    Ok(quote)
}

fn check_wallet(wallet: &[WalletCoupon]) -> Result<(), QuoteError> {
    if wallet.len() > WALLET_COUPONS_MAX {
        return Err(QuoteError::BadInput {
            field: "coupons".into(),
            reason: format!("too many coupons (at most {WALLET_COUPONS_MAX})"),
        });
    }
    let mut ids = HashSet::new();
    for (index, coupon) in wallet.iter().enumerate() {
        if coupon.id.is_empty() || !ids.insert(coupon.id.as_str()) {
            return Err(QuoteError::BadInput {
                field: format!("coupons[{index}].id"),
                reason: "must be present and unique".into(),
            });
        }
    }
    Ok(())
}

/// One wallet coupon resolved against this cart.
struct Entry<'w> {
    coupon: &'w WalletCoupon,
    priced: Priced<'w>,
    group: usize,
    priority: i32,
    stackable: bool,
    /// Its value alone on the full cart, or why it does not apply.
    alone: Result<Value, Vec<Reason>>,
}

impl<'w> Entry<'w> {
    fn new(
        coupon: &'w WalletCoupon,
        cart: &Cart,
        initial: &CartState,
        group: usize,
        now: DateTime<Utc>,
    ) -> Self {
        let template = coupon.template.as_ref();
        let stacking = template.get().stacking.as_ref();
        let priced = Priced::new(template, &cart.lines);
        let gates = gate_reasons(coupon, cart, &priced, now);
        let alone = if gates.is_empty() {
            priced
                .evaluate(&cart.lines, initial, None)
                .map_err(refusal_reasons)
        } else {
            Err(gates)
        };
        Entry {
            coupon,
            priced,
            group,
            priority: stacking.map_or(100, |s| s.priority),
            stackable: stacking.is_some_and(|s| s.stackable),
            alone,
        }
    }

    /// Application order (§4.7): priority, then group name, then id.
    fn order_key(&self) -> (i32, usize, &str) {
        (self.priority, self.group, self.coupon.id.as_str())
    }
}

/// The checks of §7.2 that come before the benefit's condition, in order;
/// every one that fails is listed.
fn gate_reasons(
    coupon: &WalletCoupon,
    cart: &Cart,
    priced: &Priced<'_>,
    now: DateTime<Utc>,
) -> Vec<Reason> {
    let template = coupon.template.get();
    if !template.benefit.is_for_checkout() {
        return vec![Reason::new(ReasonCode::NotForCheckout)];
    }
    let mut reasons = Vec::new();
    let held_by_this_order = coupon.state == CouponState::Locked
        && coupon.locked_by.is_some()
        && coupon.locked_by == cart.order_id;
    if coupon.state != CouponState::Available && !held_by_this_order {
        reasons.push(Reason::new(ReasonCode::NotAvailable));
    }
    if now < coupon.valid_from {
        reasons.push(Reason::new(ReasonCode::NotStarted));
    }
    if now > coupon.valid_until {
        reasons.push(Reason::new(ReasonCode::Expired));
    }
    let channel_ok = template.channels.is_empty()
        || cart
            .user
            .channel
            .as_ref()
            .is_some_and(|channel| template.channels.contains(channel));
    if !channel_ok {
        reasons.push(Reason::new(ReasonCode::Channel));
    }
    if priced.out_of_scope() {
        reasons.push(Reason::new(ReasonCode::OutOfScope));
    }
    reasons
}

fn refusal_reasons(refusal: Refusal) -> Vec<Reason> {
    match refusal {
        Refusal::BelowThreshold { missing } => {
            vec![Reason::missing(ReasonCode::BelowThreshold, missing)]
        }
        Refusal::BelowQuantity { missing } => {
            vec![Reason::missing(ReasonCode::BelowQuantity, missing)]
        }
        Refusal::BelowBoth {
            missing_units,
            missing_amount,
        } => vec![
            Reason::missing(ReasonCode::BelowQuantity, missing_units),
            Reason::missing(ReasonCode::BelowThreshold, missing_amount),
        ],
        Refusal::MinPayable { missing } => vec![Reason::missing(ReasonCode::MinPayable, missing)],
        Refusal::NoBenefit => vec![Reason::new(ReasonCode::NoBenefit)],
    }
}

/// `select: "best"`: the entries of the best set, in application order.
fn best(
    cart: &Cart,
    entries: &[Entry<'_>],
    initial: &CartState,
    group_count: usize,
) -> (Vec<usize>, bool) {
    // Coupons of one template in one group are interchangeable but for
    // validity and id: keep the one the tie-breaks prefer (expires first,
    // then smallest id), so the search never branches on copies.
    // Copies share one template (`Arc`), so the pointer identifies it.
    let mut kept: HashMap<(usize, i32, *const ValidTemplate), usize> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        if entry.alone.is_err() {
            continue;
        }
        let key = (
            entry.group,
            entry.priority,
            Arc::as_ptr(&entry.coupon.template),
        );
        kept.entry(key)
            .and_modify(|current| {
                let held = entries[*current].coupon;
                if (entry.coupon.valid_until, &entry.coupon.id) < (held.valid_until, &held.id) {
                    *current = index;
                }
            })
            .or_insert(index);
    }
    let mut order: Vec<usize> = kept.into_values().collect();
    order.sort_by(|a, b| entries[*a].order_key().cmp(&entries[*b].order_key()));
    let candidates: Vec<search::Candidate<'_>> = order
        .iter()
        .map(|&index| {
            let entry = &entries[index];
            search::Candidate {
                entry: index,
                priced: &entry.priced,
                group: entry.group,
                stackable: entry.stackable,
                alone: entry.alone.as_ref().map(Value::total).unwrap_or(0),
                valid_until: entry.coupon.valid_until,
                specificity: entry.coupon.template.specificity(),
                id: entry.coupon.id.as_str(),
            }
        })
        .collect();
    let found = search::best_set(&cart.lines, initial, &candidates, group_count);
    let members = found.members.iter().map(|&i| candidates[i].entry).collect();
    (members, found.truncated)
}

/// An explicit selection: allowed by stacking and each coupon applicable in
/// its turn, or an error naming the first coupon that cannot join.
fn chosen_by_user(
    cart: &Cart,
    entries: &[Entry<'_>],
    initial: &CartState,
    ids: &[String],
) -> Result<Vec<usize>, QuoteError> {
    let mut chosen = Vec::with_capacity(ids.len());
    for (position, id) in ids.iter().enumerate() {
        let index = entries
            .iter()
            .position(|e| &e.coupon.id == id)
            .ok_or_else(|| QuoteError::UnknownCoupon { coupon: id.clone() })?;
        if chosen.contains(&index) {
            return Err(QuoteError::BadInput {
                field: format!("select[{position}]"),
                reason: format!("coupon {id} is selected twice"),
            });
        }
        if let Err(reasons) = &entries[index].alone {
            return Err(cannot(id, reasons[0]));
        }
        chosen.push(index);
    }
    chosen.sort_by(|a, b| entries[*a].order_key().cmp(&entries[*b].order_key()));
    if chosen.len() > 1 {
        let mut groups_seen = HashSet::new();
        for &index in &chosen {
            let entry = &entries[index];
            if !entry.stackable || !groups_seen.insert(entry.group) {
                return Err(cannot(&entry.coupon.id, Reason::new(ReasonCode::Stacking)));
            }
        }
    }
    let mut state = initial.clone();
    let mut shares = Vec::new();
    for &index in &chosen {
        let entry = &entries[index];
        let value = entry
            .priced
            .evaluate(&cart.lines, &state, Some(&mut shares))
            .map_err(|refusal| cannot(&entry.coupon.id, refusal_reasons(refusal)[0]))?;
        state.take(&value, &shares);
    }
    Ok(chosen)
}

fn cannot(id: &str, reason: Reason) -> QuoteError {
    QuoteError::CannotSelect {
        coupon: id.to_owned(),
        reason,
    }
}

/// Applies the chosen entries in order and writes the answer of §7.5.
fn assemble(cart: &Cart, entries: &[Entry<'_>], initial: &CartState, chosen: &[usize]) -> Quote {
    let mut state = initial.clone();
    let mut line_shares: Vec<Vec<Share>> = vec![Vec::new(); cart.lines.len()];
    let mut costs = Vec::new();
    let mut cashback = Vec::new();
    let mut shipping_discount = 0;
    let mut shares = Vec::new();
    for &index in chosen {
        let entry = &entries[index];
        let id = &entry.coupon.id;
        // The selection was proven applicable in this order.
        let Ok(value) = entry
            .priced
            .evaluate(&cart.lines, &state, Some(&mut shares))
        else {
            debug_assert!(false, "a chosen coupon no longer applies");
            continue;
        };
        state.take(&value, &shares);
        for (line, amount) in &shares {
            line_shares[*line].push(Share {
                coupon: id.clone(),
                amount: *amount,
            });
        }
        shipping_discount += value.shipping;
        if let Benefit::Cashback { to, .. } = entry.coupon.template.benefit() {
            cashback.push(Cashback {
                coupon: id.clone(),
                amount: value.cashback,
                to: *to,
            });
        }
        costs.push(cost_split(
            id,
            &entry.coupon.template.get().issuer,
            value.total(),
        ));
    }

    let lines: Vec<QuoteLine> = cart
        .lines
        .iter()
        .zip(line_shares)
        .zip(&state.remaining)
        .map(|((line, shares), remaining)| QuoteLine {
            line_id: line.line_id.clone(),
            amount: line.amount(),
            promo_discount: line.promo_discount,
            shares,
            payable: *remaining,
        })
        .collect();
    let subtotal: i64 = lines.iter().map(|l| l.amount).sum();
    let promo_discount: i64 = lines.iter().map(|l| l.promo_discount).sum();
    let coupon_discount: i64 = lines.iter().flat_map(|l| &l.shares).map(|s| s.amount).sum();
    Quote {
        currency: cart.currency,
        subtotal,
        promo_discount,
        coupon_discount,
        shipping_fee: cart.shipping_fee,
        shipping_discount,
        payable: subtotal - promo_discount - coupon_discount + cart.shipping_fee
            - shipping_discount,
        selected: chosen
            .iter()
            .map(|&i| entries[i].coupon.id.clone())
            .collect(),
        lines,
        coupons: coupon_results(entries, chosen),
        costs,
        cashback,
        search_truncated: false,
    }
}

/// Who bears a benefit (§4.8): the platform's share of a shared coupon is
/// rounded half-up, the shop bears the rest.
fn cost_split(coupon: &str, issuer: &Issuer, benefit: i64) -> CouponCost {
    let (platform, shop_id) = match issuer {
        Issuer::Platform => (benefit, None),
        Issuer::Shop { shop } => (0, Some(shop.clone())),
        Issuer::Shared { shop, platform_bp } => (
            apply_bp_half_up(benefit, i64::from(*platform_bp)),
            Some(shop.clone()),
        ),
    };
    CouponCost {
        coupon: coupon.to_owned(),
        platform,
        shop: benefit - platform,
        shop_id,
    }
}

/// Every wallet coupon: usable ones first (larger value alone first, then
/// sooner expiry, then id), the rest after (sooner expiry, then id). A usable
/// coupon that cannot join the selection says `STACKING`.
fn coupon_results(entries: &[Entry<'_>], chosen: &[usize]) -> Vec<CouponResult> {
    let selection_alone = chosen.iter().any(|&i| !entries[i].stackable);
    let groups_taken: HashSet<usize> = chosen.iter().map(|&i| entries[i].group).collect();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| {
        let entry = &entries[i];
        let value = entry.alone.as_ref().map(Value::total).ok();
        (
            value.is_none(),
            std::cmp::Reverse(value.unwrap_or(0)),
            entry.coupon.valid_until,
            entry.coupon.id.as_str(),
        )
    });
    order
        .into_iter()
        .map(|index| {
            let entry = &entries[index];
            let (applicable, discount, reasons) = match &entry.alone {
                Ok(value) => {
                    let joins = chosen.is_empty()
                        || chosen.contains(&index)
                        || (entry.stackable
                            && !selection_alone
                            && !groups_taken.contains(&entry.group));
                    let reasons = if joins {
                        Vec::new()
                    } else {
                        vec![Reason::new(ReasonCode::Stacking)]
                    };
                    (true, value.line + value.shipping, reasons)
                }
                Err(reasons) => (false, 0, reasons.clone()),
            };
            CouponResult {
                id: entry.coupon.id.clone(),
                applicable,
                discount,
                reasons,
            }
        })
        .collect()
}
