//! The `couponflow` command.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};

use couponflow_core::quote::{self, QuoteDocument};
use couponflow_core::template::{Template, ValidTemplate, parse_json};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
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

fn read_input(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))
    }
}

fn run_quote(file: &str, compact: bool) -> Result<(), Failure> {
    let text = read_input(file)?;
    let document: QuoteDocument = parse_json(&text).map_err(|problems| {
        Failure::BadInput(problems.list().iter().map(|p| p.to_string()).collect())
    })?;
    let (cart, coupons, now) = document.into_parts();
    let bad = |error: quote::QuoteError| Failure::BadInput(vec![error.to_string()]);
    let wallet = quote::wallet_from_inline(coupons).map_err(bad)?;
    let now = now.unwrap_or_else(Utc::now);
    let answer = quote::quote(&cart, &wallet, now).map_err(bad)?;
    print_json(&answer, compact)
}

fn run_validate_template(file: &str) -> Result<(), Failure> {
    let text = read_input(file)?;
    let problems_to_lines = |problems: couponflow_core::template::Problems| {
        problems.list().iter().map(|p| p.to_string()).collect()
    };
    let template: Template =
        parse_json(&text).map_err(|p| Failure::BadInput(problems_to_lines(p)))?;
    let valid =
        ValidTemplate::new(template).map_err(|p| Failure::BadInput(problems_to_lines(p)))?;
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
