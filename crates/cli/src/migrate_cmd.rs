//! `couponflow migrate`: applies the embedded migrations of the database's
//! back end, and the database settings the store commands share.

use anyhow::Context;
use clap::Args;

use couponflow_store::Store;

/// The embedded database a command uses when told nothing else.
pub const DATABASE_URL_DEFAULT: &str = "sqlite://couponflow.db";

/// Which database a command works on.
#[derive(Args, Debug, Clone)]
pub struct DatabaseArgs {
    /// `sqlite://FILE` (created if missing) or `postgres://user:password@host/db`.
    #[arg(
        long,
        value_name = "URL",
        env = "COUPONFLOW_DATABASE_URL",
        default_value = DATABASE_URL_DEFAULT
    )]
    pub database_url: String,
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// A runtime for one command: the store's write pipeline runs as a task.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The URL with any password hidden, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens the database and brings its schema up to date (idempotent).
pub async fn open_migrated(database: &DatabaseArgs) -> anyhow::Result<Store> {
    Store::open_and_migrate(&database.database_url)
        .await
        .with_context(|| format!("opening {}", redacted(&database.database_url)))
}

pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let store = open_migrated(&args.database).await?;
        store.close().await;
        eprintln!(
            "{}: the schema is up to date",
            redacted(&args.database.database_url)
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(
            redacted("postgres://cf:secret@db:5432/cf"),
            "postgres://cf:***@db:5432/cf"
        );
        assert_eq!(redacted("sqlite://couponflow.db"), "sqlite://couponflow.db");
    }
}
