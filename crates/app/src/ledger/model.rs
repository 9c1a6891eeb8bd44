//! The ledger's arithmetic, pure: which entries each event posts.
//!
//! A posting is built only from moves (`from` credited, `to` debited by the
//! same amount), so it balances by construction; the reconciliation check
//! re-derives what each coupon's entries should be with these same
//! builders, from the coupon's state alone.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use couponflow_core::money::apply_bp_half_up;
use couponflow_core::quote::CouponCost;
use couponflow_core::template::{Issuer, Template};

/// The issuer name of the platform's entries; a shop's entries carry its id.
pub const PLATFORM: &str = "platform";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    /// The issuer's marketing budget: credited when money is reserved.
    Budget,
    /// Reserved for the template.
    Escrow,
    /// Spent on redemptions.
    Expense,
    /// Reserved once, given back to the budget.
    Released,
}

impl Account {
    pub const ALL: [Account; 4] = [
        Account::Budget,
        Account::Escrow,
        Account::Expense,
        Account::Released,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Account::Budget => "budget",
            Account::Escrow => "escrow",
            Account::Expense => "expense",
            Account::Released => "released",
        }
    }

    pub fn parse(text: &str) -> Option<Account> {
        Account::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostingKind {
    /// Approval (or a refund's new cash coupon) reserves budget into escrow.
    Reserve,
    /// A redemption spends the discount and releases what its coupon held beyond it.
    Expense,
    /// Expiry or void gives back what the coupon held.
    Release,
    /// A refund that returns the coupon reverses its redemption (re-reserve).
    Return,
    /// Ending the template releases what no live coupon holds.
    End,
}

impl PostingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingKind::Reserve => "reserve",
            PostingKind::Expense => "expense",
            PostingKind::Release => "release",
            PostingKind::Return => "return",
            PostingKind::End => "end",
        }
    }
}

/// What the ledger needs to know of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub template_id: String,
    pub issuer: Issuer,
    /// What approval reserves: `limits.budget`, else `face value × total`
    /// when both are known (and fit); `None` reserves nothing, and such a
    /// template's redemptions are drawn straight from the budget.
    pub reservation: Option<i64>,
}

impl Terms {
    pub fn of(template_id: &str, template: &Template) -> Terms {
        let reservation = template.limits.budget.or_else(|| {
            let total = i64::try_from(template.limits.total?).ok()?;
            let face = template.benefit.face_value()?;
            face.checked_mul(total)
                .filter(|amount| *amount <= couponflow_core::money::AMOUNT_MINOR_MAX)
        });
        Terms {
            template_id: template_id.to_owned(),
            issuer: template.issuer.clone(),
            reservation,
        }
    }

    /// Whether coupons of the template hold their face value in escrow.
    pub fn reserves(&self) -> bool {
        self.reservation.is_some()
    }

    pub fn template_shop(&self) -> Option<&str> {
        self.issuer.shop()
    }

    /// Who bears `amount`: the same split as the quote's costs (§4.8): the
    /// platform's share of a shared template rounded half-up, the shop the rest.
    pub fn split(&self, amount: i64) -> Vec<(String, i64)> {
        let (platform, shop) = match &self.issuer {
            Issuer::Platform => (amount, None),
            Issuer::Shop { shop } => (0, Some(shop)),
            Issuer::Shared { shop, platform_bp } => (
                apply_bp_half_up(amount, i64::from(*platform_bp)),
                Some(shop),
            ),
        };
        let mut shares = vec![(PLATFORM.to_owned(), platform)];
        if let Some(shop) = shop {
            shares.push((shop.clone(), amount - platform));
        }
        shares
    }

    /// Where a redemption draws from: escrow when the template reserves,
    /// else the budget directly.
    fn source(&self) -> Account {
        if self.reserves() {
            Account::Escrow
        } else {
            Account::Budget
        }
    }
}

/// One entry as it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub issuer: String,
    pub account: Account,
    /// Debit positive, credit negative.
    pub amount: i64,
}

/// A balanced set of entries of one template.
#[derive(Debug, Clone)]
pub struct Posting {
    pub id: String,
    pub kind: PostingKind,
    pub template_id: String,
    pub template_shop: Option<String>,
    pub code: Option<String>,
    pub at: DateTime<Utc>,
    pub entries: Vec<Entry>,
}

impl Posting {
    pub fn new(
        id: String,
        kind: PostingKind,
        terms: &Terms,
        code: Option<&str>,
        at: DateTime<Utc>,
    ) -> Posting {
        Posting {
            id,
            kind,
            template_id: terms.template_id.clone(),
            template_shop: terms.template_shop().map(str::to_owned),
            code: code.map(str::to_owned),
            at,
            entries: Vec::new(),
        }
    }

    /// Moves `amount` of `issuer` from `from` (credit) to `to` (debit);
    /// nothing for 0, the other way for a negative amount.
    pub fn move_amount(&mut self, issuer: &str, from: Account, to: Account, amount: i64) {
        let (from, to, amount) = if amount < 0 {
            (to, from, -amount)
        } else {
            (from, to, amount)
        };
        if amount == 0 || from == to {
            return;
        }
        self.entries.push(Entry {
            issuer: issuer.to_owned(),
            account: to,
            amount,
        });
        self.entries.push(Entry {
            issuer: issuer.to_owned(),
            account: from,
            amount: -amount,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn balances(&self) -> bool {
        self.entries
            .iter()
            .map(|e| i128::from(e.amount))
            .sum::<i128>()
            == 0
    }
}

/// Net amounts per (issuer, account): what a coupon's or template's entries add up to.
pub type Nets = BTreeMap<(String, Account), i64>;

pub fn add_nets(nets: &mut Nets, posting: &Posting) {
    for entry in &posting.entries {
        let slot = nets
            .entry((entry.issuer.clone(), entry.account))
            .or_insert(0);
        *slot = slot.saturating_add(entry.amount);
    }
    nets.retain(|_, amount| *amount != 0);
}

/// Approval's reservation of `amount` (or a change of it).
pub fn reserve(posting: &mut Posting, terms: &Terms, amount: i64) {
    for (issuer, share) in terms.split(amount) {
        posting.move_amount(&issuer, Account::Budget, Account::Escrow, share);
    }
}

/// A redemption: each side's share of the discount to expense; when the
/// template reserves, what the coupon held beyond it (`face_value`) is
/// released, so a redeemed coupon holds nothing.
pub fn redeem(posting: &mut Posting, terms: &Terms, face_value: i64, costs: &[(String, i64)]) {
    let source = terms.source();
    for (issuer, amount) in costs {
        posting.move_amount(issuer, source, Account::Expense, *amount);
    }
    if terms.reserves() {
        for (issuer, held) in terms.split(face_value) {
            let spent: i64 = costs
                .iter()
                .filter(|(i, _)| *i == issuer)
                .map(|(_, a)| *a)
                .sum();
            let rest = held.saturating_sub(spent).max(0);
            posting.move_amount(&issuer, Account::Escrow, Account::Released, rest);
        }
    }
}

/// The split of an order's cost of one coupon, as the quote computed it.
pub fn order_costs(cost: &CouponCost) -> Vec<(String, i64)> {
    let mut costs = vec![(PLATFORM.to_owned(), cost.platform)];
    if let Some(shop) = &cost.shop_id {
        costs.push((shop.clone(), cost.shop));
    }
    costs
}

/// Expiry or void of a coupon that holds its face value.
pub fn release(posting: &mut Posting, terms: &Terms, face_value: i64) {
    if terms.reserves() {
        for (issuer, share) in terms.split(face_value) {
            posting.move_amount(&issuer, Account::Escrow, Account::Released, share);
        }
    }
}

/// A return on refund: the coupon's own entries (`nets`) reversed, so its
/// expense goes back to where it came from and it holds its face again.
pub fn reverse(posting: &mut Posting, terms: &Terms, nets: &Nets) {
    let source = terms.source();
    for ((issuer, account), amount) in nets {
        match account {
            Account::Expense => posting.move_amount(issuer, source, Account::Expense, -*amount),
            Account::Released => {
                posting.move_amount(issuer, Account::Escrow, Account::Released, -*amount)
            }
            Account::Budget | Account::Escrow => {}
        }
    }
}

/// Ending: each issuer's escrow beyond what its live coupons hold is released.
pub fn end(posting: &mut Posting, escrow: &BTreeMap<String, i64>, held: &BTreeMap<String, i64>) {
    for (issuer, amount) in escrow {
        let rest = amount.saturating_sub(held.get(issuer).copied().unwrap_or(0));
        if rest > 0 {
            posting.move_amount(issuer, Account::Escrow, Account::Released, rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(bp: u16) -> Terms {
        Terms {
            template_id: "t".into(),
            issuer: Issuer::Shared {
                shop: "s-1".into(),
                platform_bp: bp,
            },
            reservation: Some(10_000),
        }
    }

    fn posting(terms: &Terms) -> Posting {
        Posting::new(
            "p".into(),
            PostingKind::Expense,
            terms,
            Some("c"),
            DateTime::<Utc>::UNIX_EPOCH,
        )
    }

    #[test]
    fn a_shared_redemption_spends_each_side_and_releases_the_rest() {
        let terms = shared(6000);
        let mut p = posting(&terms);
        redeem(
            &mut p,
            &terms,
            1000,
            &[("platform".into(), 480), ("s-1".into(), 320)],
        );
        assert!(p.balances());
        let mut nets = Nets::new();
        add_nets(&mut nets, &p);
        assert_eq!(nets[&("platform".into(), Account::Expense)], 480);
        assert_eq!(nets[&("s-1".into(), Account::Expense)], 320);
        // Held: platform 600, shop 400.
        assert_eq!(nets[&("platform".into(), Account::Released)], 120);
        assert_eq!(nets[&("s-1".into(), Account::Released)], 80);
        assert_eq!(nets[&("platform".into(), Account::Escrow)], -600);
        assert_eq!(nets[&("s-1".into(), Account::Escrow)], -400);
    }

    #[test]
    fn a_return_reverses_the_redemption_exactly() {
        let terms = shared(6000);
        let mut p = posting(&terms);
        redeem(
            &mut p,
            &terms,
            1000,
            &[("platform".into(), 480), ("s-1".into(), 320)],
        );
        let mut nets = Nets::new();
        add_nets(&mut nets, &p);
        let mut back = posting(&terms);
        reverse(&mut back, &terms, &nets);
        assert!(back.balances());
        add_nets(&mut nets, &back);
        assert!(nets.is_empty(), "{nets:?}");
    }

    #[test]
    fn a_template_without_reservation_draws_from_the_budget() {
        let terms = Terms {
            reservation: None,
            ..shared(5000)
        };
        let mut p = posting(&terms);
        redeem(
            &mut p,
            &terms,
            0,
            &[("platform".into(), 3), ("s-1".into(), 2)],
        );
        let mut nets = Nets::new();
        add_nets(&mut nets, &p);
        assert_eq!(nets[&("platform".into(), Account::Budget)], -3);
        assert_eq!(nets[&("s-1".into(), Account::Budget)], -2);
        assert!(
            !nets
                .keys()
                .any(|(_, a)| *a == Account::Escrow || *a == Account::Released)
        );
    }

    #[test]
    fn shared_split_matches_the_quote_rounding() {
        assert_eq!(
            shared(6000).split(5),
            vec![("platform".to_owned(), 3), ("s-1".to_owned(), 2)]
        );
    }
}
