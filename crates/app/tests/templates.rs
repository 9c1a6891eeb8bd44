#![allow(clippy::unwrap_used)]
//! Template review flow (SPEC §4.9) on every back end.

mod support;

use serde_json::json;

use couponflow_app::AppError;
use couponflow_app::templates::Decision;
use couponflow_core::template::lifecycle::{ReviewStep, TemplateStatus};
use support::*;

fn basic(budget: Option<i64>) -> serde_json::Value {
    let mut limits = json!({"total": 100, "per_user": 1});
    if let Some(budget) = budget {
        limits["budget"] = json!(budget);
    }
    json!({"name": "满300减50", "benefit": {"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 5000}]},
           "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30}, "limits": limits})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_goes_from_draft_through_review_to_active_and_every_step_is_recorded() {
    for t in apps().await {
        let app = &t.app;
        let created = app
            .create_template(&actor("ops-1"), template(basic(None)))
            .await
            .unwrap();
        assert_eq!(created.status, TemplateStatus::Draft, "{}", t.url);
        let id = created.id.clone();
        let submitted = app.submit_template(&actor("ops-1"), &id).await.unwrap();
        assert_eq!(submitted.review_step, Some(ReviewStep::Operations));
        let own = app
            .review_template(&actor("ops-1"), &id, Decision::Approve, None)
            .await;
        assert!(matches!(own, Err(AppError::SelfReview)), "{}", t.url);
        let approved = app
            .review_template(&actor("lead-1"), &id, Decision::Approve, None)
            .await
            .unwrap();
        assert_eq!(approved.status, TemplateStatus::Approved);
        // No claim window: active at once.
        assert_eq!(approved.status_at(app.now()), TemplateStatus::Active);
        let paused = app.pause_template(&actor("ops-1"), &id).await.unwrap();
        assert_eq!(paused.status, TemplateStatus::Paused);
        let resumed = app.resume_template(&actor("ops-1"), &id).await.unwrap();
        assert_eq!(resumed.status, TemplateStatus::Active);
        let events: Vec<String> = app
            .template_events(&id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(
            events,
            ["created", "submitted", "approved", "paused", "resumed"]
        );
        let ended = app.end_template(&actor("ops-1"), &id).await.unwrap();
        assert_eq!(ended.status, TemplateStatus::Ended);
        assert!(matches!(
            app.resume_template(&actor("ops-1"), &id).await,
            Err(AppError::Lifecycle(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_budget_needs_finance_and_a_money_change_goes_back_to_review() {
    for t in apps().await {
        let app = &t.app;
        let id = app
            .create_template(&actor("ops-1"), template(basic(Some(50_000_000))))
            .await
            .unwrap()
            .id;
        app.submit_template(&actor("ops-1"), &id).await.unwrap();
        let after_ops = app
            .review_template(&actor("lead-1"), &id, Decision::Approve, None)
            .await
            .unwrap();
        assert_eq!(
            (after_ops.status, after_ops.review_step),
            (TemplateStatus::PendingReview, Some(ReviewStep::Finance))
        );
        let approved = app
            .review_template(&actor("cfo-1"), &id, Decision::Approve, Some("ok".into()))
            .await
            .unwrap();
        assert_eq!(approved.status, TemplateStatus::Approved);

        let mut renamed = template(basic(Some(50_000_000)));
        renamed.name = "满300减50 (双11)".into();
        let still = app
            .update_template(&actor("ops-1"), &id, renamed)
            .await
            .unwrap();
        assert_eq!(still.status, TemplateStatus::Approved, "{}", t.url);
        let mut richer = template(basic(Some(50_000_000)));
        richer.benefit = serde_json::from_value(
            json!({"kind": "threshold", "tiers": [{"min_amount": 30000, "off": 6000}]}),
        )
        .unwrap();
        let back = app
            .update_template(&actor("ops-1"), &id, richer)
            .await
            .unwrap();
        assert_eq!(back.status, TemplateStatus::PendingReview);
        let rejected = app
            .review_template(
                &actor("lead-1"),
                &id,
                Decision::Reject,
                Some("too generous".into()),
            )
            .await
            .unwrap();
        assert_eq!(rejected.status, TemplateStatus::Rejected);
        let events = app.template_events(&id).await.unwrap();
        assert_eq!(
            events.last().unwrap().reason.as_deref(),
            Some("too generous")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_template_is_refused_and_nothing_is_stored() {
    for t in apps().await {
        let app = &t.app;
        let mut bad = basic(None);
        bad["benefit"] = json!({"kind": "threshold", "tiers": [{"min_amount": 100, "off": 100}]});
        let error = app
            .create_template(&actor("ops-1"), template(bad))
            .await
            .unwrap_err();
        assert_eq!(error.code(), "INVALID_TEMPLATE");
        assert!(
            app.templates(None, None, 10).await.unwrap().is_empty(),
            "{}",
            t.url
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_template_is_stored_active_once_its_claim_window_opens() {
    for t in apps().await {
        let app = &t.app;
        let mut body = basic(None);
        body["claim_window"] = json!({"from": "2026-12-06T00:00:00Z"});
        let id = app
            .create_template(&actor("ops-1"), template(body))
            .await
            .unwrap()
            .id;
        app.submit_template(&actor("ops-1"), &id).await.unwrap();
        app.review_template(&actor("lead-1"), &id, Decision::Approve, None)
            .await
            .unwrap();
        assert_eq!(app.activate_due().await.unwrap(), 0, "{}", t.url);
        assert!(
            app.templates(Some(TemplateStatus::Active), None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        t.clock.advance(chrono::Duration::days(1));
        assert_eq!(app.activate_due().await.unwrap(), 1);
        let active = app
            .templates(Some(TemplateStatus::Active), None, 10)
            .await
            .unwrap();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].id, id);
        let last = app.template_events(&id).await.unwrap().pop().unwrap();
        assert_eq!(
            (last.action.as_str(), last.actor.as_str()),
            ("activated", "system:activation")
        );
        assert_eq!(app.activate_due().await.unwrap(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_limited_to_one_step_cannot_approve_the_other() {
    for t in apps().await {
        let app = &t.app;
        let id = app
            .create_template(&actor("ops-1"), template(basic(Some(50_000_000))))
            .await
            .unwrap()
            .id;
        app.submit_template(&actor("ops-1"), &id).await.unwrap();
        let finance_only = [ReviewStep::Finance];
        let early = app
            .review_template_as(&actor("cfo"), &id, Decision::Approve, None, &finance_only)
            .await;
        assert_eq!(early.unwrap_err().code(), "FORBIDDEN", "{}", t.url);
        let operations_only = [ReviewStep::Operations];
        app.review_template_as(
            &actor("lead"),
            &id,
            Decision::Approve,
            None,
            &operations_only,
        )
        .await
        .unwrap();
        let again = app
            .review_template_as(
                &actor("lead2"),
                &id,
                Decision::Approve,
                None,
                &operations_only,
            )
            .await;
        assert_eq!(again.unwrap_err().code(), "FORBIDDEN");
        let done = app
            .review_template_as(&actor("cfo"), &id, Decision::Approve, None, &finance_only)
            .await
            .unwrap();
        assert_eq!(done.status, TemplateStatus::Approved);
    }
}
