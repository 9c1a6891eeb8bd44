//! Bodies of user lists: JSON, or a CSV of user ids (`text/csv`), for
//! grants and segments, up to [`UPLOAD_BODY_LIMIT_BYTES`].

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use utoipa_axum::router::UtoipaMethodRouter;

use crate::error::{ApiError, codes};
use crate::state::AppState;
use couponflow_app::grants::check_user_id;

/// The largest user list accepted: a million ids of up to 40 bytes, or
/// 100,000 of the longest (128 bytes) with room to spare.
pub const UPLOAD_BODY_LIMIT_BYTES: usize = 48 * 1024 * 1024;
/// The optional header line of a CSV upload.
pub const CSV_HEADER: &str = "user_id";

/// A list body as received.
pub enum Upload {
    /// A JSON body, to parse into the route's request type.
    Json(Bytes),
    /// The user ids of a CSV body, in order.
    Csv(Vec<String>),
}

/// Raises the body limit of these routes to [`UPLOAD_BODY_LIMIT_BYTES`]
/// (the service-wide limit stays for every other route).
pub fn upload_limit(routes: UtoipaMethodRouter<AppState>) -> UtoipaMethodRouter<AppState> {
    let (schemas, paths, method_router) = routes;
    (
        schemas,
        paths,
        method_router.layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT_BYTES)),
    )
}

/// The body by its content type: JSON (`application/json`) or CSV (`text/csv`).
pub fn read_upload(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Upload, ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let kind = match essence.as_str() {
        "application/json" => Kind::Json,
        "text/csv" => Kind::Csv,
        _ => {
            return Err(ApiError::from_code(
                codes::UNSUPPORTED_MEDIA_TYPE,
                "send the list as `Content-Type: application/json` or `text/csv`",
            ));
        }
    };
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from_code(
                codes::PAYLOAD_TOO_LARGE,
                format!("a list upload is at most {UPLOAD_BODY_LIMIT_BYTES} bytes"),
            )
        } else {
            ApiError::bad_request(format!("the request body could not be read: {rejection}"))
        }
    })?;
    match kind {
        Kind::Json => Ok(Upload::Json(bytes)),
        Kind::Csv => parse_user_csv(&bytes).map(Upload::Csv),
    }
}

enum Kind {
    Json,
    Csv,
}

/// One user id a line (`\n` or `\r\n`), an optional first line
/// `user_id`, blank lines ignored, spaces around an id trimmed. A line
/// with a comma, semicolon, tab or quote is not one id: `BAD_CSV`. An id
/// that breaks the id rules is 422 naming its line.
pub fn parse_user_csv(bytes: &[u8]) -> Result<Vec<String>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        ApiError::from_code(
            codes::BAD_CSV,
            format!("the CSV is not UTF-8 (at byte {})", error.valid_up_to()),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut users = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        let id = line.strip_suffix('\r').unwrap_or(line).trim();
        if id.is_empty() || (users.is_empty() && id.eq_ignore_ascii_case(CSV_HEADER)) {
            continue;
        }
        if id.contains([',', ';', '\t', '"']) {
            return Err(ApiError::from_code(
                codes::BAD_CSV,
                format!("line {number}: one column (a user id) expected"),
            )
            .with_field_error(format!("line {number}"), "holds more than one column"));
        }
        if let Err(why) = check_user_id(id) {
            return Err(
                ApiError::validation(format!("line {number}: the user id {why}"))
                    .with_field_error(format!("line {number}"), why),
            );
        }
        users.push(id.to_owned());
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_blank_lines_and_crlf_are_accepted() {
        let users = parse_user_csv(b"user_id\r\nu-1\r\n\r\n u-2 \nu-3").unwrap();
        assert_eq!(users, ["u-1", "u-2", "u-3"]);
        assert_eq!(parse_user_csv(b"u-1\n").unwrap(), ["u-1"]);
    }

    #[test]
    fn more_columns_or_bad_ids_name_the_line() {
        let error = parse_user_csv(b"user_id\nu-1\nu-2,vip\n").unwrap_err();
        assert_eq!(error.code(), "BAD_CSV");
        let long = format!("u-1\n{}\n", "x".repeat(129));
        let error = parse_user_csv(long.as_bytes()).unwrap_err();
        assert_eq!(error.code(), "VALIDATION_FAILED");
        assert_eq!(parse_user_csv(&[0xff, 0xfe]).unwrap_err().code(), "BAD_CSV");
    }
}
