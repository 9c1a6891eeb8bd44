//! The `couponflow` command.

#![cfg_attr(not(test), deny(clippy::unwrap_used))]

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};

use couponflow_core::quote::{self, QuoteDocument};
use couponflow_core::template::{Problems, Template, ValidTemplate, parse_json};

mod codes_cmd;
mod demo;
mod grants_cmd;
mod ledger_cmd;
mod migrate_cmd;
mod serve_cmd;

/// Exit status for input that cannot be used: bad JSON, a bad template, an
/// impossible selection.
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser)]
#[command(
    name = "couponflow",
    version,
    about = "Couponflow: the coupon system (优惠券系统)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (SQLite `./couponflow.db` unless told otherwise).
    Serve(serve_cmd::ServeArgs),
    /// Apply the database migrations (SQLite `./couponflow.db` unless told otherwise).
    Migrate(migrate_cmd::MigrateArgs),
    /// Price a cart (SPEC §7.1 JSON with inline "coupons") and print the quote (§7.5).
    Quote {
        /// The cart file, or `-` for standard input.
        file: String,
        /// Print one line of JSON instead of indented JSON.
        #[arg(long)]
        compact: bool,
    },
    /// Check a template (SPEC §4) and print it with its defaults filled in.
    ValidateTemplate {
        /// The template file, or `-` for standard input.
        file: String,
    },
    /// Unbound code batches: generate (with a progress bar), resume, export as CSV.
    Codes(codes_cmd::CodesArgs),
    /// Staff grants through a running server: create (with a progress bar), show.
    Grants(grants_cmd::GrantsArgs),
    /// Load a realistic demo data set (templates of every kind, users, orders) and print its API keys.
    Demo(demo::DemoArgs),
    /// The budget ledger: `check` reconciles it with the coupons (exit 1 on a mismatch).
    Ledger(ledger_cmd::LedgerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::run(args).map_err(Failure::Other),
        Command::Migrate(args) => migrate_cmd::run(args).map_err(Failure::Other),
        Command::Codes(args) => codes_cmd::run(args).map_err(Failure::Other),
        Command::Demo(args) => demo::run(args).map_err(Failure::Other),
        Command::Grants(args) => grants_cmd::run(args).map_err(Failure::Other),
        Command::Ledger(args) => match ledger_cmd::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => Err(Failure::Other(error)),
        },
        Command::Quote { file, compact } => run_quote(&file, compact),
        Command::ValidateTemplate { file } => run_validate_template(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(lines)) => {
            for line in lines {
                eprintln!("error: {line}");
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(Failure::Other(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// The input is wrong: one line per problem, each naming the field.
    BadInput(Vec<String>),
    /// Anything else (an unreadable file, a closed pipe).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Other(error)
    }
}

/// Reads the whole input; text that is not UTF-8 is bad input (exit 2),
/// an unreadable file is another failure.
fn read_input(file: &str) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
    } else {
        bytes = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    }
    String::from_utf8(bytes).map_err(|error| {
        Failure::BadInput(vec![format!(
            "the input is not valid UTF-8 (at byte {})",
            error.utf8_error().valid_up_to()
        )])
    })
}

fn problem_lines(problems: &Problems) -> Vec<String> {
    problems.list().iter().map(|p| p.to_string()).collect()
}

fn run_quote(file: &str, compact: bool) -> Result<(), Failure> {
    let text = read_input(file)?;
    let document: QuoteDocument =
        parse_json(&text).map_err(|problems| Failure::BadInput(problem_lines(&problems)))?;
    let (cart, coupons, now) = document.into_parts();
    let wallet = quote::wallet_from_inline(coupons)
        .map_err(|problems| Failure::BadInput(problem_lines(&problems)))?;
    let now = now.unwrap_or_else(Utc::now);
    let answer = quote::quote(&cart, &wallet, now)
        .map_err(|error| Failure::BadInput(vec![error.to_string()]))?;
    print_json(&answer, compact)
}

fn run_validate_template(file: &str) -> Result<(), Failure> {
    let text = read_input(file)?;
    let template: Template =
        parse_json(&text).map_err(|problems| Failure::BadInput(problem_lines(&problems)))?;
    let valid = ValidTemplate::new(template)
        .map_err(|problems| Failure::BadInput(problem_lines(&problems)))?;
    print_json(&valid, false)
}

fn print_json<T: serde::Serialize>(value: &T, compact: bool) -> Result<(), Failure> {
    let text = if compact {
        serde_json::to_string(value)
    } else {
        serde_json::to_string_pretty(value)
    }
    .context("writing JSON")?;
    println!("{text}");
    Ok(())
}
