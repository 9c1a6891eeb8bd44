//! Lock + redeem pairs per second through the use cases (no HTTP).
//!
//! `cargo run --release -p couponflow-app --example order_throughput -- [DATABASE_URL] [ORDERS] [CONCURRENCY]`
//! Defaults: a temporary SQLite file, 20,000 orders, 256 concurrent callers.
//! Each order is one user's cart of two lines with the user's one coupon
//! selected explicitly: lock (the quote recomputed and stored with the
//! order, the coupon locked), then redeem (paid).

use std::sync::Arc;
use std::time::Instant;

use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_app::templates::Decision;
use couponflow_app::{Actor, App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_core::quote::{Cart, CartLine, QuoteUser, Select};
use couponflow_core::template::Template;
use couponflow_store::Store;

fn cart(user: &str, code: &str) -> Cart {
    let line = |id: &str, price: i64| CartLine {
        line_id: id.to_owned(),
        sku: format!("sku-{id}"),
        product: None,
        categories: vec![],
        brand: None,
        shop: None,
        venues: vec![],
        unit_price: price,
        quantity: 1,
        promo_discount: 0,
    };
    Cart {
        user: QuoteUser {
            id: user.to_owned(),
            ..QuoteUser::default()
        },
        lines: vec![line("1", 19_900), line("2", 12_900)],
        shipping_fee: 0,
        select: Select::Coupons(vec![code.to_owned()]),
        currency: Default::default(),
        order_id: None,
        context: Default::default(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(couponflow_store::testing::fresh_sqlite_url);
    let orders: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let concurrency: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(256);
    let store = Arc::new(Store::open_and_migrate(&url).await?);
    let start =
        chrono::DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")?.with_timezone(&chrono::Utc);
    let app = Arc::new(App::new(
        store,
        Arc::new(FixedClock::new(start)),
        Settings::default(),
    ));
    let template: Template = serde_json::from_value(serde_json::json!({
        "name": "满300减50", "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]},
        "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
        "limits": {"total": 1_000, "per_user": 1}}))?;
    let mut template = template;
    template.limits.total = Some(orders as u64);
    let (ops, lead, cfo) = (
        Actor("ops".into()),
        Actor("lead".into()),
        Actor("cfo".into()),
    );
    let id = app.create_template(&ops, template).await?.id;
    app.submit_template(&ops, &id).await?;
    app.review_template(&lead, &id, Decision::Approve, None)
        .await?;
    if app.template(&id).await?.status.as_str() == "pending_review" {
        app.review_template(&cfo, &id, Decision::Approve, None)
            .await?;
    }
    // One coupon per user, claimed concurrently (not timed).
    let claims: Vec<_> = (0..orders)
        .map(|n| {
            let (app, id) = (app.clone(), id.clone());
            tokio::spawn(async move {
                let user = ClaimUser {
                    id: format!("u-{n}"),
                    ..ClaimUser::default()
                };
                let request = ClaimRequest {
                    user,
                    request_id: format!("r-{n}"),
                    context: serde_json::Value::Null,
                };
                app.claim(&id, request).await.map(|c| (n, c.code))
            })
        })
        .collect();
    let mut coupons = Vec::with_capacity(orders);
    for claim in claims {
        coupons.push(claim.await??);
    }
    let coupons = Arc::new(coupons);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let (app, coupons) = (app.clone(), coupons.clone());
            tokio::spawn(async move {
                let service = Actor("key:bench".into());
                let mut paid = 0usize;
                for (n, code) in coupons.iter().skip(task).step_by(concurrency) {
                    let order = format!("o-{n}");
                    if app
                        .lock_order(&service, &order, cart(&format!("u-{n}"), code))
                        .await
                        .is_ok()
                        && app.redeem_order(&service, &order).await.is_ok()
                    {
                        paid += 1;
                    }
                }
                paid
            })
        })
        .collect();
    let mut paid = 0;
    for task in tasks {
        paid += task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{paid} orders locked and redeemed in {seconds:.2} s = {:.0} orders/s",
        paid as f64 / seconds
    );
    Ok(())
}
