//! Balances (SPEC §7.7): every user's `points` and `wallet` (minor units of
//! CNY), each kept as an append-only ledger of entries beside one balance
//! row that every entry moves in the same unit. A balance never goes below
//! zero: a debit that would is refused (`INSUFFICIENT_BALANCE`) and the
//! table's CHECK is the last guard.
//!
//! The writes (`ledger`) take a connection, so the unit that causes a
//! posting — completing an order, a refund, a claim that costs points —
//! commits it too. Staff adjustments are their own unit.

pub(crate) mod ledger;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use couponflow_core::money::AMOUNT_MINOR_MAX;
use couponflow_core::template::BalanceKind;
use couponflow_store::StoreError;
use couponflow_store::time::from_micros;

use crate::{Actor, App, AppError, AppResult};
use ledger::ENTRY_COLUMNS;

pub use ledger::{
    POSTING_ID_CHARS_MAX, Posting, credit, debit, debit_points_for_exchange, debit_up_to,
    refund_points_for_exchange,
};

/// Both kinds, in the order they are answered.
pub const BALANCE_KINDS: [BalanceKind; 2] = [BalanceKind::Points, BalanceKind::Wallet];
/// Entries one page holds at most.
pub const ENTRY_PAGE_MAX: u32 = 500;
/// Characters of an adjustment's reason at most.
pub const ADJUSTMENT_REASON_CHARS_MAX: usize = 1_000;
/// Characters of an adjustment's idempotency key at most.
pub const ADJUSTMENT_KEY_CHARS_MAX: usize = 128;

/// Why an entry was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryReason {
    /// Credited when an order with a cashback coupon completed.
    Cashback,
    /// Cashback debited back on a refund of that order.
    CashbackReversal,
    /// Points spent on a claim that costs points (SPEC §6.2.5).
    Exchange,
    /// Points of an exchange given back.
    ExchangeRefund,
    /// A manual credit or debit by admin or finance.
    Adjustment,
}

impl EntryReason {
    pub const ALL: [EntryReason; 5] = [
        EntryReason::Cashback,
        EntryReason::CashbackReversal,
        EntryReason::Exchange,
        EntryReason::ExchangeRefund,
        EntryReason::Adjustment,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EntryReason::Cashback => "cashback",
            EntryReason::CashbackReversal => "cashback_reversal",
            EntryReason::Exchange => "exchange",
            EntryReason::ExchangeRefund => "exchange_refund",
            EntryReason::Adjustment => "adjustment",
        }
    }

    pub fn parse(text: &str) -> Option<EntryReason> {
        EntryReason::ALL
            .into_iter()
            .find(|reason| reason.as_str() == text)
    }
}

/// The name of a balance kind in storage and on the wire.
pub fn kind_str(kind: BalanceKind) -> &'static str {
    match kind {
        BalanceKind::Points => "points",
        BalanceKind::Wallet => "wallet",
    }
}

pub fn parse_kind(text: &str) -> Option<BalanceKind> {
    BALANCE_KINDS
        .into_iter()
        .find(|kind| kind_str(*kind) == text)
}

/// One balance of one user; zero (version 0) when never posted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub user_id: String,
    pub kind: BalanceKind,
    pub balance: i64,
    /// Entries posted so far: the `seq` of the latest.
    pub version: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

/// One ledger entry: never changed once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceEntry {
    pub id: String,
    pub user_id: String,
    pub kind: BalanceKind,
    /// 1, 2, 3, … per balance: the balance's version after this entry.
    pub seq: i64,
    /// Signed: credits positive, debits negative.
    pub amount: i64,
    pub balance_after: i64,
    pub reason: EntryReason,
    pub reference: String,
    pub note: Option<String>,
    pub idempotency_key: String,
    pub actor: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /v1/users/{user}/balances/{kind}/adjustments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// Signed: a credit when positive, a debit when negative.
    pub amount: i64,
    /// Why, in a person's words: kept on the entry.
    pub reason: String,
    pub idempotency_key: String,
}

fn check_user(user_id: &str) -> AppResult<()> {
    if user_id.trim().is_empty() || user_id.len() > 128 {
        return Err(AppError::invalid("user", "must be 1 to 128 characters"));
    }
    Ok(())
}

fn check_adjustment(adjustment: &Adjustment) -> AppResult<()> {
    let magnitude = adjustment.amount.checked_abs().unwrap_or(i64::MAX);
    if magnitude == 0 || magnitude > AMOUNT_MINOR_MAX {
        let reason = format!("must be non-zero and at most {AMOUNT_MINOR_MAX} either way");
        return Err(AppError::invalid("amount", reason));
    }
    let chars = adjustment.reason.chars().count();
    if adjustment.reason.trim().is_empty() || chars > ADJUSTMENT_REASON_CHARS_MAX {
        let reason = format!("must be 1 to {ADJUSTMENT_REASON_CHARS_MAX} characters");
        return Err(AppError::invalid("reason", reason));
    }
    let key = &adjustment.idempotency_key;
    if key.trim().is_empty() || key.len() > ADJUSTMENT_KEY_CHARS_MAX {
        let reason = format!("must be 1 to {ADJUSTMENT_KEY_CHARS_MAX} characters");
        return Err(AppError::invalid("idempotency_key", reason));
    }
    Ok(())
}

impl App {
    /// Both balances of a user, points first; zero for a balance never posted to.
    pub async fn balances(&self, user_id: &str) -> AppResult<Vec<Balance>> {
        check_user(user_id)?;
        let rows = sqlx::query(
            "SELECT kind, balance, version, updated_at FROM balances WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        let mut balances: Vec<Balance> = BALANCE_KINDS
            .into_iter()
            .map(|kind| Balance {
                user_id: user_id.to_owned(),
                kind,
                balance: 0,
                version: 0,
                updated_at: None,
            })
            .collect();
        for row in rows {
            let kind: String = row.try_get("kind").map_err(StoreError::from)?;
            let Some(slot) = balances.iter_mut().find(|b| kind_str(b.kind) == kind) else {
                continue; // The CHECK allows only the two kinds.
            };
            slot.balance = row.try_get("balance").map_err(StoreError::from)?;
            slot.version = row.try_get("version").map_err(StoreError::from)?;
            slot.updated_at = Some(from_micros(
                row.try_get("updated_at").map_err(StoreError::from)?,
            )?);
        }
        Ok(balances)
    }

    /// One balance's entries, newest first: those with `seq` below
    /// `before_seq` when given, at most `limit` (up to [`ENTRY_PAGE_MAX`]).
    pub async fn balance_entries(
        &self,
        user_id: &str,
        kind: BalanceKind,
        before_seq: Option<i64>,
        limit: u32,
    ) -> AppResult<Vec<BalanceEntry>> {
        check_user(user_id)?;
        let rows = sqlx::query(&format!(
            "SELECT {ENTRY_COLUMNS} FROM balance_entries \
             WHERE user_id = $1 AND kind = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4"
        ))
        .bind(user_id)
        .bind(kind_str(kind))
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(i64::from(limit.clamp(1, ENTRY_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| ledger::entry_from_row(row).map_err(AppError::from))
            .collect()
    }

    /// A manual credit (positive amount) or debit (negative) by staff,
    /// idempotent by the client's key; a debit beyond the balance is
    /// refused with `INSUFFICIENT_BALANCE`.
    pub async fn adjust_balance(
        &self,
        actor: &Actor,
        user_id: &str,
        kind: BalanceKind,
        adjustment: Adjustment,
    ) -> AppResult<BalanceEntry> {
        check_user(user_id)?;
        check_adjustment(&adjustment)?;
        let posting = Posting {
            user_id: user_id.to_owned(),
            kind,
            amount: adjustment.amount.abs(),
            reason: EntryReason::Adjustment,
            reference: adjustment.idempotency_key.clone(),
            note: Some(adjustment.reason),
            idempotency_key: format!("adjustment:{}", adjustment.idempotency_key),
            actor: actor.clone(),
            now: self.now(),
        };
        let credits = adjustment.amount > 0;
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    match credits {
                        true => credit(connection, &posting).await,
                        false => debit(connection, &posting).await,
                    }
                })
            })
            .await
    }
}
