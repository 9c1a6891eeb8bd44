//! Checkout (SPEC §7): `POST /v1/quote` prices a cart over the user's own
//! coupons; `GET /v1/products/{product}/coupons` is the product page (§7.6).
//!
//! Couponflow keeps no catalogue, so the product page takes the product's
//! price and attributes from the caller, in the query string: the same
//! fields a cart line has, lists comma-separated.

use std::sync::Arc;

use axum::extract::State;
use couponflow_app::App;
use couponflow_core::quote::{CartLine, QuoteUser};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::cart_body::CartBody;
use super::checkout_views::{ProductCouponsView, QuoteView};
use super::docs::{AuthProblems, BadRequestProblem};
use crate::auth::{Principal, require_user_access};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(quote))
        .routes(routes!(product_coupons))
}

/// The product page's query: who looks, and the product as the mall prices it.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProductQuery {
    /// The user whose coupons (held and still claimable) are considered.
    pub user: String,
    /// The user's tags, comma-separated (audiences, SPEC §4.4); at most 64.
    pub tags: Option<String>,
    /// The user's region code.
    pub region: Option<String>,
    /// Whether the user is new; `false` when absent.
    pub new_user: Option<bool>,
    /// The channel the user shops in (`app`, `mini_program`, `web`, …).
    pub channel: Option<String>,
    /// The SKU shown; the product id when absent.
    pub sku: Option<String>,
    /// The unit price in minor units (fen), 0 to 10^15.
    pub unit_price: i64,
    /// Units, 1 to 1000000; 1 when absent.
    pub quantity: Option<u32>,
    /// What other promotions take off the whole quantity, in minor units; 0 when absent.
    pub promo_discount: Option<i64>,
    /// The shop selling it.
    pub shop: Option<String>,
    /// The category path, root first, comma-separated (`c-apparel,c-men`); at most 64.
    pub categories: Option<String>,
    pub brand: Option<String>,
    /// Venues (会场) the product is in, comma-separated; at most 64.
    pub venues: Option<String>,
}

/// Items one comma-separated query parameter may list, at most.
pub const QUERY_LIST_ITEMS_MAX: usize = 64;

/// `a, b,,c` → `["a", "b", "c"]`; more than [`QUERY_LIST_ITEMS_MAX`] is refused.
fn list(name: &str, text: Option<String>) -> Result<Vec<String>, ApiError> {
    let items: Vec<String> = text
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect();
    if items.len() > QUERY_LIST_ITEMS_MAX {
        let why = format!("must list at most {QUERY_LIST_ITEMS_MAX} items");
        return Err(ApiError::validation(format!("{name} {why}")).with_field_error(name, why));
    }
    Ok(items)
}

impl ProductQuery {
    /// The user and the one cart line the product page prices.
    fn into_parts(self, product: String) -> Result<(QuoteUser, CartLine), ApiError> {
        let user = QuoteUser {
            id: self.user,
            tags: list("tags", self.tags)?,
            region: self.region,
            new_user: self.new_user.unwrap_or(false),
            channel: self.channel,
        };
        let line = CartLine {
            line_id: product.clone(),
            sku: self.sku.unwrap_or_else(|| product.clone()),
            product: Some(product),
            categories: list("categories", self.categories)?,
            brand: self.brand,
            shop: self.shop,
            venues: list("venues", self.venues)?,
            unit_price: self.unit_price,
            quantity: self.quantity.unwrap_or(1),
            promo_discount: self.promo_discount.unwrap_or(0),
        };
        Ok((user, line))
    }
}

/// Prices a cart over the user's own coupons (SPEC §7.1 → §7.5).
///
/// The wallet is the user's `available` coupons, and those locked by
/// `order_id` when given. With `select: "best"` the answer recommends the
/// best set; with a list of codes it prices that list or refuses it.
/// Roles: admin, operator, service; the user themself (user token, `user.id`
/// must be the token's user).
#[utoipa::path(post, path = "/v1/quote", tag = "checkout", security(("bearer" = [])),
    request_body = CartBody,
    responses(
        (status = 200, description = "The quote", body = QuoteView),
        (status = 422, description = "`VALIDATION_FAILED`: the cart breaks a rule (`errors` names the field); `UNKNOWN_COUPON`: a selected code is not in the wallet; `CANNOT_SELECT`: a selected coupon cannot be used (`reason`)", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn quote(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(cart): ApiJson<CartBody>,
) -> Result<ApiJson<QuoteView>, ApiError> {
    require_user_access(&principal, &cart.user.id)?;
    let quote = app.quote_for_user(cart.into()).await?;
    Ok(ApiJson(quote.into()))
}

/// The coupons of a product page and the price after the best of them.
///
/// 商品详情页 (SPEC §7.6): the coupons the user holds or can still claim
/// that would apply to this product, and the price after the best set of
/// them (券后价). Couponflow keeps no catalogue: the caller sends the
/// product's price and attributes in the query. Roles: admin, operator,
/// service; the user themself (user token, `user` must be the token's user).
#[utoipa::path(get, path = "/v1/products/{product}/coupons", tag = "checkout", security(("bearer" = [])),
    params(("product" = String, Path, description = "The product's id"), ProductQuery),
    responses(
        (status = 200, description = "The product page's coupons", body = ProductCouponsView),
        (status = 422, description = "`VALIDATION_FAILED`: a list too long, or a price, quantity or promotion out of range; `errors` names it as the line's field (`lines[0].unit_price`)", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn product_coupons(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(product): ApiPath<String>,
    ApiQuery(query): ApiQuery<ProductQuery>,
) -> Result<ApiJson<ProductCouponsView>, ApiError> {
    require_user_access(&principal, &query.user)?;
    let (user, line) = query.into_parts(product.clone())?;
    let answer = app.product_coupons(user, line).await?;
    Ok(ApiJson(ProductCouponsView::of(product, answer)))
}
