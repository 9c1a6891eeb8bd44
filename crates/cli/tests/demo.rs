//! `couponflow demo` as an operator runs it: the real binary loads the demo
//! data set into a SQLite file in a temporary directory; the app library
//! then reads what it made. A second run on the same file changes nothing.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::Utc;

use couponflow_app::keys::hash_key;
use couponflow_app::orders::OrderState;
use couponflow_app::{App, Settings};
use couponflow_core::clock::FixedClock;
use couponflow_core::coupon::CouponState;
use couponflow_store::Store;

const USERS: usize = 50;
const ORDERS: usize = 20;
const KINDS: [&str; 10] = [
    "cash",
    "threshold",
    "every",
    "percent",
    "fixed_price",
    "add_on",
    "shipping",
    "cashback",
    "gift",
    "trial",
];

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn demo(url: &str) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_couponflow"))
        .args(["demo", "--database-url", url])
        .env_remove("COUPONFLOW_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

fn url_in(directory: &Path) -> String {
    format!("sqlite://{}", directory.join("couponflow.db").display())
}

/// What the database holds, as the app library sees it.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    templates: Vec<(String, String, String)>,
    wallet_sizes: Vec<usize>,
    /// (points, wallet) per user.
    balances: Vec<(i64, i64)>,
    orders: Vec<(String, OrderState, usize)>,
}

async fn with_app<T>(url: &str, work: impl AsyncFnOnce(&App) -> T) -> T {
    let store = Arc::new(Store::open(url).await.expect("the store opens"));
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let app = App::new(store.clone(), clock, Settings::default());
    let answer = work(&app).await;
    drop(app);
    if let Ok(store) = Arc::try_unwrap(store) {
        store.close().await;
    }
    answer
}

async fn snapshot(app: &App) -> Snapshot {
    let now = app.now();
    let templates = app
        .templates(None, None, 500)
        .await
        .unwrap()
        .into_iter()
        .map(|t| {
            (
                t.id.clone(),
                t.template.benefit().kind().to_owned(),
                t.status_at(now).as_str().to_owned(),
            )
        })
        .collect();
    let mut wallet_sizes = Vec::new();
    let mut balances = Vec::new();
    for n in 0..USERS {
        let user = format!("u-{}", 1001 + n);
        wallet_sizes.push(app.wallet(&user, None).await.unwrap().len());
        let both = app.balances(&user).await.unwrap();
        balances.push((both[0].balance, both[1].balance));
    }
    let mut orders = Vec::new();
    for n in 1..=ORDERS {
        let id = format!("demo-order-{n:02}");
        let order = app.order(&id).await.unwrap();
        let refunds = app.order_refunds(&id).await.unwrap().len();
        orders.push((id, order.state, refunds));
    }
    Snapshot {
        templates,
        wallet_sizes,
        balances,
        orders,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_loads_a_realistic_data_set_once() {
    let directory = tempfile::tempdir().unwrap();
    let url = url_in(directory.path());

    let first = demo(&url);
    assert_eq!(first.code, Some(0), "stderr: {}", first.stderr);
    assert!(
        first.stdout.contains("demo data set loaded"),
        "{}",
        first.stdout
    );

    // The keys printed once: one per role, each stored (by its hash) with that role.
    let printed: Vec<(String, String)> = first
        .stdout
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let role = words.next()?;
            let key = words.next().filter(|k| k.starts_with("cf_"))?;
            Some((role.to_owned(), key.to_owned()))
        })
        .collect();
    let roles: BTreeSet<&str> = printed.iter().map(|(role, _)| role.as_str()).collect();
    for role in [
        "admin", "reviewer", "finance", "service", "merchant", "partner",
    ] {
        assert!(roles.contains(role), "no {role} key in {}", first.stdout);
    }

    let before = with_app(&url, async |app: &App| {
        for (role, key) in &printed {
            let record = app.find_key_by_hash(&hash_key(key)).await.unwrap();
            let record = record.unwrap_or_else(|| panic!("the {role} key is not stored"));
            assert_eq!(&record.role, role);
            if role == "merchant" {
                assert_eq!(record.shops, vec!["s-coffee".to_owned()]);
            }
        }

        let snapshot = snapshot(app).await;
        let kinds: BTreeSet<&str> = snapshot
            .templates
            .iter()
            .filter(|(id, _, _)| id.starts_with("demo-"))
            .map(|(_, kind, _)| kind.as_str())
            .collect();
        assert_eq!(kinds, KINDS.into_iter().collect(), "every benefit kind");
        let statuses: BTreeSet<&str> = snapshot
            .templates
            .iter()
            .map(|(_, _, status)| status.as_str())
            .collect();
        for status in ["draft", "pending_review", "approved", "active", "paused"] {
            assert!(statuses.contains(status), "no {status} template");
        }

        let non_empty = snapshot.wallet_sizes.iter().filter(|n| **n > 0).count();
        assert!(non_empty >= USERS, "{non_empty} non-empty wallets");

        let in_state = |state: OrderState| {
            snapshot
                .orders
                .iter()
                .filter(|(_, s, _)| *s == state)
                .count()
        };
        assert!(in_state(OrderState::Paid) > 0, "{:?}", snapshot.orders);
        assert_eq!(in_state(OrderState::Completed), 3, "{:?}", snapshot.orders);
        assert_eq!(in_state(OrderState::Released), 2, "{:?}", snapshot.orders);
        assert!(in_state(OrderState::Refunded) > 0, "{:?}", snapshot.orders);
        let with_refunds = snapshot.orders.iter().filter(|(_, _, r)| *r > 0).count();
        assert_eq!(with_refunds, 4, "{:?}", snapshot.orders);

        // Cashback of completed orders landed in points; finance credited a wallet.
        assert!(
            snapshot.balances.iter().any(|(points, _)| *points > 0),
            "{:?}",
            snapshot.balances
        );
        assert_eq!(snapshot.balances[0].1, 500, "u-1001's wallet");
        assert!(first.stdout.contains("points"), "{}", first.stdout);

        // Paid orders spent their coupons.
        let paid = app.order("demo-order-02").await.unwrap();
        assert!(!paid.quote.selected.is_empty(), "order 02 used no coupon");
        for code in &paid.quote.selected {
            assert_eq!(app.coupon(code).await.unwrap().state, CouponState::Redeemed);
        }
        snapshot
    })
    .await;

    let second = demo(&url);
    assert_eq!(second.code, Some(0), "stderr: {}", second.stderr);
    assert!(
        second.stdout.contains("already loaded"),
        "{}",
        second.stdout
    );
    assert!(
        !second.stdout.contains("cf_"),
        "no new keys: {}",
        second.stdout
    );

    let after = with_app(&url, async |app: &App| snapshot(app).await).await;
    assert_eq!(before, after, "the second run changed nothing");
}
