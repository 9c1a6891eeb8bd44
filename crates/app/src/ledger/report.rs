//! Finance reports: what was reserved, spent and released over a period,
//! per template and issuer, per issuer, and each shop's settlement under
//! cost sharing. Sums of the entries whose `at` falls in `[from, until)`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use couponflow_store::StoreError;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;

use super::model::PLATFORM;
use crate::{App, AppError, AppResult};

/// Rows (template × issuer) a report lists at most.
pub const REPORT_ROWS_MAX: usize = 10_000;

#[derive(Debug, Clone, Default)]
pub struct ReportQuery {
    pub issuer: Option<String>,
    pub template_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Net movements over the period, minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Put into escrow by approvals (and refunds' new cash coupons).
    pub reserved: i64,
    /// Spent on redemptions, less what returns took back.
    pub spent: i64,
    /// Given back to the budget: expiries, voids, what redemptions left, ends.
    pub released: i64,
    /// Taken from the budget: reservations, and redemptions of templates that reserve nothing.
    pub budget_drawn: i64,
    /// Change of escrow over the period.
    pub escrow_change: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateFigures {
    pub template_id: String,
    pub issuer: String,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuerFigures {
    pub issuer: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One shop's coupons (its own and shared) and who bore what they spent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub shop: String,
    /// What the shop bore.
    pub shop_spent: i64,
    /// What the platform bore of coupons shared with the shop: what it owes the shop.
    pub platform_spent: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerReport {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub templates: Vec<TemplateFigures>,
    pub issuers: Vec<IssuerFigures>,
    pub settlement: Vec<Settlement>,
}

impl Figures {
    fn add(&mut self, account: &str, reserve: bool, amount: i64) {
        match account {
            "escrow" => {
                self.escrow_change += amount;
                if reserve {
                    self.reserved += amount;
                }
            }
            "expense" => self.spent += amount,
            "released" => self.released += amount,
            "budget" => self.budget_drawn -= amount,
            _ => {}
        }
    }

    fn merge(&mut self, other: &Figures) {
        self.reserved += other.reserved;
        self.spent += other.spent;
        self.released += other.released;
        self.budget_drawn += other.budget_drawn;
        self.escrow_change += other.escrow_change;
    }
}

impl App {
    pub async fn ledger_report(&self, query: &ReportQuery) -> AppResult<LedgerReport> {
        if let (Some(from), Some(until)) = (query.from, query.until)
            && from >= until
        {
            return Err(AppError::Invalid {
                field: "until".into(),
                reason: "must be after from".into(),
            });
        }
        let mut params = Params::new(self.store.backend());
        let mut conditions = Vec::new();
        if query.issuer.is_some() {
            conditions.push(format!("issuer = {}", params.next()));
        }
        if query.template_id.is_some() {
            conditions.push(format!("template_id = {}", params.next()));
        }
        if query.from.is_some() {
            conditions.push(format!("at >= {}", params.next()));
        }
        if query.until.is_some() {
            conditions.push(format!("at < {}", params.next()));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT template_id, issuer, template_shop, account, \
             CAST(CASE WHEN kind = 'reserve' THEN 1 ELSE 0 END AS BIGINT) AS reserve, \
             CAST(SUM(amount) AS BIGINT) AS amount FROM ledger_entries {filter} \
             GROUP BY template_id, issuer, template_shop, account, \
             CASE WHEN kind = 'reserve' THEN 1 ELSE 0 END"
        );
        let mut statement = sqlx::query(&sql);
        for value in [&query.issuer, &query.template_id].into_iter().flatten() {
            statement = statement.bind(value.clone());
        }
        for time in [query.from, query.until].into_iter().flatten() {
            statement = statement.bind(to_micros(time));
        }
        let rows = statement
            .fetch_all(self.store.reader())
            .await
            .map_err(StoreError::from)?;
        let mut by_template: BTreeMap<(String, String), Figures> = BTreeMap::new();
        let mut by_shop: BTreeMap<String, Settlement> = BTreeMap::new();
        for row in &rows {
            let template_id: String = row.try_get("template_id").map_err(StoreError::from)?;
            let issuer: String = row.try_get("issuer").map_err(StoreError::from)?;
            let shop: Option<String> = row.try_get("template_shop").map_err(StoreError::from)?;
            let account: String = row.try_get("account").map_err(StoreError::from)?;
            let reserve: i64 = row.try_get("reserve").map_err(StoreError::from)?;
            let amount: i64 = row.try_get("amount").map_err(StoreError::from)?;
            by_template
                .entry((template_id, issuer.clone()))
                .or_default()
                .add(&account, reserve == 1, amount);
            if let (Some(shop), "expense") = (shop, account.as_str()) {
                let settlement = by_shop.entry(shop.clone()).or_insert_with(|| Settlement {
                    shop,
                    ..Settlement::default()
                });
                if issuer == PLATFORM {
                    settlement.platform_spent += amount;
                } else {
                    settlement.shop_spent += amount;
                }
            }
        }
        let mut by_issuer: BTreeMap<String, Figures> = BTreeMap::new();
        for ((_, issuer), figures) in &by_template {
            by_issuer.entry(issuer.clone()).or_default().merge(figures);
        }
        Ok(LedgerReport {
            from: query.from,
            until: query.until,
            templates: by_template
                .into_iter()
                .take(REPORT_ROWS_MAX)
                .map(|((template_id, issuer), figures)| TemplateFigures {
                    template_id,
                    issuer,
                    figures,
                })
                .collect(),
            issuers: by_issuer
                .into_iter()
                .map(|(issuer, figures)| IssuerFigures { issuer, figures })
                .collect(),
            settlement: by_shop.into_values().collect(),
        })
    }
}
