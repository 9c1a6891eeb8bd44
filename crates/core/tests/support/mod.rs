//! Builders shared by the engine's test files.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use couponflow_core::coupon::CouponState;
use couponflow_core::quote::{
    self, Cart, CartLine, Quote, QuoteError, QuoteUser, Select, WalletCoupon,
};
use couponflow_core::template::{Template, ValidTemplate};

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test timestamps are valid")
        .with_timezone(&Utc)
}

/// 2026-12-05 noon: inside the default validity of [`coupon`].
pub fn now() -> DateTime<Utc> {
    at("2026-12-05T12:00:00Z")
}

/// A template from JSON; `name` and an all-lines scope are filled in when missing.
pub fn template(mut json: Value) -> Arc<ValidTemplate> {
    let object = json.as_object_mut().expect("a template is an object");
    object.entry("name").or_insert(json!("test"));
    object
        .entry("scope")
        .or_insert(json!({"include": {"all": true}}));
    let template: Template = serde_json::from_value(json).expect("test template parses");
    Arc::new(ValidTemplate::new(template).expect("test template is valid"))
}

/// An available coupon valid for the whole of December 2026.
pub fn coupon(id: &str, template_json: Value) -> WalletCoupon {
    coupon_until(id, template_json, "2026-12-31T23:59:59Z")
}

pub fn coupon_until(id: &str, template_json: Value, until: &str) -> WalletCoupon {
    WalletCoupon {
        id: id.to_owned(),
        template: template(template_json),
        valid_from: at("2026-12-01T00:00:00Z"),
        valid_until: at(until),
        state: CouponState::Available,
        locked_by: None,
    }
}

pub fn line(line_id: &str, sku: &str, unit_price: i64, quantity: u32) -> CartLine {
    CartLine {
        line_id: line_id.to_owned(),
        sku: sku.to_owned(),
        product: Some(format!("p-{sku}")),
        categories: vec![],
        brand: None,
        shop: Some("s-1".to_owned()),
        venues: vec![],
        unit_price,
        quantity,
        promo_discount: 0,
    }
}

pub fn in_shop(mut line: CartLine, shop: &str) -> CartLine {
    line.shop = Some(shop.to_owned());
    line
}

pub fn cart(lines: Vec<CartLine>) -> Cart {
    Cart {
        user: QuoteUser {
            id: "u-1".to_owned(),
            channel: Some("app".to_owned()),
            ..QuoteUser::default()
        },
        lines,
        shipping_fee: 0,
        select: Select::Best,
        currency: Default::default(),
        order_id: None,
        context: Default::default(),
    }
}

pub fn best(cart: &Cart, wallet: &[WalletCoupon]) -> Quote {
    quote::quote(cart, wallet, now()).expect("quote succeeds")
}

pub fn choose(cart: &Cart, wallet: &[WalletCoupon], ids: &[&str]) -> Result<Quote, QuoteError> {
    let mut cart = cart.clone();
    cart.select = Select::Coupons(ids.iter().map(|s| s.to_string()).collect());
    quote::quote(&cart, wallet, now())
}

/// Everything a set of coupons is worth: line and shipping discounts plus cashback.
pub fn total_benefit(quote: &Quote) -> i64 {
    quote.coupon_discount
        + quote.shipping_discount
        + quote.cashback.iter().map(|c| c.amount).sum::<i64>()
}

pub fn result<'q>(quote: &'q Quote, id: &str) -> &'q quote::CouponResult {
    quote
        .coupons
        .iter()
        .find(|c| c.id == id)
        .expect("every wallet coupon is reported")
}

pub fn shares_of(quote: &Quote, coupon: &str) -> Vec<i64> {
    quote
        .lines
        .iter()
        .map(|l| {
            l.shares
                .iter()
                .filter(|s| s.coupon == coupon)
                .map(|s| s.amount)
                .sum()
        })
        .collect()
}
