//! A JSON body a client may leave out, for actions whose body only adds a
//! detail (`POST /v1/coupons/{code}/void` with or without a `reason`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, codes};
use crate::extract::ApiJson;

/// No body at all is `None`; a body must be JSON and parse as `T`, with the
/// same problems as [`ApiJson`].
#[derive(Clone, Debug, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if request.headers().contains_key(header::CONTENT_TYPE) {
            let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
            return Ok(OptionalJson(Some(value)));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::from_code(codes::PAYLOAD_TOO_LARGE, "the request body is too large")
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        Err(ApiError::from_code(
            codes::UNSUPPORTED_MEDIA_TYPE,
            "send the body with `Content-Type: application/json`, or send none",
        ))
    }
}
