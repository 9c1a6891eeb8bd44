//! The user pages' own small API under `/m/api`, and the demo mall.
//!
//! Always on: `GET /m/api/templates?ids=a,b` answers the public face of
//! templates (name, description, benefit, scope, validity) so the coupon
//! cards can say "满300可用" — what a shopper may read about a coupon they
//! see, nothing of its budget, stock or review.
//!
//! Demo mall mode ([`AppState::with_demo_mall`], `couponflow serve --demo`,
//! `demo_mall = true`): Couponflow plays the mall for the embedded demo, so
//! the user pages can be tried end to end without one.
//! - `POST /m/api/session {"user_id"}` → `{"token"}`: a user token for that
//!   user, signed with the deployment's user-token secret, valid an hour
//!   (the demo login of SPEC §13; a real mall signs its own).
//! - `GET /m/api/catalogue`: the demo's products (the SKUs, categories and
//!   shops the demo templates name) and its users.
//! - `POST /m/api/orders` (user token): places and pays a demo order for the
//!   token's user, as the mall's backend would: `lock` then `redeem` through
//!   the same use cases as `POST /v1/orders/{order}/lock` and `/redeem`.
//!
//! Without demo mode the three answer 404 problem+json, as any unknown path.

use axum::Router;
use axum::extract::{FromRef, Query, State};
use axum::routing::{get, post};
use couponflow_app::Actor;
use couponflow_core::money::Currency;
use couponflow_core::quote::{Cart, CartLine, QuoteUser, Select};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::{AuthState, Principal, issue_user_token};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::state::AppState;

/// How long a demo session's token lasts.
pub const SESSION_SECS: i64 = 3600;
/// Templates one `GET /m/api/templates` may ask for.
const TEMPLATES_MAX: usize = 100;
/// Lines one demo order may hold.
const ORDER_LINES_MAX: usize = 50;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
    AuthState: FromRef<S>,
{
    Router::new()
        .route("/m/api/templates", get(templates))
        .route("/m/api/session", post(session))
        .route("/m/api/catalogue", get(catalogue))
        .route("/m/api/orders", post(place_order))
}

fn demo_only(state: &AppState) -> Result<(), ApiError> {
    if state.demo_mall {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "the demo mall is not enabled on this deployment",
        ))
    }
}

#[derive(Debug, Deserialize)]
struct TemplatesQuery {
    ids: String,
}

/// The public face of one template, for a coupon card.
#[derive(Debug, Serialize)]
struct TemplateFace {
    id: String,
    name: String,
    description: String,
    benefit: Value,
    scope: Value,
    validity: Option<Value>,
    channels: Vec<String>,
}

async fn templates(
    State(state): State<AppState>,
    _principal: Principal,
    Query(query): Query<TemplatesQuery>,
) -> Result<ApiJson<Value>, ApiError> {
    let ids: Vec<&str> = query
        .ids
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    if ids.len() > TEMPLATES_MAX {
        return Err(ApiError::validation(format!(
            "ids must list at most {TEMPLATES_MAX} templates"
        )));
    }
    let mut items = Vec::new();
    for id in ids {
        // An unknown id is left out: the card falls back to the name it has.
        let Ok(record) = state.app.template(id).await else {
            continue;
        };
        let template = record.template.get().clone();
        items.push(TemplateFace {
            id: id.to_owned(),
            name: template.name,
            description: template.description,
            benefit: serde_json::to_value(&template.benefit).unwrap_or(Value::Null),
            scope: serde_json::to_value(&template.scope).unwrap_or(Value::Null),
            validity: template
                .validity
                .map(|validity| serde_json::to_value(validity).unwrap_or(Value::Null)),
            channels: template.channels,
        });
    }
    Ok(ApiJson(json!({ "items": items })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionBody {
    user_id: String,
}

async fn session(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SessionBody>,
) -> Result<ApiJson<Value>, ApiError> {
    demo_only(&state)?;
    let user = body.user_id.trim();
    let fits = (1..=128).contains(&user.chars().count())
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if !fits {
        let why = "must be 1 to 128 letters, digits, `-`, `_`, `.` or `@`";
        return Err(ApiError::validation(format!("user_id {why}")).with_field_error("user_id", why));
    }
    let Some(secret) = state.auth.user_token_secret.as_ref() else {
        return Err(ApiError::not_found(
            "this deployment has no user-token secret to sign with",
        ));
    };
    let expires_at = state.app.now().timestamp() + SESSION_SECS;
    let token = issue_user_token(secret, user, expires_at);
    Ok(ApiJson(json!({
        "token": token,
        "user_id": user,
        "expires_at": expires_at,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    lines: Vec<CartLine>,
    #[serde(default)]
    codes: Option<Vec<String>>,
    #[serde(default)]
    select: Option<String>,
    #[serde(default)]
    shipping_fee: i64,
}

async fn place_order(
    State(state): State<AppState>,
    principal: Principal,
    ApiJson(body): ApiJson<OrderBody>,
) -> Result<ApiJson<Value>, ApiError> {
    demo_only(&state)?;
    let Principal::User { user_id } = principal else {
        return Err(ApiError::forbidden(
            "demo orders are placed by a shopper, with a user token",
        ));
    };
    if body.lines.is_empty() || body.lines.len() > ORDER_LINES_MAX {
        let why = format!("must hold 1 to {ORDER_LINES_MAX} lines");
        return Err(ApiError::validation(format!("lines {why}")).with_field_error("lines", why));
    }
    let select = match (body.codes, body.select.as_deref()) {
        (Some(codes), None) => Select::Coupons(codes),
        (None, Some("best")) | (None, None) => Select::Best,
        _ => {
            let why = "give either `codes` or `select: \"best\"`";
            return Err(ApiError::validation(why).with_field_error("select", why));
        }
    };
    let order_id = format!(
        "m-{}-{:08x}",
        state.app.now().format("%Y%m%d%H%M%S"),
        rand::thread_rng().r#gen::<u32>()
    );
    let cart = Cart {
        user: QuoteUser {
            id: user_id.clone(),
            ..QuoteUser::default()
        },
        lines: body.lines,
        shipping_fee: body.shipping_fee,
        select,
        currency: Currency::default(),
        order_id: None,
        context: Default::default(),
    };
    let actor = Actor(format!("user:{user_id}"));
    let locked = state.app.lock_order(&actor, &order_id, cart).await?;
    let paid = match state.app.redeem_order(&actor, &order_id).await {
        Ok(paid) => paid,
        Err(error) => {
            // Do not leave the coupons locked by an order nobody will pay.
            let _ = state.app.release_order(&actor, &order_id).await;
            return Err(error.into());
        }
    };
    let quote = &paid.quote;
    Ok(ApiJson(json!({
        "order_id": paid.order_id,
        "user_id": paid.user_id,
        "state": serde_json::to_value(paid.state).unwrap_or(Value::Null),
        "amount": quote.subtotal + quote.shipping_fee,
        "subtotal": quote.subtotal,
        "shipping_fee": quote.shipping_fee,
        "discount": quote.promo_discount + quote.coupon_discount + quote.shipping_discount,
        "coupon_discount": quote.coupon_discount + quote.shipping_discount,
        "paid": quote.payable,
        "coupons": locked.quote.selected,
        "created_at": paid.created_at,
    })))
}

/// One product of the demo catalogue; prices in fen.
struct Product {
    sku: &'static str,
    product: &'static str,
    name: &'static str,
    name_en: &'static str,
    categories: &'static [&'static str],
    brand: &'static str,
    shop: &'static str,
    shop_name: &'static str,
    price: i64,
}

/// The demo's products: the SKUs, categories, brands and shops the demo
/// templates and orders use (crates/cli/src/demo.rs), with shelf names.
const PRODUCTS: &[Product] = &[
    Product {
        sku: "sku-oxford-shirt-l",
        product: "p-oxford-shirt",
        name: "雅戈尔 男士牛津纺长袖衬衫 L码",
        name_en: "Youngor men's Oxford shirt, L",
        categories: &["c-apparel", "c-men", "c-men-shirts"],
        brand: "b-youngor",
        shop: "s-fashion",
        shop_name: "潮流服饰店",
        price: 19900,
    },
    Product {
        sku: "sku-jeans-32",
        product: "p-straight-jeans",
        name: "Levi's 501 经典直筒牛仔裤 32码",
        name_en: "Levi's 501 straight jeans, 32",
        categories: &["c-apparel", "c-men", "c-men-pants"],
        brand: "b-levis",
        shop: "s-fashion",
        shop_name: "潮流服饰店",
        price: 39900,
    },
    Product {
        sku: "sku-dress-m",
        product: "p-floral-dress",
        name: "UR 法式碎花连衣裙 M码",
        name_en: "UR French floral dress, M",
        categories: &["c-apparel", "c-women", "c-women-dresses"],
        brand: "b-ur",
        shop: "s-fashion",
        shop_name: "潮流服饰店",
        price: 29900,
    },
    Product {
        sku: "sku-tee-basic",
        product: "p-basic-tee",
        name: "优衣库 基础款纯棉圆领T恤",
        name_en: "Uniqlo basic cotton T-shirt",
        categories: &["c-apparel", "c-unisex"],
        brand: "b-uniqlo",
        shop: "s-fashion",
        shop_name: "潮流服饰店",
        price: 3900,
    },
    Product {
        sku: "sku-socks-5p",
        product: "p-cotton-socks",
        name: "优衣库 精梳棉中筒袜 5双装",
        name_en: "Uniqlo cotton socks, 5 pairs",
        categories: &["c-apparel", "c-accessories"],
        brand: "b-uniqlo",
        shop: "s-fashion",
        shop_name: "潮流服饰店",
        price: 4900,
    },
    Product {
        sku: "sku-cup",
        product: "p-mug",
        name: "乐扣乐扣 陶瓷马克杯 350ml",
        name_en: "LocknLock ceramic mug, 350 ml",
        categories: &["c-home", "c-kitchen"],
        brand: "b-locklock",
        shop: "s-home",
        shop_name: "家居生活馆",
        price: 2900,
    },
    Product {
        sku: "sku-book-santi",
        product: "p-santi-trilogy",
        name: "三体（全三册）刘慈欣",
        name_en: "The Three-Body Problem trilogy",
        categories: &["c-books", "c-books-scifi"],
        brand: "b-cqph",
        shop: "s-books",
        shop_name: "书香书店",
        price: 9900,
    },
    Product {
        sku: "sku-book-huozhe",
        product: "p-huozhe",
        name: "活着 余华",
        name_en: "To Live, by Yu Hua",
        categories: &["c-books", "c-books-literature"],
        brand: "b-writers",
        shop: "s-books",
        shop_name: "书香书店",
        price: 4500,
    },
    Product {
        sku: "sku-coffee-beans",
        product: "p-yunnan-beans",
        name: "Seesaw 云南保山 咖啡豆 250g",
        name_en: "Seesaw Yunnan coffee beans, 250 g",
        categories: &["c-food", "c-coffee"],
        brand: "b-seesaw",
        shop: "s-coffee",
        shop_name: "街角咖啡",
        price: 8800,
    },
    Product {
        sku: "sku-earbuds",
        product: "p-freebuds",
        name: "华为 FreeBuds 无线降噪耳机",
        name_en: "Huawei FreeBuds noise-cancelling earbuds",
        categories: &["c-digital", "c-audio"],
        brand: "b-huawei",
        shop: "s-digital",
        shop_name: "数码旗舰店",
        price: 59900,
    },
];

/// Demo users are `u-1001` … `u-1050` (crates/cli/src/demo.rs); the
/// sign-in screen offers the first few.
const DEMO_USERS_LISTED: usize = 8;

async fn catalogue(State(state): State<AppState>) -> Result<ApiJson<Value>, ApiError> {
    demo_only(&state)?;
    let products: Vec<Value> = PRODUCTS
        .iter()
        .map(|product| {
            json!({
                "sku": product.sku,
                "product": product.product,
                "name": product.name,
                "name_en": product.name_en,
                "categories": product.categories,
                "brand": product.brand,
                "shop": product.shop,
                "shop_name": product.shop_name,
                "price": product.price,
            })
        })
        .collect();
    let users: Vec<String> = (0..DEMO_USERS_LISTED)
        .map(|index| format!("u-{}", 1001 + index))
        .collect();
    Ok(ApiJson(json!({
        "products": products,
        "users": users,
    })))
}
