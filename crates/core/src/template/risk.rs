//! A template's anti-fraud rules (SPEC §11.3, §11.4): caps on claims and
//! on uses per device, IP address, phone, address or payment account (per
//! day or ever), and thresholds on claims per minute, redemptions per
//! minute and budget used that alert and then pause.

use serde::{Deserialize, Serialize};

/// `"risk": {"claim_caps": [{"by": "device_id", "max": 1}],
///           "use_caps": [{"by": "payment_account", "max": 3, "per": "day"}],
///           "claims_per_minute": {"alert": 1000, "pause": 5000},
///           "redemptions_per_minute": {"alert": 500, "pause": 2000},
///           "budget_used": {"alert": 80, "pause": 95}}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_caps: Vec<Cap>,
    /// Caps on uses: coupons of this template locked into orders (and not
    /// released) per value of the checkout's `context`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub use_caps: Vec<Cap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_per_minute: Option<Thresholds>,
    /// Redemptions (orders paid with this template's coupons) per minute;
    /// the pause level pauses the template and holds its coupons' use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redemptions_per_minute: Option<Thresholds>,
    /// Percent (1–100) of the budget issued: `limits.budget`, or
    /// `limits.total × face value` without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_used: Option<Thresholds>,
    /// Claims need a captcha token the deployment's verifier accepts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub captcha: bool,
}

impl Risk {
    pub fn is_empty(&self) -> bool {
        *self == Risk::default()
    }

    /// Whether claims are counted against caps, a rate or the budget's
    /// thresholds (the captcha is checked before a claim reaches its batch).
    pub fn counts_claims(&self) -> bool {
        !self.claim_caps.is_empty()
            || self.claims_per_minute.is_some()
            || self.budget_used.is_some()
    }

    /// Whether orders count this template's uses or redemptions.
    pub fn counts_uses(&self) -> bool {
        !self.use_caps.is_empty() || self.redemptions_per_minute.is_some()
    }
}

/// What a claim's or a checkout's `context` says about who is asking.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_account: Option<String>,
}

impl Context {
    pub fn is_empty(&self) -> bool {
        *self == Context::default()
    }

    /// The value for `key`; an empty text counts as absent.
    pub fn get(&self, key: RiskKey) -> Option<&str> {
        let value = match key {
            RiskKey::DeviceId => &self.device_id,
            RiskKey::Ip => &self.ip,
            RiskKey::Phone => &self.phone,
            RiskKey::AddressHash => &self.address_hash,
            RiskKey::PaymentAccount => &self.payment_account,
        };
        value.as_deref().filter(|value| !value.is_empty())
    }
}

/// At most `max` claims per value of `by`, per local day or ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub by: RiskKey,
    pub max: u32,
    #[serde(default)]
    pub per: CapPeriod,
}

/// What a claim's context says about who is claiming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskKey {
    DeviceId,
    Ip,
    Phone,
    AddressHash,
    PaymentAccount,
}

impl RiskKey {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskKey::DeviceId => "device_id",
            RiskKey::Ip => "ip",
            RiskKey::Phone => "phone",
            RiskKey::AddressHash => "address_hash",
            RiskKey::PaymentAccount => "payment_account",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapPeriod {
    /// The deployment's calendar day.
    Day,
    #[default]
    Ever,
}

/// Levels of a rate: crossing `alert` emits `risk.alert`; reaching `pause`
/// pauses the template until staff resume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<u32>,
}
