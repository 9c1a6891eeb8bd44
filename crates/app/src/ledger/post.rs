//! Posting in the caller's write unit: every function takes the unit's
//! connection, so the entries commit (or roll back) with the change that
//! caused them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use couponflow_core::coupon::CouponState;
use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;

use super::model::{self, Account, Nets, Posting, PostingKind, Terms};
use crate::coupons::CouponRecord;
use crate::templates::TemplateRecord;
use crate::{AppError, AppResult};

/// Entries per INSERT: 10 parameters each, well under both databases' limits.
const INSERT_ROWS_MAX: usize = 200;

pub(crate) const INSERT_COLUMNS: &str =
    "posting, line, kind, issuer, template_id, template_shop, account, code, amount, at";

/// Appends the non-empty `postings`.
pub(crate) async fn insert(connection: &mut AnyConnection, postings: &[Posting]) -> AppResult<()> {
    let rows: Vec<(&Posting, usize)> = postings
        .iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| (0..p.entries.len()).map(move |line| (p, line)))
        .collect();
    for posting in postings {
        if !posting.balances() {
            return Err(AppError::Store(StoreError::Other(format!(
                "ledger posting {} does not balance",
                posting.id
            ))));
        }
    }
    for chunk in rows.chunks(INSERT_ROWS_MAX) {
        let mut params = Params::for_connection(connection);
        let sql = format!(
            "INSERT INTO ledger_entries ({INSERT_COLUMNS}) VALUES {}",
            params.rows(chunk.len(), 10)
        );
        let mut query = sqlx::query(&sql);
        for (posting, line) in chunk {
            let entry = &posting.entries[*line];
            query = query
                .bind(posting.id.clone())
                .bind(i64::try_from(*line).unwrap_or(i64::MAX))
                .bind(posting.kind.as_str())
                .bind(entry.issuer.clone())
                .bind(posting.template_id.clone())
                .bind(posting.template_shop.clone())
                .bind(entry.account.as_str())
                .bind(posting.code.clone())
                .bind(entry.amount)
                .bind(to_micros(posting.at));
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

pub(crate) async fn terms(connection: &mut AnyConnection, template_id: &str) -> AppResult<Terms> {
    let row = sqlx::query("SELECT body FROM templates WHERE id = $1")
        .bind(template_id)
        .fetch_optional(&mut *connection)
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::TemplateNotFound(template_id.to_owned()))?;
    let body: String = row.try_get("body").map_err(StoreError::from)?;
    let template: couponflow_core::template::Template =
        serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
            table: "templates",
            reason: e.to_string(),
        })?;
    Ok(Terms::of(template_id, &template))
}

/// The net entries of `column = value` (a code or a template), optionally of one kind.
async fn nets_where(
    connection: &mut AnyConnection,
    column: &'static str,
    value: &str,
    extra: &'static str,
) -> AppResult<Nets> {
    let rows = sqlx::query(&format!(
        "SELECT issuer, account, CAST(SUM(amount) AS BIGINT) AS amount FROM ledger_entries \
         WHERE {column} = $1 {extra} GROUP BY issuer, account"
    ))
    .bind(value)
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let mut nets = Nets::new();
    for row in &rows {
        let issuer: String = row.try_get("issuer").map_err(StoreError::from)?;
        let account: String = row.try_get("account").map_err(StoreError::from)?;
        let amount: i64 = row.try_get("amount").map_err(StoreError::from)?;
        let account = Account::parse(&account).ok_or_else(|| StoreError::Corrupt {
            table: "ledger_entries",
            reason: format!("unknown account {account}"),
        })?;
        if amount != 0 {
            nets.insert((issuer, account), amount);
        }
    }
    Ok(nets)
}

/// On a template's step: approval reserves (the change against what is
/// already reserved, after a re-review); ending releases what no live
/// coupon holds.
pub(crate) async fn on_template_step(
    connection: &mut AnyConnection,
    before: TemplateStatus,
    record: &TemplateRecord,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let approved = record.status == TemplateStatus::Approved && before != TemplateStatus::Approved;
    let ended = record.status == TemplateStatus::Ended && before != TemplateStatus::Ended;
    if !approved && !ended {
        return Ok(());
    }
    let terms = Terms::of(&record.id, record.template.get());
    let id = format!(
        "{}:{}:v{}",
        record.id,
        record.status.as_str(),
        record.version
    );
    if approved {
        let reserved = nets_where(
            connection,
            "template_id",
            &record.id,
            "AND kind = 'reserve' AND code IS NULL",
        )
        .await?;
        let already: i64 = -reserved
            .iter()
            .filter(|((_, a), _)| *a == Account::Budget)
            .map(|(_, v)| *v)
            .sum::<i64>();
        let change = terms.reservation.unwrap_or(0) - already;
        let mut posting = Posting::new(id, PostingKind::Reserve, &terms, None, now);
        model::reserve(&mut posting, &terms, change);
        return insert(connection, &[posting]).await;
    }
    let nets = nets_where(connection, "template_id", &record.id, "").await?;
    let escrow: BTreeMap<String, i64> = nets
        .iter()
        .filter(|((_, a), _)| *a == Account::Escrow)
        .map(|((i, _), v)| (i.clone(), *v))
        .collect();
    let held = live_held(connection, &terms).await?;
    let mut posting = Posting::new(id, PostingKind::End, &terms, None, now);
    model::end(&mut posting, &escrow, &held);
    insert(connection, &[posting]).await
}

/// What the template's live (available or locked, bound) coupons hold, by issuer.
pub(crate) async fn live_held(
    connection: &mut AnyConnection,
    terms: &Terms,
) -> AppResult<BTreeMap<String, i64>> {
    let mut held = BTreeMap::new();
    if !terms.reserves() {
        return Ok(held);
    }
    let rows = sqlx::query(
        "SELECT face_value, COUNT(*) AS n FROM coupons WHERE template_id = $1 \
         AND state IN ('available', 'locked') AND user_id IS NOT NULL GROUP BY face_value",
    )
    .bind(&terms.template_id)
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    for row in &rows {
        let face: i64 = row.try_get("face_value").map_err(StoreError::from)?;
        let count: i64 = row.try_get("n").map_err(StoreError::from)?;
        for (issuer, share) in terms.split(face) {
            let slot = held.entry(issuer).or_insert(0i64);
            *slot = slot.saturating_add(share.saturating_mul(count));
        }
    }
    Ok(held)
}

/// Whether a coupon in this state holds its face value in escrow.
pub(crate) fn holds(terms: &Terms, coupon: &CouponRecord) -> bool {
    terms.reserves() && coupon.user_id.is_some()
}

/// On a coupon's change outside the order batcher (`coupons::apply`):
/// counter verification spends its face value; a return reverses its
/// redemption; expiry and void release what it held.
pub(crate) async fn on_coupon_change(
    connection: &mut AnyConnection,
    from: CouponState,
    coupon: &CouponRecord,
    now: DateTime<Utc>,
) -> AppResult<()> {
    use CouponState::*;
    let kind = match (from, coupon.state) {
        (Available, Redeemed) => PostingKind::Expense,
        (Redeemed, Available | Expired) => PostingKind::Return,
        (Available | Locked, Expired | Voided) if coupon.user_id.is_some() => PostingKind::Release,
        _ => return Ok(()),
    };
    let terms = terms(connection, &coupon.template_id).await?;
    // Random: a coupon can go through the same step more than once (paid,
    // returned, paid again), even within one clock tick.
    let id = crate::ids::new_id(kind.as_str());
    let mut posting = Posting::new(id, kind, &terms, Some(&coupon.code), now);
    match kind {
        PostingKind::Expense => {
            let costs = terms.split(coupon.face_value);
            model::redeem(&mut posting, &terms, coupon.face_value, &costs);
        }
        PostingKind::Return => {
            let nets = nets_where(connection, "code", &coupon.code, "").await?;
            let own = redemption_nets(&nets);
            model::reverse(&mut posting, &terms, &own);
            if coupon.state == Expired && holds(&terms, coupon) {
                model::release(&mut posting, &terms, coupon.face_value);
            }
        }
        PostingKind::Release if holds(&terms, coupon) => {
            model::release(&mut posting, &terms, coupon.face_value);
        }
        PostingKind::Release | PostingKind::Reserve | PostingKind::End => {}
    }
    insert(connection, &[posting]).await
}

/// Of a coupon's net entries, its redemption's: expense and released
/// (a refund's new cash coupon also carries its own reservation, which a
/// return leaves alone).
fn redemption_nets(nets: &Nets) -> Nets {
    nets.iter()
        .filter(|((_, a), _)| matches!(a, Account::Expense | Account::Released))
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// A refund's new cash coupon (SPEC §8.4) holds new value: when the
/// template reserves, it is reserved for it (and released at once when it
/// is born expired).
pub(crate) async fn on_new_cash_coupon(
    connection: &mut AnyConnection,
    template_id: &str,
    code: &str,
    face_value: i64,
    state: CouponState,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let terms = terms(connection, template_id).await?;
    if !terms.reserves() {
        return Ok(());
    }
    let id = crate::ids::new_id("reserve");
    let mut posting = Posting::new(id, PostingKind::Reserve, &terms, Some(code), now);
    model::reserve(&mut posting, &terms, face_value);
    if state == CouponState::Expired {
        model::release(&mut posting, &terms, face_value);
    }
    insert(connection, &[posting]).await
}
