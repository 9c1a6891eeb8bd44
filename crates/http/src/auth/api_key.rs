//! API keys: how they look, how they are stored (only as a SHA-256 hash) and
//! the lookup the service implements over its database.
//!
//! A key is `cf_` followed by 32 lowercase hex characters (128 random bits).
//! The prefix lets secret scanners and people recognise a leaked key.

use std::future::Future;
use std::pin::Pin;

use super::Role;

// The key's format and its stored hash are the app's: one definition, so a
// key the configuration accepts is a key the service can store.
pub use couponflow_app::keys::{API_KEY_BODY_CHARS, API_KEY_PREFIX, hash_key, is_api_key_format};

/// A new random key. Show it once; store only [`hash_key`] of it.
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; API_KEY_BODY_CHARS / 2];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let body: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{API_KEY_PREFIX}{body}")
}

/// What the database knows about one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// A public identifier of the key (for audit logs), never the key itself.
    pub key_id: String,
    pub role: Role,
    /// For `merchant` keys: the shops the key may act for.
    pub shops: Vec<String>,
    /// For `partner` keys: the templates the key may verify.
    pub templates: Vec<String>,
    /// After this instant (unix seconds) the key is refused; `None` = no expiry.
    pub expires_at_unix: Option<i64>,
}

/// A failure of the key lookup itself (the database is down), not a missing key.
#[derive(Debug, thiserror::Error)]
#[error("API key lookup failed: {0}")]
pub struct KeyStoreError(pub String);

/// The future a [`KeyStore`] returns.
pub type KeyLookup<'a> =
    Pin<Box<dyn Future<Output = Result<Option<KeyRecord>, KeyStoreError>> + Send + 'a>>;

/// Finds a key by its hash. The service implements this over its database;
/// revoked keys must not be found.
pub trait KeyStore: Send + Sync {
    fn find_by_hash<'a>(&'a self, hash: &'a str) -> KeyLookup<'a>;

    /// Drops whatever the store remembers of earlier look-ups (after a key
    /// was revoked on this node). Stores that remember nothing do nothing.
    fn forget(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_key_format_and_differ() {
        let first = generate_api_key();
        let second = generate_api_key();
        assert!(is_api_key_format(&first), "{first}");
        assert_ne!(first, second);
    }

    #[test]
    fn keys_of_another_shape_are_not_keys() {
        for key in [
            "",
            "cf_",
            "cf_0123",
            "CF_0123456789abcdef0123456789abcdef",
            "cf_0123456789ABCDEF0123456789abcdef",
            "cf_0123456789abcdef0123456789abcdef0",
        ] {
            assert!(!is_api_key_format(key), "{key}");
        }
        assert!(is_api_key_format("cf_0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
