//! `couponflow ledger check`: reconciles the budget ledger with the
//! coupons' states (SPEC §12) and exits non-zero when they disagree.

use std::sync::Arc;

use clap::{Args, Subcommand};

use couponflow_app::{App, Settings};
use couponflow_http::SystemClock;

use crate::migrate_cmd::{DatabaseArgs, open_migrated, redacted, runtime};

#[derive(Args, Debug)]
pub struct LedgerArgs {
    #[command(subcommand)]
    pub command: LedgerCommand,
}

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Prove the ledger matches the coupons: every posting balances, every
    /// coupon's entries are what its state implies, escrow covers live coupons.
    Check {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// What the check found; `Ok(false)` when something disagrees.
pub fn run(args: LedgerArgs) -> anyhow::Result<bool> {
    let LedgerCommand::Check { database } = args.command;
    runtime()?.block_on(async {
        let store = Arc::new(open_migrated(&database).await?);
        let app = App::new(store.clone(), Arc::new(SystemClock), Settings::default());
        let check = app.ledger_check().await;
        drop(app);
        if let Ok(store) = Arc::try_unwrap(store) {
            store.close().await;
        }
        let check = check.map_err(|e| anyhow::anyhow!("checking the ledger: {e}"))?;
        let place = redacted(&database.database_url);
        println!(
            "{place}: {} postings, {} entries, {} templates, {} coupons checked",
            check.postings, check.entries, check.templates, check.coupons
        );
        if check.is_consistent() {
            println!("the ledger matches the coupons");
            return Ok(true);
        }
        eprintln!(
            "error: the ledger does not match the coupons: {} mismatches",
            check.mismatch_count
        );
        for m in &check.mismatches {
            let mut subject = Vec::new();
            if let Some(t) = &m.template_id {
                subject.push(format!("template {t}"));
            }
            if let Some(c) = &m.code {
                subject.push(format!("coupon {c}"));
            }
            if let Some(p) = &m.posting {
                subject.push(format!("posting {p}"));
            }
            eprintln!("  {}: {}", subject.join(", "), m.problem);
        }
        if check.mismatch_count > i64::try_from(check.mismatches.len()).unwrap_or(i64::MAX) {
            eprintln!(
                "  … and {} more",
                check.mismatch_count - i64::try_from(check.mismatches.len()).unwrap_or(0)
            );
        }
        Ok(false)
    })
}
