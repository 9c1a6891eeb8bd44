//! Quotes (SPEC §7.5) and the product page (§7.6) as the API shows them.
//! Every amount is in minor units of the quote's currency.

use chrono::{DateTime, Utc};
use couponflow_app::checkout::{ClaimableOffer, HeldOffer, ProductCoupons};
use couponflow_core::quote::{
    Cashback, CouponCost, CouponResult, Quote, QuoteLine, Reason, ReasonCode, Share,
};
use couponflow_core::template::BalanceKind;
use serde::Serialize;
use utoipa::ToSchema;

use super::docs::{balance_kind_schema, reason_code_schema};

/// What every coupon of the wallet would do to the cart, the chosen set and
/// the split of each discount over the lines.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct QuoteView {
    /// ISO 4217.
    pub currency: String,
    /// `Σ unit_price × quantity`.
    pub subtotal: i64,
    pub promo_discount: i64,
    /// The selected coupons' discounts on the lines.
    pub coupon_discount: i64,
    pub shipping_fee: i64,
    pub shipping_discount: i64,
    /// `subtotal − promo_discount − coupon_discount + shipping_fee − shipping_discount`.
    pub payable: i64,
    /// The coupons used, in the order they apply.
    pub selected: Vec<String>,
    pub lines: Vec<QuoteLineView>,
    /// Every coupon considered: usable ones first, then the rest with their reasons.
    pub coupons: Vec<CouponResultView>,
    /// Who bears each selected coupon's benefit (SPEC §4.8).
    pub costs: Vec<CouponCostView>,
    /// What selected cashback coupons will credit when the order completes.
    pub cashback: Vec<CashbackView>,
    /// Present (and true) only when the best-set search hit its safety limit.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub search_truncated: bool,
}

/// One line: its amount, each coupon's share of it, and what is left to pay.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct QuoteLineView {
    pub line_id: String,
    pub amount: i64,
    pub promo_discount: i64,
    pub shares: Vec<ShareView>,
    pub payable: i64,
}

/// One coupon's share of one line's discount.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ShareView {
    pub coupon: String,
    pub amount: i64,
}

/// One coupon of the wallet: whether it applies, its value used alone, and why not.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CouponResultView {
    pub id: String,
    pub applicable: bool,
    pub discount: i64,
    pub reasons: Vec<ReasonView>,
}

/// Why a coupon does not apply (SPEC §7.2).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReasonView {
    #[schema(schema_with = reason_code_schema)]
    pub code: ReasonCode,
    /// For `BELOW_THRESHOLD`, `MIN_PAYABLE`: minor units more that would unlock
    /// it; for `BELOW_QUANTITY`: units more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<i64>,
}

/// The platform's and the shop's part of a selected coupon's benefit.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CouponCostView {
    pub coupon: String,
    pub platform: i64,
    pub shop: i64,
    pub shop_id: Option<String>,
}

/// A cashback (满返) a selected coupon earns.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CashbackView {
    pub coupon: String,
    pub amount: i64,
    #[schema(schema_with = balance_kind_schema)]
    pub to: BalanceKind,
}

impl From<Quote> for QuoteView {
    fn from(quote: Quote) -> Self {
        QuoteView {
            currency: quote.currency.as_str().to_owned(),
            subtotal: quote.subtotal,
            promo_discount: quote.promo_discount,
            coupon_discount: quote.coupon_discount,
            shipping_fee: quote.shipping_fee,
            shipping_discount: quote.shipping_discount,
            payable: quote.payable,
            selected: quote.selected,
            lines: quote.lines.into_iter().map(Into::into).collect(),
            coupons: quote.coupons.into_iter().map(Into::into).collect(),
            costs: quote.costs.into_iter().map(Into::into).collect(),
            cashback: quote.cashback.into_iter().map(Into::into).collect(),
            search_truncated: quote.search_truncated,
        }
    }
}

impl From<QuoteLine> for QuoteLineView {
    fn from(line: QuoteLine) -> Self {
        QuoteLineView {
            line_id: line.line_id,
            amount: line.amount,
            promo_discount: line.promo_discount,
            shares: line.shares.into_iter().map(Into::into).collect(),
            payable: line.payable,
        }
    }
}

impl From<Share> for ShareView {
    fn from(share: Share) -> Self {
        ShareView {
            coupon: share.coupon,
            amount: share.amount,
        }
    }
}

impl From<CouponResult> for CouponResultView {
    fn from(result: CouponResult) -> Self {
        CouponResultView {
            id: result.id,
            applicable: result.applicable,
            discount: result.discount,
            reasons: result.reasons.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Reason> for ReasonView {
    fn from(reason: Reason) -> Self {
        ReasonView {
            code: reason.code,
            missing: reason.missing,
        }
    }
}

impl From<CouponCost> for CouponCostView {
    fn from(cost: CouponCost) -> Self {
        CouponCostView {
            coupon: cost.coupon,
            platform: cost.platform,
            shop: cost.shop,
            shop_id: cost.shop_id,
        }
    }
}

impl From<Cashback> for CashbackView {
    fn from(cashback: Cashback) -> Self {
        CashbackView {
            coupon: cashback.coupon,
            amount: cashback.amount,
            to: cashback.to,
        }
    }
}

/// The product page (SPEC §7.6): the coupons the user holds or can still
/// claim that would apply to the product, and the price after the best set.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProductCouponsView {
    pub product: String,
    /// `unit_price × quantity − promo_discount`: before coupons.
    pub price: i64,
    /// 券后价: the price after the best set of held and claimable coupons.
    pub price_after_best: i64,
    /// Held coupons that apply, larger discount first.
    pub held: Vec<HeldOfferView>,
    /// Templates the user could still claim that would apply. A hint: the
    /// claim itself decides.
    pub claimable: Vec<ClaimableOfferView>,
    /// The best set: codes of held coupons …
    pub best_codes: Vec<String>,
    /// … and templates to claim first.
    pub best_templates: Vec<String>,
}

/// A held coupon that applies to the product.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HeldOfferView {
    pub code: String,
    pub template_id: String,
    pub name: String,
    /// Its discount used alone on this product.
    pub discount: i64,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A template still claimable that applies to the product.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ClaimableOfferView {
    pub template_id: String,
    pub name: String,
    /// Its discount used alone on this product.
    pub discount: i64,
}

impl ProductCouponsView {
    pub fn of(product: String, answer: ProductCoupons) -> Self {
        ProductCouponsView {
            product,
            price: answer.price,
            price_after_best: answer.price_after_best,
            held: answer.held.into_iter().map(Into::into).collect(),
            claimable: answer.claimable.into_iter().map(Into::into).collect(),
            best_codes: answer.best_codes,
            best_templates: answer.best_templates,
        }
    }
}

impl From<HeldOffer> for HeldOfferView {
    fn from(offer: HeldOffer) -> Self {
        HeldOfferView {
            code: offer.code,
            template_id: offer.template_id,
            name: offer.name,
            discount: offer.discount,
            valid_until: offer.valid_until,
        }
    }
}

impl From<ClaimableOffer> for ClaimableOfferView {
    fn from(offer: ClaimableOffer) -> Self {
        ClaimableOfferView {
            template_id: offer.template_id,
            name: offer.name,
            discount: offer.discount,
        }
    }
}
