//! `GET /v1/templates`: cursor pages, the status filter, and bad paging input.

use serde_json::json;

use crate::harness::{ADMIN_KEY, TestServer, servers, template_json};

/// Walks the list from the first page, answering the ids of each page.
async fn walk(server: &TestServer, query: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/templates?{query}&cursor={cursor}"),
            None => format!("/v1/templates?{query}"),
        };
        let page = server.get(&path, ADMIN_KEY).await;
        let body = page.expect(200);
        let ids = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["id"].as_str().expect("an id").to_owned())
            .collect();
        pages.push(ids);
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 100, "the list never ends");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_list_gives_every_template_once_in_pages_of_the_size_asked() {
    for server in servers().await {
        let mut created = Vec::new();
        for n in 0..5 {
            created.push(
                server
                    .create_template(ADMIN_KEY, &template_json(&format!("t{n}")))
                    .await,
            );
        }
        created.sort();
        let pages = walk(&server, "limit=2").await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1], "{}", server.database);
        assert_eq!(pages.concat(), created);
        let one_page = walk(&server, "limit=5").await;
        assert_eq!(one_page, [created.clone()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_template_list_filters_by_status() {
    for server in servers().await {
        let mut submitted = Vec::new();
        for n in 0..4 {
            let id = server
                .create_template(ADMIN_KEY, &template_json(&format!("t{n}")))
                .await;
            if n % 2 == 0 {
                server
                    .act(&format!("/v1/templates/{id}/submit"), ADMIN_KEY)
                    .await
                    .expect(200);
                submitted.push(id);
            }
        }
        submitted.sort();
        let pending = walk(&server, "status=pending_review&limit=1").await;
        assert_eq!(pending.concat(), submitted, "{}", server.database);
        let drafts = walk(&server, "status=draft").await;
        assert_eq!(drafts.concat().len(), 2);
        let unknown = server.get("/v1/templates?status=sleeping", ADMIN_KEY).await;
        unknown.expect_problem(400, "BAD_QUERY");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paging_input_is_refused_with_its_own_code() {
    for server in servers().await {
        let cursor = server.get("/v1/templates?cursor=not-ours", ADMIN_KEY).await;
        cursor.expect_problem(400, "BAD_CURSOR");
        let zero = server.get("/v1/templates?limit=0", ADMIN_KEY).await;
        assert_eq!(
            zero.expect_problem(422, "VALIDATION_FAILED")["errors"][0]["field"],
            "limit"
        );
        let huge = server.get("/v1/templates?limit=501", ADMIN_KEY).await;
        huge.expect_problem(422, "VALIDATION_FAILED");
        let misspelt = server.get("/v1/templates?limt=2", ADMIN_KEY).await;
        misspelt.expect_problem(400, "BAD_QUERY");
        let empty = server.get("/v1/templates?limit=500", ADMIN_KEY).await;
        assert_eq!(
            *empty.expect(200),
            json!({"items": [], "next_cursor": null})
        );
    }
}
