//! Checkout (SPEC §7): quotes over the user's own coupons, and the product
//! page (§7.6) — the coupons held or still claimable that would apply to
//! one product, and the price after the best of them (券后价).
//!
//! The wallet is read here for every use case that prices a cart (the
//! order lock reads it inside its unit through the same functions).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::quote::{
    Cart, CartLine, Quote, QuoteUser, Select, WALLET_COUPONS_MAX, WalletCoupon, quote,
};
use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_core::template::{Audience, Benefit, ValidTemplate, Validity};
use couponflow_store::StoreError;
use couponflow_store::sql::Params;

use crate::coupons::{self, CouponRecord};
use crate::templates::{self, TemplateRecord};
use crate::{App, AppError, AppResult};

/// Templates the product page considers at most (active ones, by id).
pub const PRODUCT_TEMPLATES_MAX: usize = 500;
/// Coupons of the wallet the product page considers at most, so that held
/// and claimable together stay within the engine's limit.
pub const PRODUCT_WALLET_MAX: usize = WALLET_COUPONS_MAX - PRODUCT_TEMPLATES_MAX;
/// How a claimable template shows up among the engine's coupon ids. Codes
/// never contain `:`, so these cannot collide with a held coupon.
const CLAIMABLE_PREFIX: &str = "template:";

/// Template ids per `IN (…)` list of [`TemplateCache::load_many`].
const TEMPLATE_IN_LIST_MAX: usize = 512;

const TEMPLATE_COLUMNS: &str = "id, body, status, review_step, version, created_by, created_at, \
                                updated_at, issued, generated, budget_used";

/// Reads a template inside a unit (or on a read connection).
pub(crate) async fn read_template(
    connection: &mut AnyConnection,
    id: &str,
) -> AppResult<TemplateRecord> {
    let row = sqlx::query(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::TemplateNotFound(id.to_owned()))?;
    Ok(templates::record_from_row(&row)?)
}

/// Templates read once per call. Copies of one template then share one
/// `Arc`, which the engine's best search relies on to fold them.
#[derive(Default)]
pub(crate) struct TemplateCache {
    records: HashMap<String, Arc<TemplateRecord>>,
    /// Cash rules re-valued at a coupon's own face value, by (template, value).
    revalued: HashMap<(String, i64), Arc<ValidTemplate>>,
}

impl TemplateCache {
    pub(crate) async fn get(
        &mut self,
        connection: &mut AnyConnection,
        id: &str,
    ) -> AppResult<Arc<TemplateRecord>> {
        if let Some(record) = self.records.get(id) {
            return Ok(record.clone());
        }
        let record = Arc::new(read_template(connection, id).await?);
        self.records.insert(id.to_owned(), record.clone());
        Ok(record)
    }

    /// The rules a coupon is priced by: its template's, except that a `cash`
    /// coupon is worth its own face value. Claims store the template's
    /// amount, so this only matters for the cash given back on a partial
    /// refund (see `orders::refund`).
    pub(crate) fn rules_for(
        &mut self,
        record: &TemplateRecord,
        coupon: &CouponRecord,
    ) -> AppResult<Arc<ValidTemplate>> {
        let Benefit::Cash {
            amount,
            min_payable,
        } = record.template.benefit()
        else {
            return Ok(record.template.clone());
        };
        if coupon.face_value <= 0 || coupon.face_value == *amount {
            return Ok(record.template.clone());
        }
        let key = (record.id.clone(), coupon.face_value);
        if let Some(rules) = self.revalued.get(&key) {
            return Ok(rules.clone());
        }
        let mut template = record.template.get().clone();
        template.benefit = Benefit::Cash {
            amount: coupon.face_value,
            min_payable: *min_payable,
        };
        let rules = ValidTemplate::new(template).map_err(|problems| StoreError::Corrupt {
            table: "coupons",
            reason: format!("coupon {} cannot be re-valued: {problems}", coupon.code),
        })?;
        let rules = Arc::new(rules);
        self.revalued.insert(key, rules.clone());
        Ok(rules)
    }

    /// The engine's view of a stored coupon; `None` when it has no
    /// validity yet (it cannot be used, so it is left out).
    pub(crate) async fn wallet_coupon(
        &mut self,
        connection: &mut AnyConnection,
        coupon: &CouponRecord,
    ) -> AppResult<Option<WalletCoupon>> {
        if coupon.valid_from.is_none() || coupon.valid_until.is_none() {
            return Ok(None);
        }
        let record = self.get(connection, &coupon.template_id).await?;
        self.priced(&record, coupon)
    }

    /// Reads the templates of `ids` that are not cached yet, a few hundred
    /// per statement: a batch of orders prices every wallet of the batch
    /// without one statement per template. Ids with no template stay
    /// uncached, so [`TemplateCache::cached`] reports them.
    pub(crate) async fn load_many(
        &mut self,
        connection: &mut AnyConnection,
        ids: &[String],
    ) -> AppResult<()> {
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !self.records.contains_key(id.as_str()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for chunk in missing.chunks(TEMPLATE_IN_LIST_MAX) {
            let mut params = Params::for_connection(connection);
            let sql = format!(
                "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE id IN ({})",
                params.list(chunk.len())
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.as_str());
            }
            let rows = query
                .fetch_all(&mut *connection)
                .await
                .map_err(StoreError::from)?;
            for row in &rows {
                let record = templates::record_from_row(row)?;
                self.records.insert(record.id.clone(), Arc::new(record));
            }
        }
        Ok(())
    }

    /// A template read before by [`TemplateCache::load_many`] or `get`.
    pub(crate) fn cached(&self, id: &str) -> AppResult<Arc<TemplateRecord>> {
        self.records
            .get(id)
            .cloned()
            .ok_or_else(|| AppError::TemplateNotFound(id.to_owned()))
    }

    /// [`TemplateCache::wallet_coupon`] from the cache alone, for work that
    /// read its templates up front and must not touch the database again.
    pub(crate) fn cached_wallet_coupon(
        &mut self,
        coupon: &CouponRecord,
    ) -> AppResult<Option<WalletCoupon>> {
        if coupon.valid_from.is_none() || coupon.valid_until.is_none() {
            return Ok(None);
        }
        let record = self.cached(&coupon.template_id)?;
        self.priced(&record, coupon)
    }

    fn priced(
        &mut self,
        record: &TemplateRecord,
        coupon: &CouponRecord,
    ) -> AppResult<Option<WalletCoupon>> {
        let (Some(valid_from), Some(valid_until)) = (coupon.valid_from, coupon.valid_until) else {
            return Ok(None);
        };
        Ok(Some(WalletCoupon {
            id: coupon.code.clone(),
            template: self.rules_for(record, coupon)?,
            valid_from,
            valid_until,
            state: coupon.state,
            locked_by: coupon.order_id.clone(),
        }))
    }
}

/// The user's coupons a cart can use: available ones, and those locked by
/// `order_id`; soonest-expiring first, at most `limit`.
pub(crate) async fn usable_coupons(
    connection: &mut AnyConnection,
    user_id: &str,
    order_id: Option<&str>,
    limit: usize,
) -> AppResult<Vec<CouponRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {} FROM coupons WHERE user_id = $1 \
         AND (state = 'available' OR (state = 'locked' AND order_id = $2)) \
         ORDER BY valid_until, code LIMIT $3",
        coupons::COLUMNS
    ))
    .bind(user_id)
    .bind(order_id)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    rows.iter()
        .map(|row| coupons::record_from_row(row).map_err(AppError::from))
        .collect()
}

/// The wallet as the engine sees it, for `user_id` and `order_id`.
pub(crate) async fn load_wallet(
    connection: &mut AnyConnection,
    cache: &mut TemplateCache,
    user_id: &str,
    order_id: Option<&str>,
    limit: usize,
) -> AppResult<Vec<WalletCoupon>> {
    let records = usable_coupons(connection, user_id, order_id, limit).await?;
    let mut wallet = Vec::with_capacity(records.len());
    for record in &records {
        if let Some(coupon) = cache.wallet_coupon(connection, record).await? {
            wallet.push(coupon);
        }
    }
    Ok(wallet)
}

/// A coupon the user holds that would apply to the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldOffer {
    pub code: String,
    pub template_id: String,
    pub name: String,
    /// Its value used alone on this product (§7.5 `coupons[].discount`).
    pub discount: i64,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A template the user could still claim that would apply to the product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimableOffer {
    pub template_id: String,
    pub name: String,
    pub discount: i64,
}

/// The product page (§7.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductCoupons {
    /// The line's amount after promotions, before coupons.
    pub price: i64,
    pub held: Vec<HeldOffer>,
    pub claimable: Vec<ClaimableOffer>,
    /// 券后价: the payable of the best quote over held and claimable ones.
    pub price_after_best: i64,
    /// The best set: held coupon codes …
    pub best_codes: Vec<String>,
    /// … and templates to claim first.
    pub best_templates: Vec<String>,
}

impl App {
    /// `POST /v1/quote` (§7): prices the cart over the user's own coupons —
    /// available ones, and those locked by `cart.order_id`.
    pub async fn quote_for_user(&self, cart: Cart) -> AppResult<Quote> {
        let now = self.now();
        let mut connection = self
            .store
            .reader()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let mut cache = TemplateCache::default();
        let wallet = load_wallet(
            &mut connection,
            &mut cache,
            &cart.user.id,
            cart.order_id.as_deref(),
            WALLET_COUPONS_MAX,
        )
        .await?;
        Ok(quote(&cart, &wallet, now)?)
    }

    /// The product page (§7.6): `line` is the product with its quantity.
    pub async fn product_coupons(
        &self,
        user: QuoteUser,
        line: CartLine,
    ) -> AppResult<ProductCoupons> {
        let now = self.now();
        let mut connection = self
            .store
            .reader()
            .acquire()
            .await
            .map_err(StoreError::from)?;
        let mut cache = TemplateCache::default();
        let mut wallet = load_wallet(
            &mut connection,
            &mut cache,
            &user.id,
            None,
            PRODUCT_WALLET_MAX,
        )
        .await?;
        let claimable = claimable_templates(&mut connection, &user, now).await?;
        let names: HashMap<String, (String, String)> = wallet_names(&wallet, &claimable);
        wallet.extend(claimable);
        let price = line.amount() - line.promo_discount;
        let cart = Cart {
            user,
            lines: vec![line],
            shipping_fee: 0,
            select: Select::Best,
            currency: Default::default(),
            order_id: None,
            context: Default::default(),
        };
        let answer = quote(&cart, &wallet, now)?;
        Ok(product_answer(price, &answer, &wallet, &names))
    }
}

/// Template id and name of every coupon id of the product quote.
fn wallet_names(
    held: &[WalletCoupon],
    claimable: &[WalletCoupon],
) -> HashMap<String, (String, String)> {
    held.iter()
        .chain(claimable)
        .map(|coupon| {
            let template = coupon.template.get();
            let id = template.id.clone().unwrap_or_default();
            (coupon.id.clone(), (id, template.name.clone()))
        })
        .collect()
}

fn product_answer(
    price: i64,
    answer: &Quote,
    wallet: &[WalletCoupon],
    names: &HashMap<String, (String, String)>,
) -> ProductCoupons {
    let mut held = Vec::new();
    let mut claimable = Vec::new();
    for result in answer.coupons.iter().filter(|c| c.applicable) {
        let (template_id, name) = names.get(&result.id).cloned().unwrap_or_default();
        if result.id.starts_with(CLAIMABLE_PREFIX) {
            claimable.push(ClaimableOffer {
                template_id,
                name,
                discount: result.discount,
            });
        } else {
            let valid_until = wallet
                .iter()
                .find(|c| c.id == result.id)
                .map(|c| c.valid_until);
            held.push(HeldOffer {
                code: result.id.clone(),
                template_id,
                name,
                discount: result.discount,
                valid_until,
            });
        }
    }
    let (templates, codes): (Vec<&String>, Vec<&String>) = answer
        .selected
        .iter()
        .partition(|id| id.starts_with(CLAIMABLE_PREFIX));
    ProductCoupons {
        price,
        held,
        claimable,
        price_after_best: answer.payable,
        best_codes: codes.into_iter().cloned().collect(),
        best_templates: templates
            .into_iter()
            .map(|id| id[CLAIMABLE_PREFIX.len()..].to_owned())
            .collect(),
    }
}

/// Active templates the user could still claim, as hypothetical coupons
/// valid from now. A hint for the page: the claim itself decides.
async fn claimable_templates(
    connection: &mut AnyConnection,
    user: &QuoteUser,
    now: DateTime<Utc>,
) -> AppResult<Vec<WalletCoupon>> {
    let rows = sqlx::query(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM templates WHERE status IN ('approved', 'active') \
         ORDER BY id LIMIT $1"
    ))
    .bind(i64::try_from(PRODUCT_TEMPLATES_MAX).unwrap_or(i64::MAX))
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let held = held_per_template(connection, &user.id).await?;
    let mut offers = Vec::new();
    for row in &rows {
        let record = templates::record_from_row(row)?;
        let held = held.get(&record.id).copied().unwrap_or(0);
        if let Some((valid_from, valid_until)) = claimable_window(&record, user, held, now) {
            offers.push(WalletCoupon {
                id: format!("{CLAIMABLE_PREFIX}{}", record.id),
                template: record.template.clone(),
                valid_from,
                valid_until,
                state: couponflow_core::coupon::CouponState::Available,
                locked_by: None,
            });
        }
    }
    Ok(offers)
}

/// How many coupons of each template the user holds (in any state).
async fn held_per_template(
    connection: &mut AnyConnection,
    user_id: &str,
) -> AppResult<HashMap<String, i64>> {
    let rows = sqlx::query(
        "SELECT template_id, COUNT(*) AS held FROM coupons WHERE user_id = $1 GROUP BY template_id",
    )
    .bind(user_id)
    .fetch_all(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    rows.iter()
        .map(|row| -> Result<(String, i64), StoreError> {
            Ok((row.try_get("template_id")?, row.try_get("held")?))
        })
        .collect::<Result<_, _>>()
        .map_err(AppError::from)
}

/// The validity a coupon claimed now would have, if the user could claim
/// one: active, claim window open, stock and budget left, the user within
/// `per_user` and the audience. `per_user_per_day` and risk rules are left
/// to the claim itself.
fn claimable_window(
    record: &TemplateRecord,
    user: &QuoteUser,
    held: i64,
    now: DateTime<Utc>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let template = record.template.get();
    if record.status_at(now) != TemplateStatus::Active || !template.benefit.is_for_checkout() {
        return None;
    }
    if let Some(window) = &template.claim_window {
        let open = window.from.is_none_or(|from| from <= now)
            && window.until.is_none_or(|until| now <= until);
        if !open {
            return None;
        }
    }
    let limits = &template.limits;
    let total = limits.total.map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    let face_value = record.template.face_value().unwrap_or(0);
    if total.is_some_and(|total| record.issued + record.generated >= total)
        || limits
            .budget
            .is_some_and(|b| record.budget_used + face_value > b)
        || limits.per_user.is_some_and(|max| held >= i64::from(max))
        || !in_audience(&template.audience, user)
    {
        return None;
    }
    match template.validity.as_ref()? {
        Validity::Absolute { until, .. } => (now <= *until).then_some((now, *until)),
        Validity::Relative {
            days,
            start_after_days,
        } => {
            let span = Duration::days(i64::from(*days) + i64::from(*start_after_days));
            Some((now, now + span))
        }
    }
}

/// The audience of §4.4 as far as a quote's user tells it. A recall
/// audience (`inactive_days_min`) needs what only the mall knows, so such
/// templates are not offered here.
fn in_audience(audience: &Audience, user: &QuoteUser) -> bool {
    let has = |tag: &String| user.tags.contains(tag);
    let region_ok = audience.regions.is_empty()
        || user.region.as_ref().is_some_and(|region| {
            audience
                .regions
                .iter()
                .any(|prefix| region.starts_with(prefix.as_str()))
        });
    (audience.tags_any.is_empty() || audience.tags_any.iter().any(has))
        && audience.tags_all.iter().all(has)
        && region_ok
        && (!audience.new_users_only || user.new_user)
        && audience.inactive_days_min.is_none()
}
