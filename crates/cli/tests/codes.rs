//! `couponflow migrate` and `couponflow codes generate|resume|export` as an
//! operator runs them: the real binary against a SQLite file in a temporary
//! directory, with the template made and approved through the app library.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};

use couponflow_app::templates::Decision;
use couponflow_app::{Actor, App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_core::code;
use couponflow_core::template::Template;
use couponflow_store::Store;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn couponflow(args: &[&str], environment: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_couponflow"));
    command
        .args(args)
        .env_remove("COUPONFLOW_DATABASE_URL")
        .stdin(Stdio::null());
    for (name, value) in environment {
        command.env(name, value);
    }
    let output: Output = command.output().expect("the binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn url_in(directory: &Path) -> String {
    format!("sqlite://{}", directory.join("couponflow.db").display())
}

fn cash(total: Option<u64>) -> Template {
    let mut body: Value = json!({"name": "兑换码 10元", "benefit": {"kind": "cash", "amount": 1000},
        "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30}});
    if let Some(total) = total {
        body["limits"] = json!({"total": total});
    }
    serde_json::from_value(body).expect("test template parses")
}

/// Runs `work` against an app on `url`, then closes the store so the binary
/// has the database to itself.
async fn with_app<T>(url: &str, work: impl AsyncFnOnce(&App) -> T) -> T {
    let store = Arc::new(Store::open_and_migrate(url).await.expect("store"));
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let app = App::new(store.clone(), clock, Settings::default());
    let answer = work(&app).await;
    drop(app);
    if let Ok(store) = Arc::try_unwrap(store) {
        store.close().await;
    }
    answer
}

async fn approved_template(url: &str, total: Option<u64>) -> String {
    with_app(url, async |app: &App| {
        let ops = Actor("ops-1".into());
        let id = app.create_template(&ops, cash(total)).await.unwrap().id;
        app.submit_template(&ops, &id).await.unwrap();
        app.review_template(&Actor("lead-1".into()), &id, Decision::Approve, None)
            .await
            .unwrap();
        id
    })
    .await
}

/// Checks an export: the header, then one row per code, every code
/// well-formed and unique, all unbound codes of `template_id` and `batch_id`.
fn assert_csv(text: &str, template_id: &str, batch_id: &str, rows: usize) {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("code,template_id,batch_id,state"));
    let mut codes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields[1..], [template_id, batch_id, "unbound"], "{line}");
        assert_eq!(code::plausible(fields[0]), Ok(()), "{line}");
        codes.push(fields[0]);
    }
    assert_eq!(codes.len(), rows);
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), rows, "codes are unique");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_the_schema_once_and_again_changes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let url = url_in(directory.path());
    for _ in 0..2 {
        let run = couponflow(&["migrate", "--database-url", &url], &[]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(
            run.stderr.contains("the schema is up to date"),
            "{}",
            run.stderr
        );
    }
    let store = Store::open(&url).await.unwrap();
    let templates: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM templates")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(templates, 0);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_codes_export_as_csv_every_one_well_formed() {
    let directory = tempfile::tempdir().unwrap();
    let url = url_in(directory.path());
    let template_id = approved_template(&url, None).await;
    let args = [
        "codes",
        "generate",
        "--template",
        &template_id,
        "--count",
        "2345",
    ];
    let run = couponflow(&[&args[..], &["--database-url", &url]].concat(), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let batch_id = run.stdout.trim().to_owned();
    assert!(batch_id.starts_with("cb_"), "{}", run.stdout);
    assert!(run.stderr.contains("2345 codes"), "{}", run.stderr);

    let file = directory.path().join("codes.csv");
    let file_arg = file.display().to_string();
    let export = [
        "codes", "export", "--batch", &batch_id, "--output", &file_arg,
    ];
    let run = couponflow(&[&export[..], &["--database-url", &url]].concat(), &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_csv(&written, &template_id, &batch_id, 2345);
    assert!(!directory.path().join("codes.csv.partial").exists());

    // The database may come from the environment, and the CSV go to stdout.
    let run = couponflow(
        &["codes", "export", "--batch", &batch_id],
        &[("COUPONFLOW_DATABASE_URL", &url)],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, written);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_finishes_a_batch_whose_run_never_ended() {
    let directory = tempfile::tempdir().unwrap();
    let url = url_in(directory.path());
    let template_id = approved_template(&url, None).await;
    // Recorded, but its run never happened (as after a killed process).
    let batch = with_app(&url, async |app: &App| {
        app.start_code_batch(&Actor("ops-1".into()), &template_id, 300)
            .await
            .unwrap()
    })
    .await;
    let run = couponflow(
        &[
            "codes",
            "resume",
            "--batch",
            &batch.id,
            "--database-url",
            &url,
        ],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let run = couponflow(
        &[
            "codes",
            "export",
            "--batch",
            &batch.id,
            "--database-url",
            &url,
        ],
        &[],
    );
    assert_csv(&run.stdout, &template_id, &batch.id, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_beyond_the_templates_total_is_refused_with_nothing_made() {
    let directory = tempfile::tempdir().unwrap();
    let url = url_in(directory.path());
    let template_id = approved_template(&url, Some(100)).await;
    let args = [
        "codes",
        "generate",
        "--template",
        &template_id,
        "--count",
        "101",
    ];
    let run = couponflow(&[&args[..], &["--database-url", &url]].concat(), &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("limits.total"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "no batch was recorded");
    let unknown = couponflow(
        &[
            "codes",
            "export",
            "--batch",
            "cb_missing",
            "--database-url",
            &url,
        ],
        &[],
    );
    assert_eq!(unknown.code, Some(1));
    assert!(unknown.stderr.contains("cb_missing"), "{}", unknown.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_check_passes_on_a_consistent_database_and_fails_on_a_forged_entry() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let url = url_in(directory.path());
    let template = approved_template(&url, Some(10)).await;
    let run = couponflow(&["ledger", "check", "--database-url", &url], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains("the ledger matches the coupons"),
        "{}",
        run.stdout
    );

    with_app(&url, async |app: &App| {
        let template = template.clone();
        app.store()
            .write(move |connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO ledger_entries (posting, line, kind, issuer, template_id, \
                         template_shop, account, code, amount, at) VALUES \
                         ('forged', 0, 'reserve', 'platform', $1, NULL, 'escrow', NULL, 5, 0)",
                    )
                    .bind(template)
                    .execute(&mut *connection)
                    .await
                    .map_err(couponflow_store::StoreError::from)?;
                    Ok::<_, couponflow_store::StoreError>(())
                })
            })
            .await
            .unwrap();
    })
    .await;
    let run = couponflow(&["ledger", "check", "--database-url", &url], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stderr.contains("does not balance"), "{}", run.stderr);
}
