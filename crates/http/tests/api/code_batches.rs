//! Unbound code batches over HTTP (SPEC §5.1): a batch is accepted at once
//! and made in the background, its progress is polled, its codes are
//! downloaded as CSV; `limits.total`, the template's state and the caller's
//! scope are enforced.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use couponflow_app::codes::CSV_HEADER;
use couponflow_core::code;
use serde_json::{Value, json};

use crate::harness::{ADMIN_KEY, TestServer, servers};

/// ¥10 redemption codes, `total` of them at most.
fn cash(total: u64) -> Value {
    json!({"name": "兑换码 10元", "benefit": {"kind": "cash", "amount": 1000},
           "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30},
           "limits": {"total": total, "per_user": 1}})
}

/// Starts a batch as the admin and answers its id.
async fn started(server: &TestServer, template: &str, count: u64) -> String {
    let path = format!("/v1/templates/{template}/code-batches");
    let answer = server
        .post(&path, ADMIN_KEY, &json!({"count": count}))
        .await;
    answer.expect(202)["id"]
        .as_str()
        .expect("a batch id")
        .to_owned()
}

/// Polls the batch until it is no longer `running`; answers it.
async fn finished(server: &TestServer, batch: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = server
            .get(&format!("/v1/code-batches/{batch}"), ADMIN_KEY)
            .await;
        let body = answer.expect(200).clone();
        if body["status"] != "running" {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{batch} still running: {body} on {}",
            server.database
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The CSV download as `bearer`: status, content type, content disposition, body.
async fn download(server: &TestServer, batch: &str, bearer: &str) -> (u16, String, String, String) {
    let response = reqwest::Client::new()
        .get(server.url(&format!("/v1/code-batches/{batch}/codes.csv")))
        .bearer_auth(bearer)
        .send()
        .await
        .expect("the server answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let status = response.status().as_u16();
    let body = response.text().await.expect("a readable body");
    (status, content_type, disposition, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_accepted_at_once_made_in_the_background_and_downloaded_as_csv() {
    for server in servers().await {
        let template = server.active_template(&cash(5_000)).await;
        let path = format!("/v1/templates/{template}/code-batches");
        let answer = server
            .post(&path, ADMIN_KEY, &json!({"count": 2_000}))
            .await;
        let accepted = answer.expect(202).clone();
        let batch = accepted["id"].as_str().expect("a batch id").to_owned();
        assert_eq!(
            answer.location.as_deref(),
            Some(format!("/v1/code-batches/{batch}").as_str())
        );
        assert_eq!(
            (
                &accepted["template_id"],
                &accepted["requested"],
                &accepted["generated"],
                &accepted["status"]
            ),
            (
                &json!(template),
                &json!(2_000),
                &json!(0),
                &json!("running")
            ),
            "{}",
            server.database
        );

        let done = finished(&server, &batch).await;
        assert_eq!(
            (&done["status"], &done["generated"]),
            (&json!("completed"), &json!(2_000)),
            "{done}"
        );
        assert!(done["finished_at"].is_string(), "{done}");

        let (status, content_type, disposition, csv) = download(&server, &batch, ADMIN_KEY).await;
        assert_eq!(status, 200, "{csv}");
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        assert_eq!(disposition, format!("attachment; filename=\"{batch}.csv\""));
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2_001, "a header and 2,000 codes");
        assert_eq!(lines[0], CSV_HEADER);
        let mut codes = HashSet::new();
        for line in &lines[1..] {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(
                fields[1..],
                [template.as_str(), &batch, "unbound"],
                "{line}"
            );
            assert_eq!(code::plausible(fields[0]), Ok(()), "{line}");
            codes.insert(fields[0]);
        }
        assert_eq!(codes.len(), 2_000, "every code is different");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_beyond_the_total_limit_is_refused_with_what_remains() {
    for server in servers().await {
        let template = server.active_template(&cash(10)).await;
        let path = format!("/v1/templates/{template}/code-batches");
        let answer = server.post(&path, ADMIN_KEY, &json!({"count": 11})).await;
        let problem = answer.expect_problem(409, "TOTAL_LIMIT");
        assert_eq!(
            (&problem["template"], &problem["remaining"]),
            (&json!(template), &json!(10))
        );
        let batch = started(&server, &template, 10).await;
        let more = server.post(&path, ADMIN_KEY, &json!({"count": 1})).await;
        let problem = more.expect_problem(409, "TOTAL_LIMIT");
        assert_eq!(
            problem["remaining"], 0,
            "a running batch's codes are promised"
        );
        finished(&server, &batch).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_made_only_for_approved_templates_and_counts_within_bounds() {
    for server in servers().await {
        let draft = server.create_template(ADMIN_KEY, &cash(100)).await;
        let path = format!("/v1/templates/{draft}/code-batches");
        let answer = server.post(&path, ADMIN_KEY, &json!({"count": 1})).await;
        let problem = answer.expect_problem(409, "TEMPLATE_STATE");
        assert_eq!(problem["template_status"], "draft");

        let live = server.active_template(&cash(100)).await;
        let path = format!("/v1/templates/{live}/code-batches");
        for count in [0, 10_000_001] {
            let answer = server
                .post(&path, ADMIN_KEY, &json!({"count": count}))
                .await;
            answer.expect_problem(422, "VALIDATION_FAILED");
        }
        let unknown = server
            .post(
                "/v1/templates/no-such-template/code-batches",
                ADMIN_KEY,
                &json!({"count": 1}),
            )
            .await;
        unknown.expect_problem(404, "TEMPLATE_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_batch_is_not_found() {
    for server in servers().await {
        let answer = server
            .get("/v1/code-batches/cb_nosuchbatch", ADMIN_KEY)
            .await;
        let problem = answer.expect_problem(404, "CODE_BATCH_NOT_FOUND");
        assert_eq!(problem["code_batch"], "cb_nosuchbatch");
        let (status, content_type, _, body) = download(&server, "cb_nosuchbatch", ADMIN_KEY).await;
        assert_eq!(
            (status, content_type.as_str()),
            (404, "application/problem+json"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_downloads_only_the_batches_of_its_own_templates() {
    for server in servers().await {
        let shared = server.active_template(&cash(100)).await;
        let other = server.active_template(&cash(100)).await;
        let partner = server.scoped_key("partner", &[], &[&shared]).await;
        let (own, foreign) = (
            started(&server, &shared, 5).await,
            started(&server, &other, 5).await,
        );
        finished(&server, &own).await;
        finished(&server, &foreign).await;

        let (status, _, _, csv) = download(&server, &own, &partner).await;
        assert_eq!((status, csv.lines().count()), (200, 6), "{csv}");
        let (status, _, _, body) = download(&server, &foreign, &partner).await;
        assert_eq!(status, 403, "{body}");
        let progress = server
            .get(&format!("/v1/code-batches/{own}"), &partner)
            .await;
        progress.expect_problem(403, "FORBIDDEN");
    }
}
