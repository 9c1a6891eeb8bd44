//! `Authorization: Bearer <key or user token>` → [`Principal`], or 401.
//!
//! The extractor reads an [`AuthState`] from the router state through
//! `FromRef`, so any application state that can hand one out works.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use couponflow_core::clock::Clock;

use super::Principal;
use super::api_key::{KeyRecord, KeyStore, hash_key, is_api_key_format};
use super::user_token::{USER_TOKEN_PREFIX, UserTokenSecret, verify_user_token};
use crate::error::ApiError;

/// Longer `Authorization` values are refused before any work is done on them.
pub const BEARER_TOKEN_CHARS_MAX: usize = 4096;

/// What the extractor needs: the key lookup, the user-token secret (`None`
/// refuses every user token) and the clock that decides expiry.
#[derive(Clone)]
pub struct AuthState {
    pub keys: Arc<dyn KeyStore>,
    pub user_token_secret: Option<Arc<UserTokenSecret>>,
    pub clock: Arc<dyn Clock>,
}

impl<S> FromRequestParts<S> for Principal
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Resolved already by a layer (the audit log's) for this request:
        // extensions are the server's own, never the client's.
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let auth = AuthState::from_ref(state);
        let token = bearer_token(parts)?;
        if token.starts_with(&format!("{USER_TOKEN_PREFIX}.")) {
            return user_principal(&auth, token);
        }
        if is_api_key_format(token) {
            return key_principal(&auth, token).await;
        }
        Err(ApiError::unauthorized(
            "the bearer token is neither a Couponflow API key nor a user token",
        ))
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("send `Authorization: Bearer <key>`"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not ASCII"))?;
    if value.len() > BEARER_TOKEN_CHARS_MAX {
        return Err(ApiError::unauthorized(
            "the Authorization header is too long",
        ));
    }
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("use the Bearer scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::unauthorized("use the Bearer scheme"));
    }
    Ok(token.trim())
}

fn user_principal(auth: &AuthState, token: &str) -> Result<Principal, ApiError> {
    let secret = auth
        .user_token_secret
        .as_ref()
        .ok_or_else(|| ApiError::unauthorized("this deployment accepts no user tokens"))?;
    let now_unix = auth.clock.now().timestamp();
    let user_id = verify_user_token(secret, token, now_unix)
        .map_err(|error| ApiError::unauthorized(error.to_string()))?;
    Ok(Principal::User { user_id })
}

async fn key_principal(auth: &AuthState, key: &str) -> Result<Principal, ApiError> {
    let hash = hash_key(key);
    let record = auth
        .keys
        .find_by_hash(&hash)
        .await
        .map_err(|error| ApiError::internal(error.to_string()))?
        .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))?;
    let now_unix = auth.clock.now().timestamp();
    if record
        .expires_at_unix
        .is_some_and(|expiry| expiry <= now_unix)
    {
        return Err(ApiError::unauthorized("the API key has expired"));
    }
    Ok(staff_principal(record))
}

fn staff_principal(record: KeyRecord) -> Principal {
    Principal::Staff {
        key_id: record.key_id,
        role: record.role,
        shops: record.shops,
        templates: record.templates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{KeyLookup, KeyStoreError, Role, issue_user_token};
    use axum::http::Request;
    use chrono::{DateTime, Utc};
    use couponflow_core::clock::FixedClock;
    use std::collections::HashMap;

    const KEY: &str = "cf_0123456789abcdef0123456789abcdef";
    const EXPIRED_KEY: &str = "cf_ffffffffffffffffffffffffffffffff";
    const BROKEN_KEY: &str = "cf_eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

    struct Keys(HashMap<String, KeyRecord>);

    impl KeyStore for Keys {
        fn find_by_hash<'a>(&'a self, hash: &'a str) -> KeyLookup<'a> {
            Box::pin(async move {
                if hash == hash_key(BROKEN_KEY) {
                    return Err(KeyStoreError("database down".into()));
                }
                Ok(self.0.get(hash).cloned())
            })
        }
    }

    fn record(key_id: &str, expires_at_unix: Option<i64>) -> KeyRecord {
        KeyRecord {
            key_id: key_id.into(),
            role: Role::Operator,
            shops: vec![],
            templates: vec![],
            expires_at_unix,
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn state() -> AuthState {
        let mut keys = HashMap::new();
        keys.insert(hash_key(KEY), record("k-1", None));
        keys.insert(hash_key(EXPIRED_KEY), record("k-2", Some(1_700_000_000)));
        AuthState {
            keys: Arc::new(Keys(keys)),
            user_token_secret: Some(Arc::new(UserTokenSecret::new(&[7u8; 32]).unwrap())),
            clock: Arc::new(FixedClock::new(now())),
        }
    }

    async fn extract(authorization: Option<&str>) -> Result<Principal, ApiError> {
        let mut builder = Request::builder().uri("/");
        if let Some(value) = authorization {
            builder = builder.header(header::AUTHORIZATION, value);
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        Principal::from_request_parts(&mut parts, &state()).await
    }

    #[tokio::test]
    async fn known_key_becomes_a_staff_principal() {
        let principal = extract(Some(&format!("Bearer {KEY}"))).await.unwrap();
        assert_eq!(principal.role(), Some(Role::Operator));
        let lower_scheme = extract(Some(&format!("bearer {KEY}"))).await;
        assert!(lower_scheme.is_ok());
    }

    #[tokio::test]
    async fn missing_unknown_expired_or_foreign_credentials_are_401() {
        let unknown = format!("Bearer cf_{}", "a".repeat(32));
        let expired = format!("Bearer {EXPIRED_KEY}");
        let basic = format!("Basic {KEY}");
        for header in [
            None,
            Some(unknown.as_str()),
            Some(&expired),
            Some(&basic),
            Some("Bearer x"),
        ] {
            let error = extract(header).await.unwrap_err();
            assert_eq!(error.code(), "UNAUTHORIZED", "{header:?}");
        }
    }

    #[tokio::test]
    async fn failing_key_lookup_is_a_server_error_not_a_401() {
        let error = extract(Some(&format!("Bearer {BROKEN_KEY}")))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INTERNAL");
    }

    #[tokio::test]
    async fn user_token_becomes_a_user_principal_until_it_expires() {
        let auth = state();
        let secret = auth.user_token_secret.unwrap();
        let valid = issue_user_token(&secret, "u-1", now().timestamp() + 60);
        let principal = extract(Some(&format!("Bearer {valid}"))).await.unwrap();
        assert_eq!(
            principal,
            Principal::User {
                user_id: "u-1".into()
            }
        );
        let expired = issue_user_token(&secret, "u-1", now().timestamp());
        let error = extract(Some(&format!("Bearer {expired}")))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "UNAUTHORIZED");
    }
}
