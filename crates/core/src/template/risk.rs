//! A template's anti-fraud rules (SPEC §11.3, §11.4): caps on claims per
//! device, IP address, phone, address or payment account (per day or
//! ever), and claims-per-minute thresholds that alert and then pause.

use serde::{Deserialize, Serialize};

/// `"risk": {"claim_caps": [{"by": "device_id", "max": 1}],
///           "claims_per_minute": {"alert": 1000, "pause": 5000}}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_caps: Vec<Cap>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims_per_minute: Option<Thresholds>,
    /// Claims need a captcha token the deployment's verifier accepts.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub captcha: bool,
}

impl Risk {
    pub fn is_empty(&self) -> bool {
        self.claim_caps.is_empty() && self.claims_per_minute.is_none() && !self.captcha
    }

    /// Whether claims are counted against caps or a rate (the captcha is
    /// checked before a claim reaches its batch).
    pub fn counts_claims(&self) -> bool {
        !self.claim_caps.is_empty() || self.claims_per_minute.is_some()
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
