//! Storage errors, named by what the caller can do about them.

/// What went wrong in the database, in terms the use cases can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique or primary-key constraint refused the write; the name says which.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    /// The database is locked or the transaction lost a race; retrying may succeed.
    #[error("the database is busy, try again")]
    Busy,
    /// The database cannot be reached or the write pipeline has stopped.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A stored document no longer parses: a bug or a bad migration.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// The URL names no back end Couponflow knows.
    #[error("unsupported database URL (use sqlite://… or postgres://…): {0}")]
    UnsupportedUrl(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database error: {0}")]
    Other(String),
}

impl StoreError {
    /// True for a unique violation of the named constraint (or any, with `None`).
    pub fn is_conflict(&self, name: Option<&str>) -> bool {
        match self {
            StoreError::Conflict { constraint } => name.is_none_or(|n| constraint == n),
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.to_string()).unwrap_or_default();
                let message = db.message();
                // PostgreSQL: 23505 unique violation; 40001 serialization; 40P01 deadlock; 55P03 lock.
                // SQLite: 2067/1555 unique/primary key; 5/6 busy/locked.
                if code == "23505" || code == "2067" || code == "1555" {
                    let constraint = db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| sqlite_constraint(message));
                    return StoreError::Conflict { constraint };
                }
                if matches!(
                    code.as_str(),
                    "40001" | "40P01" | "55P03" | "5" | "6" | "517"
                ) {
                    return StoreError::Busy;
                }
                StoreError::Other(format!("{code}: {message}"))
            }
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                StoreError::Unavailable(error.to_string())
            }
            sqlx::Error::RowNotFound => StoreError::Other("row not found".into()),
            _ => StoreError::Other(error.to_string()),
        }
    }
}

/// SQLite names the columns, not the constraint: `UNIQUE constraint failed:
/// coupons.template_id, coupons.user_id, coupons.user_seq`. Map the column
/// lists back to the constraint names of the schema.
pub(crate) fn sqlite_constraint(message: &str) -> String {
    let columns = message.rsplit(": ").next().unwrap_or(message);
    match columns {
        "coupons.user_id, coupons.template_id, coupons.user_seq" => "coupons_per_user".into(),
        "coupons.user_id, coupons.template_id, coupons.day, coupons.day_seq" => {
            "coupons_per_user_per_day".into()
        }
        "coupons.code" => "coupons_pkey".into(),
        "api_keys.key_hash" => "api_keys_hash".into(),
        other => other.to_owned(),
    }
}
