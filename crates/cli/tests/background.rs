//! `couponflow serve`'s background work, with nobody calling it: a coupon
//! whose validity passes is expired by the job, and a code batch a previous
//! process left `running` is finished. The data is made through the app
//! library before the server starts; while it runs, the test only reads
//! the SQLite file on a read-only connection of its own, so no request
//! touches what the jobs change.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::json;
use sqlx::{AnyConnection, Connection, Row};

use couponflow_app::claims::{ClaimRequest, ClaimUser};
use couponflow_app::expiry::EXPIRY_ACTOR;
use couponflow_app::templates::Decision;
use couponflow_app::{Actor, App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_core::coupon::CouponState;
use couponflow_core::template::Template;
use couponflow_store::Store;

const ADMIN_KEY: &str = "cf_0123456789abcdef0123456789abcdef";

/// A server process with a one-second expiry interval.
struct Server(Child);

impl Server {
    fn start(url: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_couponflow"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
            .env("COUPONFLOW_BOOTSTRAP_ADMIN_KEY", ADMIN_KEY)
            .env("COUPONFLOW_EXPIRY_INTERVAL_SECS", "1")
            .env(
                "COUPONFLOW_USER_TOKEN_SECRET",
                "a-test-secret-of-at-least-thirty-two-bytes",
            )
            .env("COUPONFLOW_LOG", "warn")
            .env_remove("COUPONFLOW_LISTEN")
            .env_remove("COUPONFLOW_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("a line on stdout");
        assert!(line.starts_with("couponflow listening on"), "{line:?}");
        Server(child)
    }

    /// SIGTERM, then the exit status: the background jobs must not hold
    /// the process up.
    fn stop(mut self) -> Option<i32> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        for _ in 0..100 {
            if let Some(status) = self.0.try_wait().expect("a status") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        panic!("the server did not stop within 5 s of SIGTERM");
    }
}

fn url_in(directory: &Path) -> String {
    format!("sqlite://{}", directory.join("couponflow.db").display())
}

/// Runs `work` on an app whose clock shows `now`, then closes the store so
/// the server has the database to itself.
async fn with_app<T>(
    url: &str,
    now: chrono::DateTime<Utc>,
    work: impl AsyncFnOnce(&App) -> T,
) -> T {
    let store = Arc::new(Store::open_and_migrate(url).await.expect("store"));
    let app = App::new(
        store.clone(),
        Arc::new(FixedClock::new(now)),
        Settings::default(),
    );
    let answer = work(&app).await;
    drop(app);
    if let Ok(store) = Arc::try_unwrap(store) {
        store.close().await;
    }
    answer
}

/// ¥10 off, valid for one day from the claim, approved.
async fn approved_template(app: &App) -> String {
    let body = json!({"name": "10元券", "benefit": {"kind": "cash", "amount": 1000},
        "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 1}});
    let template: Template = serde_json::from_value(body).expect("test template parses");
    let ops = Actor("ops-1".into());
    let id = app.create_template(&ops, template).await.unwrap().id;
    app.submit_template(&ops, &id).await.unwrap();
    app.review_template(&Actor("lead-1".into()), &id, Decision::Approve, None)
        .await
        .unwrap();
    id
}

/// Polls `query` (one text column, bound to `key`) on a read-only
/// connection until it answers `wanted`, for at most `wait`.
async fn wait_for(url: &str, query: &str, key: &str, wanted: &str, wait: Duration) {
    sqlx::any::install_default_drivers();
    let mut connection = AnyConnection::connect(&format!("{url}?mode=ro"))
        .await
        .expect("a read-only connection");
    let deadline = Instant::now() + wait;
    loop {
        let row = sqlx::query(query)
            .bind(key)
            .fetch_one(&mut connection)
            .await
            .expect("the row");
        let seen: String = row.get(0);
        if seen == wanted {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{key} is still {seen}, not {wanted}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    connection.close().await.expect("closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coupon_whose_validity_passes_is_expired_by_the_running_service() {
    let directory = tempfile::tempdir().unwrap();
    let url = url_in(directory.path());
    // Claimed one day less two seconds ago, for one day: valid for two more seconds.
    let claimed_at = Utc::now() - chrono::Duration::days(1) + chrono::Duration::seconds(2);
    let code = with_app(&url, claimed_at, async |app: &App| {
        let template_id = approved_template(app).await;
        let request = ClaimRequest {
            user: ClaimUser {
                id: "u-1".into(),
                ..ClaimUser::default()
            },
            request_id: "claim-1".into(),
            context: serde_json::Value::Null,
        };
        app.claim(&template_id, request).await.unwrap().code
    })
    .await;

    let server = Server::start(&url);
    let state = "SELECT state FROM coupons WHERE code = $1";
    wait_for(&url, state, &code, "expired", Duration::from_secs(20)).await;
    assert_eq!(server.stop(), Some(0), "a graceful stop exits 0");

    let history = with_app(&url, Utc::now(), async |app: &App| {
        app.coupon_history(&code).await.unwrap()
    })
    .await;
    let last = history.last().expect("a history");
    assert_eq!(
        (last.from, last.to, last.actor.as_deref()),
        (
            Some(CouponState::Available),
            CouponState::Expired,
            Some(EXPIRY_ACTOR)
        )
    );
    assert!(last.at > claimed_at + chrono::Duration::days(1), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_batch_left_running_is_finished_when_the_service_starts() {
    let directory = tempfile::tempdir().unwrap();
    let url = url_in(directory.path());
    let batch_id = with_app(&url, Utc::now(), async |app: &App| {
        let template_id = approved_template(app).await;
        let ops = Actor("ops-1".into());
        app.start_code_batch(&ops, &template_id, 300)
            .await
            .unwrap()
            .id
    })
    .await;

    let server = Server::start(&url);
    let status = "SELECT status FROM code_batches WHERE id = $1";
    wait_for(
        &url,
        status,
        &batch_id,
        "completed",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(server.stop(), Some(0));

    let batch = with_app(&url, Utc::now(), async |app: &App| {
        app.code_batch(&batch_id).await.unwrap()
    })
    .await;
    assert_eq!((batch.generated, batch.requested), (300, 300));
}
