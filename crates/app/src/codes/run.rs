//! Making a batch's codes, one chunk per transaction, outside the write
//! pipeline.
//!
//! A chunk: lock the batch row → insert up to [`CODE_BATCH_CHUNK_ROWS`]
//! fresh codes (a collision with an existing code is skipped by the unique
//! key and made up with new codes) → add the chunk to `templates.generated`
//! (which locks the template row only from here to the commit) and check
//! `limits.total` against what is now stored → add it to
//! `code_batches.generated` → commit. A run that dies loses at most its
//! open chunk, which rolls back; running the batch again continues from
//! `generated`. Two runners of one batch take turns on the batch row.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

use couponflow_core::code;
use couponflow_core::template::Validity;
use couponflow_store::time::to_micros;
use couponflow_store::{Backend, StoreError};

use super::{
    BATCH_COLUMNS, CodeBatch, CodeBatchStatus, batch_from_row, ensure_usable, total_limit,
};
use crate::templates::{self, TemplateRecord};
use crate::{App, AppError, AppResult};

/// Codes one transaction inserts at most: bounds how long a chunk holds the
/// database (SQLite's write lock) and how much a crash loses. Random codes
/// land all over the code indexes, so a commit rewrites most of their pages
/// whatever the chunk's size: on SQLite (2 cores) a million codes took
/// 34-48 s in chunks of 5,000, 26 s in 10,000, 19 s in 20,000 and 12 s in
/// 50,000; in chunks of 20,000 the slowest chunk held the write lock for
/// 0.75 s (PostgreSQL: 18 s, slowest chunk 0.65 s).
pub const CODE_BATCH_CHUNK_ROWS: u64 = 20_000;
/// Rounds of fresh codes a chunk tries when some collide. With 55 random
/// bits a collision is rare even among billions of codes; needing this
/// many rounds means something other than chance.
pub const COLLISION_ROUNDS_MAX: u32 = 8;
/// Random bytes behind one code (only the first 55 bits are used).
const RANDOM_BYTES_PER_CODE: usize = 16;

/// What one chunk left behind.
enum Step {
    /// More codes to make.
    Continue(CodeBatch),
    /// The batch has all its codes.
    Finished(CodeBatch),
}

impl App {
    /// Makes the batch's remaining codes, calling `progress(generated,
    /// requested)` after each committed chunk. Safe to call again after an
    /// interrupted run (it continues from what was committed) and on a
    /// completed batch (it answers at once). A batch whose template ended is
    /// marked `failed`; other refusals (a template back in review, the
    /// total reached by claims) leave it `running` to be resumed later.
    pub async fn run_code_batch(
        &self,
        batch_id: &str,
        progress: impl Fn(u64, u64),
    ) -> AppResult<CodeBatch> {
        let batch = self.code_batch(batch_id).await?;
        // Each chunk adds at least one code, so this bound is never reached
        // by a healthy run; it only stops a broken one from spinning.
        let chunks_max = batch.requested + 1;
        for _ in 0..chunks_max {
            match self.run_chunk(batch_id, &batch.template_id).await {
                Ok(Step::Continue(batch)) => progress(batch.generated, batch.requested),
                Ok(Step::Finished(batch)) => {
                    progress(batch.generated, batch.requested);
                    return Ok(batch);
                }
                Err(
                    error @ AppError::TemplateNotUsable {
                        status: "ended", ..
                    },
                ) => {
                    self.fail_code_batch(batch_id).await?;
                    return Err(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(AppError::Store(StoreError::Other(format!(
            "code batch {batch_id} made no progress in {chunks_max} chunks"
        ))))
    }

    /// Batches still `running` (interrupted, or being made now), oldest
    /// first, for a service to resume at start.
    pub async fn running_code_batches(&self) -> AppResult<Vec<CodeBatch>> {
        let rows = sqlx::query(&format!(
            "SELECT {BATCH_COLUMNS} FROM code_batches WHERE status = 'running' \
             ORDER BY created_at, id LIMIT $1"
        ))
        .bind(i64::from(super::CODE_PAGE_ROWS_MAX))
        .fetch_all(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        rows.iter()
            .map(|row| batch_from_row(row).map_err(AppError::from))
            .collect()
    }

    /// One chunk in a transaction of its own, beside the write pipeline.
    async fn run_chunk(&self, batch_id: &str, template_id: &str) -> AppResult<Step> {
        let chunk = Chunk {
            batch_id: batch_id.to_owned(),
            // Read without a lock: checked again under its row lock before the commit.
            template: self.template(template_id).await?,
            backend: self.store.backend(),
            now: self.now(),
        };
        let backend = chunk.backend;
        let mut transaction = self.begin_job().await?;
        let step = chunk.run(&mut transaction).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        if backend == Backend::Sqlite {
            // SQLite has one writer: let the writes that queued during this
            // chunk commit before the next chunk takes the lock again, so
            // the pipeline never waits more than one chunk for it.
            self.store
                .write(|_| Box::pin(async { Ok::<(), StoreError>(()) }))
                .await?;
        }
        Ok(step)
    }

    /// A transaction of its own for a job. SQLite: on a connection of the
    /// read pool, because the store's only write connection belongs to the
    /// pipeline for as long as it runs (and a unit of the pipeline would run
    /// in a savepoint, which copies every page it touches once more);
    /// `BEGIN IMMEDIATE` takes the write lock. PostgreSQL: the write pool's
    /// second connection.
    ///
    /// The `BEGIN` runs on a task of its own. sqlx's is not cancel-safe: a
    /// run interrupted while its `BEGIN` was in flight (its future dropped)
    /// gave the connection back to the pool inside a transaction that
    /// nothing would end, and the next job's `BEGIN` on it failed ("non-zero
    /// transaction depth"); on SQLite it also kept the write lock. The
    /// task finishes the `BEGIN` whatever happens to its caller, and a
    /// transaction nobody takes is dropped there, which rolls it back.
    async fn begin_job(&self) -> AppResult<Transaction<'static, Any>> {
        let (pool, begin): (&AnyPool, &'static str) = match self.store.backend() {
            Backend::Sqlite => (self.store.reader(), "BEGIN IMMEDIATE"),
            Backend::Postgres => (self.store.writer_pool(), "BEGIN"),
        };
        let pool = pool.clone();
        let begun = tokio::spawn(async move { pool.begin_with(begin).await })
            .await
            .map_err(|error| {
                StoreError::Other(format!("beginning a job's transaction: {error}"))
            })?;
        Ok(begun.map_err(StoreError::from)?)
    }

    async fn fail_code_batch(&self, batch_id: &str) -> AppResult<()> {
        let now = self.now();
        let id = batch_id.to_owned();
        self.store
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE code_batches SET status = 'failed', finished_at = $2 \
                         WHERE id = $1 AND status = 'running'",
                    )
                    .bind(&id)
                    .bind(to_micros(now))
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                    Ok::<(), AppError>(())
                })
            })
            .await
    }
}

/// What one chunk needs.
struct Chunk {
    batch_id: String,
    /// As read before the chunk, without a lock.
    template: TemplateRecord,
    backend: Backend,
    now: DateTime<Utc>,
}

impl Chunk {
    async fn run(self, connection: &mut AnyConnection) -> AppResult<Step> {
        let batch = lock_batch(connection, &self.batch_id).await?;
        match batch.status {
            CodeBatchStatus::Running => {}
            CodeBatchStatus::Completed => return Ok(Step::Finished(batch)),
            CodeBatchStatus::Failed => return Err(AppError::CodeBatchFailed(batch.id)),
        }
        let count = batch
            .requested
            .saturating_sub(batch.generated)
            .min(CODE_BATCH_CHUNK_ROWS);
        if count > 0 {
            ensure_usable(&self.template, self.now)?;
        }
        let shared = SharedValues::of(self.backend, &batch, &self.template, self.now);
        insert_codes(connection, &shared, count).await?;
        let batch = add_to_counters(connection, batch, count, self.now).await?;
        Ok(match batch.status {
            CodeBatchStatus::Running => Step::Continue(batch),
            CodeBatchStatus::Completed | CodeBatchStatus::Failed => Step::Finished(batch),
        })
    }
}

/// Loads the batch and locks its row until the commit.
async fn lock_batch(connection: &mut AnyConnection, batch_id: &str) -> AppResult<CodeBatch> {
    let row = sqlx::query(&format!(
        "UPDATE code_batches SET generated = generated WHERE id = $1 RETURNING {BATCH_COLUMNS}"
    ))
    .bind(batch_id)
    .fetch_optional(&mut *connection)
    .await
    .map_err(StoreError::from)?
    .ok_or_else(|| AppError::CodeBatchNotFound(batch_id.to_owned()))?;
    Ok(batch_from_row(&row)?)
}

/// Adds `count` to the template's and the batch's `generated`, checking the
/// template (still usable, `limits.total` not passed) as it now stands
/// under its row lock; completes the batch when it has all its codes.
async fn add_to_counters(
    connection: &mut AnyConnection,
    batch: CodeBatch,
    count: u64,
    now: DateTime<Utc>,
) -> AppResult<CodeBatch> {
    let count = i64::try_from(count).map_err(|_| StoreError::Other("chunk too large".into()))?;
    if count > 0 {
        sqlx::query("UPDATE templates SET generated = generated + $2 WHERE id = $1")
            .bind(&batch.template_id)
            .bind(count)
            .execute(&mut *connection)
            .await
            .map_err(StoreError::from)?;
        let template = templates::lock(connection, &batch.template_id).await?;
        ensure_usable(&template, now)?;
        ensure_within_total(&template, count)?;
        crate::stats::add_generated(connection, &batch.template_id, count, now).await?;
    }
    let row = sqlx::query(&format!(
        "UPDATE code_batches SET generated = generated + $2, \
         status = CASE WHEN generated + $2 >= requested THEN 'completed' ELSE status END, \
         finished_at = CASE WHEN generated + $2 >= requested THEN $3 ELSE finished_at END \
         WHERE id = $1 RETURNING {BATCH_COLUMNS}"
    ))
    .bind(&batch.id)
    .bind(count)
    .bind(to_micros(now))
    .fetch_one(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(batch_from_row(&row)?)
}

/// The last guard of `limits.total`: what is stored now, this chunk
/// included, may not pass it (claims may have used what the batch was
/// promised at its start).
fn ensure_within_total(template: &TemplateRecord, count: i64) -> AppResult<()> {
    let Some(total) = total_limit(template) else {
        return Ok(());
    };
    let used = template.issued.saturating_add(template.generated);
    let total = i64::try_from(total).unwrap_or(i64::MAX);
    if used > total {
        return Err(AppError::TotalLimit {
            template_id: template.id.clone(),
            requested: u64::try_from(count).unwrap_or(0),
            remaining: u64::try_from(total - (used - count)).unwrap_or(0),
        });
    }
    Ok(())
}

/// Inserts `count` new unbound codes for `batch`, making up collisions.
async fn insert_codes(
    connection: &mut AnyConnection,
    shared: &SharedValues<'_>,
    count: u64,
) -> AppResult<()> {
    if count == 0 {
        return Ok(());
    }
    let mut missing = usize::try_from(count).map_err(|_| StoreError::Other("chunk".into()))?;
    for round in 0..COLLISION_ROUNDS_MAX {
        let mut codes = fresh_codes(missing)?;
        // In key order, each index page is visited once, in turn.
        codes.sort_unstable();
        let inserted = insert_rows(connection, shared, &codes).await?;
        missing = missing.saturating_sub(inserted);
        if missing == 0 {
            return Ok(());
        }
        tracing::warn!(batch = %shared.batch_id, round, missing, "generated codes collided; making more");
    }
    Err(AppError::Store(StoreError::Other(format!(
        "codes of batch {} kept colliding after {COLLISION_ROUNDS_MAX} rounds",
        shared.batch_id
    ))))
}

/// What every code of a chunk has in common.
struct SharedValues<'a> {
    backend: Backend,
    template_id: &'a str,
    batch_id: &'a str,
    face_value: i64,
    /// Set only for an absolute validity; a relative one starts at binding.
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    now: i64,
}

impl<'a> SharedValues<'a> {
    fn of(
        backend: Backend,
        batch: &'a CodeBatch,
        template: &TemplateRecord,
        now: DateTime<Utc>,
    ) -> Self {
        let (valid_from, valid_until) = match &template.template.get().validity {
            Some(Validity::Absolute { from, until }) => {
                (Some(to_micros(*from)), Some(to_micros(*until)))
            }
            Some(Validity::Relative { .. }) | None => (None, None),
        };
        SharedValues {
            backend,
            template_id: &batch.template_id,
            batch_id: &batch.id,
            face_value: template.template.face_value().unwrap_or(0),
            valid_from,
            valid_until,
            now: to_micros(now),
        }
    }
}

/// `count` codes from the operating system's CSPRNG, one read for all.
fn fresh_codes(count: usize) -> AppResult<Vec<String>> {
    let mut random = vec![0u8; count * RANDOM_BYTES_PER_CODE];
    rand::rngs::OsRng.fill_bytes(&mut random);
    random
        .chunks_exact(RANDOM_BYTES_PER_CODE)
        .map(|bytes| {
            let mut word = [0u8; RANDOM_BYTES_PER_CODE];
            word.copy_from_slice(bytes);
            code::generate("", u128::from_le_bytes(word), code::BODY_LENGTH_DEFAULT)
                .map_err(|error| AppError::Store(StoreError::Other(error.to_string())))
        })
        .collect()
}

/// Inserts `codes` in one statement, the codes passed as one JSON array
/// (one bind, one cached statement, whatever the chunk's size); answers how
/// many rows went in — a code that exists already is skipped, not an error.
async fn insert_rows(
    connection: &mut AnyConnection,
    shared: &SharedValues<'_>,
    codes: &[String],
) -> AppResult<usize> {
    let codes = serde_json::to_string(codes).map_err(|e| StoreError::Other(e.to_string()))?;
    let done = sqlx::query(insert_sql(shared.backend))
        .bind(shared.template_id)
        .bind(shared.valid_from)
        .bind(shared.valid_until)
        .bind(shared.face_value)
        .bind(shared.batch_id)
        .bind(shared.now)
        .bind(codes)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
}

/// The one statement text that differs between the back ends: how a JSON
/// array becomes rows. (`WHERE true` lets SQLite parse `ON CONFLICT` after
/// a `SELECT`.)
fn insert_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "INSERT INTO coupons (code, template_id, state, valid_from, valid_until, face_value, \
             source, batch_id, hidden, created_at, updated_at) \
             SELECT value, $1, 'unbound', $2, $3, $4, 'batch', $5, 0, $6, $6 \
             FROM json_each($7) WHERE true ON CONFLICT (code) DO NOTHING"
        }
        Backend::Postgres => {
            "INSERT INTO coupons (code, template_id, state, valid_from, valid_until, face_value, \
             source, batch_id, hidden, created_at, updated_at) \
             SELECT value, $1, 'unbound', $2, $3, $4, 'batch', $5, 0, $6, $6 \
             FROM json_array_elements_text(CAST($7 AS json)) WHERE true ON CONFLICT (code) DO NOTHING"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_codes_are_default_length_and_check() {
        let codes = fresh_codes(100).unwrap();
        assert_eq!(codes.len(), 100);
        for code in &codes {
            assert_eq!(code.len(), code::BODY_LENGTH_DEFAULT);
            assert_eq!(code::verify(code, 0), Ok(()));
        }
    }

    #[test]
    fn both_inserts_skip_existing_codes() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            assert!(insert_sql(backend).ends_with("ON CONFLICT (code) DO NOTHING"));
        }
    }
}
