//! The reads and the writes of a batch, each sent together.
//!
//! On SQLite every statement through sqlx is a hand-off to its worker
//! thread and back, which costs tens of microseconds on a virtual machine
//! and far more when the machine is busy; sqlx's SQLite driver runs a text
//! of several statements in one hand-off, taking the anonymous `?`
//! parameters in order across them, and returns the rows of all of them.
//! So on SQLite a batch's reads go as one text and its writes as another;
//! on PostgreSQL (one prepared statement per text) one by one. Rows of
//! several reads are told apart by a `part` column each read selects.
//!
//! Lists are padded (see [`size_for`]) so that the texts repeat and stay
//! prepared.
//!
//! sqlx calls several statements in one text a SQLite-only behaviour it may
//! drop (launchbadge/sqlx#3108); the order tests run every batch through
//! it, so an upgrade that drops it fails them rather than the service.

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection};

use couponflow_store::sql::Params;
use couponflow_store::{Backend, StoreError};

use crate::AppResult;

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub(super) enum Value<'a> {
    Text(&'a str),
    OptionalText(Option<&'a str>),
    Owned(String),
    Integer(i64),
    /// Padding (see [`size_for`]): a typed NULL, which no `IN` list and no
    /// `WHERE … IS NOT NULL` lets through.
    NullText,
    NullInteger,
}

/// The lengths lists and `VALUES` rows are padded to. sqlx keeps a
/// prepared statement per text; a batch's lists are as long as the batch,
/// so unpadded texts would never repeat and SQLite would parse every one —
/// a fifth of its writer thread's time, measured. Padded to these sizes,
/// a handful of texts serve every batch.
const PADDED_SIZES: [usize; 4] = [16, 64, 256, 1_024];

/// The padded length for lists of at most `longest` items, capped at
/// `largest` (longer lists are cut into several statements of it).
pub(super) fn size_for(longest: usize, largest: usize) -> usize {
    PADDED_SIZES
        .into_iter()
        .filter(|size| *size <= largest)
        .find(|size| *size >= longest)
        .unwrap_or(largest)
}

/// `items` in chunks of `size`; one empty chunk when there are none, so a
/// batch's text has the same statements whatever it holds.
pub(super) fn padded_chunks<T>(items: &[T], size: usize) -> Vec<&[T]> {
    if items.is_empty() {
        return vec![items];
    }
    items.chunks(size.max(1)).collect()
}

/// One statement and its values, in bind order. Its parameters come from
/// `couponflow_store::sql::Params`.
#[derive(Debug, Default)]
pub(super) struct Statement<'a> {
    pub sql: String,
    pub values: Vec<Value<'a>>,
}

impl<'a> Statement<'a> {
    pub(super) fn new(sql: String) -> Self {
        Statement {
            sql,
            values: Vec::new(),
        }
    }

    pub(super) fn bind(&mut self, value: Value<'a>) -> &mut Self {
        self.values.push(value);
        self
    }

    /// Binds `count` NULLs of the type of `like`, padding a list.
    pub(super) fn pad(&mut self, count: usize, like: &Value<'_>) -> &mut Self {
        let null = match like {
            Value::Integer(_) | Value::NullInteger => Value::NullInteger,
            Value::Text(_) | Value::OptionalText(_) | Value::Owned(_) | Value::NullText => {
                Value::NullText
            }
        };
        for _ in 0..count {
            self.values.push(null.clone());
        }
        self
    }

    /// Binds NULL rows after the real ones, up to `size` rows of the
    /// column types of `row_types`.
    pub(super) fn pad_rows(
        &mut self,
        rows: usize,
        size: usize,
        row_types: &[Value<'_>],
    ) -> &mut Self {
        for _ in rows..size {
            for like in row_types {
                self.pad(1, like);
            }
        }
        self
    }
}

/// `statements` as one text of several statements, with their values in
/// order (SQLite takes the anonymous parameters in order across them).
fn one_text(statements: Vec<Statement<'_>>) -> (String, Vec<Value<'_>>) {
    let sql = statements
        .iter()
        .map(|statement| statement.sql.as_str())
        .collect::<Vec<_>>()
        .join(";\n");
    let values = statements.into_iter().flat_map(|s| s.values).collect();
    (sql, values)
}

/// One read per padded chunk of `ids`: `text` is given the chunk's
/// parameter list (padded to `size` with NULLs, which match nothing).
pub(super) fn id_list_reads<'a>(
    backend: Backend,
    ids: &[&'a str],
    size: usize,
    text: impl Fn(&str) -> String,
) -> Vec<Statement<'a>> {
    padded_chunks(ids, size)
        .into_iter()
        .map(|chunk| {
            let mut statement = Statement::new(text(&Params::new(backend).list(size)));
            for id in chunk {
                statement.bind(Value::Text(id));
            }
            statement.pad(size - chunk.len(), &Value::NullText);
            statement
        })
        .collect()
}

/// Runs `statements` in order: as one text on SQLite, one by one on
/// PostgreSQL.
pub(super) async fn run_all(
    connection: &mut AnyConnection,
    statements: Vec<Statement<'_>>,
) -> AppResult<()> {
    if statements.is_empty() {
        return Ok(());
    }
    match Backend::of(connection) {
        Backend::Sqlite => {
            let (sql, values) = one_text(statements);
            execute(connection, &sql, values.into_iter()).await
        }
        Backend::Postgres => {
            for statement in statements {
                execute(connection, &statement.sql, statement.values.into_iter()).await?;
            }
            Ok(())
        }
    }
}

/// Runs the reads `statements` and returns the rows of all of them, in
/// order: as one text on SQLite, one by one on PostgreSQL.
pub(super) async fn fetch_all(
    connection: &mut AnyConnection,
    statements: Vec<Statement<'_>>,
) -> AppResult<Vec<AnyRow>> {
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    match Backend::of(connection) {
        Backend::Sqlite => {
            let (sql, values) = one_text(statements);
            let rows = with_values(sqlx::query(&sql), values.into_iter())
                .fetch_all(&mut *connection)
                .await
                .map_err(StoreError::from)?;
            Ok(rows)
        }
        Backend::Postgres => {
            let mut rows = Vec::new();
            for statement in statements {
                let part = with_values(sqlx::query(&statement.sql), statement.values.into_iter())
                    .fetch_all(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                rows.extend(part);
            }
            Ok(rows)
        }
    }
}

fn with_values<'q, 'v: 'q>(
    mut query: Query<'q, Any, AnyArguments<'q>>,
    values: impl Iterator<Item = Value<'v>>,
) -> Query<'q, Any, AnyArguments<'q>> {
    for value in values {
        query = match value {
            Value::Text(text) => query.bind(text as &'q str),
            Value::OptionalText(text) => query.bind(text as Option<&'q str>),
            Value::Owned(text) => query.bind(text),
            Value::Integer(number) => query.bind(number),
            Value::NullText => query.bind(None::<&str>),
            Value::NullInteger => query.bind(None::<i64>),
        };
    }
    query
}

async fn execute<'a>(
    connection: &mut AnyConnection,
    sql: &str,
    values: impl Iterator<Item = Value<'a>>,
) -> AppResult<()> {
    with_values(sqlx::query(sql), values)
        .execute(&mut *connection)
        .await
        .map_err(StoreError::from)?;
    Ok(())
}
