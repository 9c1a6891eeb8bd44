#![allow(clippy::unwrap_used)]
//! Balances (SPEC §7.7) on every back end: cashback credited once on
//! complete and debited back pro rata on refunds, shortfalls when the
//! balance was spent, adjustments, the exchange hook, overdrafts refused
//! under concurrency, and the database's own guards.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};

use couponflow_app::balances::{self, Adjustment, EntryReason};
use couponflow_app::orders::{RefundRequest, RefundRequestLine};
use couponflow_app::{Actor, App};
use couponflow_core::template::BalanceKind;
use couponflow_store::StoreError;
use support::orders::*;
use support::*;

fn refund(refund_id: &str, lines: &[(&str, u32)]) -> RefundRequest {
    RefundRequest {
        refund_id: refund_id.to_owned(),
        lines: lines
            .iter()
            .map(|(line_id, quantity)| RefundRequestLine {
                line_id: (*line_id).to_owned(),
                quantity: *quantity,
            })
            .collect(),
    }
}

/// 满200返20: 2000 of `to` back on orders of 200 yuan or more.
fn cashback(to: &str) -> Value {
    template_body(
        "满200返20",
        json!({"kind": "cashback", "tiers": [{"min_amount": 20000, "back": 2000}], "to": to}),
        json!({}),
    )
}

async fn balance(app: &App, user: &str, kind: BalanceKind) -> i64 {
    let all = app.balances(user).await.unwrap();
    all.into_iter().find(|b| b.kind == kind).unwrap().balance
}

fn adjustment(amount: i64, key: &str) -> Adjustment {
    Adjustment {
        amount,
        reason: "goodwill".into(),
        idempotency_key: key.into(),
    }
}

/// A paid order `order_id` of `user` holding one cashback coupon of `to`:
/// line a 10000 × 1 and line b 3334 × 3, 20002 of goods.
async fn paid_order(app: &App, user: &str, order_id: &str, to: &str) -> String {
    let (_, code) = coupon_of(app, user, cashback(to)).await;
    let lines = vec![line("a", 10000, 1), line("b", 3334, 3)];
    let order = cart(user, lines, chosen(&[&code]));
    let locked = app
        .lock_order(&actor("mall"), order_id, order)
        .await
        .unwrap();
    assert_eq!(locked.quote.cashback[0].amount, 2000);
    app.redeem_order(&actor("mall"), order_id).await.unwrap();
    code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_credits_the_cashback_once_and_a_retry_changes_nothing() {
    for t in apps().await {
        let app = &t.app;
        let code = paid_order(app, "u-1", "o-1", "points").await;
        let completed = app.complete_order(&actor("mall"), "o-1").await.unwrap();
        assert_eq!(completed.credited.len(), 1, "{}", t.url);
        let credit = &completed.credited[0];
        assert_eq!(
            (
                credit.coupon.as_str(),
                credit.to,
                credit.amount,
                credit.shortfall
            ),
            (code.as_str(), BalanceKind::Points, 2000, 0)
        );
        assert_eq!(credit.balance_after, Some(2000));
        assert_eq!(balance(app, "u-1", BalanceKind::Points).await, 2000);
        assert_eq!(balance(app, "u-1", BalanceKind::Wallet).await, 0);

        let again = app.complete_order(&actor("mall"), "o-1").await.unwrap();
        assert_eq!(again, completed);
        assert_eq!(balance(app, "u-1", BalanceKind::Points).await, 2000);
        let entries = app
            .balance_entries("u-1", BalanceKind::Points, None, 50)
            .await
            .unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].reason, entries[0].amount, entries[0].seq),
            (EntryReason::Cashback, 2000, 1)
        );
        assert_eq!(entries[0].reference, "o-1");
        assert_eq!(entries[0].actor, "mall");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_then_full_refund_debits_back_pro_rata_and_the_reversals_add_up_to_the_credit() {
    for t in apps().await {
        let app = &t.app;
        paid_order(app, "u-1", "o-1", "wallet").await;
        app.complete_order(&actor("mall"), "o-1").await.unwrap();

        let first = app
            .refund_order(&actor("mall"), "o-1", refund("r-1", &[("b", 1)]))
            .await
            .unwrap();
        // 3334 of 20002 refunded: round_half_up(2000 × 3334 / 20002) = 333.
        assert_eq!(first.amount, 3334, "{}", t.url);
        assert_eq!(first.cashback_reversed.len(), 1);
        assert_eq!(first.cashback_reversed[0].amount, 333);
        assert_eq!(first.cashback_shortfall, 0);
        assert_eq!(balance(app, "u-1", BalanceKind::Wallet).await, 1667);

        let second = app
            .refund_order(&actor("mall"), "o-1", refund("r-2", &[("a", 1), ("b", 2)]))
            .await
            .unwrap();
        assert!(second.order_fully_refunded);
        // The last refund takes the remainder.
        assert_eq!(second.cashback_reversed[0].amount, 1667);
        assert_eq!(second.cashback_reversed[0].balance_after, Some(0));
        assert_eq!(balance(app, "u-1", BalanceKind::Wallet).await, 0);

        let entries = app
            .balance_entries("u-1", BalanceKind::Wallet, None, 50)
            .await
            .unwrap();
        let amounts: Vec<(i64, EntryReason)> =
            entries.iter().map(|e| (e.amount, e.reason)).collect();
        assert_eq!(
            amounts,
            vec![
                (-1667, EntryReason::CashbackReversal),
                (-333, EntryReason::CashbackReversal),
                (2000, EntryReason::Cashback),
            ]
        );
        assert_eq!(entries.iter().map(|e| e.amount).sum::<i64>(), 0);
        // A replayed refund answers the same and debits nothing more.
        let replay = app
            .refund_order(&actor("mall"), "o-1", refund("r-1", &[("b", 1)]))
            .await
            .unwrap();
        assert_eq!(replay, first);
        assert_eq!(
            app.balance_entries("u-1", BalanceKind::Wallet, None, 50)
                .await
                .unwrap()
                .len(),
            3
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_before_completion_reverses_nothing_and_the_credit_is_what_is_left() {
    for t in apps().await {
        let app = &t.app;
        paid_order(app, "u-1", "o-1", "points").await;
        let early = app
            .refund_order(&actor("mall"), "o-1", refund("r-1", &[("b", 1)]))
            .await
            .unwrap();
        assert!(early.cashback_reversed.is_empty(), "{}", t.url);
        assert_eq!(balance(app, "u-1", BalanceKind::Points).await, 0);

        // Completing after it credits the cashback less that refund's piece …
        let completed = app.complete_order(&actor("mall"), "o-1").await.unwrap();
        assert_eq!(completed.credited[0].amount, 2000 - 333);
        // … and the refunds after it take back exactly what was credited.
        let rest = app
            .refund_order(&actor("mall"), "o-1", refund("r-2", &[("a", 1), ("b", 2)]))
            .await
            .unwrap();
        assert_eq!(rest.cashback_reversed[0].amount, 1667);
        assert_eq!(balance(app, "u-1", BalanceKind::Points).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_balance_is_debited_to_zero_and_the_rest_is_recorded_as_shortfall() {
    for t in apps().await {
        let app = &t.app;
        paid_order(app, "u-1", "o-1", "points").await;
        app.complete_order(&actor("mall"), "o-1").await.unwrap();
        let spent = adjustment(-1900, "spend-1");
        app.adjust_balance(&actor("ops"), "u-1", BalanceKind::Points, spent)
            .await
            .unwrap();

        let all = refund("r-1", &[("a", 1), ("b", 3)]);
        let refunded = app.refund_order(&actor("mall"), "o-1", all).await.unwrap();
        let reversal = &refunded.cashback_reversed[0];
        assert_eq!(
            (reversal.amount, reversal.shortfall),
            (100, 1900),
            "{}",
            t.url
        );
        assert_eq!(refunded.cashback_shortfall, 1900);
        assert_eq!(balance(app, "u-1", BalanceKind::Points).await, 0);
        // The refund itself went through, and is stored with its shortfall.
        let stored = app.order_refunds("o-1").await.unwrap();
        assert_eq!(stored, vec![refunded]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdraft_is_refused_and_changes_nothing() {
    for t in apps().await {
        let app = &t.app;
        let kind = BalanceKind::Wallet;
        let ops = actor("finance-1");
        let credited = app
            .adjust_balance(&ops, "u-1", kind, adjustment(500, "a-1"))
            .await
            .unwrap();
        assert_eq!((credited.balance_after, credited.seq), (500, 1));
        assert_eq!(credited.note.as_deref(), Some("goodwill"));
        let refused = app
            .adjust_balance(&ops, "u-1", kind, adjustment(-501, "a-2"))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "INSUFFICIENT_BALANCE", "{}", t.url);
        assert_eq!(balance(app, "u-1", kind).await, 500);
        let never = app
            .adjust_balance(&ops, "u-9", kind, adjustment(-1, "a-3"))
            .await
            .unwrap_err();
        assert_eq!(never.code(), "INSUFFICIENT_BALANCE");
        assert_eq!(app.balances("u-9").await.unwrap()[1].version, 0);

        // Same key, same content: the same entry; other content: a conflict.
        let again = app
            .adjust_balance(&ops, "u-1", kind, adjustment(500, "a-1"))
            .await
            .unwrap();
        assert_eq!(again, credited);
        let other = app
            .adjust_balance(&ops, "u-1", kind, adjustment(-500, "a-1"))
            .await
            .unwrap_err();
        assert_eq!(other.code(), "IDEMPOTENCY_CONFLICT");
        for bad in [adjustment(0, "a-4"), adjustment(1, " ")] {
            let error = app.adjust_balance(&ops, "u-1", kind, bad).await;
            assert_eq!(error.unwrap_err().code(), "VALIDATION_FAILED");
        }
        assert_eq!(balance(app, "u-1", kind).await, 500);
        assert_eq!(app.balances("u-1").await.unwrap()[1].version, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_a_negative_balance_and_changed_or_removed_entries() {
    for t in apps().await {
        let app = &t.app;
        app.adjust_balance(
            &actor("ops"),
            "u-1",
            BalanceKind::Points,
            adjustment(10, "k"),
        )
        .await
        .unwrap();
        let statements = [
            (
                "UPDATE balances SET balance = -1 WHERE user_id = 'u-1'",
                "balances_not_negative",
            ),
            (
                "UPDATE balance_entries SET amount = 99 WHERE user_id = 'u-1'",
                "append-only",
            ),
            (
                "DELETE FROM balance_entries WHERE user_id = 'u-1'",
                "append-only",
            ),
            (
                "INSERT INTO balances (user_id, kind, balance, version, updated_at) \
                 VALUES ('u-2', 'coins', 0, 0, 0)",
                "balances_kind",
            ),
        ];
        for (statement, guard) in statements {
            let result: Result<(), StoreError> = app
                .store()
                .write(move |connection| {
                    Box::pin(async move {
                        sqlx::query(statement).execute(connection).await?;
                        Ok(())
                    })
                })
                .await;
            let error = result.unwrap_err().to_string();
            assert!(error.contains(guard), "{statement} on {}: {error}", t.url);
        }
        assert_eq!(balance(app, "u-1", BalanceKind::Points).await, 10);
        let entries = app
            .balance_entries("u-1", BalanceKind::Points, None, 50)
            .await
            .unwrap();
        assert_eq!(entries[0].amount, 10);
    }
}

/// Debits of `amount` each, all at once, from a balance of `start`.
async fn concurrent_debits(app: &Arc<App>, start: i64, amount: i64, count: usize) -> usize {
    let ops = actor("ops");
    app.adjust_balance(&ops, "u-1", BalanceKind::Points, adjustment(start, "start"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for n in 0..count {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("debit-{n}");
            let posting = balances::Posting {
                user_id: "u-1".into(),
                kind: BalanceKind::Points,
                amount,
                reason: EntryReason::Exchange,
                reference: key.clone(),
                note: None,
                idempotency_key: key,
                actor: Actor("claims".into()),
                now: app.now(),
            };
            app.store()
                .write(move |connection| {
                    Box::pin(async move { balances::debit(connection, &posting).await })
                })
                .await
        }));
    }
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => applied += 1,
            Err(error) => assert_eq!(error.code(), "INSUFFICIENT_BALANCE"),
        }
    }
    applied
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_overdraw_and_apply_exactly_what_the_balance_covers() {
    for t in apps().await {
        let app = Arc::new(t.app);
        let applied = concurrent_debits(&app, 1000, 70, 40).await;
        assert_eq!(applied, 14, "floor(1000 / 70) on {}", t.url);
        assert_eq!(
            balance(&app, "u-1", BalanceKind::Points).await,
            1000 - 14 * 70
        );
        let entries = app
            .balance_entries("u-1", BalanceKind::Points, None, 500)
            .await
            .unwrap();
        assert_eq!(entries.len(), 15);
        // The ledger replays to the balance, each entry on the one before.
        let mut running = 0;
        for entry in entries.iter().rev() {
            running += entry.amount;
            assert_eq!(entry.balance_after, running);
            assert!(entry.balance_after >= 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exchange_hook_debits_points_once_per_request_and_refuses_a_short_balance() {
    for t in apps().await {
        let app = &t.app;
        app.adjust_balance(
            &actor("ops"),
            "u-1",
            BalanceKind::Points,
            adjustment(300, "k"),
        )
        .await
        .unwrap();
        let exchange = |points: i64, request: &'static str| {
            let now = app.now();
            app.store().write(move |connection| {
                Box::pin(async move {
                    let claims = Actor("claims".into());
                    balances::debit_points_for_exchange(
                        connection, "u-1", points, request, &claims, now,
                    )
                    .await
                })
            })
        };
        let first = exchange(200, "claim-1").await.unwrap();
        assert_eq!(first.balance_after, 100, "{}", t.url);
        assert_eq!(exchange(200, "claim-1").await.unwrap(), first);
        let short = exchange(200, "claim-2").await.unwrap_err();
        assert_eq!(short.code(), "INSUFFICIENT_BALANCE");
        assert_eq!(balance(app, "u-1", BalanceKind::Points).await, 100);
        let page = app
            .balance_entries("u-1", BalanceKind::Points, Some(2), 50)
            .await
            .unwrap();
        assert_eq!(page.len(), 1, "entries before seq 2");
        assert_eq!(page[0].reason, EntryReason::Adjustment);
    }
}
