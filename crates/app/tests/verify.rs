#![allow(clippy::unwrap_used)]
//! Counter verification (SPEC §9) on every back end: what a merchant and a
//! partner may verify, typed codes, and the spend itself.

mod support;

use chrono::Duration;
use serde_json::json;

use couponflow_app::verify::VerifierScope;
use couponflow_core::coupon::CouponState;
use support::orders::*;
use support::*;

fn gift(extra: serde_json::Value) -> serde_json::Value {
    template_body("咖啡券", json!({"kind": "gift", "item": "一杯咖啡"}), extra)
}

fn merchant(shops: &[&str]) -> VerifierScope {
    VerifierScope::Merchant {
        shops: shops.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn partner(templates: &[&str]) -> VerifierScope {
    VerifierScope::Partner {
        templates: templates.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// `ABCD…` as a person might type it: lower case, in groups of four.
fn typed(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).to_lowercase())
        .collect::<Vec<_>>()
        .join("-")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_gift_is_previewed_and_spent_at_its_own_counter_once() {
    for t in apps().await {
        let app = &t.app;
        let shop_gift = gift(json!({"issuer": {"type": "shop", "shop": "s-1"}}));
        let (template_id, code) = coupon_of(app, "u-1", shop_gift).await;

        let seen = app
            .preview_verification(&merchant(&["s-1"]), &typed(&code), "s-1")
            .await
            .unwrap();
        assert_eq!(seen.code, code, "{}", t.url);
        assert_eq!(
            (seen.benefit_kind.as_str(), seen.item.as_deref()),
            ("gift", Some("一杯咖啡"))
        );
        assert_eq!(
            (seen.template_id.as_str(), seen.usable),
            (template_id.as_str(), true)
        );

        let spent = app
            .confirm_verification(
                &actor("clerk-7"),
                &merchant(&["s-1"]),
                &code,
                "s-1",
                "clerk-7",
            )
            .await
            .unwrap();
        assert_eq!(spent.state, CouponState::Redeemed);
        let coupon = app.coupon(&code).await.unwrap();
        assert_eq!(
            (
                coupon.state,
                coupon.store_id.as_deref(),
                coupon.staff_id.as_deref()
            ),
            (CouponState::Redeemed, Some("s-1"), Some("clerk-7"))
        );
        let again = app
            .confirm_verification(
                &actor("clerk-7"),
                &merchant(&["s-1"]),
                &code,
                "s-1",
                "clerk-7",
            )
            .await
            .unwrap_err();
        assert_eq!(again.code(), "COUPON_STATE");
        let seen = app
            .preview_verification(&VerifierScope::Staff, &code, "s-1")
            .await
            .unwrap();
        assert_eq!(
            (seen.usable, seen.reason.as_deref()),
            (false, Some("NOT_AVAILABLE"))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_verifies_only_what_its_shops_may_accept_and_a_partner_only_its_templates() {
    for t in apps().await {
        let app = &t.app;
        let (shop_template, shop_code) = coupon_of(
            app,
            "u-1",
            gift(json!({"issuer": {"type": "shop", "shop": "s-1"}})),
        )
        .await;
        let scoped = gift(json!({"scope": {"include": {"shops": ["s-3"]}}}));
        let (_, scoped_code) = coupon_of(app, "u-1", scoped).await;
        let allowed = gift(json!({"labels": {"accept_at_stores": "true"}}));
        let (_, allowed_code) = coupon_of(app, "u-1", allowed).await;
        let listed = gift(json!({"labels": {"accept_at_stores": "s-8, s-9"}}));
        let (_, listed_code) = coupon_of(app, "u-1", listed).await;
        let (_, platform_code) = coupon_of(app, "u-1", gift(json!({}))).await;

        let cases = [
            (merchant(&["s-1"]), &shop_code, true),
            (merchant(&["s-2"]), &shop_code, false),
            (merchant(&["s-2", "s-3"]), &scoped_code, true),
            (merchant(&["s-1"]), &scoped_code, false),
            (merchant(&["s-5"]), &allowed_code, true),
            (merchant(&["s-9"]), &listed_code, true),
            (merchant(&["s-5"]), &listed_code, false),
            (merchant(&["s-1"]), &platform_code, false),
            (partner(&[shop_template.as_str()]), &shop_code, true),
            (partner(&[shop_template.as_str()]), &platform_code, false),
            (VerifierScope::Staff, &platform_code, true),
        ];
        for (scope, code, admitted) in &cases {
            let preview = app.preview_verification(scope, code, "store-1").await;
            match (admitted, preview) {
                (true, Ok(seen)) => assert!(seen.usable),
                (false, Err(error)) => assert_eq!(
                    error.code(),
                    "COUPON_NOT_FOUND",
                    "out of scope looks unknown"
                ),
                (_, other) => panic!("{scope:?} on {code}: {other:?} ({})", t.url),
            }
        }
        let refused = app
            .confirm_verification(&actor("x"), &partner(&["t-none"]), &shop_code, "p-1", "x")
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "COUPON_NOT_FOUND");
        assert_eq!(
            app.coupon(&shop_code).await.unwrap().state,
            CouponState::Available
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_code_is_refused_before_any_lookup_and_an_expired_coupon_cannot_be_spent() {
    for t in apps().await {
        let app = &t.app;
        let (_, code) = coupon_of(app, "u-1", gift(json!({}))).await;
        let mut typo = code.clone().into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'0' { b'1' } else { b'0' };
        let typo = String::from_utf8(typo).unwrap();
        let error = app
            .preview_verification(&VerifierScope::Staff, &typo, "s-1")
            .await
            .unwrap_err();
        assert_eq!(error.code(), "VALIDATION_FAILED", "{}", t.url);
        let unknown = app
            .preview_verification(&VerifierScope::Staff, "0000-0000-0000", "s-1")
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), "COUPON_NOT_FOUND");

        t.clock.advance(Duration::days(31));
        let seen = app
            .preview_verification(&VerifierScope::Staff, &code, "s-1")
            .await
            .unwrap();
        assert_eq!(
            (seen.usable, seen.reason.as_deref()),
            (false, Some("EXPIRED"))
        );
        let error = app
            .confirm_verification(
                &actor("clerk"),
                &VerifierScope::Staff,
                &code,
                "s-1",
                "clerk",
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "COUPON_STATE");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coupon_limited_to_other_channels_is_not_spent_at_a_counter() {
    for t in apps().await {
        let app = &t.app;
        let body = gift(json!({"channels": ["app"]}));
        let template_id = live_template(app, body).await;
        let request = couponflow_app::claims::ClaimRequest {
            user: couponflow_app::claims::ClaimUser {
                id: "u-1".into(),
                channel: Some("app".into()),
                ..Default::default()
            },
            request_id: "channel-1".into(),
            context: serde_json::Value::Null,
        };
        let code = app.claim(&template_id, request).await.unwrap().code;
        let seen = app
            .preview_verification(&VerifierScope::Staff, &code, "s-1")
            .await
            .unwrap();
        assert_eq!(
            (seen.usable, seen.reason.as_deref()),
            (false, Some("CHANNEL")),
            "{}",
            t.url
        );
        let error = app
            .confirm_verification(
                &actor("clerk"),
                &VerifierScope::Staff,
                &code,
                "s-1",
                "clerk",
            )
            .await
            .unwrap_err();
        assert_eq!(error.code(), "CONFLICT");
        assert_eq!(
            app.coupon(&code).await.unwrap().state,
            CouponState::Available
        );
    }
}
