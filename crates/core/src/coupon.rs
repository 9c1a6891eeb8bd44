//! Coupons (券): the states of SPEC §5.2 and the pure transition function.

use serde::{Deserialize, Serialize};

/// Where a coupon is in its life (§5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    /// 未领取: generated, no owner yet.
    Unbound,
    /// 待使用: owned, usable inside its validity.
    Available,
    /// 冻结: held by an unpaid order.
    Locked,
    /// 已使用 / 已核销: spent.
    Redeemed,
    /// 已过期: validity passed without use.
    Expired,
    /// 已作废: cancelled by staff.
    Voided,
    /// 已删除: hidden from the wallet.
    Deleted,
}

impl CouponState {
    pub const ALL: [CouponState; 7] = [
        CouponState::Unbound,
        CouponState::Available,
        CouponState::Locked,
        CouponState::Redeemed,
        CouponState::Expired,
        CouponState::Voided,
        CouponState::Deleted,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            CouponState::Unbound => "unbound",
            CouponState::Available => "available",
            CouponState::Locked => "locked",
            CouponState::Redeemed => "redeemed",
            CouponState::Expired => "expired",
            CouponState::Voided => "voided",
            CouponState::Deleted => "deleted",
        }
    }
}

impl std::fmt::Display for CouponState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
