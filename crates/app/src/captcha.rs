//! Captcha verification (SPEC §11.4): a template with `"risk": {"captcha":
//! true}` takes a user's claim only with a token the verifier accepts.
//!
//! Two verifiers, chosen by configuration:
//! - **HMAC** (built in): the mall's captcha service, having checked the
//!   user, issues `<expires unix seconds>.<hex HMAC-SHA256(secret,
//!   "<template id>:<user id>:<expires>")>`; Couponflow checks it with the
//!   shared secret and the clock — no call, so it costs nothing on the
//!   claim path. [`hmac_token`] makes such tokens.
//! - **HTTP**: Couponflow POSTs `{"token","template_id","user_id","ip"}`
//!   to the mall's URL and takes the claim when the answer is 2xx with
//!   `{"success": true}`.
//!
//! A template that asks for a captcha on a deployment with no verifier
//! refuses every claim (`CAPTCHA_FAILED`): a fail-closed default.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::notify::deliver::hex;
use crate::{App, AppError, AppResult, ClaimRefusal};

/// How claims' captcha tokens are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CaptchaVerifier {
    /// None configured: templates that ask for a captcha take no claims.
    #[default]
    None,
    Hmac {
        secret: String,
    },
    Http {
        url: String,
        timeout_ms: u64,
    },
}

fn mac(secret: &str, template_id: &str, user_id: &str, expires: i64) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("{template_id}:{user_id}:{expires}").as_bytes());
    Some(mac)
}

/// A token the HMAC verifier accepts until `expires`.
pub fn hmac_token(
    secret: &str,
    template_id: &str,
    user_id: &str,
    expires: DateTime<Utc>,
) -> String {
    let expires = expires.timestamp();
    let signature = mac(secret, template_id, user_id, expires)
        .map(|mac| hex(&mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{expires}.{signature}")
}

fn hmac_accepts(
    secret: &str,
    token: &str,
    template_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> bool {
    let Some((expires, signature)) = token.split_once('.') else {
        return false;
    };
    let (Ok(expires), Ok(signature)) = (expires.parse::<i64>(), decode_hex(signature)) else {
        return false;
    };
    expires >= now.timestamp()
        && mac(secret, template_id, user_id, expires)
            .is_some_and(|mac| mac.verify_slice(&signature).is_ok())
}

fn decode_hex(text: &str) -> Result<Vec<u8>, ()> {
    if text.len() % 2 != 0 {
        return Err(());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or(())?, 16).map_err(|_| ()))
        .collect()
}

fn refused(detail: &str) -> AppError {
    AppError::Claim {
        code: ClaimRefusal::CaptchaFailed,
        detail: detail.to_owned(),
    }
}

impl App {
    /// Checks a claim's captcha token for `template_id` (which asks for one).
    pub(crate) async fn verify_captcha(
        &self,
        template_id: &str,
        user_id: &str,
        token: Option<&str>,
        ip: Option<&str>,
    ) -> AppResult<()> {
        let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 4096) else {
            return Err(refused(
                "this coupon needs a captcha token (context.captcha_token)",
            ));
        };
        match &self.settings.captcha {
            CaptchaVerifier::None => {
                tracing::warn!(
                    template_id,
                    "a template asks for a captcha and no verifier is configured"
                );
                Err(refused("captcha verification is not configured"))
            }
            CaptchaVerifier::Hmac { secret } => {
                match hmac_accepts(secret, token, template_id, user_id, self.clock.now()) {
                    true => Ok(()),
                    false => Err(refused("the captcha token is not valid")),
                }
            }
            CaptchaVerifier::Http { url, timeout_ms } => {
                let body = serde_json::json!({"token": token, "template_id": template_id,
                                              "user_id": user_id, "ip": ip});
                let answer = reqwest::Client::new()
                    .post(url)
                    .timeout(Duration::from_millis(*timeout_ms))
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                let accepted = match answer {
                    Ok(response) if response.status().is_success() => response
                        .text()
                        .await
                        .ok()
                        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                        .is_some_and(|v| v["success"] == serde_json::Value::Bool(true)),
                    Ok(_) => false,
                    Err(error) => {
                        tracing::warn!(%error, "the captcha verifier did not answer");
                        false
                    }
                };
                match accepted {
                    true => Ok(()),
                    false => Err(refused("the captcha verifier did not accept the token")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_accepted_for_its_template_and_user_until_it_expires() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let token = hmac_token("s3cret", "tpl_1", "u-1", now + chrono::Duration::minutes(5));
        assert!(hmac_accepts("s3cret", &token, "tpl_1", "u-1", now));
        assert!(!hmac_accepts("s3cret", &token, "tpl_2", "u-1", now));
        assert!(!hmac_accepts("s3cret", &token, "tpl_1", "u-2", now));
        assert!(!hmac_accepts("other", &token, "tpl_1", "u-1", now));
        assert!(!hmac_accepts(
            "s3cret",
            &token,
            "tpl_1",
            "u-1",
            now + chrono::Duration::minutes(6)
        ));
        for bad in ["", ".", "x.y", "123.zz", "1790000000.abc"] {
            assert!(!hmac_accepts("s3cret", bad, "tpl_1", "u-1", now), "{bad}");
        }
    }
}
