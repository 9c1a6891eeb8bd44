//! A batch of order calls decided in memory, one call after the other in
//! arrival order, against what the batch read ([`Snapshot`]) and what the
//! calls before it in the batch changed — so the outcome is the one the
//! calls would have had one unit each, in that order.
//!
//! Each call is decided whole before anything of it is kept: a refused call
//! (a coupon another order holds, an unknown coupon, an order in the wrong
//! state, a conflict) is an answer of its own and changes nothing, so it
//! cannot affect the others. Nothing here touches the database; the batch
//! writes the [`Outcome`] afterwards.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use couponflow_core::coupon::{CouponEvent, CouponState, transition};
use couponflow_core::quote::{Cart, QuoteError, Select, WALLET_COUPONS_MAX, WalletCoupon, quote};
use couponflow_core::refund::{CouponOutcome, coupon_outcome_on_cancel};
use couponflow_store::StoreError;

use super::coupon_rows::HistoryRow;
use super::idempotency::{Key, StoredAnswer};
use super::use_risk::UseRisk;
use super::view::{Body, OrderView, StoredOrderAnswer};
use super::{Order, OrderBody, OrderState};
use crate::checkout::TemplateCache;
use crate::coupons::{self, Change, CouponRecord};
use crate::{Actor, AppError, AppResult};
use couponflow_core::template::risk::Context;

/// What an order call asks for.
#[derive(Debug, Clone)]
pub(crate) enum Call {
    /// Lock (SPEC §8.1) with this cart.
    Lock(Box<Cart>),
    /// Redeem (SPEC §8.2).
    Redeem,
    /// Release (SPEC §8.3).
    Release,
}

/// One order call as queued to the batcher.
#[derive(Debug, Clone)]
pub(crate) struct OrderRequest {
    pub call: Call,
    pub order_id: String,
    pub key: Key,
    pub actor: Actor,
    /// When the call was made: its transitions and records are at this time.
    pub now: DateTime<Utc>,
    /// The deployment's time zone, whose days the caps on use count in.
    pub zone: chrono_tz::Tz,
}

/// What a batch read before deciding.
#[derive(Default)]
pub(super) struct Snapshot {
    /// The orders of the batch's ids that exist (or why a row is unusable).
    pub orders: HashMap<String, Result<OrderView, String>>,
    /// The codes each of those orders holds, in code order.
    pub order_codes: HashMap<String, Vec<String>>,
    /// Every coupon read: named by a call, held by an order, or in a wallet.
    pub coupons: HashMap<String, CouponRecord>,
    /// The codes of `coupons` by owner, for the wallets.
    pub by_user: HashMap<String, Vec<String>>,
    /// Answers stored by earlier calls, by (scope, key).
    pub answers: HashMap<(String, String), StoredAnswer>,
    /// The counters of the templates' rules on use.
    pub use_risk: UseRisk,
}

impl Snapshot {
    pub(super) fn add_coupons(&mut self, records: Vec<CouponRecord>) {
        for record in records {
            if self.coupons.contains_key(&record.code) {
                continue;
            }
            if let Some(user) = &record.user_id {
                let codes = self.by_user.entry(user.clone()).or_default();
                codes.push(record.code.clone());
            }
            self.coupons.insert(record.code.clone(), record);
        }
    }

    /// Replaces rows with their locked, current version; true when any of
    /// them differs from what the batch decided on.
    pub(super) fn refresh(&mut self, records: Vec<CouponRecord>) -> bool {
        let mut changed = false;
        for record in records {
            match self.coupons.get_mut(&record.code) {
                Some(known) => {
                    changed |= !same_row(known, &record);
                    *known = record;
                }
                None => {
                    changed = true;
                    self.add_coupons(vec![record]);
                }
            }
        }
        changed
    }
}

/// Whether two reads of a coupon agree on everything a decision uses.
fn same_row(a: &CouponRecord, b: &CouponRecord) -> bool {
    (
        a.state,
        &a.order_id,
        &a.user_id,
        &a.template_id,
        a.valid_from,
        a.valid_until,
        a.face_value,
    ) == (
        b.state,
        &b.order_id,
        &b.user_id,
        &b.template_id,
        b.valid_from,
        b.valid_until,
        b.face_value,
    )
}

/// How an order row is saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderWrite {
    Insert,
    UpdateState,
}

/// The batch's answers and what to write for them.
pub(super) struct Outcome {
    /// One per call, in the calls' order.
    pub answers: Vec<AppResult<OrderView>>,
    /// Every coupon changed, as it ends, by code.
    pub coupons: BTreeMap<String, CouponRecord>,
    pub history: Vec<HistoryRow>,
    /// Orders placed in the batch, in their final state.
    pub new_orders: Vec<OrderView>,
    /// Orders that existed and changed state.
    pub changed_orders: Vec<OrderView>,
    /// The calls whose (successful) answer is stored for replay.
    pub remembered: Vec<usize>,
    /// What the calls counted against the rules on use.
    pub use_risk: UseRisk,
}

/// Decides every call of the batch in order.
pub(super) fn decide_all<'a>(
    snapshot: &'a Snapshot,
    cache: &'a mut TemplateCache,
    requests: &'a [OrderRequest],
) -> Outcome {
    let mut decider = Decider {
        snapshot,
        cache,
        coupons: BTreeMap::new(),
        history: Vec::new(),
        orders: HashMap::new(),
        order_sequence: Vec::new(),
        new_codes: HashMap::new(),
        answered: HashMap::new(),
        risk: snapshot.use_risk.clone(),
    };
    let mut answers = Vec::with_capacity(requests.len());
    let mut remembered = Vec::new();
    for (index, request) in requests.iter().enumerate() {
        if let Some(replay) = decider.replay(request) {
            answers.push(replay);
            continue;
        }
        let answer = decider.decide(request);
        if let Ok(order) = &answer {
            let key = (request.key.scope, request.key.key.as_str());
            let first = (request.key.request_hash.as_str(), order.clone());
            decider.answered.insert(key, first);
            remembered.push(index);
        }
        answers.push(answer);
    }
    decider.finish(answers, remembered)
}

struct Decider<'a> {
    snapshot: &'a Snapshot,
    cache: &'a mut TemplateCache,
    /// Coupons changed so far in the batch, as they are now.
    coupons: BTreeMap<String, CouponRecord>,
    history: Vec<HistoryRow>,
    /// Orders placed or changed so far in the batch.
    orders: HashMap<&'a str, (OrderView, OrderWrite)>,
    order_sequence: Vec<&'a str>,
    /// The codes held by orders placed in the batch, in code order.
    new_codes: HashMap<&'a str, Vec<String>>,
    /// First answers of calls that succeeded in the batch, with their hash.
    answered: HashMap<(&'static str, &'a str), (&'a str, OrderView)>,
    /// The rules on use, as the calls so far left them.
    risk: UseRisk,
}

/// A coupon as the batch sees it now: changed in the batch, or as read.
fn current<'b>(
    snapshot: &'b Snapshot,
    changed: &'b BTreeMap<String, CouponRecord>,
    code: &str,
) -> Option<&'b CouponRecord> {
    changed.get(code).or_else(|| snapshot.coupons.get(code))
}

impl<'a> Decider<'a> {
    /// A call made for the first time (in the batch and before it).
    fn decide(&mut self, request: &'a OrderRequest) -> AppResult<OrderView> {
        match &request.call {
            Call::Lock(cart) => self.lock(request, cart),
            Call::Redeem => self.settle(request, Settle::Redeem),
            Call::Release => self.settle(request, Settle::Release),
        }
    }

    /// The first answer of a repeated call (from this batch or stored), or
    /// a conflict when the key came with other content.
    fn replay(&self, request: &OrderRequest) -> Option<AppResult<OrderView>> {
        let key = &request.key;
        if let Some((hash, order)) = self.answered.get(&(key.scope, key.key.as_str())) {
            if *hash != key.request_hash {
                return Some(Err(AppError::IdempotencyConflict { scope: key.scope }));
            }
            return Some(Ok(order.clone()));
        }
        let stored = (key.scope.to_owned(), key.key.clone());
        let stored = self.snapshot.answers.get(&stored)?;
        Some(self.stored_replay(request, stored))
    }

    fn stored_replay(&self, request: &OrderRequest, stored: &StoredAnswer) -> AppResult<OrderView> {
        let answer: StoredOrderAnswer = serde_json::from_str(stored.checked(&request.key)?)
            .map_err(|e| {
                AppError::Store(StoreError::Corrupt {
                    table: "idempotency",
                    reason: e.to_string(),
                })
            })?;
        answer.replay(self.order(&request.order_id).ok().as_ref())
    }

    fn order_exists(&self, order_id: &str) -> bool {
        self.orders.contains_key(order_id) || self.snapshot.orders.contains_key(order_id)
    }

    fn order(&self, order_id: &str) -> AppResult<OrderView> {
        if let Some((order, _)) = self.orders.get(order_id) {
            return Ok(order.clone());
        }
        match self.snapshot.orders.get(order_id) {
            Some(Ok(order)) => Ok(order.clone()),
            Some(Err(reason)) => Err(AppError::Store(StoreError::Corrupt {
                table: "orders",
                reason: reason.clone(),
            })),
            None => Err(AppError::OrderNotFound(order_id.to_owned())),
        }
    }

    fn coupon(&self, code: &str) -> Option<&CouponRecord> {
        current(self.snapshot, &self.coupons, code)
    }

    /// Lock (SPEC §8.1): as `lock_order` did in its own unit.
    fn lock(&mut self, request: &'a OrderRequest, cart: &Cart) -> AppResult<OrderView> {
        let order_id = request.order_id.as_str();
        if self.order_exists(order_id) {
            return Err(AppError::Conflict(format!(
                "order {order_id} already exists"
            )));
        }
        if let Select::Coupons(codes) = &cart.select {
            self.check_selected(&cart.user.id, codes, request.now)?;
        }
        let mut wallet = self.wallet(&cart.user.id, order_id)?;
        self.apply_use_rules(&mut wallet, cart, request)?;
        let quote = quote(cart, &wallet, request.now)?;
        let mut codes = quote.selected.clone();
        codes.sort();
        let mut changes = Vec::with_capacity(codes.len());
        let mut uses = Vec::new();
        for code in &codes {
            let coupon = self
                .coupon(code)
                .ok_or_else(|| AppError::CouponNotFound(code.clone()))?;
            uses.push(coupon.template_id.clone());
            changes.push(change(coupon, CouponEvent::Lock, "order placed", request)?);
        }
        for template_id in uses {
            let record = self.cache.cached(&template_id)?;
            self.risk
                .count_use(&record, &cart.context, request.now, request.zone, 1);
        }
        let order = OrderView::built(Order {
            order_id: order_id.to_owned(),
            user_id: cart.user.id.clone(),
            state: OrderState::Locked,
            cart: cart.clone(),
            quote,
            created_at: request.now,
            updated_at: request.now,
        });
        self.keep(changes);
        self.new_codes.insert(order_id, codes);
        self.save_order(order_id, order.clone(), OrderWrite::Insert);
        Ok(order)
    }

    /// The templates' rules on use: a coupon whose template refuses this
    /// checkout (a cap reached, a hold) is left out of the best choice; an
    /// explicit selection naming one is refused with `RISK_LIMIT`.
    fn apply_use_rules(
        &mut self,
        wallet: &mut Vec<WalletCoupon>,
        cart: &Cart,
        request: &OrderRequest,
    ) -> AppResult<()> {
        let mut refused: HashMap<String, String> = HashMap::new();
        for coupon in wallet.iter() {
            let Some(record) = self.coupon(&coupon.id).map(|c| c.template_id.clone()) else {
                continue;
            };
            if refused.contains_key(&record) {
                continue;
            }
            let template = self.cache.cached(&record)?;
            if let Some(why) =
                self.risk
                    .refusal(&template, &cart.context, request.now, request.zone)
            {
                refused.insert(record, why);
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        if let Select::Coupons(codes) = &cart.select {
            for code in codes {
                let template = self.coupon(code).map(|c| c.template_id.as_str());
                if let Some(why) = template.and_then(|id| refused.get(id)) {
                    return Err(UseRisk::refused(format!("coupon {code}: {why}")));
                }
            }
        }
        let snapshot = self.snapshot;
        let changed = &self.coupons;
        wallet.retain(|coupon| {
            current(snapshot, changed, &coupon.id)
                .is_none_or(|record| !refused.contains_key(&record.template_id))
        });
        Ok(())
    }

    /// An explicit selection: each coupon must be the user's and lockable
    /// now, so one held by another order (or expired, even before the
    /// expiry job ran) is refused with the coupon's state error.
    fn check_selected(&self, user_id: &str, codes: &[String], now: DateTime<Utc>) -> AppResult<()> {
        let mut sorted: Vec<&String> = codes.iter().collect();
        sorted.sort();
        sorted.dedup();
        for code in sorted {
            let unknown = || {
                AppError::Quote(QuoteError::UnknownCoupon {
                    coupon: code.clone(),
                })
            };
            let coupon = self.coupon(code).ok_or_else(unknown)?;
            if coupon.user_id.as_deref() != Some(user_id) {
                return Err(unknown());
            }
            transition(coupon.state, CouponEvent::Lock, &coupon.times(), now)?;
        }
        Ok(())
    }

    /// The wallet `checkout::load_wallet` reads, as the batch sees it now:
    /// available coupons and those locked by this order, soonest-expiring
    /// first, at most [`WALLET_COUPONS_MAX`].
    fn wallet(&mut self, user_id: &str, order_id: &str) -> AppResult<Vec<WalletCoupon>> {
        let Some(codes) = self.snapshot.by_user.get(user_id) else {
            return Ok(Vec::new());
        };
        let mut usable: Vec<&CouponRecord> = codes
            .iter()
            .filter_map(|code| current(self.snapshot, &self.coupons, code))
            .filter(|coupon| match coupon.state {
                CouponState::Available => true,
                CouponState::Locked => coupon.order_id.as_deref() == Some(order_id),
                CouponState::Unbound
                | CouponState::Redeemed
                | CouponState::Expired
                | CouponState::Voided
                | CouponState::Deleted => false,
            })
            .collect();
        usable.sort_by(|a, b| (a.valid_until, &a.code).cmp(&(b.valid_until, &b.code)));
        usable.truncate(WALLET_COUPONS_MAX);
        let mut wallet = Vec::with_capacity(usable.len());
        for coupon in usable {
            if let Some(priced) = self.cache.cached_wallet_coupon(coupon)? {
                wallet.push(priced);
            }
        }
        Ok(wallet)
    }

    /// Redeem or release: as `redeem_order` and `release_order` did in
    /// their own units.
    fn settle(&mut self, request: &'a OrderRequest, settle: Settle) -> AppResult<OrderView> {
        let order_id = request.order_id.as_str();
        let mut order = self.order(order_id)?;
        if order.state != OrderState::Locked {
            return Err(AppError::OrderState {
                order_id: order.order_id,
                state: order.state.as_str(),
                action: settle.action(),
            });
        }
        let codes = match self.new_codes.get(order_id) {
            Some(codes) => codes.clone(),
            None => self
                .snapshot
                .order_codes
                .get(order_id)
                .cloned()
                .unwrap_or_default(),
        };
        let mut changes = Vec::with_capacity(codes.len());
        for code in &codes {
            let coupon = self
                .coupon(code)
                .ok_or_else(|| AppError::CouponNotFound(code.clone()))?;
            let record = self.cache.cached(&coupon.template_id)?;
            let (event, reason) = match settle {
                Settle::Redeem => (CouponEvent::Pay, "order paid"),
                Settle::Release => on_cancel(coupon_outcome_on_cancel(&record.template)),
            };
            changes.push(change(coupon, event, reason, request)?);
            if !record.template.get().risk.counts_uses() {
                continue;
            }
            match (settle, event) {
                (Settle::Redeem, _) => self.risk.redeemed(&record, request.now),
                // The coupon comes back: so does its use.
                (Settle::Release, CouponEvent::Release) => {
                    let context = order_context(&order);
                    self.risk
                        .count_use(&record, &context, order.created_at, request.zone, -1);
                }
                (Settle::Release, _) => {}
            }
        }
        order.state = settle.state();
        order.updated_at = request.now;
        self.keep(changes);
        let write = match self.orders.get(order_id) {
            Some((_, OrderWrite::Insert)) => OrderWrite::Insert,
            Some((_, OrderWrite::UpdateState)) | None => OrderWrite::UpdateState,
        };
        self.save_order(order_id, order.clone(), write);
        Ok(order)
    }

    fn keep(&mut self, changes: Vec<(CouponRecord, HistoryRow)>) {
        for (coupon, row) in changes {
            self.coupons.insert(coupon.code.clone(), coupon);
            self.history.push(row);
        }
    }

    fn save_order(&mut self, order_id: &'a str, order: OrderView, write: OrderWrite) {
        if self.orders.insert(order_id, (order, write)).is_none() {
            self.order_sequence.push(order_id);
        }
    }

    fn finish(mut self, answers: Vec<AppResult<OrderView>>, remembered: Vec<usize>) -> Outcome {
        let mut new_orders = Vec::new();
        let mut changed_orders = Vec::new();
        let mut seen = HashSet::new();
        for order_id in &self.order_sequence {
            if !seen.insert(*order_id) {
                continue;
            }
            if let Some((order, write)) = self.orders.remove(order_id) {
                match write {
                    OrderWrite::Insert => new_orders.push(order),
                    OrderWrite::UpdateState => changed_orders.push(order),
                }
            }
        }
        Outcome {
            answers,
            coupons: self.coupons,
            history: self.history,
            new_orders,
            changed_orders,
            remembered,
            use_risk: self.risk,
        }
    }
}

/// The checkout context an order was locked with.
fn order_context(order: &OrderView) -> Context {
    match &order.body {
        Body::Built(body) => body.cart.context.clone(),
        Body::Stored(text) => serde_json::from_str::<OrderBody>(text)
            .map(|body| body.cart.context)
            .unwrap_or_default(),
    }
}

/// Redeem or release.
#[derive(Debug, Clone, Copy)]
enum Settle {
    Redeem,
    Release,
}

impl Settle {
    fn action(self) -> &'static str {
        match self {
            Settle::Redeem => "redeem",
            Settle::Release => "release",
        }
    }

    fn state(self) -> OrderState {
        match self {
            Settle::Redeem => OrderState::Paid,
            Settle::Release => OrderState::Released,
        }
    }
}

/// A released order's coupon follows its template's `on_cancel`: `return`
/// gives it back (`available`, or `expired` past its validity); `keep`
/// leaves it spent, as if the order had been paid.
fn on_cancel(outcome: CouponOutcome) -> (CouponEvent, &'static str) {
    match outcome {
        CouponOutcome::Return => (CouponEvent::Release, "order cancelled"),
        CouponOutcome::Keep | CouponOutcome::NewCash { .. } | CouponOutcome::Nothing => (
            CouponEvent::Pay,
            "order cancelled; the return policy keeps the coupon spent",
        ),
    }
}

/// One coupon's change for an order call, with its history row; refused
/// transitions are the call's answer.
fn change(
    coupon: &CouponRecord,
    event: CouponEvent,
    reason: &'static str,
    request: &OrderRequest,
) -> AppResult<(CouponRecord, HistoryRow)> {
    let change = Change {
        event,
        reason,
        order_id: Some(&request.order_id),
        actor: &request.actor,
        now: request.now,
    };
    let after = coupons::transitioned(coupon, &change)?;
    let row = HistoryRow {
        code: coupon.code.clone(),
        from: coupon.state,
        to: after.state,
        at: request.now,
        reason,
        order_id: Some(request.order_id.clone()),
        actor: request.actor.as_str().to_owned(),
    };
    Ok((after, row))
}
