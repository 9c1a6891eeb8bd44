//! Unbound code batches (SPEC §5.1): start one for a template, follow its
//! progress, download its codes as CSV.
//!
//! Starting a batch only records it; the codes are made on a task of their
//! own (`couponflow_app::background::spawn_code_batch`), so the call answers
//! 202 at once and the client polls `GET /v1/code-batches/{id}`. A batch cut
//! short by a stop is resumed by the next start of the service.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::background::spawn_code_batch;
use couponflow_app::codes::{CodeBatch, CodeBatchStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem};
use super::{CODE_BATCH_EXPORTERS, CODE_BATCH_MAKERS, actor};
use crate::auth::{Principal, require_role, require_template_access};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

/// Codes a CSV download holds at most. The body is buffered, not streamed:
/// the app's export writes to a synchronous `Write`, which cannot wait for a
/// slow client inside the runtime, so streaming needs an async export in the
/// app first. This bounds the buffer: about 70 bytes a row, some 70 MB for
/// the largest. Bigger batches are exported with `couponflow codes export`.
pub const CSV_DOWNLOAD_CODES_MAX: u64 = 1_000_000;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(start_code_batch))
        .routes(routes!(get_code_batch))
        .routes(routes!(download_codes))
}

/// How many unbound codes to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBatchRequest {
    /// 1 to 10,000,000; with the codes already issued, generated or promised
    /// to running batches, at most the template's `limits.total`.
    pub count: u64,
}

/// Where a batch stands.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeBatchStatusView {
    /// Codes are being (or are still to be) made.
    Running,
    /// Every requested code exists.
    Completed,
    /// Stopped for good because its template ended; the codes made so far stay.
    Failed,
}

impl From<CodeBatchStatus> for CodeBatchStatusView {
    fn from(status: CodeBatchStatus) -> Self {
        match status {
            CodeBatchStatus::Running => CodeBatchStatusView::Running,
            CodeBatchStatus::Completed => CodeBatchStatusView::Completed,
            CodeBatchStatus::Failed => CodeBatchStatusView::Failed,
        }
    }
}

/// A batch of unbound codes and its progress.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CodeBatchView {
    pub id: String,
    pub template_id: String,
    /// Codes asked for.
    pub requested: u64,
    /// Codes made so far.
    pub generated: u64,
    pub status: CodeBatchStatusView,
    /// Who started it: `key:<id>`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// When it completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

impl From<CodeBatch> for CodeBatchView {
    fn from(batch: CodeBatch) -> Self {
        CodeBatchView {
            id: batch.id,
            template_id: batch.template_id,
            requested: batch.requested,
            generated: batch.generated,
            status: batch.status.into(),
            created_by: batch.created_by,
            created_at: batch.created_at,
            finished_at: batch.finished_at,
        }
    }
}

/// Starts a batch of unbound codes for an approved template that has not
/// ended. Answers at once with the batch, `running`; the codes are made in
/// the background: follow `Location`.
///
/// Roles: admin, operator.
#[utoipa::path(post, path = "/v1/templates/{id}/code-batches", tag = "code-batches", security(("bearer" = [])),
    params(("id" = String, Path, description = "The template's id")),
    request_body = CodeBatchRequest,
    responses(
        (status = 202, description = "Recorded; the codes are being made", body = CodeBatchView,
            headers(("Location" = String, description = "`/v1/code-batches/{id}`, to follow the progress"))),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`TEMPLATE_STATE`: the template is not approved or has ended; `TOTAL_LIMIT`: `remaining` says how many more fit under `limits.total`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: `count` is not between 1 and 10,000,000", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn start_code_batch(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(template_id): ApiPath<String>,
    ApiJson(body): ApiJson<CodeBatchRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, CODE_BATCH_MAKERS)?;
    let batch = app
        .start_code_batch(&actor(&principal), &template_id, body.count)
        .await?;
    spawn_code_batch(app, batch.id.clone());
    let location = format!("/v1/code-batches/{}", batch.id);
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        ApiJson(CodeBatchView::from(batch)),
    ))
}

/// Reads a batch with its progress.
///
/// Roles: admin, operator.
#[utoipa::path(get, path = "/v1/code-batches/{id}", tag = "code-batches", security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's id")),
    responses(
        (status = 200, description = "The batch and its progress", body = CodeBatchView),
        (status = 404, description = "`CODE_BATCH_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_code_batch(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(batch_id): ApiPath<String>,
) -> Result<ApiJson<CodeBatchView>, ApiError> {
    require_role(&principal, CODE_BATCH_MAKERS)?;
    let batch = app.code_batch(&batch_id).await?;
    Ok(ApiJson(batch.into()))
}

/// Downloads the batch's codes as CSV (`code,template_id,batch_id,state`, in
/// code order), those made so far while it is still running. At most
/// 1,000,000 codes; export bigger batches with `couponflow codes export`.
///
/// Roles: admin, operator; partner, for batches of the templates of its key.
#[utoipa::path(get, path = "/v1/code-batches/{id}/codes.csv", tag = "code-batches", security(("bearer" = [])),
    params(("id" = String, Path, description = "The batch's id")),
    responses(
        (status = 200, description = "The codes, one a row after a header row", body = String, content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"<id>.csv\"`"))),
        (status = 404, description = "`CODE_BATCH_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`CONFLICT`: the batch is too big to download; `codes_max` says the bound", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn download_codes(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(batch_id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, CODE_BATCH_EXPORTERS)?;
    let batch = app.code_batch(&batch_id).await?;
    require_template_access(&principal, &batch.template_id)?;
    if batch.requested > CSV_DOWNLOAD_CODES_MAX {
        let detail = format!(
            "batch {} has {} codes; downloads stop at {CSV_DOWNLOAD_CODES_MAX}: use `couponflow codes export`",
            batch.id, batch.requested
        );
        return Err(ApiError::conflict(detail).with_extension("codes_max", CSV_DOWNLOAD_CODES_MAX));
    }
    let mut csv = Vec::new();
    app.export_code_batch_csv(&batch.id, &mut csv).await?;
    let disposition = format!("attachment; filename=\"{}.csv\"", batch.id);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    ))
}
