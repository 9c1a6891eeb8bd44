//! Templates: create as draft, change, submit, review, pause/resume/end
//! (SPEC §4.9), every step recorded in `template_events`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::template::lifecycle::{
    self, ReviewStep, TemplateAction, TemplateStatus, finance_review_needed, money_relevant_change,
};
use couponflow_core::template::{Template, ValidTemplate};
use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::notify::{Event, outbox};
use crate::{Actor, App, AppError, AppResult, ids};

/// Templates one list call returns at most.
pub const TEMPLATE_PAGE_MAX: u32 = 500;

/// A stored template with its server-owned fields.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateRecord {
    pub id: String,
    #[serde(flatten)]
    pub template: Arc<ValidTemplate>,
    pub status: TemplateStatus,
    pub review_step: Option<ReviewStep>,
    pub version: i64,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Coupons bound to users so far (claims, grants, exchanges).
    pub issued: i64,
    /// Unbound codes generated so far.
    pub generated: i64,
    /// Face value issued so far, against `limits.budget`.
    pub budget_used: i64,
}

impl TemplateRecord {
    /// The status as it stands at `now`: an approved template is active
    /// once its claim window has opened.
    pub fn status_at(&self, now: DateTime<Utc>) -> TemplateStatus {
        if self.status == TemplateStatus::Approved {
            let opens = self
                .template
                .get()
                .claim_window
                .as_ref()
                .and_then(|w| w.from);
            if opens.is_none_or(|from| from <= now) {
                return TemplateStatus::Active;
            }
        }
        self.status
    }
}

/// A review decision (SPEC §13: `{"decision": "approve"|"reject", "reason"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// One recorded step in a template's life.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateEvent {
    pub seq: i64,
    pub action: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
}

pub(crate) const COLUMNS: &str = "id, body, status, review_step, version, created_by, created_at, updated_at, \
                       issued, generated, budget_used";

pub(crate) fn record_from_row(row: &sqlx::any::AnyRow) -> Result<TemplateRecord, StoreError> {
    TemplateRow {
        id: row.try_get("id")?,
        body: row.try_get("body")?,
        status: row.try_get("status")?,
        review_step: row.try_get("review_step")?,
        version: row.try_get("version")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        issued: row.try_get("issued")?,
        generated: row.try_get("generated")?,
        budget_used: row.try_get("budget_used")?,
    }
    .into_record()
}

/// A template row's columns (in the order of `COLUMNS`), as either driver
/// reads them.
pub(crate) struct TemplateRow {
    pub id: String,
    pub body: String,
    pub status: String,
    pub review_step: Option<String>,
    pub version: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub issued: i64,
    pub generated: i64,
    pub budget_used: i64,
}

impl TemplateRow {
    /// The record, with its body parsed and validated again (a stored
    /// template that no longer validates is a corrupt row).
    pub(crate) fn into_record(self) -> Result<TemplateRecord, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            table: "templates",
            reason,
        };
        let template = match parsed::cached(&self.id, &self.body) {
            Some(template) => template,
            None => {
                let template: Template =
                    serde_json::from_str(&self.body).map_err(|e| corrupt(e.to_string()))?;
                let template = ValidTemplate::new(template).map_err(|e| corrupt(e.to_string()))?;
                parsed::remember(&self.id, self.body, Arc::new(template))
            }
        };
        Ok(TemplateRecord {
            id: self.id,
            template,
            status: TemplateStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("status {}", self.status)))?,
            review_step: self.review_step.as_deref().and_then(ReviewStep::parse),
            version: self.version,
            created_by: self.created_by,
            created_at: from_micros(self.created_at)?,
            updated_at: from_micros(self.updated_at)?,
            issued: self.issued,
            generated: self.generated,
            budget_used: self.budget_used,
        })
    }
}

/// Templates as last parsed, by id with the body they were parsed from.
///
/// A claim batch reads its template's row every time (the counters must be
/// the stored ones), but the body changes only when staff change it:
/// parsing and validating it again for every batch was a tenth of the
/// writer's time on the claim path. A body that differs from the one
/// remembered, by a single byte, is parsed again.
mod parsed {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use couponflow_core::template::ValidTemplate;

    /// Templates remembered at most; past it the memory starts over.
    const ENTRIES_MAX: usize = 4_096;

    type Parsed = HashMap<String, (String, Arc<ValidTemplate>)>;

    static PARSED: Mutex<Option<Parsed>> = Mutex::new(None);

    pub(super) fn cached(id: &str, body: &str) -> Option<Arc<ValidTemplate>> {
        let parsed = PARSED.lock().unwrap_or_else(|p| p.into_inner());
        let (known, template) = parsed.as_ref()?.get(id)?;
        (known == body).then(|| template.clone())
    }

    pub(super) fn remember(
        id: &str,
        body: String,
        template: Arc<ValidTemplate>,
    ) -> Arc<ValidTemplate> {
        let mut parsed = PARSED.lock().unwrap_or_else(|p| p.into_inner());
        let parsed = parsed.get_or_insert_with(HashMap::new);
        if parsed.len() >= ENTRIES_MAX {
            parsed.clear();
        }
        parsed.insert(id.to_owned(), (body, template.clone()));
        template
    }
}

/// Loads a template for change, locking its row until the batch commits
/// (PostgreSQL; SQLite's writer is alone anyway).
pub(crate) async fn lock(connection: &mut AnyConnection, id: &str) -> AppResult<TemplateRecord> {
    let row = sqlx::query(&format!(
        "UPDATE templates SET version = version WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::TemplateNotFound(id.to_owned()))?;
    Ok(record_from_row(&row)?)
}

async fn save(connection: &mut AnyConnection, record: &TemplateRecord) -> AppResult<()> {
    let body = serde_json::to_string(record.template.get())
        .map_err(|e| StoreError::Other(e.to_string()))?;
    sqlx::query(
        "UPDATE templates SET body = $2, status = $3, review_step = $4, version = $5, updated_at = $6 \
         WHERE id = $1",
    )
    .bind(&record.id)
    .bind(body)
    .bind(record.status.as_str())
    .bind(record.review_step.map(|s| s.as_str()))
    .bind(record.version)
    .bind(to_micros(record.updated_at))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

/// Pauses an active template in the caller's unit — the claims-per-minute
/// breaker's step (SPEC §11.3), recorded with the actor `system:risk`;
/// staff resume it as any pause.
pub(crate) async fn pause_by_breaker(
    connection: &mut AnyConnection,
    id: &str,
    now: DateTime<Utc>,
    reason: &str,
) -> AppResult<i64> {
    let mut record = lock(connection, id).await?;
    if record.status_at(now) != TemplateStatus::Active {
        return Ok(record.version);
    }
    record.status = TemplateStatus::Paused;
    record.version += 1;
    record.updated_at = now;
    save(connection, &record).await?;
    record_event(
        connection,
        &record,
        "paused",
        &Actor("system:risk".into()),
        now,
        Some(reason),
    )
    .await?;
    Ok(record.version)
}

/// Records a step of a template's life in its history and, as
/// `template.<action>`, in the outbox.
async fn record_event(
    connection: &mut AnyConnection,
    record: &TemplateRecord,
    action: &str,
    actor: &Actor,
    at: DateTime<Utc>,
    reason: Option<&str>,
) -> AppResult<()> {
    let id = record.id.as_str();
    let event = Event::template(
        action,
        id,
        record.status.as_str(),
        actor.as_str(),
        reason,
        at,
    );
    outbox::append(connection, &[event]).await?;
    sqlx::query(
        "INSERT INTO template_events (template_id, seq, action, actor, at, reason) \
         VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM template_events WHERE template_id = $1), \
         $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(action)
    .bind(actor.as_str())
    .bind(to_micros(at))
    .bind(reason)
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

impl App {
    /// Saves a new template as a draft, after the engine's validation.
    pub async fn create_template(
        &self,
        actor: &Actor,
        template: Template,
    ) -> AppResult<TemplateRecord> {
        let id = match &template.id {
            Some(id) => id.clone(),
            None => ids::new_id("tpl"),
        };
        let mut template = template;
        template.id = Some(id.clone());
        let valid = ValidTemplate::new(template).map_err(AppError::InvalidTemplate)?;
        let now = self.now();
        let actor = actor.clone();
        let body =
            serde_json::to_string(valid.get()).map_err(|e| StoreError::Other(e.to_string()))?;
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO templates (id, body, status, version, created_by, created_at, updated_at) \
                         VALUES ($1, $2, 'draft', 1, $3, $4, $4)",
                    )
                    .bind(&id)
                    .bind(&body)
                    .bind(actor.as_str())
                    .bind(to_micros(now))
                    .execute(&mut *connection)
                    .await
                    .map_err(|e| match StoreError::from(e) {
                        conflict @ StoreError::Conflict { .. } => {
                            let _ = conflict;
                            AppError::Conflict(format!("template {id} already exists"))
                        }
                        other => AppError::Store(other),
                    })?;
                    let record = lock(connection, &id).await?;
                    record_event(connection, &record, "created", &actor, now, None).await?;
                    Ok(record)
                })
            })
            .await
    }

    pub async fn template(&self, id: &str) -> AppResult<TemplateRecord> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM templates WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| AppError::TemplateNotFound(id.to_owned()))?;
        Ok(record_from_row(&row)?)
    }

    /// Templates in id order after `after`, optionally of one status.
    pub async fn templates(
        &self,
        status: Option<TemplateStatus>,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<TemplateRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM templates WHERE ($1 IS NULL OR status = $1) AND id > $2 \
             ORDER BY id LIMIT $3"
        ))
        .bind(status.map(|s| s.as_str()))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.min(TEMPLATE_PAGE_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| record_from_row(row).map_err(AppError::from))
            .collect()
    }

    /// The recorded steps of a template's life, oldest first.
    pub async fn template_events(&self, id: &str) -> AppResult<Vec<TemplateEvent>> {
        let rows = sqlx::query(
            "SELECT seq, action, actor, at, reason FROM template_events WHERE template_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| {
                Ok(TemplateEvent {
                    seq: row.try_get("seq").map_err(StoreError::from)?,
                    action: row.try_get("action").map_err(StoreError::from)?,
                    actor: row.try_get("actor").map_err(StoreError::from)?,
                    at: from_micros(row.try_get("at").map_err(StoreError::from)?)?,
                    reason: row.try_get("reason").map_err(StoreError::from)?,
                })
            })
            .collect()
    }

    /// Replaces a template's fields. A change to money (benefit, scope,
    /// limits, validity, stacking, issuer) sends an approved template back
    /// to review; a change of name or description does not.
    pub async fn update_template(
        &self,
        actor: &Actor,
        id: &str,
        template: Template,
    ) -> AppResult<TemplateRecord> {
        let mut template = template;
        template.id = Some(id.to_owned());
        let valid = ValidTemplate::new(template).map_err(AppError::InvalidTemplate)?;
        self.change_template(actor, id, "changed", None, move |record, threshold| {
            let money_relevant = money_relevant_change(record.template.get(), valid.get());
            let finance = finance_review_needed(&valid, threshold);
            let action = TemplateAction::Edit { money_relevant };
            let (status, step) =
                lifecycle::next(record.status, record.review_step, action, finance)?;
            record.template = Arc::new(valid);
            Ok((status, step))
        })
        .await
    }

    pub async fn submit_template(&self, actor: &Actor, id: &str) -> AppResult<TemplateRecord> {
        self.transition_template(actor, id, TemplateAction::Submit, "submitted", None)
            .await
    }

    /// A review step (SPEC §4.9) by someone who may review any step. The
    /// creator can never approve their own.
    pub async fn review_template(
        &self,
        actor: &Actor,
        id: &str,
        decision: Decision,
        reason: Option<String>,
    ) -> AppResult<TemplateRecord> {
        let every_step = [ReviewStep::Operations, ReviewStep::Finance];
        self.review_template_as(actor, id, decision, reason, &every_step)
            .await
    }

    /// A review step by someone who may review only `steps`: whose step it
    /// is is decided inside the write, so a template that moved on to the
    /// next step meanwhile cannot be approved by the wrong reviewer.
    pub async fn review_template_as(
        &self,
        actor: &Actor,
        id: &str,
        decision: Decision,
        reason: Option<String>,
        steps: &[ReviewStep],
    ) -> AppResult<TemplateRecord> {
        let (action, name) = match decision {
            Decision::Approve => (TemplateAction::Approve, "approved"),
            Decision::Reject => (TemplateAction::Reject, "rejected"),
        };
        let reviewer = actor.clone();
        let steps = steps.to_vec();
        self.change_template(actor, id, name, reason, move |record, threshold| {
            if let Some(step) = record.review_step.filter(|step| !steps.contains(step)) {
                return Err(AppError::Forbidden(format!("the {} review", step.as_str())));
            }
            if record.created_by == reviewer.0 && decision == Decision::Approve {
                return Err(AppError::SelfReview);
            }
            let finance = finance_review_needed(&record.template, threshold);
            Ok(lifecycle::next(
                record.status,
                record.review_step,
                action,
                finance,
            )?)
        })
        .await
    }

    /// Stores `active` for approved templates whose claim window has opened
    /// (claims already treat them as active: [`TemplateRecord::status_at`]),
    /// so lists by status tell the truth. Run by the background loop.
    pub async fn activate_due(&self) -> AppResult<usize> {
        let now = self.now();
        let due: Vec<String> = self
            .templates(Some(TemplateStatus::Approved), None, TEMPLATE_PAGE_MAX)
            .await?
            .into_iter()
            .filter(|record| record.status_at(now) == TemplateStatus::Active)
            .map(|record| record.id)
            .collect();
        let system = Actor("system:activation".to_owned());
        let mut activated = 0;
        for id in &due {
            match self
                .transition_template(&system, id, TemplateAction::Activate, "activated", None)
                .await
            {
                Ok(_) => activated += 1,
                // Paused or ended meanwhile: nothing to store.
                Err(AppError::Lifecycle(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(activated)
    }

    pub async fn pause_template(&self, actor: &Actor, id: &str) -> AppResult<TemplateRecord> {
        self.transition_template(actor, id, TemplateAction::Pause, "paused", None)
            .await
    }

    pub async fn resume_template(&self, actor: &Actor, id: &str) -> AppResult<TemplateRecord> {
        self.transition_template(actor, id, TemplateAction::Resume, "resumed", None)
            .await
    }

    pub async fn end_template(&self, actor: &Actor, id: &str) -> AppResult<TemplateRecord> {
        self.transition_template(actor, id, TemplateAction::End, "ended", None)
            .await
    }

    async fn transition_template(
        &self,
        actor: &Actor,
        id: &str,
        action: TemplateAction,
        name: &'static str,
        reason: Option<String>,
    ) -> AppResult<TemplateRecord> {
        let now = self.now();
        self.change_template(actor, id, name, reason, move |record, threshold| {
            // Pausing an approved template whose window opened is pausing an
            // active one; activating it is storing what it already is.
            let status = match action {
                TemplateAction::Activate => record.status,
                _ => record.status_at(now),
            };
            let finance = finance_review_needed(&record.template, threshold);
            Ok(lifecycle::next(
                status,
                record.review_step,
                action,
                finance,
            )?)
        })
        .await
    }

    /// Lock → decide (pure) → save → record, in one unit.
    async fn change_template<F>(
        &self,
        actor: &Actor,
        id: &str,
        action_name: &'static str,
        reason: Option<String>,
        decide: F,
    ) -> AppResult<TemplateRecord>
    where
        F: FnOnce(&mut TemplateRecord, i64) -> AppResult<(TemplateStatus, Option<ReviewStep>)>
            + Send
            + 'static,
    {
        let now = self.now();
        let id = id.to_owned();
        let actor = actor.clone();
        let threshold = self.settings.finance_review_threshold_minor;
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let mut record = lock(connection, &id).await?;
                    let before = record.status;
                    let (status, step) = decide(&mut record, threshold)?;
                    record.status = status;
                    record.review_step = step;
                    record.version += 1;
                    record.updated_at = now;
                    save(connection, &record).await?;
                    crate::ledger::post::on_template_step(connection, before, &record, now).await?;
                    record_event(
                        connection,
                        &record,
                        action_name,
                        &actor,
                        now,
                        reason.as_deref(),
                    )
                    .await?;
                    Ok(record)
                })
            })
            .await
    }
}
