//! Coupons for the order, checkout and verification tests: live templates
//! made through the review flow, coupons through `App::claim`, and carts.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use couponflow_app::App;
use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_app::templates::Decision;
use couponflow_core::quote::{Cart, CartLine, QuoteUser, Select};

use super::{actor, template};

static REQUESTS: AtomicU64 = AtomicU64::new(0);

/// A template body: `benefit` over everything, valid 30 days from claim,
/// with `extra` fields laid over it.
pub fn template_body(name: &str, benefit: Value, extra: Value) -> Value {
    let mut body = json!({"name": name, "benefit": benefit, "scope": {"include": {"all": true}},
                          "validity": {"type": "relative", "days": 30}});
    if let Some(fields) = extra.as_object() {
        for (key, value) in fields {
            body[key] = value.clone();
        }
    }
    body
}

/// Creates, submits and approves (by someone else) a template.
pub async fn live_template(app: &App, body: Value) -> String {
    let id = app
        .create_template(&actor("ops"), template(body))
        .await
        .expect("template created")
        .id;
    app.submit_template(&actor("ops"), &id)
        .await
        .expect("template submitted");
    app.review_template(&actor("lead"), &id, Decision::Approve, None)
        .await
        .expect("template approved");
    id
}

/// One claimed coupon of `template_id` for `user`: its code.
pub async fn claim(app: &App, template_id: &str, user: &str) -> String {
    let request = ClaimRequest {
        user: ClaimUser {
            id: user.to_owned(),
            ..ClaimUser::default()
        },
        request_id: format!("req-{}", REQUESTS.fetch_add(1, Ordering::Relaxed)),
        context: Value::Null,
    };
    app.claim(template_id, request)
        .await
        .expect("coupon claimed")
        .code
}

/// A live template and one coupon of it for `user`.
pub async fn coupon_of(app: &App, user: &str, body: Value) -> (String, String) {
    let template_id = live_template(app, body).await;
    let code = claim(app, &template_id, user).await;
    (template_id, code)
}

pub fn line(line_id: &str, unit_price: i64, quantity: u32) -> CartLine {
    CartLine {
        line_id: line_id.to_owned(),
        sku: format!("sku-{line_id}"),
        product: Some(format!("p-{line_id}")),
        categories: Vec::new(),
        brand: None,
        shop: None,
        venues: Vec::new(),
        unit_price,
        quantity,
        promo_discount: 0,
    }
}

pub fn user(id: &str) -> QuoteUser {
    QuoteUser {
        id: id.to_owned(),
        ..QuoteUser::default()
    }
}

pub fn cart(user_id: &str, lines: Vec<CartLine>, select: Select) -> Cart {
    Cart {
        user: user(user_id),
        lines,
        shipping_fee: 0,
        select,
        currency: Default::default(),
        order_id: None,
        context: Default::default(),
    }
}

pub fn chosen(codes: &[&str]) -> Select {
    Select::Coupons(codes.iter().map(|c| (*c).to_owned()).collect())
}
