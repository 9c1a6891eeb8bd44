//! Segments (SPEC §6.2.2): which users carry a tag, as the mall sends it.
//! The mall replaces a segment's whole membership, or removes one member;
//! grants use the stored tags for audiences and segment grants.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use couponflow_app::App;
use couponflow_app::grants::Segment;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::docs::AuthProblems;
use super::grant_upload::{Upload, read_upload, upload_limit};
use super::{SEGMENT_READERS, SEGMENT_WRITERS};
use crate::auth::{Principal, require_role};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::openapi::ApiRouter;
use crate::state::AppState;

pub fn routes() -> ApiRouter<AppState> {
    ApiRouter::new()
        .routes(upload_limit(routes!(replace_members)))
        .routes(routes!(get_segment))
        .routes(routes!(remove_member))
}

/// A segment's whole membership.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersRequest {
    /// User ids, up to 1,000,000 distinct ones; repeats are dropped.
    pub users: Vec<String>,
}

/// A segment and its size.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SegmentView {
    pub tag: String,
    pub members: u64,
}

impl From<Segment> for SegmentView {
    fn from(segment: Segment) -> Self {
        SegmentView {
            tag: segment.tag,
            members: segment.members,
        }
    }
}

#[derive(Debug, Deserialize)]
struct MemberPath {
    tag: String,
    user: String,
}

/// Makes these users the whole membership of the tag (an empty list
/// empties it): `{"users": [...]}`, or a CSV of user ids as for grants
/// (`Content-Type: text/csv`, optional header `user_id`).
///
/// Roles: admin, operator, service.
#[utoipa::path(put, path = "/v1/segments/{tag}/members", tag = "grants", security(("bearer" = [])),
    params(("tag" = String, Path, description = "The tag: 1 to 64 characters, no whitespace")),
    request_body(content(
        (MembersRequest = "application/json"),
        (String = "text/csv", example = "user_id\nu-1\nu-2\n"))),
    responses(
        (status = 200, description = "The segment as stored now", body = SegmentView),
        (status = 400, description = "`BAD_JSON`, `BAD_CSV`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: more than 48 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`VALIDATION_FAILED`: a bad tag or user id", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn replace_members(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(tag): ApiPath<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<ApiJson<SegmentView>, ApiError> {
    require_role(&principal, SEGMENT_WRITERS)?;
    let users = match read_upload(&headers, body)? {
        Upload::Json(bytes) => crate::extract::parse_json::<MembersRequest>(&bytes)?.users,
        Upload::Csv(users) => users,
    };
    Ok(ApiJson(app.replace_segment(&tag, users).await?.into()))
}

/// A segment's size.
///
/// Roles: admin, operator, service.
#[utoipa::path(get, path = "/v1/segments/{tag}", tag = "grants", security(("bearer" = [])),
    params(("tag" = String, Path, description = "The tag")),
    responses(
        (status = 200, description = "The segment (0 members for a tag nobody carries)", body = SegmentView),
        (status = 422, description = "`VALIDATION_FAILED`: a bad tag", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn get_segment(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(tag): ApiPath<String>,
) -> Result<ApiJson<SegmentView>, ApiError> {
    require_role(&principal, SEGMENT_READERS)?;
    Ok(ApiJson(app.segment(&tag).await?.into()))
}

/// Takes one user out of a segment (nothing happens if they were not in it).
///
/// Roles: admin, operator, service.
#[utoipa::path(delete, path = "/v1/segments/{tag}/members/{user}", tag = "grants", security(("bearer" = [])),
    params(("tag" = String, Path, description = "The tag"), ("user" = String, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The segment as stored now", body = SegmentView),
        (status = 422, description = "`VALIDATION_FAILED`: a bad tag", body = Problem, content_type = "application/problem+json"),
        AuthProblems))]
async fn remove_member(
    State(app): State<Arc<App>>,
    principal: Principal,
    ApiPath(path): ApiPath<MemberPath>,
) -> Result<ApiJson<SegmentView>, ApiError> {
    require_role(&principal, SEGMENT_WRITERS)?;
    let segment = app.remove_segment_member(&path.tag, &path.user).await?;
    Ok(ApiJson(segment.into()))
}
