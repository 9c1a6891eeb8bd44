//! The ledger's writes: one posting moves one balance and appends its entry
//! in the caller's unit, so a credit or debit commits (or rolls back) with
//! whatever caused it — an order's completion, a refund, a claim that costs
//! points, a staff adjustment.
//!
//! Every posting carries an idempotency key, unique over the ledger: the
//! same key again answers the entry it made and moves nothing. The balance
//! row is locked before the key is looked up, so two units posting the
//! same key to the same balance queue on the lock and the second sees the
//! first's entry; the key's UNIQUE constraint is the last guard.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use couponflow_core::money::AMOUNT_MINOR_MAX;
use couponflow_core::template::BalanceKind;
use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use super::{BalanceEntry, EntryReason, kind_str, parse_kind};
use crate::{Actor, AppError, AppResult, ids};

/// Longest idempotency key, reference or user id a posting takes.
pub const POSTING_ID_CHARS_MAX: usize = 300;

pub(super) const ENTRY_COLUMNS: &str = "id, user_id, kind, seq, amount, balance_after, reason, \
     reference, note, idempotency_key, actor, created_at";

/// One credit or debit of one balance. `amount` is the magnitude, always
/// positive; whether it is added or taken is the function called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub user_id: String,
    pub kind: BalanceKind,
    pub amount: i64,
    pub reason: EntryReason,
    /// What caused it: an order id, a refund id, a claim request id.
    pub reference: String,
    /// A person's words, for adjustments.
    pub note: Option<String>,
    /// Unique over the whole ledger; namespaced by the caller
    /// (`cashback:{order}:{coupon}`, `exchange:{request}`, …).
    pub idempotency_key: String,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// How much a debit takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Exactly the amount, or nothing and `INSUFFICIENT_BALANCE`.
    Exact,
    /// The amount, or what is there if that is less (never below zero).
    UpTo,
}

/// Adds `posting.amount` to the balance (creating it at zero first).
pub async fn credit(connection: &mut AnyConnection, posting: &Posting) -> AppResult<BalanceEntry> {
    check(posting)?;
    sqlx::query(
        "INSERT INTO balances (user_id, kind, balance, version, updated_at) \
         VALUES ($1, $2, 0, 0, $3) ON CONFLICT (user_id, kind) DO NOTHING",
    )
    .bind(&posting.user_id)
    .bind(kind_str(posting.kind))
    .bind(to_micros(posting.now))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let (balance, version) = lock(connection, posting).await?.unwrap_or((0, 0));
    if let Some(entry) = replay(connection, posting, Some(posting.amount)).await? {
        return Ok(entry);
    }
    let after = balance
        .checked_add(posting.amount)
        .filter(|after| *after <= AMOUNT_MINOR_MAX)
        .ok_or_else(|| {
            AppError::invalid(
                "amount",
                format!("the balance would exceed {AMOUNT_MINOR_MAX}"),
            )
        })?;
    apply(connection, posting, posting.amount, after, version).await
}

/// Takes `posting.amount` from the balance, or refuses with
/// `INSUFFICIENT_BALANCE` and changes nothing.
pub async fn debit(connection: &mut AnyConnection, posting: &Posting) -> AppResult<BalanceEntry> {
    let entry = take(connection, posting, Take::Exact).await?;
    // `Take::Exact` answers an entry or an error, never nothing.
    entry.ok_or_else(|| insufficient(posting, 0))
}

/// Takes `posting.amount`, or all that is left if that is less: for
/// reversals the user cannot refuse (cashback debited back on a refund).
/// Answers `None` when the balance is empty (no entry is written, so the
/// key stays unused: callers make the whole call idempotent themselves, as
/// a refund does with its stored answer).
pub async fn debit_up_to(
    connection: &mut AnyConnection,
    posting: &Posting,
) -> AppResult<Option<BalanceEntry>> {
    take(connection, posting, Take::UpTo).await
}

/// The exchange hook (SPEC §6.2.5): `points` taken from the user's points
/// balance for the claim `request_key`, in the claim's unit; refused with
/// `INSUFFICIENT_BALANCE` when short. The same request again answers the
/// same entry.
pub async fn debit_points_for_exchange(
    connection: &mut AnyConnection,
    user_id: &str,
    points: i64,
    request_key: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<BalanceEntry> {
    let posting = exchange_posting(user_id, points, request_key, actor, now, false);
    debit(connection, &posting).await
}

/// Gives back the points of an exchange whose coupon was not issued after
/// all (or was revoked): the credit side of [`debit_points_for_exchange`].
pub async fn refund_points_for_exchange(
    connection: &mut AnyConnection,
    user_id: &str,
    points: i64,
    request_key: &str,
    actor: &Actor,
    now: DateTime<Utc>,
) -> AppResult<BalanceEntry> {
    let posting = exchange_posting(user_id, points, request_key, actor, now, true);
    credit(connection, &posting).await
}

fn exchange_posting(
    user_id: &str,
    points: i64,
    request_key: &str,
    actor: &Actor,
    now: DateTime<Utc>,
    refund: bool,
) -> Posting {
    let (reason, prefix) = match refund {
        false => (EntryReason::Exchange, "exchange"),
        true => (EntryReason::ExchangeRefund, "exchange_refund"),
    };
    Posting {
        user_id: user_id.to_owned(),
        kind: BalanceKind::Points,
        amount: points,
        reason,
        reference: request_key.to_owned(),
        note: None,
        idempotency_key: format!("{prefix}:{request_key}"),
        actor: actor.clone(),
        now,
    }
}

async fn take(
    connection: &mut AnyConnection,
    posting: &Posting,
    how: Take,
) -> AppResult<Option<BalanceEntry>> {
    check(posting)?;
    let locked = lock(connection, posting).await?;
    let exact = (how == Take::Exact).then_some(-posting.amount);
    if let Some(entry) = replay(connection, posting, exact).await? {
        return Ok(Some(entry));
    }
    let (balance, version) = locked.unwrap_or((0, 0));
    let taken = match how {
        Take::Exact if balance < posting.amount => return Err(insufficient(posting, balance)),
        Take::Exact => posting.amount,
        Take::UpTo => posting.amount.min(balance),
    };
    if taken == 0 {
        return Ok(None);
    }
    let entry = apply(connection, posting, -taken, balance - taken, version).await?;
    Ok(Some(entry))
}

fn insufficient(posting: &Posting, balance: i64) -> AppError {
    AppError::InsufficientBalance {
        user_id: posting.user_id.clone(),
        kind: kind_str(posting.kind),
        balance,
        requested: posting.amount,
    }
}

fn check(posting: &Posting) -> AppResult<()> {
    if !(1..=AMOUNT_MINOR_MAX).contains(&posting.amount) {
        return Err(AppError::invalid(
            "amount",
            format!("must be 1 to {AMOUNT_MINOR_MAX}"),
        ));
    }
    let fields = [
        ("user", &posting.user_id),
        ("reference", &posting.reference),
        ("idempotency_key", &posting.idempotency_key),
    ];
    for (field, value) in fields {
        if value.trim().is_empty() || value.len() > POSTING_ID_CHARS_MAX {
            let reason = format!("must be 1 to {POSTING_ID_CHARS_MAX} characters");
            return Err(AppError::invalid(field, reason));
        }
    }
    Ok(())
}

/// Locks the balance row until the unit commits; `None` when the user has
/// never had this balance (it is zero).
async fn lock(connection: &mut AnyConnection, posting: &Posting) -> AppResult<Option<(i64, i64)>> {
    let row = sqlx::query(
        "UPDATE balances SET version = version WHERE user_id = $1 AND kind = $2 \
         RETURNING balance, version",
    )
    .bind(&posting.user_id)
    .bind(kind_str(posting.kind))
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let Some(row) = row else { return Ok(None) };
    let balance: i64 = row.try_get("balance").map_err(StoreError::from)?;
    let version: i64 = row.try_get("version").map_err(StoreError::from)?;
    Ok(Some((balance, version)))
}

/// The entry an earlier posting with this key made, if it is the same
/// posting; a key reused for another balance, reason or (when `amount` is
/// given) another signed amount is a conflict.
async fn replay(
    connection: &mut AnyConnection,
    posting: &Posting,
    amount: Option<i64>,
) -> AppResult<Option<BalanceEntry>> {
    let row = sqlx::query(&format!(
        "SELECT {ENTRY_COLUMNS} FROM balance_entries WHERE idempotency_key = $1"
    ))
    .bind(&posting.idempotency_key)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let Some(row) = row else { return Ok(None) };
    let entry = entry_from_row(&row)?;
    let same = entry.user_id == posting.user_id
        && entry.kind == posting.kind
        && entry.reason == posting.reason
        && amount.is_none_or(|amount| amount == entry.amount);
    if !same {
        return Err(AppError::IdempotencyConflict {
            scope: "balance entry",
        });
    }
    Ok(Some(entry))
}

/// Moves the balance by `signed` (guarded by the version the lock read and
/// by the table's CHECK) and appends the entry.
async fn apply(
    connection: &mut AnyConnection,
    posting: &Posting,
    signed: i64,
    after: i64,
    version: i64,
) -> AppResult<BalanceEntry> {
    let moved = sqlx::query(
        "UPDATE balances SET balance = $3, version = $4, updated_at = $5 \
         WHERE user_id = $1 AND kind = $2 AND version = $6",
    )
    .bind(&posting.user_id)
    .bind(kind_str(posting.kind))
    .bind(after)
    .bind(version + 1)
    .bind(to_micros(posting.now))
    .bind(version)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    if moved.rows_affected() != 1 {
        // The row is locked by this unit: another version means a bug.
        return Err(StoreError::Other("balance moved under its lock".into()).into());
    }
    let entry = BalanceEntry {
        id: ids::new_id("be"),
        user_id: posting.user_id.clone(),
        kind: posting.kind,
        seq: version + 1,
        amount: signed,
        balance_after: after,
        reason: posting.reason,
        reference: posting.reference.clone(),
        note: posting.note.clone(),
        idempotency_key: posting.idempotency_key.clone(),
        actor: posting.actor.as_str().to_owned(),
        created_at: posting.now,
    };
    insert_entry(connection, &entry).await?;
    Ok(entry)
}

async fn insert_entry(connection: &mut AnyConnection, entry: &BalanceEntry) -> AppResult<()> {
    sqlx::query(&format!(
        "INSERT INTO balance_entries ({ENTRY_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(&entry.id)
    .bind(&entry.user_id)
    .bind(kind_str(entry.kind))
    .bind(entry.seq)
    .bind(entry.amount)
    .bind(entry.balance_after)
    .bind(entry.reason.as_str())
    .bind(&entry.reference)
    .bind(entry.note.as_deref())
    .bind(&entry.idempotency_key)
    .bind(&entry.actor)
    .bind(to_micros(entry.created_at))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

fn corrupt(reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        table: "balance_entries",
        reason: reason.to_string(),
    }
}

pub(super) fn entry_from_row(row: &sqlx::any::AnyRow) -> Result<BalanceEntry, StoreError> {
    let kind: String = row.try_get("kind")?;
    let reason: String = row.try_get("reason")?;
    Ok(BalanceEntry {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        kind: parse_kind(&kind).ok_or_else(|| corrupt(format!("kind {kind}")))?,
        seq: row.try_get("seq")?,
        amount: row.try_get("amount")?,
        balance_after: row.try_get("balance_after")?,
        reason: EntryReason::parse(&reason).ok_or_else(|| corrupt(format!("reason {reason}")))?,
        reference: row.try_get("reference")?,
        note: row.try_get("note")?,
        idempotency_key: row.try_get("idempotency_key")?,
        actor: row.try_get("actor")?,
        created_at: from_micros(row.try_get("created_at")?)?,
    })
}
