//! `/v1/api-keys`: staff, merchant, partner and service keys (SPEC §13).
//! The plaintext key is answered once, at creation; only its hash is kept.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use couponflow_app::App;
use couponflow_app::keys::KeyRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::docs::{AuthProblems, BadRequestProblem};
use super::{KEY_ISSUERS, actor};
use crate::auth::{AuthState, Principal, Role, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(routes!(create_api_key))
        .routes(routes!(get_api_key, revoke_api_key))
        .routes(routes!(who_am_i))
}

/// Who the bearer is: a key's record (never the key), or a user's id.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WhoAmI {
    Key(ApiKeyView),
    User { user_id: String },
}

/// Who the bearer is, so a page can show who is signed in and what they may do.
///
/// Roles: any key or user token.
#[utoipa::path(get, path = "/v1/me", tag = "api-keys", security(("bearer" = [])),
    responses(
        (status = 200, description = "The key's record, or the user's id", body = WhoAmI),
        AuthProblems))]
async fn who_am_i(
    State(app): State<Arc<App>>,
    principal: Principal,
) -> Result<ApiJson<WhoAmI>, ApiError> {
    Ok(ApiJson(match principal {
        Principal::Staff { key_id, .. } => WhoAmI::Key(app.api_key(&key_id).await?.into()),
        Principal::User { user_id } => WhoAmI::User { user_id },
    }))
}

/// A key to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    pub role: Role,
    /// A merchant key's shops (required for `merchant`, refused for others).
    #[serde(default)]
    pub shops: Vec<String>,
    /// A partner key's templates (required for `partner`, refused for others).
    #[serde(default)]
    pub templates: Vec<String>,
    /// What the key is for, for people reading the audit log.
    #[serde(default)]
    pub label: String,
}

/// A key as stored: never the key itself.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// The public id of the key, as audit entries name it (`key:<id>`).
    pub id: String,
    pub role: String,
    pub shops: Vec<String>,
    pub templates: Vec<String>,
    pub label: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    /// Set once revoked; a revoked key is refused.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRecord> for ApiKeyView {
    fn from(record: KeyRecord) -> Self {
        ApiKeyView {
            id: record.id,
            role: record.role,
            shops: record.shops,
            templates: record.templates,
            label: record.label,
            created_by: record.created_by,
            created_at: record.created_at,
            revoked_at: record.revoked_at,
        }
    }
}

/// A new key, with its plaintext: shown this once.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub record: ApiKeyView,
    /// The key for `Authorization: Bearer …`. It cannot be shown again.
    pub key: String,
}

/// Creates an API key and answers its plaintext once.
///
/// Roles: admin.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "Created; `key` is shown this once", body = CreatedApiKey),
        (status = 404, description = "`TEMPLATE_NOT_FOUND`: a partner key names an unknown template", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: the scope does not fit the role", body = Problem, content_type = "application/problem+json"),
        AuthProblems, BadRequestProblem))]
async fn create_api_key(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateApiKeyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    require_role(&principal, KEY_ISSUERS)?;
    let (record, key) = app
        .create_api_key(
            &actor(&principal),
            request.role.as_str(),
            request.shops,
            request.templates,
            &request.label,
        )
        .await?;
    let location = format!("/v1/api-keys/{}", record.id);
    let created = CreatedApiKey {
        record: record.into(),
        key,
    };
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        ApiJson(created),
    ))
}

/// Reads a key's record (never the key).
///
/// Roles: admin.
#[utoipa::path(get, path = "/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's public id")),
    responses(
        (status = 200, description = "The key's record", body = ApiKeyView),
        (status = 404, description = "`API_KEY_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_api_key(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<ApiKeyView>, ApiError> {
    require_role(&principal, KEY_ISSUERS)?;
    Ok(ApiJson(app.api_key(&id).await?.into()))
}

/// Revokes a key: refused from now on. Revoking it again changes nothing.
///
/// Roles: admin.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "The key's public id")),
    responses(
        (status = 200, description = "Revoked", body = ApiKeyView),
        (status = 404, description = "`API_KEY_NOT_FOUND`", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn revoke_api_key(
    State(app): State<Arc<App>>,
    State(auth): State<AuthState>,
    principal: Principal,
    ApiPath(id): ApiPath<String>,
) -> Result<ApiJson<ApiKeyView>, ApiError> {
    require_role(&principal, KEY_ISSUERS)?;
    let revoked = app.revoke_api_key(&actor(&principal), &id).await?;
    // Refused from the next call on this node, not after the cache's TTL.
    auth.keys.forget();
    Ok(ApiJson(revoked.into()))
}
