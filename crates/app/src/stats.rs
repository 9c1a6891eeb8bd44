//! Statistics (数据统计, SPEC §10): per template, per campaign and per
//! issuer, over any time range, with daily and hourly series.
//!
//! Figures come from roll-ups (`stats_hourly`), never from a scan of the
//! coupons: one row per template, campaign and UTC hour. The outbox
//! dispatcher keeps them — every coupon change already leaves its event in
//! the outbox in the change's own transaction, and the dispatcher's unit
//! that marks events dispatched adds their counts in the same transaction,
//! so each event counts exactly once, on any number of nodes. The figures
//! therefore trail the changes by the dispatcher's poll interval.
//!
//! What each event adds: `coupon.claimed` → claimed (and new users, for
//! claimers flagged new); `coupon.granted` → granted; `coupon.redeemed` →
//! used, the coupon's discount (what its cost split says it took off), and
//! once per order and template the order's amount before coupons (sales)
//! and one order; a counter verification's redemption adds its face value
//! as discount and no order. `coupon.returned` after a refund → returned,
//! and takes its discount back off; `coupon.expired` → expired;
//! `coupon.voided` → voided. Code batches add `generated` as they make codes.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::quote::Quote;
use couponflow_core::template::Issuer;
use couponflow_store::sql::Params;
use couponflow_store::time::to_micros;
use couponflow_store::{Store, StoreError};

use crate::notify::{Event, events};
use crate::{App, AppError, AppResult};

const MICROS_PER_HOUR: i64 = 3_600_000_000;
/// The sums a range reads, in [`Counts`]' order (cast: SUM of a BIGINT is
/// NUMERIC on PostgreSQL).
const SUMS: [&str; 11] = [
    "CAST(SUM(generated) AS BIGINT)",
    "CAST(SUM(claimed) AS BIGINT)",
    "CAST(SUM(granted) AS BIGINT)",
    "CAST(SUM(new_users) AS BIGINT)",
    "CAST(SUM(used) AS BIGINT)",
    "CAST(SUM(returned) AS BIGINT)",
    "CAST(SUM(expired) AS BIGINT)",
    "CAST(SUM(voided) AS BIGINT)",
    "CAST(SUM(discount) AS BIGINT)",
    "CAST(SUM(sales) AS BIGINT)",
    "CAST(SUM(orders) AS BIGINT)",
];
/// Ids per `IN (…)` list.
const IN_LIST_MAX: usize = 500;

/// The counts one roll-up row holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub generated: i64,
    pub claimed: i64,
    pub granted: i64,
    pub new_users: i64,
    pub used: i64,
    pub returned: i64,
    pub expired: i64,
    pub voided: i64,
    /// Minor units.
    pub discount: i64,
    /// Order amounts before coupons, minor units.
    pub sales: i64,
    pub orders: i64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: &Counts) {
        self.generated += other.generated;
        self.claimed += other.claimed;
        self.granted += other.granted;
        self.new_users += other.new_users;
        self.used += other.used;
        self.returned += other.returned;
        self.expired += other.expired;
        self.voided += other.voided;
        self.discount += other.discount;
        self.sales += other.sales;
        self.orders += other.orders;
    }

    /// The counts in the roll-up table's column order (`generated` …
    /// `orders`), as [`STATS_UPSERT_SQL`] binds them from `$4` on and the
    /// CSV export lists them.
    pub fn in_column_order(&self) -> [i64; 11] {
        [
            self.generated,
            self.claimed,
            self.granted,
            self.new_users,
            self.used,
            self.returned,
            self.expired,
            self.voided,
            self.discount,
            self.sales,
            self.orders,
        ]
    }
}

/// (template, campaign or "", UTC hour) → counts to add.
pub(crate) type Deltas = BTreeMap<(String, String, i64), Counts>;

pub(crate) fn hour_of(at: DateTime<Utc>) -> i64 {
    to_micros(at).div_euclid(MICROS_PER_HOUR)
}

fn text<'a>(event: &'a Event, field: &str) -> Option<&'a str> {
    event.data.get(field).and_then(|v| v.as_str())
}

/// The roll-up counts `events` add, reading what the events do not carry
/// (the orders' quotes, the coupons' campaigns) through `store`'s reader.
pub(crate) async fn deltas_of(store: &Store, events: &[Event]) -> AppResult<Deltas> {
    let relevant: Vec<&Event> = events
        .iter()
        .filter(|e| !e.counted)
        .filter(|e| text(e, "template_id").is_some() && e.kind.starts_with("coupon."))
        .collect();
    let mut deltas = Deltas::new();
    if relevant.is_empty() {
        return Ok(deltas);
    }
    let needs_campaign: Vec<String> = relevant
        .iter()
        .filter(|e| text(e, "campaign_id").is_none() && e.kind != events::COUPON_CLAIMED)
        .filter(|e| e.kind != events::COUPON_GRANTED && e.kind != events::COUPON_LOCKED)
        .filter_map(|e| text(e, "code").map(str::to_owned))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let campaigns = campaigns_of(store, &needs_campaign).await?;
    let order_ids: Vec<String> = relevant
        .iter()
        .filter(|e| e.kind == events::COUPON_REDEEMED || e.kind == events::COUPON_RETURNED)
        .filter_map(|e| text(e, "order_id").map(str::to_owned))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let quotes = quotes_of(store, &order_ids).await?;
    // Orders counted once per template (and campaign) within these events.
    let mut counted_orders = HashSet::new();
    for event in relevant {
        let (Some(template), Some(code)) = (text(event, "template_id"), text(event, "code")) else {
            continue;
        };
        let campaign = text(event, "campaign_id")
            .map(str::to_owned)
            .or_else(|| campaigns.get(code).cloned())
            .unwrap_or_default();
        let key = (template.to_owned(), campaign, hour_of(event.at));
        let order = text(event, "order_id");
        let discount_of = |code: &str| -> Option<i64> {
            let quote = quotes.get(order?)?;
            let cost = quote.costs.iter().find(|c| c.coupon == code)?;
            Some(cost.platform + cost.shop)
        };
        let mut counts = Counts::default();
        match event.kind.as_str() {
            events::COUPON_CLAIMED => {
                counts.claimed = 1;
                if event.data.get("new_user").and_then(|v| v.as_bool()) == Some(true) {
                    counts.new_users = 1;
                }
            }
            events::COUPON_GRANTED => counts.granted = 1,
            events::COUPON_EXPIRED => counts.expired = 1,
            events::COUPON_VOIDED => counts.voided = 1,
            events::COUPON_REDEEMED => {
                counts.used = 1;
                match order {
                    Some(order_id) => {
                        counts.discount = discount_of(code).unwrap_or(0);
                        if counted_orders.insert((key.clone(), order_id.to_owned())) {
                            counts.orders = 1;
                            counts.sales = quotes.get(order_id).map_or(0, |q| q.subtotal);
                        }
                    }
                    // At the counter: the coupon's face value is what it gave.
                    None => {
                        counts.discount = event
                            .data
                            .get("face_value")
                            .and_then(|v| v.as_i64())
                            .unwrap_or(0);
                    }
                }
            }
            // A release of an unpaid order also gives the coupon back, but
            // it was never used; only a refund's return counts.
            events::COUPON_RETURNED if event.data.get("refund_id").is_some() => {
                counts.returned = 1;
                counts.discount = -discount_of(code).unwrap_or(0);
            }
            _ => continue,
        }
        deltas.entry(key).or_default().add(&counts);
    }
    Ok(deltas)
}

async fn campaigns_of(store: &Store, codes: &[String]) -> AppResult<HashMap<String, String>> {
    let mut found = HashMap::new();
    for chunk in codes.chunks(IN_LIST_MAX) {
        let mut params = Params::new(store.backend());
        let sql = format!(
            "SELECT code, campaign_id FROM coupons WHERE campaign_id IS NOT NULL AND code IN ({})",
            params.list(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for code in chunk {
            query = query.bind(code);
        }
        for row in query
            .fetch_all(store.reader())
            .await
            .map_err(StoreError::from)?
        {
            found.insert(
                row.try_get("code").map_err(StoreError::from)?,
                row.try_get("campaign_id").map_err(StoreError::from)?,
            );
        }
    }
    Ok(found)
}

async fn quotes_of(store: &Store, orders: &[String]) -> AppResult<HashMap<String, Quote>> {
    #[derive(serde::Deserialize)]
    struct Body {
        quote: Quote,
    }
    let mut found = HashMap::new();
    for chunk in orders.chunks(IN_LIST_MAX) {
        let mut params = Params::new(store.backend());
        let sql = format!(
            "SELECT order_id, body FROM orders WHERE order_id IN ({})",
            params.list(chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for order in chunk {
            query = query.bind(order);
        }
        for row in query
            .fetch_all(store.reader())
            .await
            .map_err(StoreError::from)?
        {
            let body: String = row.try_get("body").map_err(StoreError::from)?;
            let body: Body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                table: "orders",
                reason: e.to_string(),
            })?;
            found.insert(
                row.try_get("order_id").map_err(StoreError::from)?,
                body.quote,
            );
        }
    }
    Ok(found)
}

/// Adds `deltas` to the roll-ups, in the caller's unit.
/// Adds one roll-up row's counts (parameters `$1`…`$14` in column order).
pub(crate) const STATS_UPSERT_SQL: &str = "INSERT INTO stats_hourly (template_id, campaign_id, hour, generated, claimed, granted, \
     new_users, used, returned, expired, voided, discount, sales, orders) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (template_id, campaign_id, hour) DO UPDATE SET \
     generated = stats_hourly.generated + excluded.generated, \
     claimed = stats_hourly.claimed + excluded.claimed, \
     granted = stats_hourly.granted + excluded.granted, \
     new_users = stats_hourly.new_users + excluded.new_users, \
     used = stats_hourly.used + excluded.used, \
     returned = stats_hourly.returned + excluded.returned, \
     expired = stats_hourly.expired + excluded.expired, \
     voided = stats_hourly.voided + excluded.voided, \
     discount = stats_hourly.discount + excluded.discount, \
     sales = stats_hourly.sales + excluded.sales, \
     orders = stats_hourly.orders + excluded.orders";

/// What issuing `coupons` adds to the roll-ups: each coupon counted as
/// claimed (a user asked) or granted, in its campaign's row, at `now`.
/// A claim batch adds these in its own unit, so its events reach the
/// outbox marked counted (or not at all; see the claim batch).
pub(crate) fn issued(
    template_id: &str,
    coupons: impl IntoIterator<Item = (Option<String>, bool, bool)>,
    now: DateTime<Utc>,
) -> Deltas {
    let mut deltas = Deltas::new();
    for (campaign, user_asked, new_user) in coupons {
        let key = (
            template_id.to_owned(),
            campaign.unwrap_or_default(),
            hour_of(now),
        );
        let counts = deltas.entry(key).or_default();
        match user_asked {
            true => {
                counts.claimed += 1;
                counts.new_users += i64::from(new_user);
            }
            false => counts.granted += 1,
        }
    }
    deltas
}

pub(crate) async fn apply(connection: &mut AnyConnection, deltas: &Deltas) -> AppResult<()> {
    for ((template, campaign, hour), c) in deltas {
        let mut query = sqlx::query(STATS_UPSERT_SQL)
            .bind(template)
            .bind(campaign)
            .bind(*hour);
        for count in c.in_column_order() {
            query = query.bind(count);
        }
        query
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}

/// Adds `count` codes generated now for `template_id`, in the caller's unit.
pub(crate) async fn add_generated(
    connection: &mut AnyConnection,
    template_id: &str,
    count: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut deltas = Deltas::new();
    deltas.insert(
        (template_id.to_owned(), String::new(), hour_of(now)),
        Counts {
            generated: count,
            ..Counts::default()
        },
    );
    apply(connection, &deltas).await
}

/// Whose figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Template(String),
    Campaign(String),
    /// `platform`, or a shop id: the templates that shop issues or shares.
    Issuer(String),
    /// Every template: the deployment's overview.
    All,
}

/// How a series is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    /// Calendar days in the deployment's time zone.
    Day,
    Hour,
}

/// The figures of SPEC §10 over a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    #[serde(flatten)]
    pub counts: Counts,
    /// Coupons on offer: the sum of the templates' `limits.total`; absent
    /// when one of them has none.
    pub offered: Option<i64>,
    /// 领取率 = (claimed + granted) / offered.
    pub claim_rate: Option<f64>,
    /// 使用率 = (used − returned) / (claimed + granted).
    pub use_rate: Option<f64>,
    /// 用券笔单价 = sales / orders, minor units rounded half up.
    pub average_order_value: Option<i64>,
    /// 费效比 = discount / sales.
    pub cost_ratio: Option<f64>,
}

/// One period of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    pub start: DateTime<Utc>,
    #[serde(flatten)]
    pub counts: Counts,
}

/// A scope's figures over a range, and their series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub granularity: Granularity,
    pub templates: Vec<String>,
    pub figures: Figures,
    pub series: Vec<Period>,
}

/// A ratio to four decimals; none over zero.
fn ratio(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| {
        let scaled = (i128::from(numerator) * 10_000 + i128::from(denominator) / 2)
            / i128::from(denominator);
        // At most a few digits: exact in an f64.
        scaled as f64 / 10_000.0
    })
}

fn figures(counts: Counts, offered: Option<i64>) -> Figures {
    let issued = counts.claimed + counts.granted;
    Figures {
        counts,
        offered,
        claim_rate: offered.and_then(|offered| ratio(issued, offered)),
        use_rate: ratio(counts.used - counts.returned, issued),
        average_order_value: (counts.orders > 0)
            .then(|| (2 * counts.sales + counts.orders).div_euclid(2 * counts.orders)),
        cost_ratio: ratio(counts.discount, counts.sales),
    }
}

/// The start of the local day holding `at`.
fn day_start(at: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = at.with_timezone(&zone);
    zone.with_ymd_and_hms(local.year(), local.month(), local.day(), 0, 0, 0)
        .earliest()
        .map_or(at, |start| start.with_timezone(&Utc))
}

impl App {
    /// The figures of `scope` over `[from, until)` (open ends when absent),
    /// with a series by `granularity`. Hours are whole: a bound inside an
    /// hour counts that hour.
    pub async fn stats(
        &self,
        scope: Scope,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        granularity: Granularity,
    ) -> AppResult<Report> {
        if let (Some(from), Some(until)) = (from, until) {
            if from >= until {
                return Err(AppError::invalid("from", "must be before until"));
            }
        }
        let templates = self.scope_templates(&scope).await?;
        let first = from.map_or(i64::MIN, hour_of);
        let last = until.map_or(i64::MAX, |until| hour_of(until - Duration::microseconds(1)));
        let (column, keys): (&str, Vec<String>) = match &scope {
            Scope::Campaign(id) => ("campaign_id", vec![id.clone()]),
            _ => (
                "template_id",
                templates.iter().map(|(id, _)| id.clone()).collect(),
            ),
        };
        let mut hours: BTreeMap<i64, Counts> = BTreeMap::new();
        for chunk in keys.chunks(IN_LIST_MAX) {
            let mut params = Params::new(self.store.backend());
            let sql = format!(
                "SELECT hour, {} FROM stats_hourly WHERE {column} IN ({}) AND hour >= {} AND hour <= {} \
                 GROUP BY hour ORDER BY hour",
                SUMS.join(", "),
                params.list(chunk.len()),
                params.next(),
                params.next()
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = query.bind(key);
            }
            let rows = query
                .bind(first)
                .bind(last)
                .fetch_all(self.store.reader())
                .await
                .map_err(StoreError::from)?;
            for row in rows {
                let get = |i: usize| -> Result<i64, StoreError> { Ok(row.try_get::<i64, _>(i)?) };
                let counts = Counts {
                    generated: get(1)?,
                    claimed: get(2)?,
                    granted: get(3)?,
                    new_users: get(4)?,
                    used: get(5)?,
                    returned: get(6)?,
                    expired: get(7)?,
                    voided: get(8)?,
                    discount: get(9)?,
                    sales: get(10)?,
                    orders: get(11)?,
                };
                hours.entry(get(0)?).or_default().add(&counts);
            }
        }
        let mut total = Counts::default();
        let mut series: BTreeMap<DateTime<Utc>, Counts> = BTreeMap::new();
        let zone = self.settings.time_zone;
        for (hour, counts) in &hours {
            total.add(counts);
            let start = Utc
                .timestamp_micros(hour * MICROS_PER_HOUR)
                .single()
                .ok_or_else(|| StoreError::Other(format!("hour {hour} out of range")))?;
            let start = match granularity {
                Granularity::Hour => start,
                Granularity::Day => day_start(start, zone),
            };
            series.entry(start).or_default().add(counts);
        }
        let offered = templates
            .iter()
            .map(|(_, total)| *total)
            .sum::<Option<i64>>()
            .filter(|_| !templates.is_empty());
        Ok(Report {
            from,
            until,
            granularity,
            templates: templates.into_iter().map(|(id, _)| id).collect(),
            figures: figures(total, offered),
            series: series
                .into_iter()
                .map(|(start, counts)| Period { start, counts })
                .collect(),
        })
    }

    /// The templates of a scope, each with its `limits.total`.
    async fn scope_templates(&self, scope: &Scope) -> AppResult<Vec<(String, Option<i64>)>> {
        let total = |record: &crate::templates::TemplateRecord| {
            record
                .template
                .get()
                .limits
                .total
                .and_then(|t| i64::try_from(t).ok())
        };
        match scope {
            Scope::Template(id) => {
                let record = self.template(id).await?;
                Ok(vec![(record.id.clone(), total(&record))])
            }
            Scope::Campaign(id) => {
                let rows = sqlx::query(
                    "SELECT DISTINCT template_id FROM stats_hourly WHERE campaign_id = $1 ORDER BY template_id",
                )
                .bind(id)
                .fetch_all(self.store.reader())
                .await
                .map_err(StoreError::from)?;
                let mut templates = Vec::new();
                for row in rows {
                    let id: String = row.try_get("template_id").map_err(StoreError::from)?;
                    let record = self.template(&id).await?;
                    templates.push((id, total(&record)));
                }
                Ok(templates)
            }
            Scope::Issuer(_) | Scope::All => {
                let mut templates = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let page = self.templates(None, after.as_deref(), 500).await?;
                    let Some(last) = page.last().map(|r| r.id.clone()) else {
                        break;
                    };
                    for record in &page {
                        let shop = match &record.template.get().issuer {
                            Issuer::Platform => "platform",
                            Issuer::Shop { shop } | Issuer::Shared { shop, .. } => shop.as_str(),
                        };
                        if matches!(scope, Scope::All)
                            || matches!(scope, Scope::Issuer(issuer) if shop == issuer)
                        {
                            templates.push((record.id.clone(), total(record)));
                        }
                    }
                    after = Some(last);
                }
                Ok(templates)
            }
        }
    }
}

/// Records per page at most.
pub const RECORDS_PAGE_MAX: u32 = 1_000;

/// One claim behind the figures: who, when, how (SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimRecord {
    pub code: String,
    pub user_id: Option<String>,
    /// As the claim's context gave it, masked (138****5678).
    pub phone_masked: Option<String>,
    pub source: String,
    pub campaign_id: Option<String>,
    pub claimed_at: DateTime<Utc>,
    /// What became of the coupon since.
    pub state: String,
}

/// One use behind the figures: the coupon, its order and what was bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UseRecord {
    pub code: String,
    pub user_id: Option<String>,
    pub order_id: Option<String>,
    /// Counter verification: the store.
    pub store_id: Option<String>,
    pub used_at: DateTime<Utc>,
    /// The order's amount before coupons, minor units.
    pub order_amount: Option<i64>,
    /// What the coupon took off the order (its cost split), minor units.
    pub discount: Option<i64>,
    /// `sku×quantity` for each line of the order.
    pub items: Vec<String>,
}

fn bounds(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> (i64, i64) {
    (
        from.map_or(i64::MIN, to_micros),
        until.map_or(i64::MAX, to_micros),
    )
}

impl App {
    /// The template's claims bound in `[from, until)`, in code order after
    /// `after`.
    pub async fn claim_records(
        &self,
        template_id: &str,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<ClaimRecord>> {
        self.template(template_id).await?;
        let (first, last) = bounds(from, until);
        let rows = sqlx::query(
            "SELECT code, user_id, phone_masked, source, campaign_id, bound_at, state FROM coupons \
             WHERE template_id = $1 AND bound_at IS NOT NULL AND bound_at >= $2 AND bound_at < $3 \
             AND code > $4 ORDER BY code LIMIT $5",
        )
        .bind(template_id)
        .bind(first)
        .bind(last)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.min(RECORDS_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| AppError::from(StoreError::from(e));
                Ok(ClaimRecord {
                    code: row.try_get("code").map_err(get)?,
                    user_id: row.try_get("user_id").map_err(get)?,
                    phone_masked: row.try_get("phone_masked").map_err(get)?,
                    source: row.try_get("source").map_err(get)?,
                    campaign_id: row.try_get("campaign_id").map_err(get)?,
                    claimed_at: couponflow_store::time::from_micros(
                        row.try_get("bound_at").map_err(get)?,
                    )?,
                    state: row.try_get("state").map_err(get)?,
                })
            })
            .collect()
    }

    /// The template's redeemed coupons last changed in `[from, until)`,
    /// with their orders, in code order after `after`.
    pub async fn use_records(
        &self,
        template_id: &str,
        from: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<UseRecord>> {
        #[derive(serde::Deserialize)]
        struct Body {
            cart: couponflow_core::quote::Cart,
            quote: Quote,
        }
        self.template(template_id).await?;
        let (first, last) = bounds(from, until);
        let rows = sqlx::query(
            "SELECT c.code, c.user_id, c.order_id, c.store_id, c.updated_at, o.body FROM coupons c \
             LEFT JOIN orders o ON o.order_id = c.order_id \
             WHERE c.template_id = $1 AND c.state = 'redeemed' AND c.updated_at >= $2 AND c.updated_at < $3 \
             AND c.code > $4 ORDER BY c.code LIMIT $5",
        )
        .bind(template_id)
        .bind(first)
        .bind(last)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.min(RECORDS_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                let get = |e: sqlx::Error| AppError::from(StoreError::from(e));
                let code: String = row.try_get("code").map_err(get)?;
                let body: Option<String> = row.try_get("body").map_err(get)?;
                let order = body
                    .map(|text| serde_json::from_str::<Body>(&text))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt {
                        table: "orders",
                        reason: e.to_string(),
                    })?;
                let discount = order.as_ref().and_then(|o| {
                    o.quote
                        .costs
                        .iter()
                        .find(|c| c.coupon == code)
                        .map(|c| c.platform + c.shop)
                });
                Ok(UseRecord {
                    user_id: row.try_get("user_id").map_err(get)?,
                    order_id: row.try_get("order_id").map_err(get)?,
                    store_id: row.try_get("store_id").map_err(get)?,
                    used_at: couponflow_store::time::from_micros(
                        row.try_get("updated_at").map_err(get)?,
                    )?,
                    order_amount: order.as_ref().map(|o| o.quote.subtotal),
                    discount,
                    items: order
                        .map(|o| {
                            o.cart
                                .lines
                                .iter()
                                .map(|l| format!("{}×{}", l.sku, l.quantity))
                                .collect()
                        })
                        .unwrap_or_default(),
                    code,
                })
            })
            .collect()
    }
}
