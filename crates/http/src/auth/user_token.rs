//! End-user tokens: what the mall hands a signed-in shopper so the user pages
//! and the wallet routes know who is asking.
//!
//! Format: `u1.<base64url(payload)>.<base64url(HMAC-SHA256)>`, where the payload
//! is `{"sub": user_id, "exp": unix_seconds}` and the MAC covers the text
//! `u1.<base64url(payload)>`, so the version cannot be swapped under a valid
//! signature. The tag is compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The version prefix of the token format.
pub const USER_TOKEN_PREFIX: &str = "u1";
/// Shorter secrets are refused: a guessable secret lets anyone be anyone.
pub const USER_TOKEN_SECRET_BYTES_MIN: usize = 32;
/// Longer tokens are refused before any work is done on them.
pub const USER_TOKEN_CHARS_MAX: usize = 2048;
/// Longer user ids are refused.
pub const USER_ID_CHARS_MAX: usize = 128;

type HmacSha256 = Hmac<Sha256>;

/// The shared secret between the mall and Couponflow. Its `Debug` hides it.
#[derive(Clone)]
pub struct UserTokenSecret {
    keyed: HmacSha256,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserTokenSecretError {
    #[error("the user token secret must be at least {USER_TOKEN_SECRET_BYTES_MIN} bytes long")]
    TooShort,
}

impl UserTokenSecret {
    pub fn new(secret: &[u8]) -> Result<Self, UserTokenSecretError> {
        if secret.len() < USER_TOKEN_SECRET_BYTES_MIN {
            return Err(UserTokenSecretError::TooShort);
        }
        // HMAC takes keys of any length, so this cannot fail after the check above.
        let keyed =
            HmacSha256::new_from_slice(secret).map_err(|_| UserTokenSecretError::TooShort)?;
        Ok(UserTokenSecret { keyed })
    }

    /// A fresh random secret, for the embedded demo mode where Couponflow is
    /// its own mall.
    pub fn generate() -> Self {
        // HMAC-SHA256 keys are one block (64 bytes): a key of exactly that size
        // needs no fallible conversion.
        let mut bytes = [0u8; 64];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let keyed = <HmacSha256 as hmac::digest::KeyInit>::new(&bytes.into());
        UserTokenSecret { keyed }
    }

    fn tag(&self, signed_text: &str) -> Vec<u8> {
        let mut mac = self.keyed.clone();
        mac.update(signed_text.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

impl std::fmt::Debug for UserTokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserTokenSecret(<hidden>)")
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
}

/// Why a token was refused. All of them mean 401 to the client.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UserTokenError {
    #[error("the user token is malformed")]
    Malformed,
    #[error("the user token signature does not match")]
    BadSignature,
    #[error("the user token has expired")]
    Expired,
}

/// Signs a token for `user_id` valid until `expires_at_unix` (seconds).
pub fn issue_user_token(secret: &UserTokenSecret, user_id: &str, expires_at_unix: i64) -> String {
    let claims = Claims {
        sub: user_id.to_owned(),
        exp: expires_at_unix,
    };
    // A struct of a string and an integer always serialises.
    let payload = serde_json::to_vec(&claims).unwrap_or_default();
    let signed_text = format!("{USER_TOKEN_PREFIX}.{}", URL_SAFE_NO_PAD.encode(payload));
    let tag = URL_SAFE_NO_PAD.encode(secret.tag(&signed_text));
    format!("{signed_text}.{tag}")
}

/// Checks a token and returns the user id it names.
pub fn verify_user_token(
    secret: &UserTokenSecret,
    token: &str,
    now_unix: i64,
) -> Result<String, UserTokenError> {
    if token.len() > USER_TOKEN_CHARS_MAX {
        return Err(UserTokenError::Malformed);
    }
    let (signed_text, tag_text) = token.rsplit_once('.').ok_or(UserTokenError::Malformed)?;
    let (version, payload_text) = signed_text
        .split_once('.')
        .ok_or(UserTokenError::Malformed)?;
    if version != USER_TOKEN_PREFIX {
        return Err(UserTokenError::Malformed);
    }
    let tag = URL_SAFE_NO_PAD
        .decode(tag_text)
        .map_err(|_| UserTokenError::Malformed)?;
    let expected = secret.tag(signed_text);
    if !bool::from(expected.ct_eq(&tag)) {
        return Err(UserTokenError::BadSignature);
    }
    let claims = decode_claims(payload_text)?;
    if claims.exp <= now_unix {
        return Err(UserTokenError::Expired);
    }
    Ok(claims.sub)
}

fn decode_claims(payload_text: &str) -> Result<Claims, UserTokenError> {
    let payload = URL_SAFE_NO_PAD
        .decode(payload_text)
        .map_err(|_| UserTokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| UserTokenError::Malformed)?;
    let sub_ok = !claims.sub.is_empty() && claims.sub.chars().count() <= USER_ID_CHARS_MAX;
    if !sub_ok {
        return Err(UserTokenError::Malformed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn secret() -> UserTokenSecret {
        UserTokenSecret::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn issued_token_verifies_to_its_user() {
        let token = issue_user_token(&secret(), "u-1", NOW + 60);
        assert!(token.starts_with("u1."));
        assert_eq!(
            verify_user_token(&secret(), &token, NOW),
            Ok("u-1".to_owned())
        );
    }

    #[test]
    fn token_at_or_past_its_expiry_is_refused() {
        let token = issue_user_token(&secret(), "u-1", NOW);
        assert_eq!(
            verify_user_token(&secret(), &token, NOW),
            Err(UserTokenError::Expired)
        );
    }

    #[test]
    fn token_signed_with_another_secret_is_refused() {
        let other = UserTokenSecret::new(b"ffffffffffffffffffffffffffffffff").unwrap();
        let token = issue_user_token(&other, "u-1", NOW + 60);
        assert_eq!(
            verify_user_token(&secret(), &token, NOW),
            Err(UserTokenError::BadSignature)
        );
    }

    #[test]
    fn changing_the_payload_breaks_the_signature() {
        let token = issue_user_token(&secret(), "u-1", NOW + 60);
        let parts: Vec<&str> = token.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"u-2","exp":1900000000}"#);
        let forged = format!("u1.{forged_payload}.{}", parts[2]);
        assert_eq!(
            verify_user_token(&secret(), &forged, NOW),
            Err(UserTokenError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_are_refused() {
        for token in ["", "u1", "u1.abc", "u2.abc.def", "u1.!!.!!", "cf_abc"] {
            assert_eq!(
                verify_user_token(&secret(), token, NOW),
                Err(UserTokenError::Malformed),
                "{token}"
            );
        }
        let long = "u".repeat(USER_TOKEN_CHARS_MAX + 1);
        assert_eq!(
            verify_user_token(&secret(), &long, NOW),
            Err(UserTokenError::Malformed)
        );
    }

    #[test]
    fn short_secret_is_refused_and_debug_hides_the_secret() {
        assert_eq!(
            UserTokenSecret::new(b"short").unwrap_err(),
            UserTokenSecretError::TooShort
        );
        let shown = format!("{:?}", secret());
        assert!(!shown.contains("0123"));
        let generated = UserTokenSecret::generate();
        let token = issue_user_token(&generated, "u-9", NOW + 1);
        assert_eq!(
            verify_user_token(&generated, &token, NOW),
            Ok("u-9".to_owned())
        );
    }
}
