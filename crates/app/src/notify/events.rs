//! The events of SPEC §6.3: what a webhook receives as its body and what the
//! inbox turns into messages. An event's `id` is unique and stays the same
//! on every delivery attempt, so receivers deduplicate on it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::coupons::CouponRecord;
use crate::ids;

pub const COUPON_GRANTED: &str = "coupon.granted";
pub const COUPON_CLAIMED: &str = "coupon.claimed";
pub const COUPON_LOCKED: &str = "coupon.locked";
pub const COUPON_REDEEMED: &str = "coupon.redeemed";
pub const COUPON_RETURNED: &str = "coupon.returned";
pub const COUPON_EXPIRING: &str = "coupon.expiring";
pub const COUPON_EXPIRED: &str = "coupon.expired";
pub const COUPON_VOIDED: &str = "coupon.voided";
pub const CAMPAIGN_CREATED: &str = "campaign.created";
pub const CAMPAIGN_CHANGED: &str = "campaign.changed";
pub const CAMPAIGN_SCHEDULED: &str = "campaign.scheduled";
pub const CAMPAIGN_PAUSED: &str = "campaign.paused";
pub const CAMPAIGN_RESUMED: &str = "campaign.resumed";
pub const CAMPAIGN_ENDED: &str = "campaign.ended";
pub const RISK_ALERT: &str = "risk.alert";

/// Every event type a webhook may name, besides the patterns `*` and
/// `<family>.*` ([`FAMILIES`]).
pub const TYPES: &[&str] = &[
    COUPON_GRANTED,
    COUPON_CLAIMED,
    COUPON_LOCKED,
    COUPON_REDEEMED,
    COUPON_RETURNED,
    COUPON_EXPIRING,
    COUPON_EXPIRED,
    COUPON_VOIDED,
    "template.created",
    "template.changed",
    "template.submitted",
    "template.approved",
    "template.rejected",
    "template.activated",
    "template.paused",
    "template.resumed",
    "template.ended",
    CAMPAIGN_CREATED,
    CAMPAIGN_CHANGED,
    CAMPAIGN_SCHEDULED,
    CAMPAIGN_PAUSED,
    CAMPAIGN_RESUMED,
    CAMPAIGN_ENDED,
    RISK_ALERT,
];

/// The families a webhook may subscribe to whole (`coupon.*`).
pub const FAMILIES: &[&str] = &["coupon", "template", "campaign", "risk"];

/// One event. Serialised as `{"id", "type", "at", "user_id"?, "data"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The user the event concerns, whose inbox may get a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub data: Value,
    /// Kept in the outbox only: the statistics counted this event where it
    /// happened (an issued coupon is counted by its claim batch), so the
    /// dispatcher must not count it again. Never sent (see
    /// [`Event::published`]).
    #[serde(
        default,
        rename = "_counted",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub counted: bool,
}

/// An event as webhooks receive it.
#[derive(Serialize)]
pub struct Published<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<&'a str>,
    pub data: &'a Value,
}

impl Event {
    /// A new event with a fresh id.
    pub fn new(kind: &str, at: DateTime<Utc>, user_id: Option<String>, data: Value) -> Event {
        Event {
            id: ids::new_id("evt"),
            kind: kind.to_owned(),
            at,
            user_id,
            data,
            counted: false,
        }
    }

    /// The event without what only the outbox keeps.
    pub fn published(&self) -> Published<'_> {
        Published {
            id: &self.id,
            kind: &self.kind,
            at: self.at,
            user_id: self.user_id.as_deref(),
            data: &self.data,
        }
    }

    /// An event about a coupon as it is after the change.
    pub fn coupon(kind: &str, coupon: &CouponRecord, at: DateTime<Utc>) -> Event {
        let mut data = json!({
            "code": coupon.code,
            "template_id": coupon.template_id,
            "state": coupon.state.as_str(),
            "face_value": coupon.face_value,
            "valid_from": coupon.valid_from,
            "valid_until": coupon.valid_until,
        });
        if let Some(order_id) = &coupon.order_id {
            data["order_id"] = json!(order_id);
        }
        Event::new(kind, at, coupon.user_id.clone(), data)
    }

    /// `template.<action>` (`template.approved`, …).
    pub fn template(
        action: &str,
        template_id: &str,
        status: &str,
        actor: &str,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Event {
        let data = json!({"template_id": template_id, "status": status, "actor": actor,
                          "reason": reason});
        Event::new(&format!("template.{action}"), at, None, data)
    }

    /// A text field of `data`, if present.
    pub fn data_text(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(Value::as_str)
    }
}

/// Whether a webhook's `pattern` (`*`, `coupon.*` or an exact type)
/// names `kind`.
pub fn pattern_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(family) => kind
            .strip_prefix(family)
            .is_some_and(|rest| rest.starts_with('.')),
        None => pattern == kind,
    }
}

/// Whether a webhook may subscribe to `pattern`.
pub fn is_known_pattern(pattern: &str) -> bool {
    pattern == "*"
        || TYPES.contains(&pattern)
        || pattern
            .strip_suffix(".*")
            .is_some_and(|family| FAMILIES.contains(&family))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_everything_a_family_or_one_type() {
        assert!(pattern_matches("*", "coupon.redeemed"));
        assert!(pattern_matches("coupon.*", "coupon.redeemed"));
        assert!(!pattern_matches("coupon.*", "couponx.redeemed"));
        assert!(!pattern_matches("template.*", "coupon.redeemed"));
        assert!(pattern_matches("coupon.redeemed", "coupon.redeemed"));
        assert!(!pattern_matches("coupon.redeemed", "coupon.returned"));
        assert!(is_known_pattern("campaign.*"));
        assert!(is_known_pattern("risk.alert"));
        assert!(!is_known_pattern("coupon.redeem"));
        assert!(!is_known_pattern("shop.*"));
    }

    #[test]
    fn an_event_serialises_with_its_type_and_without_an_absent_user() {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let event = Event::new("template.approved", at, None, json!({"template_id": "t"}));
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], "template.approved");
        assert_eq!(json["at"], "2027-01-15T08:00:00Z");
        assert!(json.get("user_id").is_none());
        assert!(event.id.starts_with("evt_"));
    }
}
