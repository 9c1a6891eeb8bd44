//! Reconciliation: proves the ledger matches the coupons' states, on one
//! snapshot of the database (a read transaction).
//!
//! - every posting balances (its amounts add up to zero);
//! - every bound coupon's entries are exactly what its state implies,
//!   re-derived with the posting builders (`model`) from the coupon row and,
//!   for a coupon paid in an order, the order's stored costs: nothing while
//!   available or locked, the redemption when redeemed, the release of its
//!   face when expired (voided or deleted: one of the two); no entries for a
//!   coupon that holds nothing;
//! - per template: approval reserved exactly what its terms reserve; escrow
//!   covers what its live coupons hold; after the end no issuer keeps more
//!   escrow than its live coupons hold; a template that reserves nothing has
//!   no escrow.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::coupon::CouponState;
use couponflow_core::quote::CouponCost;
use couponflow_core::template::Template;
use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_store::sql::Params;
use couponflow_store::{Backend, StoreError};

use super::model::{self, Account, Nets, Posting, PostingKind, Terms, add_nets};
use crate::{App, AppResult};

/// Mismatches a report lists at most; the count goes on.
pub const MISMATCHES_MAX: usize = 1_000;
/// Coupons read per page.
const PAGE_SIZE: i64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posting: Option<String>,
    pub problem: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerCheck {
    pub postings: i64,
    pub entries: i64,
    pub templates: i64,
    pub coupons: i64,
    /// Every mismatch found, though at most [`MISMATCHES_MAX`] are listed.
    pub mismatch_count: i64,
    pub mismatches: Vec<Mismatch>,
}

impl LedgerCheck {
    pub fn is_consistent(&self) -> bool {
        self.mismatch_count == 0
    }

    fn report(&mut self, template_id: Option<&str>, code: Option<&str>, problem: String) {
        self.mismatch_count += 1;
        if self.mismatches.len() < MISMATCHES_MAX {
            self.mismatches.push(Mismatch {
                template_id: template_id.map(str::to_owned),
                code: code.map(str::to_owned),
                posting: None,
                problem,
            });
        }
    }
}

struct TemplateState {
    terms: Terms,
    status: TemplateStatus,
    /// Every entry of the template, net.
    nets: Nets,
    /// Net of approval's reservations (kind `reserve`, no coupon).
    approval: Nets,
    /// Face values of live bound coupons, total and by issuer.
    live_held: i64,
    live_held_by_issuer: BTreeMap<String, i64>,
}

impl App {
    /// Reconciles the ledger with the coupons (see the module's list).
    pub async fn ledger_check(&self) -> AppResult<LedgerCheck> {
        let mut connection = self
            .store
            .reader()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let connection: &mut AnyConnection = &mut connection;
        // One snapshot for every read below.
        let begin = match Backend::of(connection) {
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            Backend::Sqlite => "BEGIN",
        };
        sqlx::query(begin)
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
        let result = check(connection).await;
        // A read-only transaction: ending it changes nothing either way.
        let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
        result
    }
}

async fn check(connection: &mut AnyConnection) -> AppResult<LedgerCheck> {
    let mut report = LedgerCheck::default();
    check_postings(connection, &mut report).await?;
    let mut templates = read_templates(connection, &mut report).await?;
    check_coupons(connection, &mut templates, &mut report).await?;
    check_strays(connection, &mut report).await?;
    for (id, state) in &templates {
        check_template(id, state, &mut report);
    }
    Ok(report)
}

async fn check_postings(connection: &mut AnyConnection, report: &mut LedgerCheck) -> AppResult<()> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS entries, COUNT(DISTINCT posting) AS postings FROM ledger_entries",
    )
    .fetch_one(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    report.entries = row.try_get("entries").map_err(StoreError::from)?;
    report.postings = row.try_get("postings").map_err(StoreError::from)?;
    let rows = sqlx::query(
        "SELECT posting, CAST(SUM(amount) AS BIGINT) AS total FROM ledger_entries GROUP BY posting \
         HAVING SUM(amount) <> 0 ORDER BY posting",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    for row in &rows {
        let posting: String = row.try_get("posting").map_err(StoreError::from)?;
        let total: i64 = row.try_get("total").map_err(StoreError::from)?;
        report.report(
            None,
            None,
            format!("posting does not balance: debits - credits = {total}"),
        );
        if let Some(last) = report.mismatches.last_mut() {
            last.posting = Some(posting);
        }
    }
    Ok(())
}

fn account_of(text: &str) -> Result<Account, StoreError> {
    Account::parse(text).ok_or_else(|| StoreError::Corrupt {
        table: "ledger_entries",
        reason: format!("unknown account {text}"),
    })
}

async fn read_templates(
    connection: &mut AnyConnection,
    report: &mut LedgerCheck,
) -> AppResult<BTreeMap<String, TemplateState>> {
    let mut templates = BTreeMap::new();
    let rows = sqlx::query("SELECT id, body, status FROM templates")
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    for row in &rows {
        let id: String = row.try_get("id").map_err(StoreError::from)?;
        let body: String = row.try_get("body").map_err(StoreError::from)?;
        let status: String = row.try_get("status").map_err(StoreError::from)?;
        let template: Template = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
            table: "templates",
            reason: e.to_string(),
        })?;
        let status = TemplateStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: "templates",
            reason: format!("unknown status {status}"),
        })?;
        let terms = Terms::of(&id, &template);
        templates.insert(
            id,
            TemplateState {
                terms,
                status,
                nets: Nets::new(),
                approval: Nets::new(),
                live_held: 0,
                live_held_by_issuer: BTreeMap::new(),
            },
        );
    }
    report.templates = i64::try_from(templates.len()).unwrap_or(i64::MAX);
    let rows = sqlx::query(
        "SELECT template_id, issuer, account, \
         CAST(CASE WHEN kind = 'reserve' AND code IS NULL THEN 1 ELSE 0 END AS BIGINT) AS approval, \
         CAST(SUM(amount) AS BIGINT) AS amount FROM ledger_entries GROUP BY template_id, issuer, account, \
         CASE WHEN kind = 'reserve' AND code IS NULL THEN 1 ELSE 0 END",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    for row in &rows {
        let template_id: String = row.try_get("template_id").map_err(StoreError::from)?;
        let issuer: String = row.try_get("issuer").map_err(StoreError::from)?;
        let account = account_of(
            &row.try_get::<String, _>("account")
                .map_err(StoreError::from)?,
        )?;
        let approval: i64 = row.try_get("approval").map_err(StoreError::from)?;
        let amount: i64 = row.try_get("amount").map_err(StoreError::from)?;
        let Some(state) = templates.get_mut(&template_id) else {
            report.report(
                Some(&template_id),
                None,
                "entries for a template that does not exist".into(),
            );
            continue;
        };
        for nets in [
            Some(&mut state.nets),
            (approval == 1).then_some(&mut state.approval),
        ]
        .into_iter()
        .flatten()
        {
            let slot = nets.entry((issuer.clone(), account)).or_insert(0);
            *slot = slot.saturating_add(amount);
        }
    }
    Ok(templates)
}

struct CouponRow {
    code: String,
    template_id: String,
    state: CouponState,
    face_value: i64,
    source: String,
    order_id: Option<String>,
    store_id: Option<String>,
}

/// Pages through the bound coupons in code order.
async fn check_coupons(
    connection: &mut AnyConnection,
    templates: &mut BTreeMap<String, TemplateState>,
    report: &mut LedgerCheck,
) -> AppResult<()> {
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            "SELECT code, template_id, state, face_value, source, order_id, store_id FROM coupons \
             WHERE user_id IS NOT NULL AND code > $1 ORDER BY code LIMIT $2",
        )
        .bind(&after)
        .bind(PAGE_SIZE)
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            let state: String = row.try_get("state").map_err(StoreError::from)?;
            page.push(CouponRow {
                code: row.try_get("code").map_err(StoreError::from)?,
                template_id: row.try_get("template_id").map_err(StoreError::from)?,
                state: crate::coupons::parse_state(&state)?,
                face_value: row.try_get("face_value").map_err(StoreError::from)?,
                source: row.try_get("source").map_err(StoreError::from)?,
                order_id: row.try_get("order_id").map_err(StoreError::from)?,
                store_id: row.try_get("store_id").map_err(StoreError::from)?,
            });
        }
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.code.clone();
        report.coupons += i64::try_from(page.len()).unwrap_or(i64::MAX);
        let nets = page_nets(connection, &page).await?;
        let costs = page_costs(connection, &page).await?;
        for coupon in &page {
            let Some(template) = templates.get_mut(&coupon.template_id) else {
                report.report(
                    Some(&coupon.template_id),
                    Some(&coupon.code),
                    "coupon of a template that does not exist".into(),
                );
                continue;
            };
            let found = nets.get(&coupon.code).cloned().unwrap_or_default();
            let order_costs = coupon
                .order_id
                .as_ref()
                .and_then(|order| costs.get(order))
                .and_then(|costs| costs.iter().find(|c| c.coupon == coupon.code));
            let expected = expected_nets(&template.terms, coupon, order_costs);
            if !expected.contains(&found) {
                report.report(
                    Some(&coupon.template_id),
                    Some(&coupon.code),
                    format!(
                        "a {} coupon's entries are {} but should be {}",
                        coupon.state.as_str(),
                        show(&found),
                        expected.iter().map(show).collect::<Vec<_>>().join(" or ")
                    ),
                );
            }
            if matches!(coupon.state, CouponState::Available | CouponState::Locked)
                && template.terms.reserves()
            {
                template.live_held = template.live_held.saturating_add(coupon.face_value);
                for (issuer, share) in template.terms.split(coupon.face_value) {
                    let slot = template.live_held_by_issuer.entry(issuer).or_insert(0);
                    *slot = slot.saturating_add(share);
                }
            }
        }
    }
}

fn show(nets: &Nets) -> String {
    if nets.is_empty() {
        return "nothing".into();
    }
    nets.iter()
        .map(|((issuer, account), amount)| format!("{issuer}/{}={amount}", account.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a coupon's entries may add up to in its state (several
/// possibilities for a voided or deleted coupon, whose history decides).
fn expected_nets(terms: &Terms, coupon: &CouponRow, order_costs: Option<&CouponCost>) -> Vec<Nets> {
    let at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let base = || {
        let mut posting = Posting::new(String::new(), PostingKind::Reserve, terms, None, at);
        if coupon.source == "refund" && terms.reserves() {
            model::reserve(&mut posting, terms, coupon.face_value);
        }
        posting
    };
    let redeemed = || {
        let mut posting = base();
        let costs = match (order_costs, &coupon.store_id) {
            (Some(cost), _) => model::order_costs(cost),
            (None, Some(_)) => terms.split(coupon.face_value),
            (None, None) => Vec::new(),
        };
        model::redeem(&mut posting, terms, coupon.face_value, &costs);
        posting
    };
    let released = || {
        let mut posting = base();
        model::release(&mut posting, terms, coupon.face_value);
        posting
    };
    let postings = match coupon.state {
        CouponState::Unbound | CouponState::Available | CouponState::Locked => vec![base()],
        CouponState::Redeemed => vec![redeemed()],
        CouponState::Expired => vec![released()],
        CouponState::Voided | CouponState::Deleted => vec![redeemed(), released()],
    };
    postings
        .iter()
        .map(|posting| {
            let mut nets = Nets::new();
            add_nets(&mut nets, posting);
            nets
        })
        .collect()
}

async fn page_nets(
    connection: &mut AnyConnection,
    page: &[CouponRow],
) -> AppResult<HashMap<String, Nets>> {
    let mut params = Params::for_connection(connection);
    let sql = format!(
        "SELECT code, issuer, account, CAST(SUM(amount) AS BIGINT) AS amount FROM ledger_entries \
         WHERE code IN ({}) GROUP BY code, issuer, account",
        params.list(page.len())
    );
    let mut query = sqlx::query(&sql);
    for coupon in page {
        query = query.bind(coupon.code.clone());
    }
    let rows = query
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    let mut nets: HashMap<String, Nets> = HashMap::new();
    for row in &rows {
        let code: String = row.try_get("code").map_err(StoreError::from)?;
        let issuer: String = row.try_get("issuer").map_err(StoreError::from)?;
        let account = account_of(
            &row.try_get::<String, _>("account")
                .map_err(StoreError::from)?,
        )?;
        let amount: i64 = row.try_get("amount").map_err(StoreError::from)?;
        if amount != 0 {
            nets.entry(code)
                .or_default()
                .insert((issuer, account), amount);
        }
    }
    Ok(nets)
}

/// The stored costs of the orders the page's spent coupons name.
async fn page_costs(
    connection: &mut AnyConnection,
    page: &[CouponRow],
) -> AppResult<HashMap<String, Vec<CouponCost>>> {
    #[derive(serde::Deserialize)]
    struct Body {
        quote: Costs,
    }
    #[derive(serde::Deserialize)]
    struct Costs {
        costs: Vec<CouponCost>,
    }
    let mut orders: Vec<&str> = page
        .iter()
        .filter(|c| {
            matches!(
                c.state,
                CouponState::Redeemed | CouponState::Voided | CouponState::Deleted
            )
        })
        .filter_map(|c| c.order_id.as_deref())
        .collect();
    orders.sort_unstable();
    orders.dedup();
    let mut costs = HashMap::new();
    if orders.is_empty() {
        return Ok(costs);
    }
    let mut params = Params::for_connection(connection);
    let sql = format!(
        "SELECT order_id, body FROM orders WHERE order_id IN ({})",
        params.list(orders.len())
    );
    let mut query = sqlx::query(&sql);
    for order in &orders {
        query = query.bind(order.to_string());
    }
    let rows = query
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    for row in &rows {
        let order_id: String = row.try_get("order_id").map_err(StoreError::from)?;
        let body: String = row.try_get("body").map_err(StoreError::from)?;
        let body: Body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
            table: "orders",
            reason: e.to_string(),
        })?;
        costs.insert(order_id, body.quote.costs);
    }
    Ok(costs)
}

/// Entries naming a coupon that is not bound (or does not exist).
async fn check_strays(connection: &mut AnyConnection, report: &mut LedgerCheck) -> AppResult<()> {
    let rows = sqlx::query(
        "SELECT DISTINCT e.template_id, e.code FROM ledger_entries AS e \
         LEFT JOIN coupons AS c ON c.code = e.code \
         WHERE e.code IS NOT NULL AND (c.code IS NULL OR c.user_id IS NULL) ORDER BY e.code",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    for row in &rows {
        let template_id: String = row.try_get("template_id").map_err(StoreError::from)?;
        let code: String = row.try_get("code").map_err(StoreError::from)?;
        report.report(
            Some(&template_id),
            Some(&code),
            "entries for a coupon that holds nothing".into(),
        );
    }
    Ok(())
}

fn total(nets: &Nets, account: Account) -> i64 {
    nets.iter()
        .filter(|((_, a), _)| *a == account)
        .map(|(_, v)| *v)
        .sum()
}

fn check_template(id: &str, state: &TemplateState, report: &mut LedgerCheck) {
    let escrow = total(&state.nets, Account::Escrow);
    let past_approval = matches!(
        state.status,
        TemplateStatus::Approved
            | TemplateStatus::Active
            | TemplateStatus::Paused
            | TemplateStatus::Ended
    );
    let Some(reservation) = state.terms.reservation else {
        if escrow != 0 || total(&state.nets, Account::Released) != 0 {
            report.report(
                Some(id),
                None,
                format!("reserves nothing but holds escrow {escrow}"),
            );
        }
        return;
    };
    let approved = -total(&state.approval, Account::Budget);
    if past_approval && approved != reservation {
        report.report(
            Some(id),
            None,
            format!("approval reserved {approved}, the template reserves {reservation}"),
        );
    }
    if past_approval && escrow < state.live_held {
        report.report(
            Some(id),
            None,
            format!(
                "escrow {escrow} does not cover the {} its live coupons hold",
                state.live_held
            ),
        );
    }
    if state.status == TemplateStatus::Ended {
        for ((issuer, account), amount) in &state.nets {
            let held = state.live_held_by_issuer.get(issuer).copied().unwrap_or(0);
            if *account == Account::Escrow && *amount > held {
                report.report(
                    Some(id),
                    None,
                    format!("ended, yet {issuer} keeps escrow {amount} beyond the {held} its live coupons hold"),
                );
            }
        }
    }
}
