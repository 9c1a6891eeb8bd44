//! Unbound code batches (SPEC §5.1): many codes for one template, no owner
//! yet — for printing, partners and redemption codes — exported as CSV.
//!
//! Starting a batch only records it (`running`) through the pipeline, after
//! the template and `limits.total` checks; the codes are made by
//! [`App::run_code_batch`] in chunks of their own transactions outside the
//! pipeline (see `run`), so a million codes never hold other writes for
//! more than one chunk, progress is visible in `code_batches.generated`, and
//! a run that dies is resumed by running the batch again.

mod run;

use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use couponflow_core::template::lifecycle::TemplateStatus;
use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::templates::{self, TemplateRecord};
use crate::{Actor, App, AppError, AppResult, ids};

pub use run::{CODE_BATCH_CHUNK_ROWS, COLLISION_ROUNDS_MAX};

/// Codes one batch may ask for at most: a bound on the job's size and time.
pub const CODE_BATCH_COUNT_MAX: u64 = 10_000_000;
/// Codes one page of a batch's listing returns at most.
pub const CODE_PAGE_ROWS_MAX: u32 = 10_000;
/// The CSV header of an export.
pub const CSV_HEADER: &str = "code,template_id,batch_id,state";

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeBatchStatus {
    /// Recorded; codes are being (or are still to be) generated.
    Running,
    /// Every requested code exists.
    Completed,
    /// Stopped for good (its template ended); the codes made so far stay.
    Failed,
}

impl CodeBatchStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            CodeBatchStatus::Running => "running",
            CodeBatchStatus::Completed => "completed",
            CodeBatchStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            CodeBatchStatus::Running,
            CodeBatchStatus::Completed,
            CodeBatchStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A batch of unbound codes and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeBatch {
    pub id: String,
    pub template_id: String,
    pub requested: u64,
    pub generated: u64,
    pub status: CodeBatchStatus,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One code of a batch, as listed and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchCode {
    pub code: String,
    pub template_id: String,
    pub batch_id: String,
    pub state: String,
}

pub(crate) const BATCH_COLUMNS: &str =
    "id, template_id, requested, generated, status, created_by, created_at, finished_at";

fn count_from(value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        table: "code_batches",
        reason: format!("negative count {value}"),
    })
}

pub(crate) fn batch_from_row(row: &sqlx::any::AnyRow) -> Result<CodeBatch, StoreError> {
    let status: String = row.try_get("status")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    Ok(CodeBatch {
        id: row.try_get("id")?,
        template_id: row.try_get("template_id")?,
        requested: count_from(row.try_get("requested")?)?,
        generated: count_from(row.try_get("generated")?)?,
        status: CodeBatchStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: "code_batches",
            reason: format!("status {status}"),
        })?,
        created_by: row.try_get("created_by")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        finished_at: finished_at.map(from_micros).transpose()?,
    })
}

/// Codes can be made for a template that passed review and has not ended;
/// a draft's codes would put coupons in circulation that nobody approved.
pub(crate) fn ensure_usable(record: &TemplateRecord, now: DateTime<Utc>) -> AppResult<()> {
    match record.status_at(now) {
        TemplateStatus::Approved | TemplateStatus::Active | TemplateStatus::Paused => Ok(()),
        status @ (TemplateStatus::Draft
        | TemplateStatus::PendingReview
        | TemplateStatus::Rejected
        | TemplateStatus::Ended) => Err(AppError::TemplateNotUsable {
            id: record.id.clone(),
            status: status.as_str(),
        }),
    }
}

/// `limits.total` as a count, `None` when the template has no total.
pub(crate) fn total_limit(record: &TemplateRecord) -> Option<u64> {
    record.template.get().limits.total
}

/// Codes still promised to running batches of `template_id`.
async fn reserved(connection: &mut AnyConnection, template_id: &str) -> AppResult<u64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(requested - generated), 0) AS BIGINT) AS reserved \
         FROM code_batches WHERE template_id = $1 AND status = 'running'",
    )
    .bind(template_id)
    .fetch_one(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(count_from(
        row.try_get("reserved").map_err(StoreError::from)?,
    )?)
}

/// Refuses `count` more codes when issued + generated + promised would pass
/// `limits.total`.
async fn ensure_total_allows(
    connection: &mut AnyConnection,
    record: &TemplateRecord,
    count: u64,
) -> AppResult<()> {
    let Some(total) = total_limit(record) else {
        return Ok(());
    };
    let promised = reserved(connection, &record.id).await?;
    let used = count_from(record.issued)?
        .saturating_add(count_from(record.generated)?)
        .saturating_add(promised);
    if used.saturating_add(count) > total {
        return Err(AppError::TotalLimit {
            template_id: record.id.clone(),
            requested: count,
            remaining: total.saturating_sub(used),
        });
    }
    Ok(())
}

impl App {
    /// Records a batch of `count` unbound codes for `template_id` and
    /// returns at once; [`App::run_code_batch`] makes the codes.
    pub async fn start_code_batch(
        &self,
        actor: &Actor,
        template_id: &str,
        count: u64,
    ) -> AppResult<CodeBatch> {
        if !(1..=CODE_BATCH_COUNT_MAX).contains(&count) {
            return Err(AppError::invalid(
                "count",
                format!("a batch has 1 to {CODE_BATCH_COUNT_MAX} codes"),
            ));
        }
        let now = self.now();
        let batch = CodeBatch {
            id: ids::new_id("cb"),
            template_id: template_id.to_owned(),
            requested: count,
            generated: 0,
            status: CodeBatchStatus::Running,
            created_by: actor.as_str().to_owned(),
            created_at: now,
            finished_at: None,
        };
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    let record = templates::lock(connection, &batch.template_id).await?;
                    ensure_usable(&record, now)?;
                    ensure_total_allows(connection, &record, count).await?;
                    insert_batch(connection, &batch).await?;
                    Ok(batch)
                })
            })
            .await
    }

    /// A batch with its progress so far.
    pub async fn code_batch(&self, id: &str) -> AppResult<CodeBatch> {
        let row = sqlx::query(&format!(
            "SELECT {BATCH_COLUMNS} FROM code_batches WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.store.reader())
        .await
        .map_err(StoreError::from)?
        .ok_or_else(|| AppError::CodeBatchNotFound(id.to_owned()))?;
        Ok(batch_from_row(&row)?)
    }

    /// A page of a batch's codes in code order, after `after` (keyset
    /// pagination: each page costs the same however deep it is).
    pub async fn code_batch_codes(
        &self,
        batch_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> AppResult<Vec<BatchCode>> {
        let rows = sqlx::query(
            "SELECT code, template_id, batch_id, state FROM coupons \
             WHERE batch_id = $1 AND code > $2 ORDER BY code LIMIT $3",
        )
        .bind(batch_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit.clamp(1, CODE_PAGE_ROWS_MAX)))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| -> Result<BatchCode, StoreError> {
                Ok(BatchCode {
                    code: row.try_get("code")?,
                    template_id: row.try_get("template_id")?,
                    batch_id: row.try_get("batch_id")?,
                    state: row.try_get("state")?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(AppError::from)
    }

    /// Writes the batch's codes as CSV (`code,template_id,batch_id,state`,
    /// code order) to `writer`, page by page; answers the rows written.
    pub async fn export_code_batch_csv(
        &self,
        batch_id: &str,
        writer: impl Write,
    ) -> AppResult<u64> {
        self.code_batch(batch_id).await?;
        let mut writer = std::io::BufWriter::new(writer);
        writeln!(writer, "{CSV_HEADER}").map_err(AppError::Write)?;
        let mut after: Option<String> = None;
        let mut rows = 0u64;
        loop {
            let page = self
                .code_batch_codes(batch_id, after.as_deref(), CODE_PAGE_ROWS_MAX)
                .await?;
            for code in &page {
                write_csv_row(&mut writer, code).map_err(AppError::Write)?;
            }
            rows += page.len() as u64;
            match page.last() {
                Some(last) if page.len() == CODE_PAGE_ROWS_MAX as usize => {
                    after = Some(last.code.clone());
                }
                _ => break,
            }
        }
        writer.flush().map_err(AppError::Write)?;
        Ok(rows)
    }
}

async fn insert_batch(connection: &mut AnyConnection, batch: &CodeBatch) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO code_batches (id, template_id, requested, generated, status, created_by, created_at) \
         VALUES ($1, $2, $3, 0, $4, $5, $6)",
    )
    .bind(&batch.id)
    .bind(&batch.template_id)
    .bind(i64::try_from(batch.requested).unwrap_or(i64::MAX))
    .bind(batch.status.as_str())
    .bind(&batch.created_by)
    .bind(to_micros(batch.created_at))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

fn write_csv_row(writer: &mut impl Write, code: &BatchCode) -> std::io::Result<()> {
    writeln!(
        writer,
        "{},{},{},{}",
        csv_field(&code.code),
        csv_field(&code.template_id),
        csv_field(&code.batch_id),
        csv_field(&code.state)
    )
}

/// RFC 4180 quoting. Codes and generated ids never need it, but a template
/// id is chosen by its creator and may hold a comma or a quote.
fn csv_field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(csv_field("ABC123"), "ABC123");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in [
            CodeBatchStatus::Running,
            CodeBatchStatus::Completed,
            CodeBatchStatus::Failed,
        ] {
            assert_eq!(CodeBatchStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(CodeBatchStatus::parse("paused"), None);
    }
}
