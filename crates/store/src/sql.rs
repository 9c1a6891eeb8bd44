//! Parameter lists for statements built at run time (multi-row INSERTs,
//! `IN (…)` lists).
//!
//! PostgreSQL numbers its parameters `$1, $2, …`. SQLite accepts that too,
//! but sqlx resolves every named SQLite parameter through
//! `sqlite3_bind_parameter_name`, a linear search, so a statement with
//! thousands of `$N` binds in quadratic time (measured: 36% of the claim
//! path at 1,500 parameters). Anonymous `?` parameters bind in order at no
//! such cost, so on SQLite [`Params`] writes `?` — and then every parameter
//! of the statement must come from it, in the order they are bound.

use sqlx::AnyConnection;

use crate::Backend;

impl Backend {
    /// The back end a connection talks to.
    pub fn of(connection: &AnyConnection) -> Backend {
        if connection.backend_name().eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

/// Writes a statement's parameters in bind order.
#[derive(Debug)]
pub struct Params {
    backend: Backend,
    written: usize,
}

impl Params {
    pub fn new(backend: Backend) -> Self {
        Params {
            backend,
            written: 0,
        }
    }

    pub fn for_connection(connection: &AnyConnection) -> Self {
        Params::new(Backend::of(connection))
    }

    /// The next parameter. (Not an `Iterator`: it never ends, and the
    /// name reads best at the call sites.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> String {
        self.written += 1;
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${}", self.written),
        }
    }

    /// `count` parameters separated by commas.
    pub fn list(&mut self, count: usize) -> String {
        let mut text = String::with_capacity(count * 4);
        for n in 0..count {
            if n > 0 {
                text.push_str(", ");
            }
            text.push_str(&self.next());
        }
        text
    }

    /// `rows` parenthesised groups of `columns` parameters, for `VALUES`.
    pub fn rows(&mut self, rows: usize, columns: usize) -> String {
        let mut text = String::with_capacity(rows * (columns * 4 + 4));
        for row in 0..rows {
            if row > 0 {
                text.push_str(", ");
            }
            text.push('(');
            text.push_str(&self.list(columns));
            text.push(')');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numbers_parameters_in_order_across_calls() {
        let mut params = Params::new(Backend::Postgres);
        assert_eq!(params.next(), "$1");
        assert_eq!(params.rows(2, 2), "($2, $3), ($4, $5)");
        assert_eq!(params.list(2), "$6, $7");
    }

    #[test]
    fn sqlite_parameters_are_anonymous() {
        let mut params = Params::new(Backend::Sqlite);
        assert_eq!(params.next(), "?");
        assert_eq!(params.rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(params.list(0), "");
    }
}
