//! Claims per second through `App::claim` (no HTTP), on a fresh database.
//!
//! `cargo run --release -p couponflow-app --example claim_throughput -- [DATABASE_URL] [CLAIMS] [CONCURRENCY]`
//! Defaults: a temporary SQLite file, 100,000 claims, 512 concurrent callers.

use std::sync::Arc;
use std::time::Instant;

use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_app::templates::Decision;
use couponflow_app::{Actor, App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_core::template::Template;
use couponflow_store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(couponflow_store::testing::fresh_sqlite_url);
    let claims: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let concurrency: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(512);
    let store = Arc::new(Store::open_and_migrate(&url).await?);
    let start =
        chrono::DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")?.with_timezone(&chrono::Utc);
    let clock = Arc::new(FixedClock::new(start));
    let app = Arc::new(App::new(store, clock, Settings::default()));
    let template: Template = serde_json::from_value(serde_json::json!({
        "name": "bench", "benefit": {"kind": "cash", "amount": 500}, "scope": {"include": {"all": true}},
        "validity": {"type": "relative", "days": 30}, "limits": {"total": 100_000_000, "per_user": 1}}))?;
    let id = app
        .create_template(&Actor("ops".into()), template)
        .await?
        .id;
    app.submit_template(&Actor("ops".into()), &id).await?;
    app.review_template(&Actor("lead".into()), &id, Decision::Approve, None)
        .await?;
    // A budget this size also needs the finance review.
    app.review_template(&Actor("cfo".into()), &id, Decision::Approve, None)
        .await?;
    let started = Instant::now();
    let per_task = claims / concurrency;
    let tasks: Vec<_> = (0..concurrency)
        .map(|task| {
            let app = app.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut ok = 0usize;
                for n in 0..per_task {
                    let request = ClaimRequest {
                        user: ClaimUser {
                            id: format!("u-{task}-{n}"),
                            ..ClaimUser::default()
                        },
                        request_id: format!("r-{task}-{n}"),
                        context: serde_json::Value::Null,
                    };
                    match app.claim(&id, request).await {
                        Ok(_) => ok += 1,
                        Err(error) if n == 0 && task == 0 => eprintln!("first refusal: {error}"),
                        Err(_) => {}
                    }
                }
                ok
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let stats = app.store().pipeline_stats();
    println!(
        "{ok} claims in {seconds:.2} s = {:.0} claims/s; {} batches committed ({:.1} units per batch)",
        ok as f64 / seconds,
        stats.batches_committed,
        stats.units_committed as f64 / stats.batches_committed.max(1) as f64
    );
    Ok(())
}
