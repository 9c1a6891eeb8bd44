//! The browser pages: the staff console at `/console` and the shoppers' user
//! pages at `/m`, with the files both share at `/web`.
//!
//! The pages are static files under `crates/http/web/`, embedded in release
//! builds (nothing is fetched at run time; debug builds read them from the
//! source tree, so an edit shows on reload). They are single pages that call
//! the `/v1` API with the signed-in key or user token, so they can do exactly
//! what the API lets that key do and nothing more.
//!
//! Every answer carries a strict Content-Security-Policy (scripts from this
//! origin only) and an ETag, so a reload costs a 304.

use std::borrow::Cow;

use axum::Router;
use axum::extract::{FromRef, Path};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::ApiError;
use crate::state::AppState;

mod mall;

#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Files;

/// What the pages may load: this origin only, with inline styles allowed
/// (the pages set them from scripts) and no inline scripts.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
     frame-ancestors 'self'; base-uri 'none'; form-action 'self'";

/// The routes of the pages; merged beside `/v1` by [`crate::service_app`].
pub fn pages<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AppState: FromRef<S>,
    crate::auth::AuthState: FromRef<S>,
{
    Router::new()
        .merge(mall::routes())
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route(
            "/console/",
            get(|headers: HeaderMap| async move { file("console/index.html", &headers) }),
        )
        .route(
            "/console/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move {
                file(&format!("console/{path}"), &headers)
            }),
        )
        .route("/m", get(|| async { Redirect::permanent("/m/") }))
        .route(
            "/m/",
            get(|headers: HeaderMap| async move { file("m/index.html", &headers) }),
        )
        .route(
            "/m/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move {
                file(&format!("m/{path}"), &headers)
            }),
        )
        .route(
            "/web/{*path}",
            get(|Path(path): Path<String>, headers: HeaderMap| async move {
                file(&format!("shared/{path}"), &headers)
            }),
        )
}

/// One embedded file, or 404 problem+json; 304 when the browser holds it.
fn file(path: &str, headers: &HeaderMap) -> Response {
    // Embedded names never hold `..`, so no path can leave the folder; the
    // check keeps debug builds (which read the disk) just as closed.
    let Some(found) = (!path.split('/').any(|part| part == ".."))
        .then(|| Files::get(path))
        .flatten()
    else {
        return ApiError::not_found("no page or file at this path").into_response();
    };
    let etag = format!("\"{}\"", hex(&found.metadata.sha256_hash()[..12]));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body: Cow<'static, [u8]> = found.data;
        let mime = mime_guess::from_path(path).first_or_octet_stream();
        let mut response = body.into_owned().into_response();
        if let Ok(value) = HeaderValue::from_str(mime.essence_str()) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    };
    let answer = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        answer.insert(header::ETAG, value);
    }
    answer.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    answer.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    answer.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    answer.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
