//! The quote input of SPEC §7.1: the user, the cart and the selection, with
//! the checks that make every later sum safe.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::coupon::CouponState;
use crate::money::{AMOUNT_MINOR_MAX, Currency};
use crate::template::Template;
use crate::template::risk::Context;

use super::QuoteError;

/// Lines in one cart, at most.
pub const CART_LINES_MAX: usize = 500;
/// Units on one line, at most.
pub const LINE_QUANTITY_MAX: u32 = 1_000_000;
/// Coupons considered in one quote, at most.
pub const WALLET_COUPONS_MAX: usize = 5_000;

/// Who is buying, as far as coupons care.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteUser {
    pub id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub new_user: bool,
    /// The channel the order is placed in (`app`, `mini_program`, `web`, `pos`…).
    #[serde(default)]
    pub channel: Option<String>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CartLine {
    pub line_id: String,
    pub sku: String,
    #[serde(default)]
    pub product: Option<String>,
    /// The whole category path, root first: a category entry of a scope
    /// matches any line whose path holds it.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub shop: Option<String>,
    #[serde(default)]
    pub venues: Vec<String>,
    pub unit_price: i64,
    pub quantity: u32,
    /// What other promotions already took off this line (they apply first).
    #[serde(default)]
    pub promo_discount: i64,
}

impl CartLine {
    /// `unit_price * quantity`; bounded by [`Cart::check`].
    pub fn amount(&self) -> i64 {
        self.unit_price.saturating_mul(i64::from(self.quantity))
    }
}

/// `"best"`, or the coupon ids the user chose.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Select {
    #[default]
    Best,
    Coupons(Vec<String>),
}

impl Serialize for Select {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Select::Best => serializer.serialize_str("best"),
            Select::Coupons(ids) => ids.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Select {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Word(String),
            Ids(Vec<String>),
        }
        match Wire::deserialize(deserializer) {
            Ok(Wire::Word(word)) if word == "best" => Ok(Select::Best),
            Ok(Wire::Ids(ids)) => Ok(Select::Coupons(ids)),
            _ => Err(serde::de::Error::custom(
                "expected \"best\" or a list of coupon ids",
            )),
        }
    }
}

/// The cart and the user: what the mall sends (§7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cart {
    pub user: QuoteUser,
    pub lines: Vec<CartLine>,
    #[serde(default)]
    pub shipping_fee: i64,
    #[serde(default)]
    pub select: Select,
    #[serde(default)]
    pub currency: Currency,
    /// The order being priced, so coupons it already locked still count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Who is checking out (device, IP, phone, address, payment account),
    /// for the templates' caps on use (SPEC §11.4).
    #[serde(default, skip_serializing_if = "Context::is_empty")]
    pub context: Context,
}

impl Cart {
    /// Refuses carts whose sums could mean nothing: every amount within
    /// [`AMOUNT_MINOR_MAX`], line ids unique, promotions within the line.
    pub fn check(&self) -> Result<(), QuoteError> {
        let bad = |field: String, reason: &str| QuoteError::BadInput {
            field,
            reason: reason.to_owned(),
        };
        if self.lines.is_empty() {
            return Err(bad("lines".into(), "a cart needs at least one line"));
        }
        if self.lines.len() > CART_LINES_MAX {
            return Err(bad("lines".into(), "too many lines (at most 500)"));
        }
        if !(0..=AMOUNT_MINOR_MAX).contains(&self.shipping_fee) {
            return Err(bad("shipping_fee".into(), "must be between 0 and 10^15"));
        }
        let mut ids = HashSet::new();
        let mut subtotal: i64 = 0;
        for (index, line) in self.lines.iter().enumerate() {
            let field = |name: &str| format!("lines[{index}].{name}");
            if line.line_id.is_empty() {
                return Err(bad(field("line_id"), "must not be empty"));
            }
            if !ids.insert(line.line_id.as_str()) {
                return Err(bad(field("line_id"), "appears twice in the cart"));
            }
            if !(0..=AMOUNT_MINOR_MAX).contains(&line.unit_price) {
                return Err(bad(field("unit_price"), "must be between 0 and 10^15"));
            }
            if line.quantity == 0 || line.quantity > LINE_QUANTITY_MAX {
                return Err(bad(field("quantity"), "must be between 1 and 1000000"));
            }
            let amount = i128::from(line.unit_price) * i128::from(line.quantity);
            if amount > i128::from(AMOUNT_MINOR_MAX) {
                return Err(bad(
                    field("quantity"),
                    "unit_price * quantity exceeds 10^15",
                ));
            }
            if line.promo_discount < 0 || i128::from(line.promo_discount) > amount {
                return Err(bad(
                    field("promo_discount"),
                    "must be between 0 and the line's amount",
                ));
            }
            subtotal = subtotal.saturating_add(line.amount());
        }
        if subtotal > AMOUNT_MINOR_MAX {
            return Err(bad("lines".into(), "the cart's subtotal exceeds 10^15"));
        }
        Ok(())
    }
}

/// A coupon given inline to `couponflow quote` (§7.1), template and all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InlineCoupon {
    pub id: String,
    pub template: Template,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    #[serde(default = "available")]
    pub state: CouponState,
    /// The order holding the coupon when its state is `locked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_by: Option<String>,
}

fn available() -> CouponState {
    CouponState::Available
}

/// The whole document `couponflow quote` reads: the cart of §7.1 plus the
/// coupons inline and an optional fixed `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteDocument {
    pub user: QuoteUser,
    pub lines: Vec<CartLine>,
    #[serde(default)]
    pub shipping_fee: i64,
    #[serde(default)]
    pub select: Select,
    #[serde(default)]
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default)]
    pub coupons: Vec<InlineCoupon>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<DateTime<Utc>>,
}

impl QuoteDocument {
    /// Splits the document into the cart and the inline coupons.
    pub fn into_parts(self) -> (Cart, Vec<InlineCoupon>, Option<DateTime<Utc>>) {
        let cart = Cart {
            user: self.user,
            lines: self.lines,
            shipping_fee: self.shipping_fee,
            select: self.select,
            currency: self.currency,
            order_id: self.order_id,
            context: Default::default(),
        };
        (cart, self.coupons, self.now)
    }
}
