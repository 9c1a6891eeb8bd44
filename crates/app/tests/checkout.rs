#![allow(clippy::unwrap_used)]
//! Checkout (SPEC §7) over the user's own coupons, and the product page
//! (§7.6), on every back end.

mod support;

use serde_json::json;

use couponflow_core::quote::{CartLine, ReasonCode, Select};
use support::orders::*;
use support::*;

fn threshold(min_amount: i64, off: i64) -> serde_json::Value {
    template_body(
        "满减",
        json!({"kind": "threshold", "tiers": [{"min_amount": min_amount, "off": off}]}),
        json!({}),
    )
}

fn product(unit_price: i64, quantity: u32) -> CartLine {
    let mut line = line("p", unit_price, quantity);
    line.product = Some("p-1".into());
    line.sku = "sku-1".into();
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_uses_only_the_users_own_coupons_and_those_locked_by_this_order() {
    for t in apps().await {
        let app = &t.app;
        let (template_id, small) = coupon_of(app, "u-1", threshold(10000, 1000)).await;
        let large = claim(
            app,
            &live_template(app, threshold(10000, 3000)).await,
            "u-1",
        )
        .await;
        let theirs = claim(app, &template_id, "u-2").await;

        let quote = app
            .quote_for_user(cart("u-1", vec![line("a", 20000, 1)], Select::Best))
            .await
            .unwrap();
        assert_eq!(quote.selected, vec![large.clone()], "{}", t.url);
        assert_eq!(quote.payable, 17000);
        let ids: Vec<&str> = quote.coupons.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec![large.as_str(), small.as_str()]);
        assert!(!ids.contains(&theirs.as_str()));

        let order = cart("u-1", vec![line("a", 20000, 1)], chosen(&[&large]));
        app.lock_order(&actor("mall"), "o-1", order).await.unwrap();
        let mut again = cart("u-1", vec![line("a", 20000, 1)], Select::Best);
        assert_eq!(
            app.quote_for_user(again.clone()).await.unwrap().selected,
            vec![small.clone()]
        );
        again.order_id = Some("o-1".into());
        assert_eq!(
            app.quote_for_user(again).await.unwrap().selected,
            vec![large]
        );

        let below = app
            .quote_for_user(cart("u-1", vec![line("a", 5000, 1)], Select::Best))
            .await
            .unwrap();
        assert!(below.selected.is_empty());
        assert_eq!(below.coupons[0].reasons[0].code, ReasonCode::BelowThreshold);
        assert_eq!(below.coupons[0].reasons[0].missing, Some(5000));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_lists_held_and_claimable_coupons_and_the_price_after_the_best() {
    for t in apps().await {
        let app = &t.app;
        let mut once = threshold(10000, 1000);
        once["limits"] = json!({"per_user": 1});
        let (_, held) = coupon_of(app, "u-1", once).await;
        let item_only = template_body(
            "单品立减",
            json!({"kind": "cash", "amount": 3000}),
            json!({"scope": {"include": {"products": ["p-1"]}}}),
        );
        let claimable = live_template(app, item_only).await;
        let other_product = template_body(
            "别的商品",
            json!({"kind": "cash", "amount": 5000}),
            json!({"scope": {"include": {"products": ["p-2"]}}}),
        );
        live_template(app, other_product).await;
        let vip_only = template_body(
            "会员券",
            json!({"kind": "cash", "amount": 4000}),
            json!({"audience": {"tags_any": ["vip"]}}),
        );
        let vip = live_template(app, vip_only).await;
        let one_left = template_body(
            "限量",
            json!({"kind": "cash", "amount": 4500}),
            json!({"limits": {"total": 1}}),
        );
        let sold_out = live_template(app, one_left).await;
        claim(app, &sold_out, "u-2").await;
        let draft = template_body("草稿", json!({"kind": "cash", "amount": 6000}), json!({}));
        app.create_template(&actor("ops"), template(draft))
            .await
            .unwrap();

        let page = app
            .product_coupons(user("u-1"), product(20000, 1))
            .await
            .unwrap();
        assert_eq!(page.price, 20000, "{}", t.url);
        assert_eq!(page.held.len(), 1);
        assert_eq!(
            (page.held[0].code.as_str(), page.held[0].discount),
            (held.as_str(), 1000)
        );
        let offered: Vec<(&str, i64)> = page
            .claimable
            .iter()
            .map(|c| (c.template_id.as_str(), c.discount))
            .collect();
        assert_eq!(offered, vec![(claimable.as_str(), 3000)]);
        assert_eq!(page.price_after_best, 17000);
        assert_eq!(page.best_templates, vec![claimable.clone()]);
        assert!(page.best_codes.is_empty());

        let mut vip_user = user("u-1");
        vip_user.tags = vec!["vip".into()];
        let page = app
            .product_coupons(vip_user, product(20000, 1))
            .await
            .unwrap();
        assert_eq!(page.best_templates, vec![vip]);
        assert_eq!(page.price_after_best, 16000);

        // Below the held coupon's threshold only the claimable one applies.
        let page = app
            .product_coupons(user("u-1"), product(4000, 2))
            .await
            .unwrap();
        assert!(page.held.is_empty());
        assert_eq!(page.price_after_best, 5000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_page_stops_offering_a_template_the_user_holds_to_its_limit() {
    for t in apps().await {
        let app = &t.app;
        let body = template_body(
            "每人一张",
            json!({"kind": "cash", "amount": 800}),
            json!({"limits": {"per_user": 1}}),
        );
        let template_id = live_template(app, body).await;
        let before = app
            .product_coupons(user("u-1"), product(5000, 1))
            .await
            .unwrap();
        assert_eq!(
            before.best_templates,
            vec![template_id.clone()],
            "{}",
            t.url
        );
        let code = claim(app, &template_id, "u-1").await;
        let after = app
            .product_coupons(user("u-1"), product(5000, 1))
            .await
            .unwrap();
        assert!(after.claimable.is_empty());
        assert_eq!(after.best_codes, vec![code]);
        assert_eq!(after.price_after_best, 4200);
    }
}
