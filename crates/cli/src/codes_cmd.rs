//! `couponflow codes generate|resume|export`: unbound code batches (SPEC
//! §5.1) from the command line. `generate` records a batch and makes its
//! codes with a progress bar, printing the batch id on standard output;
//! an interrupted run (Ctrl-C, a killed process) keeps every committed
//! chunk and `resume` finishes it; `export` writes the batch as CSV.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use couponflow_app::codes::CodeBatch;
use couponflow_app::{Actor, App, Settings};
use couponflow_http::SystemClock;

use crate::migrate_cmd::{DatabaseArgs, open_migrated, runtime};

const PROGRESS_TEMPLATE: &str =
    "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} codes ({eta} left)";

#[derive(Args, Debug)]
pub struct CodesArgs {
    #[command(subcommand)]
    command: CodesCommand,
}

#[derive(Subcommand, Debug)]
enum CodesCommand {
    /// Generate a batch of unbound codes for an approved template; prints the batch id.
    Generate {
        /// The template's id.
        #[arg(long, value_name = "ID")]
        template: String,
        /// How many codes (at most 10,000,000).
        #[arg(long, value_name = "N")]
        count: u64,
        /// Who is recorded as the batch's creator.
        #[arg(long, default_value = "cli")]
        actor: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Finish a batch whose generation was interrupted.
    Resume {
        /// The batch's id.
        #[arg(long, value_name = "ID")]
        batch: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Write a batch's codes as CSV (code,template_id,batch_id,state).
    Export {
        /// The batch's id.
        #[arg(long, value_name = "ID")]
        batch: String,
        /// The file to write; standard output when left out.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub fn run(args: CodesArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        match args.command {
            CodesCommand::Generate {
                template,
                count,
                actor,
                database,
            } => {
                let app = open_app(&database).await?;
                let batch = app
                    .start_code_batch(&Actor(actor), &template, count)
                    .await
                    .with_context(|| format!("starting a batch for template {template}"))?;
                println!("{}", batch.id);
                make_codes(&app, batch).await
            }
            CodesCommand::Resume { batch, database } => {
                let app = open_app(&database).await?;
                let batch = app.code_batch(&batch).await?;
                make_codes(&app, batch).await
            }
            CodesCommand::Export {
                batch,
                output,
                database,
            } => export(&open_app(&database).await?, &batch, output.as_deref()).await,
        }
    })
}

async fn open_app(database: &DatabaseArgs) -> anyhow::Result<App> {
    let store = Arc::new(open_migrated(database).await?);
    Ok(App::new(store, Arc::new(SystemClock), Settings::default()))
}

/// Runs the batch with a progress bar on standard error (hidden when that
/// is not a terminal). Ctrl-C stops it between two statements: the chunk in
/// flight rolls back, the committed ones stay.
async fn make_codes(app: &App, batch: CodeBatch) -> anyhow::Result<()> {
    let bar = ProgressBar::new(batch.requested);
    bar.set_style(ProgressStyle::with_template(PROGRESS_TEMPLATE)?);
    bar.set_position(batch.generated);
    let run = app.run_code_batch(&batch.id, |generated, _| bar.set_position(generated));
    let outcome = tokio::select! {
        outcome = run => outcome,
        _ = tokio::signal::ctrl_c() => {
            bar.abandon();
            return Err(anyhow!(
                "interrupted; the codes made so far are kept: \
                 `couponflow codes resume --batch {}` finishes the batch",
                batch.id
            ));
        }
    };
    match outcome {
        Ok(done) => {
            bar.finish_and_clear();
            eprintln!(
                "batch {}: {} codes for template {}",
                done.id, done.generated, done.template_id
            );
            Ok(())
        }
        Err(error) => {
            bar.abandon();
            Err(anyhow!(error).context(format!("generating batch {}", batch.id)))
        }
    }
}

/// Writes the CSV to `output` (through a `.partial` file renamed at the
/// end, so a failed export leaves no half file under the real name) or to
/// standard output.
async fn export(app: &App, batch_id: &str, output: Option<&Path>) -> anyhow::Result<()> {
    let Some(path) = output else {
        let rows = app
            .export_code_batch_csv(batch_id, std::io::stdout().lock())
            .await?;
        eprintln!("exported {rows} codes of batch {batch_id}");
        return Ok(());
    };
    let partial = PathBuf::from(format!("{}.partial", path.display()));
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let exported = app.export_code_batch_csv(batch_id, &file).await;
    let rows = match exported {
        Ok(rows) => rows,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(anyhow!(error).context(format!("exporting batch {batch_id}")));
        }
    };
    (&file)
        .flush()
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "exported {rows} codes of batch {batch_id} to {}",
        path.display()
    );
    Ok(())
}
