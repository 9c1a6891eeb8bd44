//! Extractors whose rejections are problems of ours, not axum's plain text.
//!
//! [`ApiJson`] reads a JSON body and names the field that broke
//! (`rules.threshold_minor: invalid type ...`) using `serde_path_to_error`;
//! request types use `#[serde(deny_unknown_fields)]`, so a misspelt field is
//! refused with its name rather than ignored. [`ApiQuery`] and [`ApiPath`] do
//! the same for the query string and path parameters.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, codes};

/// A JSON request body (or response body) with problem+json rejections.
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(request.headers()) {
            return Err(ApiError::from_code(
                codes::UNSUPPORTED_MEDIA_TYPE,
                "send the body with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Parses a whole JSON document, naming the field path of a data error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(json_error)?;
    deserializer.end().map_err(|error| {
        ApiError::from_code(
            codes::BAD_JSON,
            format!("unexpected text after the JSON value: {error}"),
        )
    })?;
    Ok(value)
}

fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let field = error.path().to_string();
    let inner = error.into_inner();
    if inner.is_data() {
        let reason = inner.to_string();
        ApiError::from_code(codes::BAD_JSON, format!("{field}: {reason}"))
            .with_field_error(field, reason)
    } else {
        ApiError::from_code(
            codes::BAD_JSON,
            format!("the body is not valid JSON: {inner}"),
        )
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::from_code(
            codes::PAYLOAD_TOO_LARGE,
            "the request body is larger than this server accepts",
        )
    } else {
        ApiError::bad_request(format!("the request body could not be read: {rejection}"))
    }
}

/// `application/json` or any `application/*+json`, parameters allowed.
fn has_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A query string with problem+json rejections (`BAD_QUERY`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::from_code(codes::BAD_QUERY, rejection.body_text())),
        }
    }
}

/// Path parameters with problem+json rejections (`BAD_PATH`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::from_code(codes::BAD_PATH, rejection.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Rules {
        threshold_minor: i64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body1 {
        name: String,
        rules: Rules,
    }

    fn request(content_type: Option<&str>, body: &'static str) -> Request {
        let mut builder = Request::builder().method("POST").uri("/");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(Body::from(body)).unwrap()
    }

    async fn extract(content_type: Option<&str>, body: &'static str) -> Result<Body1, ApiError> {
        ApiJson::<Body1>::from_request(request(content_type, body), &())
            .await
            .map(|ApiJson(value)| value)
    }

    #[tokio::test]
    async fn good_json_is_accepted() {
        let body = extract(
            Some("application/json; charset=utf-8"),
            r#"{"name":"a","rules":{"threshold_minor":5}}"#,
        )
        .await
        .unwrap();
        assert_eq!(body.rules.threshold_minor, 5);
    }

    #[tokio::test]
    async fn wrong_type_names_the_nested_field() {
        let error = extract(
            Some("application/json"),
            r#"{"name":"a","rules":{"threshold_minor":"5"}}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), "BAD_JSON");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error.field_errors()[0].field, "rules.threshold_minor");
    }

    #[tokio::test]
    async fn unknown_field_is_refused_by_name() {
        let error = extract(
            Some("application/json"),
            r#"{"name":"a","rules":{"threshold_minor":5},"colour":1}"#,
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), "BAD_JSON");
        assert!(error.detail().contains("colour"), "{}", error.detail());
    }

    #[tokio::test]
    async fn syntax_error_and_trailing_text_are_bad_json() {
        let broken = extract(Some("application/json"), r#"{"name":"#).await;
        assert_eq!(broken.unwrap_err().code(), "BAD_JSON");
        let trailing = extract(
            Some("application/json"),
            r#"{"name":"a","rules":{"threshold_minor":5}} x"#,
        )
        .await;
        assert_eq!(trailing.unwrap_err().code(), "BAD_JSON");
    }

    #[tokio::test]
    async fn missing_or_wrong_content_type_is_unsupported_media_type() {
        let missing = extract(None, "{}").await.unwrap_err();
        assert_eq!(missing.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let text = extract(Some("text/plain"), "{}").await.unwrap_err();
        assert_eq!(text.code(), "UNSUPPORTED_MEDIA_TYPE");
        let problem = extract(
            Some("application/merge-patch+json"),
            r#"{"name":"a","rules":{"threshold_minor":5}}"#,
        )
        .await;
        assert!(problem.is_ok());
    }

    #[tokio::test]
    async fn body_over_the_limit_is_payload_too_large() {
        let router = axum::Router::new()
            .route(
                "/",
                axum::routing::post(|ApiJson(_): ApiJson<Body1>| async { "ok" }),
            )
            .layer(axum::extract::DefaultBodyLimit::max(8));
        let response = tower::ServiceExt::oneshot(
            router,
            request(
                Some("application/json"),
                r#"{"name":"a","rules":{"threshold_minor":5}}"#,
            ),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            crate::error::PROBLEM_JSON
        );
    }
}
