//! Templates as the API shows them: the template of SPEC §4.0 with the
//! server's fields beside it. The wire shape is ours, not the use case's
//! record, so a change inside `app` does not change the API by accident.

use chrono::{DateTime, Utc};
use couponflow_app::templates::{TemplateEvent, TemplateRecord};
use couponflow_core::template::Template;
use couponflow_core::template::describe::{Summary, describe};
use couponflow_core::template::lifecycle::{ReviewStep, TemplateStatus};
use serde::Serialize;
use utoipa::ToSchema;

use super::docs::{review_step_schema, template_status_schema};

/// A stored template: every field of SPEC §4.0 (defaults filled in, `id`
/// set) and the fields the server keeps.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// The template itself, exactly as `PATCH` takes it back.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub template: Template,
    /// Where the template is in its life (SPEC §4.9). An approved template
    /// shows `active` once its claim window has opened.
    #[schema(schema_with = template_status_schema)]
    pub status: TemplateStatus,
    #[schema(schema_with = review_step_schema)]
    pub review_step: Option<ReviewStep>,
    /// Goes up by one with every change.
    pub version: i64,
    /// Who created it: `key:<id>`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Coupons bound to users so far.
    pub issued: i64,
    /// Unbound codes generated so far.
    pub generated: i64,
    /// Face value issued so far, in minor units, against `limits.budget`.
    pub budget_used: i64,
    /// The template in plain words, such as "满300减50，全场通用，领取后30天内有效".
    pub summary: SummaryView,
}

/// A template in one line of plain words per language.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SummaryView {
    /// Simplified Chinese: "满300减50，全场通用，领取后30天内有效".
    pub zh: String,
    /// English: "¥50 off orders of ¥300 or more, storewide, valid for 30 days after claiming".
    pub en: String,
}

impl From<Summary> for SummaryView {
    fn from(summary: Summary) -> Self {
        SummaryView {
            zh: summary.zh,
            en: summary.en,
        }
    }
}

impl TemplateView {
    /// The view of `record` as it stands at `now`.
    pub fn at(record: &TemplateRecord, now: DateTime<Utc>) -> TemplateView {
        let mut template = record.template.get().clone();
        template.id = Some(record.id.clone());
        TemplateView {
            summary: describe(&template).into(),
            template,
            status: record.status_at(now),
            review_step: record.review_step,
            version: record.version,
            created_by: record.created_by.clone(),
            created_at: record.created_at,
            updated_at: record.updated_at,
            issued: record.issued,
            generated: record.generated,
            budget_used: record.budget_used,
        }
    }
}

/// One recorded step of a template's life: who, when, what, why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TemplateEventView {
    /// 1, 2, 3, … per template.
    pub seq: i64,
    /// `created`, `changed`, `submitted`, `approved`, `rejected`, `paused`, `resumed`, `ended`.
    pub action: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl From<TemplateEvent> for TemplateEventView {
    fn from(event: TemplateEvent) -> Self {
        TemplateEventView {
            seq: event.seq,
            action: event.action,
            actor: event.actor,
            at: event.at,
            reason: event.reason,
        }
    }
}
