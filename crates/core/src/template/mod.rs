//! Templates (券模板): the rules of a coupon, exactly in the JSON shapes of
//! SPEC §4, plus their validation.
//!
//! [`Template`] is the wire shape: parts left out take the defaults of §4.0
//! and unknown fields are refused. [`ValidTemplate`] is the only form the
//! engine accepts: it can be had only through [`ValidTemplate::new`], which
//! checks every rule of §4.2 and fills in the defaults (the "normalised"
//! template that `validate-template` prints).

mod benefit;
pub mod describe;
pub mod lifecycle;
pub mod risk;
mod validate;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use benefit::{BalanceKind, Benefit, CashbackTier, PercentTier, ThresholdTier};
pub use validate::{Problem, Problems};

/// A whole template on the wire (§4.0).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub benefit: Benefit,
    pub scope: Scope,
    #[serde(default)]
    pub audience: Audience,
    #[serde(default)]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity: Option<Validity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_window: Option<ClaimWindow>,
    #[serde(default)]
    pub limits: Limits,
    /// Absent means the default of §4.7 for checkout kinds; `gift` and
    /// `trial` templates must leave it out (they never meet a cart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacking: Option<Stacking>,
    #[serde(default)]
    pub issuer: Issuer,
    #[serde(default)]
    pub return_policy: ReturnPolicy,
    /// Anti-fraud caps and rate thresholds (SPEC §11); none by default.
    #[serde(default, skip_serializing_if = "risk::Risk::is_empty")]
    pub risk: risk::Risk,
}

/// Which order lines a coupon can discount (§4.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    pub include: ScopeSet,
    #[serde(default)]
    pub exclude: ScopeSet,
}

/// One side of a scope: a line matches when any entry matches it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeSet {
    #[serde(default, skip_serializing_if = "is_false")]
    pub all: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skus: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brands: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shops: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub venues: Vec<String>,
}

impl ScopeSet {
    pub fn is_empty(&self) -> bool {
        !self.all
            && self.skus.is_empty()
            && self.products.is_empty()
            && self.categories.is_empty()
            && self.brands.is_empty()
            && self.shops.is_empty()
            && self.venues.is_empty()
    }
}

/// How specific a scope is; ranks coupons in the tie-breaks of §7.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Specificity {
    /// 全场券 / 通用券
    All = 1,
    /// 品类券, 品牌券, 店铺券, 会场券
    Group = 2,
    /// 单品券
    Item = 3,
}

/// Who may claim a coupon (§4.4); checked at claim and grant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_any: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_all: Vec<String>,
    /// Region codes; a user's region matches by prefix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub new_users_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_days_min: Option<u32>,
}

/// When a coupon can be used (§4.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Validity {
    Absolute {
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    Relative {
        days: u32,
        #[serde(default)]
        start_after_days: u32,
    },
}

/// When coupons can be claimed (§4.5); either end may be open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimWindow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// Limits on issuing (§4.6). Absent means no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_user: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_user_per_day: Option<u32>,
    /// Caps the sum of the face values of the coupons issued, minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<i64>,
}

/// Stacking and priority (§4.7).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stacking {
    #[serde(default)]
    pub stackable: bool,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default = "default_priority")]
    pub priority: i32,
    #[serde(default = "default_true")]
    pub with_promotions: bool,
}

impl Default for Stacking {
    fn default() -> Self {
        Stacking {
            stackable: false,
            group: None,
            priority: default_priority(),
            with_promotions: true,
        }
    }
}

/// Who issues the coupon and bears its cost (§4.8).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Issuer {
    #[default]
    Platform,
    Shop {
        shop: String,
    },
    /// The platform bears `platform_bp` of the cost, the shop the rest.
    Shared {
        shop: String,
        platform_bp: u16,
    },
}

impl Issuer {
    /// The shop behind a shop or shared coupon.
    pub fn shop(&self) -> Option<&str> {
        match self {
            Issuer::Platform => None,
            Issuer::Shop { shop } | Issuer::Shared { shop, .. } => Some(shop),
        }
    }
}

/// What happens to a used coupon when its order is cancelled or refunded (§8.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnPolicy {
    #[serde(default = "ReturnAction::give_back")]
    pub on_cancel: ReturnAction,
    #[serde(default = "ReturnAction::give_back")]
    pub on_full_refund: ReturnAction,
    #[serde(default = "ReturnAction::keep")]
    pub on_partial_refund: ReturnAction,
    #[serde(default)]
    pub cash_partial: CashPartial,
}

impl Default for ReturnPolicy {
    fn default() -> Self {
        ReturnPolicy {
            on_cancel: ReturnAction::Return,
            on_full_refund: ReturnAction::Return,
            on_partial_refund: ReturnAction::Keep,
            cash_partial: CashPartial::Proportional,
        }
    }
}

/// Whether the coupon comes back to the user or stays spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnAction {
    Return,
    Keep,
}

impl ReturnAction {
    fn give_back() -> Self {
        ReturnAction::Return
    }
    fn keep() -> Self {
        ReturnAction::Keep
    }
}

/// On a partial refund of an order paid with a `cash` coupon: give back a
/// new coupon worth the refunded proportion, or nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashPartial {
    #[default]
    Proportional,
    None,
}

/// A template that passed every rule of §4.2, with its defaults filled in.
/// The engine takes nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ValidTemplate(Template);

impl ValidTemplate {
    /// Validates and normalises; every problem found is listed, each naming
    /// the field and the reason.
    pub fn new(template: Template) -> Result<Self, Problems> {
        validate::validate(&template)?;
        Ok(ValidTemplate(validate::normalise(template)))
    }

    /// Parses and validates a template from JSON text.
    pub fn from_json(text: &str) -> Result<Self, Problems> {
        let template: Template = parse_json(text)?;
        ValidTemplate::new(template)
    }

    pub fn get(&self) -> &Template {
        &self.0
    }

    pub fn into_inner(self) -> Template {
        self.0
    }

    pub fn benefit(&self) -> &Benefit {
        &self.0.benefit
    }

    /// The stacking settings; `gift`/`trial` templates, which never meet a
    /// cart, answer the default.
    pub fn stacking(&self) -> Stacking {
        self.0.stacking.clone().unwrap_or_default()
    }

    /// The stacking group of §4.7: the one named, else `platform` for the
    /// platform's coupons and `shop:<id>` for a shop's own or shared ones.
    pub fn stacking_group(&self) -> String {
        if let Some(group) = self.0.stacking.as_ref().and_then(|s| s.group.clone()) {
            return group;
        }
        match self.0.issuer.shop() {
            None => "platform".to_owned(),
            Some(shop) => format!("shop:{shop}"),
        }
    }

    /// 单品券 > 品类/品牌/店铺/会场券 > 全场券. A shop's coupon scoped to
    /// everything only ever touches that shop's lines, so it ranks as a
    /// shop coupon (店铺券).
    pub fn specificity(&self) -> Specificity {
        let include = &self.0.scope.include;
        if !include.skus.is_empty() || !include.products.is_empty() {
            Specificity::Item
        } else if !include.all || self.0.issuer.shop().is_some() {
            Specificity::Group
        } else {
            Specificity::All
        }
    }

    /// Face value for the budget limit (§4.6); `None` for kinds that have
    /// none (their templates cannot carry a budget).
    pub fn face_value(&self) -> Option<i64> {
        self.0.benefit.face_value()
    }

    /// What `risk.budget_used` is a percent of: `limits.budget`, or
    /// `limits.total × face value` without one.
    pub fn budget_base(&self) -> Option<i64> {
        let limits = &self.0.limits;
        limits.budget.or_else(|| {
            let total = i64::try_from(limits.total?).ok()?;
            self.face_value()?.checked_mul(total)
        })
    }
}

/// Parses JSON, turning a serde error into one problem that names the path
/// of the field that failed (`benefit.tiers[1].off`).
pub fn parse_json<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, Problems> {
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut *deserializer).map_err(|error| {
        // A path segment serde could not name (inside a value cut short) is
        // shown as `?`: leave it out rather than print it.
        let path = error.path().to_string().replace(".?", "");
        let field = if path == "." || path == "?" {
            String::new()
        } else {
            path
        };
        Problems::single(field, error.into_inner().to_string())
    })?;
    // Text after the document is as wrong as a document cut short.
    deserializer
        .end()
        .map_err(|error| Problems::single("", error.to_string()))?;
    Ok(value)
}

fn default_priority() -> i32 {
    100
}

fn default_true() -> bool {
    true
}

fn is_false(value: &bool) -> bool {
    !*value
}
