//! API keys (SPEC §13): staff, merchant, partner and service keys, and the
//! deployment's first admin key.
//!
//! A key is `cf_` and 32 lowercase hex characters (128 random bits); only
//! its SHA-256 (lowercase hex) is stored, exactly as the HTTP layer hashes
//! a presented key (`couponflow_http::auth::hash_key`), so a stolen
//! database holds no usable key. The plaintext is answered once, at
//! creation.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use couponflow_store::StoreError;
use couponflow_store::time::{from_micros, to_micros};

use crate::{Actor, App, AppError, AppResult, ids};

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "cf_";
/// Hex characters after the prefix (128 bits).
pub const API_KEY_BODY_CHARS: usize = 32;
/// The roles a key can carry.
pub const ROLES: [&str; 7] = [
    "admin", "operator", "reviewer", "finance", "merchant", "partner", "service",
];
/// Shops a merchant key, or templates a partner key, may name at most.
pub const KEY_SCOPE_ENTRIES_MAX: usize = 1_000;
/// Characters of a key's label at most.
pub const KEY_LABEL_CHARS_MAX: usize = 200;
/// Characters of one shop or template id in a key's scope at most.
pub const KEY_SCOPE_ID_CHARS_MAX: usize = 128;
/// Who creates the first admin key.
pub const BOOTSTRAP_ACTOR: &str = "bootstrap";

/// What the database knows about one key; never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyRecord {
    /// A public identifier of the key, for audit logs and revocation.
    pub id: String,
    pub role: String,
    /// For `merchant` keys: the shops the key may act for.
    pub shops: Vec<String>,
    /// For `partner` keys: the templates the key may verify.
    pub templates: Vec<String>,
    pub label: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The stored form of a key: SHA-256, lowercase hex — the same as the HTTP
/// layer's `hash_key`. Keys carry 128 random bits, so a fast unsalted hash
/// is enough.
pub fn hash_key(key: &str) -> String {
    to_hex(&Sha256::digest(key.as_bytes()))
}

/// Whether `key` has the shape of a Couponflow API key.
pub fn is_api_key_format(key: &str) -> bool {
    key.strip_prefix(API_KEY_PREFIX).is_some_and(|body| {
        body.len() == API_KEY_BODY_CHARS
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A new key from the operating system's CSPRNG.
fn generate_key() -> String {
    let mut bytes = [0u8; API_KEY_BODY_CHARS / 2];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{API_KEY_PREFIX}{}", to_hex(&bytes))
}

/// Lower-case hex. Every call with an API key hashes it, so this is on
/// every staff and service request; `write!` per byte cost a few percent
/// of a claim's time in the HTTP workers.
fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A key's scope, checked: merchants name shops, partners templates, and
/// no other role names either.
fn check_scope(role: &str, shops: &[String], templates: &[String], label: &str) -> AppResult<()> {
    if !ROLES.contains(&role) {
        return Err(AppError::invalid(
            "role",
            format!("is one of {}", ROLES.join(", ")),
        ));
    }
    let (needs_shops, needs_templates) = (role == "merchant", role == "partner");
    for (field, list, needed) in [
        ("shops", shops, needs_shops),
        ("templates", templates, needs_templates),
    ] {
        if needed && list.is_empty() {
            return Err(AppError::invalid(
                field,
                format!("a {role} key names at least one"),
            ));
        }
        if !needed && !list.is_empty() {
            return Err(AppError::invalid(field, format!("a {role} key names none")));
        }
        if list.len() > KEY_SCOPE_ENTRIES_MAX {
            return Err(AppError::invalid(
                field,
                format!("at most {KEY_SCOPE_ENTRIES_MAX}"),
            ));
        }
        if list
            .iter()
            .any(|id| id.is_empty() || id.chars().count() > KEY_SCOPE_ID_CHARS_MAX)
        {
            return Err(AppError::invalid(
                field,
                format!("ids are 1 to {KEY_SCOPE_ID_CHARS_MAX} characters"),
            ));
        }
    }
    if label.chars().count() > KEY_LABEL_CHARS_MAX {
        return Err(AppError::invalid(
            "label",
            format!("at most {KEY_LABEL_CHARS_MAX} characters"),
        ));
    }
    Ok(())
}

const KEY_COLUMNS: &str = "id, role, shops, templates, label, created_by, created_at, revoked_at";

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<KeyRecord, StoreError> {
    let list = |column: &str| -> Result<Vec<String>, StoreError> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text).map_err(|error| StoreError::Corrupt {
            table: "api_keys",
            reason: format!("{column}: {error}"),
        })
    };
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    Ok(KeyRecord {
        id: row.try_get("id")?,
        role: row.try_get("role")?,
        shops: list("shops")?,
        templates: list("templates")?,
        label: row.try_get("label")?,
        created_by: row.try_get("created_by")?,
        created_at: from_micros(row.try_get("created_at")?)?,
        revoked_at: revoked_at.map(from_micros).transpose()?,
    })
}

fn json_list(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|error| StoreError::Other(error.to_string()))
}

async fn insert_key(
    connection: &mut AnyConnection,
    record: &KeyRecord,
    hash: &str,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO api_keys (id, key_hash, role, shops, templates, label, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&record.id)
    .bind(hash)
    .bind(&record.role)
    .bind(json_list(&record.shops)?)
    .bind(json_list(&record.templates)?)
    .bind(&record.label)
    .bind(&record.created_by)
    .bind(to_micros(record.created_at))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    Ok(())
}

/// Partner keys may name only templates that exist.
async fn ensure_templates_exist(
    connection: &mut AnyConnection,
    templates: &[String],
) -> AppResult<()> {
    for id in templates {
        let found = sqlx::query("SELECT id FROM templates WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *connection)
            .await
            .map_err(StoreError::from)?;
        if found.is_none() {
            return Err(AppError::TemplateNotFound(id.clone()));
        }
    }
    Ok(())
}

impl App {
    /// A new key for `role`; answers its record and the plaintext key,
    /// which is shown this once and never stored.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        role: &str,
        shops: Vec<String>,
        templates: Vec<String>,
        label: &str,
    ) -> AppResult<(KeyRecord, String)> {
        check_scope(role, &shops, &templates, label)?;
        let key = generate_key();
        let hash = hash_key(&key);
        let record = KeyRecord {
            id: ids::new_id("key"),
            role: role.to_owned(),
            shops,
            templates,
            label: label.to_owned(),
            created_by: actor.as_str().to_owned(),
            created_at: self.now(),
            revoked_at: None,
        };
        let record = self
            .store
            .write(move |connection| {
                Box::pin(async move {
                    ensure_templates_exist(connection, &record.templates).await?;
                    insert_key(connection, &record, &hash).await?;
                    Ok::<_, AppError>(record)
                })
            })
            .await?;
        tracing::info!(key = %record.id, role = %record.role, by = %record.created_by, "API key created");
        Ok((record, key))
    }

    /// The key with this hash, unless it was revoked.
    pub async fn find_key_by_hash(&self, hash: &str) -> AppResult<Option<KeyRecord>> {
        let row = sqlx::query(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(hash)
        .fetch_optional(self.store.reader())
        .await
        .map_err(StoreError::from)?;
        Ok(row.as_ref().map(key_from_row).transpose()?)
    }

    /// One key by its id, revoked or not.
    pub async fn api_key(&self, id: &str) -> AppResult<KeyRecord> {
        let row = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.store.reader())
            .await
            .map_err(StoreError::from)?
            .ok_or_else(|| AppError::ApiKeyNotFound(id.to_owned()))?;
        Ok(key_from_row(&row)?)
    }

    /// Revokes a key: from the commit on it is refused. Revoking a revoked
    /// key changes nothing and answers it as it is.
    pub async fn revoke_api_key(&self, actor: &Actor, id: &str) -> AppResult<KeyRecord> {
        let now = self.now();
        let key_id = id.to_owned();
        let revoked = self
            .store
            .write(move |connection| {
                Box::pin(async move {
                    let row = sqlx::query(&format!(
                        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 \
                         RETURNING {KEY_COLUMNS}"
                    ))
                    .bind(&key_id)
                    .bind(to_micros(now))
                    .fetch_optional(&mut *connection)
                    .await
                    .map_err(StoreError::from)?
                    .ok_or_else(|| AppError::ApiKeyNotFound(key_id.clone()))?;
                    Ok::<_, AppError>(key_from_row(&row)?)
                })
            })
            .await?;
        tracing::info!(key = %revoked.id, by = %actor.as_str(), "API key revoked");
        Ok(revoked)
    }

    /// The deployment's first admin (SPEC §13). With a configured key
    /// (`COUPONFLOW_BOOTSTRAP_ADMIN_KEY`): makes sure it is stored as an
    /// admin key, and answers `None`. Without one: when no admin key is in
    /// force, creates one and answers its plaintext, for the binary to
    /// print once; otherwise `None`. Safe to call at every start, on any
    /// number of nodes at once.
    pub async fn ensure_bootstrap_admin(
        &self,
        configured_key: Option<&str>,
    ) -> AppResult<Option<String>> {
        if let Some(key) = configured_key {
            if !is_api_key_format(key) {
                return Err(AppError::invalid(
                    "COUPONFLOW_BOOTSTRAP_ADMIN_KEY",
                    format!(
                        "is {API_KEY_PREFIX} and {API_KEY_BODY_CHARS} lowercase hex characters"
                    ),
                ));
            }
        }
        let configured = configured_key.map(str::to_owned);
        let key = configured.clone().unwrap_or_else(generate_key);
        let record = KeyRecord {
            id: ids::new_id("key"),
            role: "admin".to_owned(),
            shops: Vec::new(),
            templates: Vec::new(),
            label: "bootstrap admin".to_owned(),
            created_by: BOOTSTRAP_ACTOR.to_owned(),
            created_at: self.now(),
            revoked_at: None,
        };
        let created = self
            .store
            .write(move |connection| {
                Box::pin(
                    async move { bootstrap(connection, record, &key, configured.is_some()).await },
                )
            })
            .await?;
        Ok(created.filter(|_| configured_key.is_none()))
    }
}

/// In one unit: serialise bootstraps (a row lock on PostgreSQL; SQLite's
/// writer is alone anyway), then insert the key unless it is there already
/// (configured) or an admin is in force (generated). Answers the key when
/// one was inserted.
async fn bootstrap(
    connection: &mut AnyConnection,
    record: KeyRecord,
    key: &str,
    configured: bool,
) -> AppResult<Option<String>> {
    sqlx::query(
        "INSERT INTO leases (name, holder, until_at) VALUES ('bootstrap_admin', $1, $2) \
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_at = excluded.until_at",
    )
    .bind(&record.id)
    .bind(to_micros(record.created_at))
    .execute(&mut *connection)
    .await
    .map_err(StoreError::from)?;
    let hash = hash_key(key);
    let existing = if configured {
        sqlx::query("SELECT id, revoked_at FROM api_keys WHERE key_hash = $1")
            .bind(&hash)
            .fetch_optional(&mut *connection)
            .await
    } else {
        sqlx::query("SELECT id, revoked_at FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL LIMIT 1")
            .fetch_optional(&mut *connection)
            .await
    }
    .map_err(StoreError::from)?;
    if let Some(row) = existing {
        let revoked_at: Option<i64> = row.try_get("revoked_at").map_err(StoreError::from)?;
        if revoked_at.is_some() {
            // Revoked on purpose: a restart with the same setting must not bring it back.
            tracing::warn!("the configured bootstrap admin key was revoked; it stays revoked");
        }
        return Ok(None);
    }
    insert_key(connection, &record, &hash).await?;
    tracing::info!(key = %record.id, "bootstrap admin key created");
    Ok(Some(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_lowercase_hex() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_keys_have_the_key_format() {
        let key = generate_key();
        assert!(is_api_key_format(&key), "{key}");
        assert!(!is_api_key_format("cf_0123456789ABCDEF0123456789abcdef"));
        assert!(!is_api_key_format("cf_0123"));
    }

    #[test]
    fn scopes_follow_the_role() {
        let shops = vec!["s-1".to_owned()];
        assert!(check_scope("merchant", &shops, &[], "").is_ok());
        assert!(check_scope("merchant", &[], &[], "").is_err());
        assert!(check_scope("partner", &[], &[], "").is_err());
        assert!(check_scope("operator", &shops, &[], "").is_err());
        assert!(check_scope("root", &[], &[], "").is_err());
    }
}
