//! The quote output of SPEC §7.5.

use serde::{Deserialize, Serialize};

use crate::money::Currency;
use crate::template::BalanceKind;

/// Why a coupon does not apply (§7.2), with a stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    NotAvailable,
    NotStarted,
    Expired,
    Channel,
    OutOfScope,
    BelowThreshold,
    BelowQuantity,
    MinPayable,
    NotForCheckout,
    NoBenefit,
    Stacking,
}

impl ReasonCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ReasonCode::NotAvailable => "NOT_AVAILABLE",
            ReasonCode::NotStarted => "NOT_STARTED",
            ReasonCode::Expired => "EXPIRED",
            ReasonCode::Channel => "CHANNEL",
            ReasonCode::OutOfScope => "OUT_OF_SCOPE",
            ReasonCode::BelowThreshold => "BELOW_THRESHOLD",
            ReasonCode::BelowQuantity => "BELOW_QUANTITY",
            ReasonCode::MinPayable => "MIN_PAYABLE",
            ReasonCode::NotForCheckout => "NOT_FOR_CHECKOUT",
            ReasonCode::NoBenefit => "NO_BENEFIT",
            ReasonCode::Stacking => "STACKING",
        }
    }
}

/// A reason with, for the thresholds, how much more would unlock the coupon
/// (minor units for amounts, units for quantities): 还差X元可用.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<i64>,
}

impl Reason {
    pub fn new(code: ReasonCode) -> Self {
        Reason {
            code,
            missing: None,
        }
    }

    pub fn missing(code: ReasonCode, missing: i64) -> Self {
        Reason {
            code,
            missing: Some(missing),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub currency: Currency,
    pub subtotal: i64,
    pub promo_discount: i64,
    pub coupon_discount: i64,
    pub shipping_fee: i64,
    pub shipping_discount: i64,
    pub payable: i64,
    /// The coupons used, in the order they apply.
    pub selected: Vec<String>,
    pub lines: Vec<QuoteLine>,
    pub coupons: Vec<CouponResult>,
    pub costs: Vec<CouponCost>,
    pub cashback: Vec<Cashback>,
    /// Present (and true) only if the `best` search hit its safety limit
    /// before proving its answer optimal.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub search_truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    pub line_id: String,
    pub amount: i64,
    pub promo_discount: i64,
    pub shares: Vec<Share>,
    pub payable: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub coupon: String,
    pub amount: i64,
}

/// What one coupon of the wallet would do. `discount` is its value used
/// alone: the line discount, a shipping coupon's shipping discount, 0 for
/// cashback (its value is in [`Quote::cashback`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponResult {
    pub id: String,
    pub applicable: bool,
    pub discount: i64,
    pub reasons: Vec<Reason>,
}

/// Who bears a selected coupon's benefit (§4.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponCost {
    pub coupon: String,
    pub platform: i64,
    pub shop: i64,
    pub shop_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cashback {
    pub coupon: String,
    pub amount: i64,
    pub to: BalanceKind,
}
