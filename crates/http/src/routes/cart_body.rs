//! The cart of SPEC §7.1 on the wire: what `POST /v1/quote` and
//! `POST /v1/orders/{order}/lock` take, and what an order shows back.
//! The engine's own `Cart` knows nothing of OpenAPI, so this is ours and
//! converts both ways without losing a field.

use couponflow_core::money::Currency;
use couponflow_core::quote::{Cart, CartLine, QuoteUser, Select};
use couponflow_core::template::risk::Context;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::docs::select_schema;

/// Who is buying, as far as coupons care.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartUserBody {
    pub id: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Region code; an audience's region matches it by prefix.
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub new_user: bool,
    /// The channel the order is placed in (`app`, `mini_program`, `web`, `pos`…).
    #[serde(default)]
    pub channel: Option<String>,
}

/// One order line.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartLineBody {
    /// Unique within the cart; refunds name lines by it.
    pub line_id: String,
    pub sku: String,
    #[serde(default)]
    pub product: Option<String>,
    /// The whole category path, root first.
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub shop: Option<String>,
    #[serde(default)]
    pub venues: Vec<String>,
    /// Minor units (fen).
    pub unit_price: i64,
    /// 1 to 1000000.
    pub quantity: u32,
    /// What other promotions already took off this line, in minor units.
    #[serde(default)]
    pub promo_discount: i64,
}

/// The cart and the user, as the mall sends them (SPEC §7.1).
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartBody {
    pub user: CartUserBody,
    /// 1 to 500 lines.
    pub lines: Vec<CartLineBody>,
    /// Minor units; 0 when absent.
    #[serde(default)]
    pub shipping_fee: i64,
    #[serde(default)]
    #[schema(schema_with = select_schema)]
    pub select: Select,
    /// ISO 4217; `CNY` when absent.
    #[serde(default)]
    #[schema(value_type = String, example = "CNY")]
    pub currency: Currency,
    /// The order being priced, so the coupons it locked still count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Who is checking out, for the templates' caps on use: any of
    /// `device_id`, `ip`, `phone`, `address_hash`, `payment_account`.
    #[serde(default, skip_serializing_if = "Context::is_empty")]
    #[schema(value_type = Object)]
    pub context: Context,
}

impl From<CartUserBody> for QuoteUser {
    fn from(user: CartUserBody) -> Self {
        QuoteUser {
            id: user.id,
            tags: user.tags,
            region: user.region,
            new_user: user.new_user,
            channel: user.channel,
        }
    }
}

impl From<QuoteUser> for CartUserBody {
    fn from(user: QuoteUser) -> Self {
        CartUserBody {
            id: user.id,
            tags: user.tags,
            region: user.region,
            new_user: user.new_user,
            channel: user.channel,
        }
    }
}

impl From<CartLineBody> for CartLine {
    fn from(line: CartLineBody) -> Self {
        CartLine {
            line_id: line.line_id,
            sku: line.sku,
            product: line.product,
            categories: line.categories,
            brand: line.brand,
            shop: line.shop,
            venues: line.venues,
            unit_price: line.unit_price,
            quantity: line.quantity,
            promo_discount: line.promo_discount,
        }
    }
}

impl From<CartLine> for CartLineBody {
    fn from(line: CartLine) -> Self {
        CartLineBody {
            line_id: line.line_id,
            sku: line.sku,
            product: line.product,
            categories: line.categories,
            brand: line.brand,
            shop: line.shop,
            venues: line.venues,
            unit_price: line.unit_price,
            quantity: line.quantity,
            promo_discount: line.promo_discount,
        }
    }
}

impl From<CartBody> for Cart {
    fn from(cart: CartBody) -> Self {
        Cart {
            user: cart.user.into(),
            lines: cart.lines.into_iter().map(Into::into).collect(),
            shipping_fee: cart.shipping_fee,
            select: cart.select,
            currency: cart.currency,
            order_id: cart.order_id,
            context: cart.context,
        }
    }
}

impl From<Cart> for CartBody {
    fn from(cart: Cart) -> Self {
        CartBody {
            user: cart.user.into(),
            lines: cart.lines.into_iter().map(Into::into).collect(),
            shipping_fee: cart.shipping_fee,
            select: cart.select,
            currency: cart.currency,
            order_id: cart.order_id,
            context: cart.context,
        }
    }
}
