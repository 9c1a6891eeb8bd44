//! The benefit (计算型规则) of a template: the ten kinds of SPEC §4.2.

use serde::{Deserialize, Serialize};

/// What a coupon does. Amounts are minor units; rates are basis points of
/// the price the user pays (`rate_bp: 8000` is 8折).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Benefit {
    /// 现金券 / 立减券 / 无门槛券: `min(amount, eligible)`; with
    /// `min_payable`, not applicable when `eligible - amount < min_payable`.
    Cash {
        amount: i64,
        #[serde(default)]
        min_payable: i64,
    },
    /// 满减券 / 阶梯满减: `off` of the highest tier reached.
    Threshold {
        tiers: Vec<ThresholdTier>,
        #[serde(default, skip_serializing_if = "is_false")]
        allow_free_orders: bool,
    },
    /// 每满减: `off` for every whole `step`, at most `max_times` times.
    Every {
        step: i64,
        off: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_times: Option<u32>,
        #[serde(default, skip_serializing_if = "is_false")]
        allow_free_orders: bool,
    },
    /// 折扣券: the highest tier whose quantity and amount are met sets the
    /// rate; the discount is capped by `cap` (封顶).
    Percent {
        tiers: Vec<PercentTier>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<i64>,
    },
    /// 特价券: up to `max_units` eligible units (most expensive first) at `price`.
    FixedPrice {
        price: i64,
        /// Absent: every eligible unit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_units: Option<u32>,
    },
    /// 换购券: one unit of `sku` at `price` when the rest reaches `min_amount`.
    AddOn {
        #[serde(default)]
        min_amount: i64,
        sku: String,
        price: i64,
    },
    /// 包邮券 / 运费券: up to `max_off` of the shipping fee.
    Shipping {
        max_off: i64,
        #[serde(default)]
        min_amount: i64,
    },
    /// 满返券: nothing off at checkout; `back` of the highest tier reached is
    /// credited to a balance when the order completes.
    Cashback {
        tiers: Vec<CashbackTier>,
        to: BalanceKind,
    },
    /// 礼品券: spent only at a counter.
    Gift { item: String },
    /// 体验券: spent only at a counter.
    Trial { item: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdTier {
    pub min_amount: i64,
    pub off: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PercentTier {
    #[serde(default)]
    pub min_quantity: u32,
    #[serde(default)]
    pub min_amount: i64,
    pub rate_bp: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashbackTier {
    pub min_amount: i64,
    pub back: i64,
}

/// The balance a cashback coupon credits (§7.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    Points,
    Wallet,
}

impl Benefit {
    /// The kind's name on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Benefit::Cash { .. } => "cash",
            Benefit::Threshold { .. } => "threshold",
            Benefit::Every { .. } => "every",
            Benefit::Percent { .. } => "percent",
            Benefit::FixedPrice { .. } => "fixed_price",
            Benefit::AddOn { .. } => "add_on",
            Benefit::Shipping { .. } => "shipping",
            Benefit::Cashback { .. } => "cashback",
            Benefit::Gift { .. } => "gift",
            Benefit::Trial { .. } => "trial",
        }
    }

    /// Gift and trial coupons never meet a cart.
    pub fn is_for_checkout(&self) -> bool {
        !matches!(self, Benefit::Gift { .. } | Benefit::Trial { .. })
    }

    /// Face value for the budget limit (§4.6): `amount`, the largest
    /// `off`/`back`, `cap` for `percent`, `off * max_times` for `every`,
    /// `max_off` for `shipping`. Kinds without a bounded value have none.
    pub fn face_value(&self) -> Option<i64> {
        match self {
            Benefit::Cash { amount, .. } => Some(*amount),
            Benefit::Threshold { tiers, .. } => tiers.iter().map(|t| t.off).max(),
            Benefit::Every { off, max_times, .. } => {
                max_times.and_then(|times| off.checked_mul(i64::from(times)))
            }
            Benefit::Percent { cap, .. } => *cap,
            Benefit::Shipping { max_off, .. } => Some(*max_off),
            Benefit::Cashback { tiers, .. } => tiers.iter().map(|t| t.back).max(),
            Benefit::FixedPrice { .. }
            | Benefit::AddOn { .. }
            | Benefit::Gift { .. }
            | Benefit::Trial { .. } => None,
        }
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}
