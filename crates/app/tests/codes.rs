//! Unbound code batches (SPEC §5.1) on every back end: progress, resumption
//! after an interrupted run, `limits.total`, and the CSV export.

mod support;

use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};
use sqlx::Row;

use couponflow_app::codes::{
    CODE_BATCH_CHUNK_ROWS, CODE_BATCH_COUNT_MAX, CSV_HEADER, CodeBatchStatus,
};
use couponflow_app::templates::Decision;
use couponflow_app::{App, AppError};
use couponflow_core::code;
use couponflow_core::template::lifecycle::TemplateStatus;
use support::*;

fn cash(total: Option<u64>) -> Value {
    let mut limits = json!({"per_user": 1});
    if let Some(total) = total {
        limits["total"] = json!(total);
    }
    json!({"name": "兑换码 10元", "benefit": {"kind": "cash", "amount": 1000},
           "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
           "limits": limits})
}

/// A template through every review it needs, ready for codes.
async fn approved(app: &App, body: Value) -> String {
    let id = app
        .create_template(&actor("ops-1"), template(body))
        .await
        .unwrap()
        .id;
    app.submit_template(&actor("ops-1"), &id).await.unwrap();
    for reviewer in ["lead-1", "finance-1"] {
        if app.template(&id).await.unwrap().status == TemplateStatus::PendingReview {
            app.review_template(&actor(reviewer), &id, Decision::Approve, None)
                .await
                .unwrap();
        }
    }
    assert_eq!(
        app.template(&id).await.unwrap().status,
        TemplateStatus::Approved
    );
    id
}

async fn stored_codes(app: &App, batch_id: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM coupons WHERE batch_id = $1")
        .bind(batch_id)
        .fetch_one(app.store().reader())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_recorded_at_once_and_its_run_reports_progress_per_chunk() {
    for t in apps().await {
        let app = &t.app;
        let template_id = approved(app, cash(None)).await;
        let count = 2 * CODE_BATCH_CHUNK_ROWS + 7;
        let batch = app
            .start_code_batch(&actor("ops-1"), &template_id, count)
            .await
            .unwrap();
        assert_eq!(
            (batch.status, batch.generated, batch.requested),
            (CodeBatchStatus::Running, 0, count)
        );
        assert_eq!(app.code_batch(&batch.id).await.unwrap(), batch, "{}", t.url);
        let seen = Mutex::new(Vec::new());
        let done = app
            .run_code_batch(&batch.id, |generated, requested| {
                seen.lock().unwrap().push((generated, requested));
            })
            .await
            .unwrap();
        let chunk = CODE_BATCH_CHUNK_ROWS;
        assert_eq!(
            *seen.lock().unwrap(),
            [(chunk, count), (2 * chunk, count), (count, count)]
        );
        assert_eq!(
            (done.status, done.generated),
            (CodeBatchStatus::Completed, count)
        );
        assert!(done.finished_at.is_some());
        assert_eq!(
            app.template(&template_id).await.unwrap().generated,
            count as i64
        );
        assert_eq!(
            stored_codes(app, &batch.id).await,
            count as i64,
            "{}",
            t.url
        );
        // Running a completed batch again changes nothing.
        let again = app.run_code_batch(&batch.id, |_, _| {}).await.unwrap();
        assert_eq!(again, done);
        assert_eq!(stored_codes(app, &batch.id).await, count as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_codes_are_unbound_checkable_coupons_with_the_templates_face_value() {
    for t in apps().await {
        let app = &t.app;
        let template_id = approved(app, cash(None)).await;
        let batch = app
            .start_code_batch(&actor("ops-1"), &template_id, 50)
            .await
            .unwrap();
        app.run_code_batch(&batch.id, |_, _| {}).await.unwrap();
        let page = app.code_batch_codes(&batch.id, None, 100).await.unwrap();
        assert_eq!(page.len(), 50);
        let coupon = app.coupon(&page[0].code).await.unwrap();
        assert_eq!(coupon.state.as_str(), "unbound");
        assert_eq!((coupon.source.as_str(), coupon.face_value), ("batch", 1000));
        assert_eq!(
            (coupon.user_id, coupon.template_id),
            (None, template_id.clone())
        );
        for listed in &page {
            assert_eq!(listed.code.len(), code::BODY_LENGTH_DEFAULT, "{}", t.url);
            assert_eq!(code::verify(&listed.code, 0), Ok(()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_keeps_its_committed_chunks_and_a_new_run_continues_from_them() {
    for t in apps().await {
        let app = &t.app;
        let template_id = approved(app, cash(None)).await;
        let count = 3 * CODE_BATCH_CHUNK_ROWS;
        let batch = app
            .start_code_batch(&actor("ops-1"), &template_id, count)
            .await
            .unwrap();
        // The run is dropped (as a killed process would stop) once its first
        // chunk is committed, possibly in the middle of the next one.
        let (first_chunk, committed) = tokio::sync::watch::channel(false);
        let run = app.run_code_batch(&batch.id, move |_, _| {
            let _ = first_chunk.send(true);
        });
        let mut committed = committed;
        tokio::select! {
            _ = run => panic!("the run finished before it was interrupted"),
            _ = committed.wait_for(|done| *done) => {}
        }
        let halfway = app.code_batch(&batch.id).await.unwrap();
        assert_eq!(halfway.status, CodeBatchStatus::Running, "{}", t.url);
        assert!(halfway.generated >= CODE_BATCH_CHUNK_ROWS && halfway.generated < count);
        assert_eq!(
            halfway.generated % CODE_BATCH_CHUNK_ROWS,
            0,
            "only whole chunks are kept"
        );
        assert_eq!(stored_codes(app, &batch.id).await, halfway.generated as i64);
        let running = app.running_code_batches().await.unwrap();
        assert_eq!(
            running.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(),
            [batch.id.as_str()]
        );

        let resumed = Mutex::new(Vec::new());
        // The interrupted run's last unit may still be unwinding (its
        // transaction rolling back) and answer the new run `Busy` for a
        // moment, as `serve`'s loop would see before its next pass.
        let mut tries = 0;
        let done = loop {
            match app
                .run_code_batch(&batch.id, |generated, _| {
                    resumed.lock().unwrap().push(generated)
                })
                .await
            {
                // Busy, or the store unavailable for the moment (a loaded
                // machine's pool waiting on the unwinding unit).
                Err(error)
                    if error.kind() == couponflow_app::ErrorKind::Unavailable && tries < 10 =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                other => break other.unwrap(),
            }
        };
        assert_eq!(
            resumed.lock().unwrap()[0],
            halfway.generated + CODE_BATCH_CHUNK_ROWS
        );
        assert_eq!(
            (done.status, done.generated),
            (CodeBatchStatus::Completed, count)
        );
        assert_eq!(
            stored_codes(app, &batch.id).await,
            count as i64,
            "{}",
            t.url
        );
        assert_eq!(
            app.template(&template_id).await.unwrap().generated,
            count as i64
        );
        assert!(app.running_code_batches().await.unwrap().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_beyond_the_total_limit_is_refused_counting_running_batches() {
    for t in apps().await {
        let app = &t.app;
        let template_id = approved(app, cash(Some(100))).await;
        let refused = app
            .start_code_batch(&actor("ops-1"), &template_id, 101)
            .await;
        assert!(
            matches!(
                refused,
                Err(AppError::TotalLimit {
                    requested: 101,
                    remaining: 100,
                    ..
                })
            ),
            "{}: {refused:?}",
            t.url
        );
        let first = app
            .start_code_batch(&actor("ops-1"), &template_id, 60)
            .await
            .unwrap();
        // Not generated yet, but promised: a second batch sees only 40 left.
        let refused = app
            .start_code_batch(&actor("ops-1"), &template_id, 41)
            .await;
        assert!(
            matches!(refused, Err(AppError::TotalLimit { remaining: 40, .. })),
            "{refused:?}"
        );
        let second = app
            .start_code_batch(&actor("ops-1"), &template_id, 40)
            .await
            .unwrap();
        app.run_code_batch(&first.id, |_, _| {}).await.unwrap();
        app.run_code_batch(&second.id, |_, _| {}).await.unwrap();
        assert_eq!(app.template(&template_id).await.unwrap().generated, 100);
        let refused = app.start_code_batch(&actor("ops-1"), &template_id, 1).await;
        assert!(
            matches!(refused, Err(AppError::TotalLimit { remaining: 0, .. })),
            "{refused:?}"
        );
        assert_eq!(refused.unwrap_err().code(), "TOTAL_LIMIT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_made_only_for_reviewed_templates_that_have_not_ended() {
    for t in apps().await {
        let app = &t.app;
        let draft = app
            .create_template(&actor("ops-1"), template(cash(None)))
            .await
            .unwrap()
            .id;
        let refused = app.start_code_batch(&actor("ops-1"), &draft, 10).await;
        assert!(
            matches!(
                refused,
                Err(AppError::TemplateNotUsable {
                    status: "draft",
                    ..
                })
            ),
            "{refused:?}"
        );
        let missing = app
            .start_code_batch(&actor("ops-1"), "tpl_missing", 10)
            .await;
        assert!(
            matches!(missing, Err(AppError::TemplateNotFound(_))),
            "{missing:?}"
        );
        for count in [0, CODE_BATCH_COUNT_MAX + 1] {
            let refused = app.start_code_batch(&actor("ops-1"), &draft, count).await;
            assert!(
                matches!(refused, Err(AppError::Invalid { .. })),
                "{}: {refused:?}",
                t.url
            );
        }
        let unknown = app.code_batch("cb_missing").await;
        assert!(matches!(unknown, Err(AppError::CodeBatchNotFound(_))));

        let ending = approved(app, cash(None)).await;
        let batch = app
            .start_code_batch(&actor("ops-1"), &ending, 10)
            .await
            .unwrap();
        app.end_template(&actor("ops-1"), &ending).await.unwrap();
        let stopped = app.run_code_batch(&batch.id, |_, _| {}).await;
        assert!(
            matches!(
                stopped,
                Err(AppError::TemplateNotUsable {
                    status: "ended",
                    ..
                })
            ),
            "{stopped:?}"
        );
        let failed = app.code_batch(&batch.id).await.unwrap();
        assert_eq!(
            (failed.status, failed.generated),
            (CodeBatchStatus::Failed, 0)
        );
        let again = app.run_code_batch(&batch.id, |_, _| {}).await;
        assert!(
            matches!(again, Err(AppError::CodeBatchFailed(_))),
            "{again:?}"
        );
        let refused = app.start_code_batch(&actor("ops-1"), &ending, 10).await;
        assert!(matches!(
            refused,
            Err(AppError::TemplateNotUsable {
                status: "ended",
                ..
            })
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_export_lists_every_code_once_in_code_order_across_pages() {
    for t in apps().await {
        let app = &t.app;
        let template_id = approved(app, cash(None)).await;
        let count = 20_500; // more than two pages of the listing
        let batch = app
            .start_code_batch(&actor("ops-1"), &template_id, count)
            .await
            .unwrap();
        app.run_code_batch(&batch.id, |_, _| {}).await.unwrap();
        let mut csv = Vec::new();
        let rows = app
            .export_code_batch_csv(&batch.id, &mut csv)
            .await
            .unwrap();
        assert_eq!(rows, count, "{}", t.url);
        let text = String::from_utf8(csv).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(CSV_HEADER));
        let codes: Vec<&str> = lines
            .map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                assert_eq!(
                    fields[1..],
                    [template_id.as_str(), batch.id.as_str(), "unbound"]
                );
                assert_eq!(code::plausible(fields[0]), Ok(()));
                fields[0]
            })
            .collect();
        assert_eq!(codes.len() as u64, count);
        assert!(
            codes.windows(2).all(|pair| pair[0] < pair[1]),
            "sorted and unique"
        );
        let unknown = app.export_code_batch_csv("cb_missing", Vec::new()).await;
        assert!(matches!(unknown, Err(AppError::CodeBatchNotFound(_))));
    }
}

/// `cargo test --release -p couponflow-app --test codes -- --ignored --nocapture`
/// (with `COUPONFLOW_TEST_DATABASE_URL` set, PostgreSQL too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing run: a million codes"]
async fn a_million_codes_generate_well_under_a_minute() {
    for t in apps().await {
        let app = &t.app;
        let template_id = approved(app, cash(None)).await;
        let count = 1_000_000;
        let started = Instant::now();
        let batch = app
            .start_code_batch(&actor("ops-1"), &template_id, count)
            .await
            .unwrap();
        let chunks = Mutex::new((Instant::now(), std::time::Duration::ZERO));
        let done = app
            .run_code_batch(&batch.id, |_, _| {
                let mut chunks = chunks.lock().unwrap();
                chunks.1 = chunks.1.max(chunks.0.elapsed());
                chunks.0 = Instant::now();
            })
            .await
            .unwrap();
        let generated = started.elapsed();
        assert_eq!(done.generated, count);
        let started = Instant::now();
        let rows = app
            .export_code_batch_csv(&batch.id, std::io::sink())
            .await
            .unwrap();
        let exported = started.elapsed();
        assert_eq!(rows, count);
        let backend = t.url.split(':').next().unwrap_or_default();
        let slowest = chunks.lock().unwrap().1;
        println!(
            "{count} codes on {backend}: generated in {generated:.2?} (slowest chunk {slowest:.2?}), \
             exported in {exported:.2?}"
        );
        assert!(generated.as_secs() < 60, "{backend}: {generated:?}");
    }
}
