//! Coupons as the API shows them (SPEC §5), with their history.

use chrono::{DateTime, Utc};
use couponflow_app::coupons::{CouponRecord, HistoryEntry};
use couponflow_core::coupon::CouponState;
use serde::Serialize;
use utoipa::ToSchema;

use super::docs::coupon_state_schema;

/// One coupon.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CouponView {
    pub code: String,
    pub template_id: String,
    /// The owner; absent while unbound.
    pub user_id: Option<String>,
    #[schema(schema_with = coupon_state_schema)]
    pub state: CouponState,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// The discount it stands for, in minor units, as counted against the budget.
    pub face_value: i64,
    /// How it reached its owner: `claim`, `grant`, `exchange`, or `batch` (unbound).
    pub source: String,
    /// The order holding or having spent it.
    pub order_id: Option<String>,
    /// Hidden from the owner's wallet.
    pub hidden: bool,
    /// Where it was verified at a counter.
    pub store_id: Option<String>,
    pub staff_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub bound_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl From<CouponRecord> for CouponView {
    fn from(record: CouponRecord) -> Self {
        CouponView {
            code: record.code,
            template_id: record.template_id,
            user_id: record.user_id,
            state: record.state,
            valid_from: record.valid_from,
            valid_until: record.valid_until,
            face_value: record.face_value,
            source: record.source,
            order_id: record.order_id,
            hidden: record.hidden,
            store_id: record.store_id,
            staff_id: record.staff_id,
            created_at: record.created_at,
            bound_at: record.bound_at,
            updated_at: record.updated_at,
        }
    }
}

/// One change of a coupon's state: from, to, when, why, order, actor.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HistoryEntryView {
    pub seq: i64,
    /// Absent for the coupon's first state.
    #[schema(schema_with = coupon_state_schema)]
    pub from: Option<CouponState>,
    #[schema(schema_with = coupon_state_schema)]
    pub to: CouponState,
    pub at: DateTime<Utc>,
    pub reason: String,
    pub order_id: Option<String>,
    pub actor: Option<String>,
}

impl From<HistoryEntry> for HistoryEntryView {
    fn from(entry: HistoryEntry) -> Self {
        HistoryEntryView {
            seq: entry.seq,
            from: entry.from,
            to: entry.to,
            at: entry.at,
            reason: entry.reason,
            order_id: entry.order_id,
            actor: entry.actor,
        }
    }
}

/// A coupon with its whole history, oldest first.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CouponWithHistory {
    #[serde(flatten)]
    pub coupon: CouponView,
    pub history: Vec<HistoryEntryView>,
}
