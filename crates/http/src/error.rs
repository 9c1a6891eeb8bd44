//! The one place where an error becomes an HTTP answer.
//!
//! Every error the API can send has a stable machine `code`, an HTTP status and
//! an English title, all in the [`codes`] table below. Handlers build an
//! [`ApiError`] from a code and a detail; [`IntoResponse`] writes it as
//! `application/problem+json` (RFC 9457). Server errors (5xx) are logged here,
//! once, and their detail never leaves the process: the client gets a generic
//! sentence instead, so no SQL or file path leaks out.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Where the `type` URI of a problem points; the lowercase code follows.
pub const PROBLEM_TYPE_BASE: &str = "https://couponflow.dev/problems/";

/// What a client is told instead of the detail of a server error.
const SERVER_ERROR_DETAIL: &str =
    "The server could not complete the request. It has been logged; try again later.";

/// One row of the error table: a stable code, its status and its title.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub status: StatusCode,
    pub title: &'static str,
}

macro_rules! error_table {
    ($($name:ident = ($status:ident, $title:literal);)*) => {
        $(
            pub const $name: ErrorCode = ErrorCode {
                code: stringify!($name),
                status: StatusCode::$status,
                title: $title,
            };
        )*
        /// Every code, so documentation and tests can walk the whole table.
        pub const ALL: &[ErrorCode] = &[$($name),*];
    };
}

/// The table. A domain family adds its rows here, next to the generic ones.
pub mod codes {
    use super::{ErrorCode, StatusCode};

    error_table! {
        BAD_REQUEST = (BAD_REQUEST, "The request is malformed");
        BAD_JSON = (BAD_REQUEST, "The request body is not acceptable JSON");
        BAD_QUERY = (BAD_REQUEST, "The query string is not acceptable");
        BAD_PATH = (BAD_REQUEST, "A path parameter is not acceptable");
        BAD_CURSOR = (BAD_REQUEST, "The page cursor is not valid");
        BAD_CSV = (BAD_REQUEST, "The CSV body is not acceptable");
        VALIDATION_FAILED = (UNPROCESSABLE_ENTITY, "The request breaks a rule");
        UNAUTHORIZED = (UNAUTHORIZED, "Authentication is required");
        FORBIDDEN = (FORBIDDEN, "This caller may not do that");
        NOT_FOUND = (NOT_FOUND, "No such resource");
        METHOD_NOT_ALLOWED = (METHOD_NOT_ALLOWED, "This method is not allowed here");
        REQUEST_TIMEOUT = (REQUEST_TIMEOUT, "The request took too long");
        CONFLICT = (CONFLICT, "The request conflicts with the current state");
        IDEMPOTENCY_CONFLICT = (CONFLICT, "The idempotency key was used for a different request");
        PAYLOAD_TOO_LARGE = (PAYLOAD_TOO_LARGE, "The request body is too large");
        UNSUPPORTED_MEDIA_TYPE = (UNSUPPORTED_MEDIA_TYPE, "The request body must be JSON");
        RATE_LIMITED = (TOO_MANY_REQUESTS, "Too many requests");
        INTERNAL = (INTERNAL_SERVER_ERROR, "Internal server error");
        NOT_READY = (SERVICE_UNAVAILABLE, "The service is not ready");
        UNAVAILABLE = (SERVICE_UNAVAILABLE, "The service is unavailable");
        TEMPLATE_NOT_FOUND = (NOT_FOUND, "No such template");
        CAMPAIGN_NOT_FOUND = (NOT_FOUND, "No such campaign");
        CAMPAIGN_STATE = (CONFLICT, "The campaign's status does not allow this");
        INVALID_CAMPAIGN = (UNPROCESSABLE_ENTITY, "The campaign breaks a rule");
        TEMPLATE_NOT_IN_CAMPAIGN = (UNPROCESSABLE_ENTITY, "The campaign does not offer this template");
        COUPON_NOT_FOUND = (NOT_FOUND, "No such coupon");
        INSUFFICIENT_BALANCE = (CONFLICT, "The balance is too low for this debit");
    }
}

/// Finds a row of the table by its code.
pub fn lookup_code(code: &str) -> Option<ErrorCode> {
    codes::ALL.iter().copied().find(|row| row.code == code)
}

/// One broken rule about one field of the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Where the field is, as a dotted path (`rules.threshold_minor`, `items[2].sku`).
    pub field: String,
    pub reason: String,
}

/// An error on its way to becoming an `application/problem+json` response.
#[derive(Clone, Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    extensions: Map<String, Value>,
}

/// Member names of the problem body that an extension may not replace.
const RESERVED_MEMBERS: [&str; 7] = [
    "type", "title", "status", "detail", "code", "errors", "instance",
];

impl ApiError {
    /// An error with any status and code. The title comes from the table when
    /// the code is there, else from the status' reason phrase.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        let title = match lookup_code(code) {
            Some(row) => row.title,
            None => status.canonical_reason().unwrap_or("Error"),
        };
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: Map::new(),
        }
    }

    /// An error from a row of the table.
    pub fn from_code(row: ErrorCode, detail: impl Into<String>) -> Self {
        ApiError {
            status: row.status,
            code: row.code,
            title: row.title,
            detail: detail.into(),
            errors: Vec::new(),
            extensions: Map::new(),
        }
    }

    /// The generic error for a bare status, for responses that arrive without
    /// a body of ours (axum's own 404/405, a timeout, a body limit).
    pub fn from_status(status: StatusCode) -> Self {
        let row = codes::ALL
            .iter()
            .copied()
            .find(|row| row.status == status && generic_for_status(row.code));
        match row {
            Some(row) => ApiError::from_code(row, row.title),
            None if status.is_server_error() => ApiError::new(status, codes::INTERNAL.code, ""),
            None => {
                let reason = status.canonical_reason().unwrap_or("Error");
                ApiError::new(status, codes::BAD_REQUEST.code, reason)
            }
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::from_code(codes::BAD_REQUEST, detail)
    }
    pub fn validation(detail: impl Into<String>) -> Self {
        ApiError::from_code(codes::VALIDATION_FAILED, detail)
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        ApiError::from_code(codes::UNAUTHORIZED, detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ApiError::from_code(codes::FORBIDDEN, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::from_code(codes::NOT_FOUND, detail)
    }
    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::from_code(codes::CONFLICT, detail)
    }
    /// A server error: `detail` is logged, never sent.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::from_code(codes::INTERNAL, detail)
    }

    /// Adds one broken rule about one field.
    pub fn with_field_error(mut self, field: impl Into<String>, reason: impl Into<String>) -> Self {
        self.errors.push(FieldError {
            field: field.into(),
            reason: reason.into(),
        });
        self
    }

    /// Adds an extension member such as `"coupon": "c-1"`. A reserved member
    /// name (`type`, `status`, ...) is ignored: it would make the body lie.
    pub fn with_extension(mut self, name: &str, value: impl Into<Value>) -> Self {
        debug_assert!(!RESERVED_MEMBERS.contains(&name), "reserved member {name}");
        if !RESERVED_MEMBERS.contains(&name) {
            self.extensions.insert(name.to_owned(), value.into());
        }
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
    pub fn code(&self) -> &'static str {
        self.code
    }
    pub fn title(&self) -> &'static str {
        self.title
    }
    pub fn detail(&self) -> &str {
        &self.detail
    }
    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// The body as the client will see it: server error details replaced.
    pub fn to_problem(&self) -> Problem {
        let hide = self.status.is_server_error();
        Problem {
            problem_type: problem_type_uri(self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: if hide {
                SERVER_ERROR_DETAIL.to_owned()
            } else {
                self.detail.clone()
            },
            code: self.code.to_owned(),
            errors: if hide {
                Vec::new()
            } else {
                self.errors.clone()
            },
            extensions: if hide {
                Map::new()
            } else {
                self.extensions.clone()
            },
        }
    }

    fn log_if_server_error(&self) {
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(code = self.code, detail = %self.detail, "request failed");
        } else if self.status.is_server_error() {
            tracing::warn!(code = self.code, detail = %self.detail, "request failed");
        }
    }
}

/// Codes that stand for a status in general rather than one particular cause.
fn generic_for_status(code: &str) -> bool {
    matches!(
        code,
        "BAD_REQUEST"
            | "UNAUTHORIZED"
            | "FORBIDDEN"
            | "NOT_FOUND"
            | "METHOD_NOT_ALLOWED"
            | "REQUEST_TIMEOUT"
            | "CONFLICT"
            | "PAYLOAD_TOO_LARGE"
            | "UNSUPPORTED_MEDIA_TYPE"
            | "RATE_LIMITED"
            | "INTERNAL"
            | "UNAVAILABLE"
            | "VALIDATION_FAILED"
    )
}

/// `TEMPLATE_NOT_FOUND` → `https://couponflow.dev/problems/template-not-found`.
pub fn problem_type_uri(code: &str) -> String {
    let slug = code.to_ascii_lowercase().replace('_', "-");
    format!("{PROBLEM_TYPE_BASE}{slug}")
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log_if_server_error();
        let body = match serde_json::to_vec(&self.to_problem()) {
            Ok(body) => body,
            // A map of strings and JSON values always serialises; keep a body anyway.
            Err(_) => {
                br#"{"title":"Internal server error","status":500,"code":"INTERNAL"}"#.to_vec()
            }
        };
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The wire shape of an error (RFC 9457), also used as the OpenAPI schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; the same for every error with this code.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable machine code, such as `TEMPLATE_NOT_FOUND`.
    pub code: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extension members that name what the error is about (`"coupon": "c-1"`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    async fn body_of(response: Response) -> (StatusCode, Option<String>, Value) {
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| value.to_str().unwrap().to_owned());
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[test]
    fn every_code_is_unique_upper_snake_case_and_titled() {
        let mut seen = HashSet::new();
        for row in codes::ALL {
            assert!(seen.insert(row.code), "duplicate code {}", row.code);
            assert!(
                row.code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{}",
                row.code
            );
            assert!(!row.title.is_empty());
            assert!(row.status.is_client_error() || row.status.is_server_error());
        }
    }

    #[tokio::test]
    async fn client_error_is_problem_json_with_code_type_and_extensions() {
        let error = ApiError::from_code(codes::COUPON_NOT_FOUND, "no coupon c-1")
            .with_extension("coupon", "c-1")
            .with_field_error("code", "unknown");
        let (status, content_type, body) = body_of(error.into_response()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(
            body,
            serde_json::json!({
                "type": "https://couponflow.dev/problems/coupon-not-found",
                "title": "No such coupon",
                "status": 404,
                "detail": "no coupon c-1",
                "code": "COUPON_NOT_FOUND",
                "errors": [{"field": "code", "reason": "unknown"}],
                "coupon": "c-1",
            })
        );
    }

    #[tokio::test]
    async fn server_error_detail_never_reaches_the_client() {
        let error = ApiError::internal("database at /var/secret failed").with_extension("sql", "x");
        let (status, _, body) = body_of(error.into_response()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "INTERNAL");
        assert_eq!(body["detail"], SERVER_ERROR_DETAIL);
        assert!(!body.to_string().contains("secret"));
        assert!(body.get("sql").is_none());
    }

    #[test]
    fn new_error_with_a_domain_code_outside_the_table_takes_the_status_reason() {
        let error = ApiError::new(StatusCode::CONFLICT, "SOLD_OUT", "the template is sold out");
        assert_eq!(error.title(), "Conflict");
        assert_eq!(error.code(), "SOLD_OUT");
        let known = ApiError::new(StatusCode::NOT_FOUND, "TEMPLATE_NOT_FOUND", "t-1");
        assert_eq!(known.title(), "No such template");
    }

    #[tokio::test]
    async fn unauthorized_asks_for_a_bearer_token() {
        let response = ApiError::unauthorized("no key").into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn bare_statuses_map_to_their_generic_code() {
        assert_eq!(
            ApiError::from_status(StatusCode::NOT_FOUND).code(),
            "NOT_FOUND"
        );
        assert_eq!(
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE).code(),
            "PAYLOAD_TOO_LARGE"
        );
        assert_eq!(
            ApiError::from_status(StatusCode::BAD_GATEWAY).code(),
            "INTERNAL"
        );
        assert_eq!(
            ApiError::from_status(StatusCode::SERVICE_UNAVAILABLE).code(),
            "UNAVAILABLE"
        );
    }
}
