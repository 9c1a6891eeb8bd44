#![allow(clippy::unwrap_used)]
//! The budget ledger (SPEC §12) against values computed by hand, on every
//! back end: a shared cash coupon template (the platform bears 60%) from
//! approval through claims, payments, a refund, a void, expiry and the end;
//! and a template without a budget, whose redemptions draw from the budget.

mod support;

use chrono::Duration;
use serde_json::json;

use couponflow_app::App;
use couponflow_app::ledger::report::{Figures, LedgerReport, ReportQuery};
use couponflow_app::orders::{RefundRequest, RefundRequestLine};
use support::orders::*;
use support::*;

fn shared_cash(budget: Option<i64>) -> serde_json::Value {
    let mut limits = json!({});
    if let Some(budget) = budget {
        limits["budget"] = json!(budget);
    }
    template_body(
        "无门槛10元",
        json!({"kind": "cash", "amount": 1000}),
        json!({"issuer": {"type": "shared", "shop": "s-1", "platform_bp": 6000},
               "limits": limits}),
    )
}

async fn report(app: &App, template_id: &str) -> LedgerReport {
    let query = ReportQuery {
        template_id: Some(template_id.to_owned()),
        ..ReportQuery::default()
    };
    app.ledger_report(&query).await.unwrap()
}

/// (reserved, spent, released, escrow) of one issuer of the template.
fn side(report: &LedgerReport, issuer: &str) -> (i64, i64, i64, i64) {
    let figures: Figures = report
        .templates
        .iter()
        .find(|t| t.issuer == issuer)
        .map(|t| t.figures.clone())
        .unwrap_or_default();
    (
        figures.reserved,
        figures.spent,
        figures.released,
        figures.escrow_change,
    )
}

async fn assert_consistent(app: &App) {
    let check = app.ledger_check().await.unwrap();
    assert!(check.is_consistent(), "{:#?}", check.mismatches);
}

async fn pay(app: &App, order_id: &str, user: &str, code: &str, price: i64) {
    let mut shop_line = line("l0", price, 1);
    shop_line.shop = Some("s-1".into());
    let order = cart(user, vec![shop_line], chosen(&[code]));
    app.lock_order(&actor("mall"), order_id, order)
        .await
        .unwrap();
    app.redeem_order(&actor("mall"), order_id).await.unwrap();
}

#[tokio::test]
async fn a_shared_template_posts_hand_computed_entries_from_approval_to_end() {
    for t in apps().await {
        let app = &t.app;
        let id = live_template(app, shared_cash(Some(5000))).await;
        // Approval reserves the budget, split 60/40.
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 0, 0, 3000));
        assert_eq!(side(&r, "s-1"), (2000, 0, 0, 2000));
        assert_consistent(app).await;

        let a = claim(app, &id, "ua").await;
        let b = claim(app, &id, "ub").await;
        let c = claim(app, &id, "uc").await;
        assert_consistent(app).await;

        // a pays 7.00 for a 10.00 coupon: 4.20 + 2.80 spent, the 3.00 it
        // held beyond that released (1.80 + 1.20).
        pay(app, "o-a", "ua", &a, 700).await;
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 420, 180, 2400));
        assert_eq!(side(&r, "s-1"), (2000, 280, 120, 1600));
        assert_consistent(app).await;

        // b spends all of it, then the full refund returns it: re-reserved.
        pay(app, "o-b", "ub", &b, 5000).await;
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 1020, 180, 1800));
        let refund = RefundRequest {
            refund_id: "r-b".into(),
            lines: vec![RefundRequestLine {
                line_id: "l0".into(),
                quantity: 1,
            }],
        };
        app.refund_order(&actor("mall"), "o-b", refund)
            .await
            .unwrap();
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 420, 180, 2400));
        assert_eq!(side(&r, "s-1"), (2000, 280, 120, 1600));
        assert_consistent(app).await;

        // c is voided: what it held goes back.
        app.void_coupon(&actor("ops"), &c, None).await.unwrap();
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 420, 780, 1800));
        assert_eq!(side(&r, "s-1"), (2000, 280, 520, 1200));
        assert_consistent(app).await;

        // b expires unused.
        t.clock.advance(Duration::days(31));
        while app.expire_due(1_000).await.unwrap() > 0 {}
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 420, 1380, 1200));
        assert_eq!(side(&r, "s-1"), (2000, 280, 920, 800));
        assert_consistent(app).await;

        // The end releases the unissued rest.
        app.end_template(&actor("ops"), &id).await.unwrap();
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 420, 2580, 0));
        assert_eq!(side(&r, "s-1"), (2000, 280, 1720, 0));
        assert_eq!(r.settlement.len(), 1);
        assert_eq!(r.settlement[0].shop, "s-1");
        assert_eq!(
            (r.settlement[0].shop_spent, r.settlement[0].platform_spent),
            (280, 420)
        );
        assert_eq!(r.issuers.iter().map(|i| i.figures.spent).sum::<i64>(), 700);
        assert_consistent(app).await;
    }
}

#[tokio::test]
async fn a_template_without_budget_or_total_reserves_nothing_and_spends_from_the_budget() {
    for t in apps().await {
        let app = &t.app;
        let id = live_template(app, shared_cash(None)).await;
        assert!(report(app, &id).await.templates.is_empty());
        let a = claim(app, &id, "ua").await;
        pay(app, "o-a", "ua", &a, 700).await;
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (0, 420, 0, 0));
        assert_eq!(side(&r, "s-1"), (0, 280, 0, 0));
        assert_eq!(
            r.issuers
                .iter()
                .map(|i| i.figures.budget_drawn)
                .sum::<i64>(),
            700
        );
        let b = claim(app, &id, "ub").await;
        app.void_coupon(&actor("ops"), &b, None).await.unwrap();
        app.end_template(&actor("ops"), &id).await.unwrap();
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (0, 420, 0, 0));
        assert_consistent(app).await;
    }
}

#[tokio::test]
async fn a_total_without_budget_reserves_face_value_times_total() {
    for t in apps().await {
        let app = &t.app;
        let mut body = shared_cash(None);
        body["limits"] = json!({"total": 7});
        let id = live_template(app, body).await;
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (4200, 0, 0, 4200));
        assert_eq!(side(&r, "s-1"), (2800, 0, 0, 2800));
        assert_consistent(app).await;
    }
}

#[tokio::test]
async fn a_tampered_ledger_is_reported() {
    for t in apps().await {
        let app = &t.app;
        let id = live_template(app, shared_cash(Some(5000))).await;
        let a = claim(app, &id, "ua").await;
        // An expense nobody redeemed, balanced but unexplained by the coupon.
        let (template_id, code) = (id.clone(), a.clone());
        app.store()
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO ledger_entries (posting, line, kind, issuer, template_id, \
                         template_shop, account, code, amount, at) VALUES \
                         ('forged', 0, 'expense', 'platform', $1, 's-1', 'expense', $2, 100, 0), \
                         ('forged', 1, 'expense', 'platform', $1, 's-1', 'escrow', $2, -90, 0)",
                    )
                    .bind(template_id)
                    .bind(code)
                    .execute(&mut *connection)
                    .await
                    .map_err(couponflow_store::StoreError::from)?;
                    Ok::<_, couponflow_store::StoreError>(())
                })
            })
            .await
            .unwrap();
        let check = app.ledger_check().await.unwrap();
        assert!(!check.is_consistent());
        let problems: Vec<&str> = check
            .mismatches
            .iter()
            .map(|m| m.problem.as_str())
            .collect();
        assert!(
            problems.iter().any(|p| p.contains("does not balance")),
            "{problems:?}"
        );
        assert!(
            check
                .mismatches
                .iter()
                .any(|m| m.code.as_deref() == Some(a.as_str())),
            "{problems:?}"
        );
    }
}

#[tokio::test]
async fn a_counter_verification_spends_the_face_value_split_by_the_issuers() {
    for t in apps().await {
        let app = &t.app;
        let id = live_template(app, shared_cash(Some(5000))).await;
        let code = claim(app, &id, "ua").await;
        let scope = couponflow_app::verify::VerifierScope::Staff;
        app.confirm_verification(&actor("clerk"), &scope, &code, "s-1", "clerk")
            .await
            .unwrap();
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 600, 0, 2400), "{}", t.url);
        assert_eq!(side(&r, "s-1"), (2000, 400, 0, 1600));
        assert_consistent(app).await;
        // Voiding a spent coupon leaves it spent.
        app.void_coupon(&actor("ops"), &code, None).await.unwrap();
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3000, 600, 0, 2400));
        assert_consistent(app).await;
    }
}

#[tokio::test]
async fn a_partial_refund_reserves_the_new_cash_coupon_it_gives_back() {
    for t in apps().await {
        let app = &t.app;
        let id = live_template(app, shared_cash(Some(5000))).await;
        let code = claim(app, &id, "ua").await;
        let mut two = line("l0", 1000, 2);
        two.shop = Some("s-1".into());
        let order = cart("ua", vec![two], chosen(&[&code]));
        app.lock_order(&actor("mall"), "o-p", order).await.unwrap();
        app.redeem_order(&actor("mall"), "o-p").await.unwrap();
        let refund = RefundRequest {
            refund_id: "r-p".into(),
            lines: vec![RefundRequestLine {
                line_id: "l0".into(),
                quantity: 1,
            }],
        };
        let refund = app
            .refund_order(&actor("mall"), "o-p", refund)
            .await
            .unwrap();
        let given = refund.coupons[0]
            .new_coupon
            .clone()
            .expect("a new cash coupon");
        assert_eq!(
            app.coupon(&given).await.unwrap().face_value,
            500,
            "{}",
            t.url
        );
        // 5.00 more reserved for it (3.00 + 2.00); the spent 10.00 stays spent.
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3300, 600, 0, 2700));
        assert_eq!(side(&r, "s-1"), (2200, 400, 0, 1800));
        assert_consistent(app).await;
        // Voiding it releases what it held.
        app.void_coupon(&actor("ops"), &given, None).await.unwrap();
        let r = report(app, &id).await;
        assert_eq!(side(&r, "platform"), (3300, 600, 300, 2400));
        assert_consistent(app).await;
    }
}
