//! The store's conformance suite for the write pipeline, run against every
//! back end available (SQLite always; PostgreSQL when
//! `COUPONFLOW_TEST_DATABASE_URL` is set, as `.ci/run` does).

use std::sync::Arc;

use sqlx::Row;

use couponflow_store::testing::{fresh_store, fresh_urls};
use couponflow_store::{Store, StoreError};

#[derive(Debug, PartialEq)]
enum UnitError {
    Refused,
    Store(String),
}

impl From<StoreError> for UnitError {
    fn from(error: StoreError) -> Self {
        UnitError::Store(error.to_string())
    }
}

async fn insert_lease(store: &Store, name: String, refuse: bool) -> Result<String, UnitError> {
    store
        .write(move |connection| {
            Box::pin(async move {
                sqlx::query("INSERT INTO leases (name, holder, until_at) VALUES ($1, 'test', 0)")
                    .bind(name.clone())
                    .execute(&mut *connection)
                    .await
                    .map_err(StoreError::from)?;
                if refuse {
                    return Err(UnitError::Refused);
                }
                Ok(name)
            })
        })
        .await
}

async fn lease_names(store: &Store) -> Vec<String> {
    sqlx::query("SELECT name FROM leases ORDER BY name")
        .fetch_all(store.reader())
        .await
        .expect("read leases")
        .iter()
        .map(|row| row.get::<String, _>(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_and_apply_again_as_a_no_op() {
    for url in fresh_urls().await.unwrap() {
        let store = fresh_store(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        assert!(lease_names(&store).await.is_empty(), "{url}");
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_unit_rolls_back_alone_while_its_batch_commits() {
    for url in fresh_urls().await.unwrap() {
        let store = Arc::new(fresh_store(&url).await.unwrap());
        let reader = store.clone();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(
                    async move { insert_lease(&store, format!("l{i:03}"), i % 10 == 0).await },
                )
            })
            .collect();
        let mut refused = 0;
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(name) => assert_eq!(name, format!("l{i:03}")),
                Err(UnitError::Refused) => refused += 1,
                Err(other) => panic!("{url}: unexpected {other:?}"),
            }
        }
        assert_eq!(refused, 20);
        let names = lease_names(&reader).await;
        assert_eq!(names.len(), 180, "{url}");
        assert!(
            names.iter().all(|n| !n.ends_with('0')),
            "refused rows were rolled back"
        );
        let stats = store.pipeline_stats();
        assert_eq!(stats.units_committed, 200);
        assert!(
            stats.batches_committed < 200,
            "{url}: 200 concurrent writes shared batches, got {stats:?}"
        );
        drop(reader);
        Arc::into_inner(store)
            .expect("the last handle")
            .close()
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_violation_names_its_constraint_and_spares_the_batch() {
    for url in fresh_urls().await.unwrap() {
        let store = fresh_store(&url).await.unwrap();
        insert_lease(&store, "same".into(), false).await.unwrap();
        let error = store
            .write(|connection| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO api_keys (id, key_hash, role, shops, templates, label, created_by, created_at) \
                         VALUES ($1, 'h', 'admin', '[]', '[]', '', 't', 0)",
                    )
                    .bind("k1")
                    .execute(&mut *connection)
                    .await?;
                    sqlx::query(
                        "INSERT INTO api_keys (id, key_hash, role, shops, templates, label, created_by, created_at) \
                         VALUES ($1, 'h', 'admin', '[]', '[]', '', 't', 0)",
                    )
                    .bind("k2")
                    .execute(&mut *connection)
                    .await?;
                    Ok::<_, StoreError>(())
                })
            })
            .await
            .unwrap_err();
        assert!(error.is_conflict(Some("api_keys_hash")), "{url}: {error:?}");
        // The failed unit left nothing behind, and the store still writes.
        let keys: i64 = sqlx::query("SELECT COUNT(*) FROM api_keys")
            .fetch_one(store.reader())
            .await
            .unwrap()
            .get(0);
        assert_eq!(keys, 0);
        insert_lease(&store, "after".into(), false).await.unwrap();
        assert_eq!(lease_names(&store).await, ["after", "same"]);
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_are_visible_to_readers_at_once() {
    for url in fresh_urls().await.unwrap() {
        let store = fresh_store(&url).await.unwrap();
        for i in 0..20 {
            insert_lease(&store, format!("n{i:02}"), false)
                .await
                .unwrap();
            assert_eq!(lease_names(&store).await.len(), i + 1, "{url}");
        }
        store.close().await;
    }
}

/// CI must run the PostgreSQL suites, never skip them.
#[test]
fn the_postgresql_suite_is_configured_whenever_ci_runs() {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        assert!(
            std::env::var(couponflow_store::testing::TEST_DATABASE_URL_VAR).is_ok(),
            "CI=true but COUPONFLOW_TEST_DATABASE_URL is not set: the PostgreSQL suites would be skipped"
        );
    }
}

async fn insert_lease_natively(
    store: &Store,
    name: String,
    refuse: bool,
) -> Result<String, UnitError> {
    store
        .write_native(move |connection| {
            connection
                .execute(
                    "INSERT INTO leases (name, holder, until_at) VALUES (?1, 'native', 0)",
                    [&name],
                )
                .map_err(StoreError::from)?;
            if refuse {
                return Err(UnitError::Refused);
            }
            Ok(name)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_units_commit_alone_roll_back_alone_and_map_conflicts() {
    let store = Arc::new(
        fresh_store(&couponflow_store::testing::fresh_sqlite_url())
            .await
            .unwrap(),
    );
    assert!(store.native_writes());
    // Many at once, so that they share batches (with savepoints), mixed
    // with sqlx units in the same batches; every fourth refuses.
    let mut tasks = Vec::new();
    for i in 0..200 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("n{i:03}");
            if i % 2 == 0 {
                insert_lease_natively(&store, name, i % 4 == 0).await
            } else {
                insert_lease(&store, name, false).await
            }
        }));
    }
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => {}
            Err(UnitError::Refused) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 50);
    let names = lease_names(&store).await;
    assert_eq!(names.len(), 150);
    assert!(
        names
            .iter()
            .all(|n| n[1..].parse::<u32>().unwrap() % 4 != 0)
    );
    // A unique violation is a conflict naming what it hit; nothing is kept.
    let again = insert_lease_natively(&store, "n001".into(), false).await;
    assert!(
        matches!(again, Err(UnitError::Store(ref text)) if text.contains("conflict")),
        "{again:?}"
    );
    assert_eq!(lease_names(&store).await.len(), 150);
    Arc::try_unwrap(store).ok().unwrap().close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_takes_no_native_units() {
    let Some(url) = couponflow_store::testing::fresh_postgres_url()
        .await
        .unwrap()
    else {
        return;
    };
    let store = fresh_store(&url).await.unwrap();
    assert!(!store.native_writes());
    let refused = insert_lease_natively(&store, "x".into(), false).await;
    assert!(matches!(refused, Err(UnitError::Store(_))), "{refused:?}");
    assert!(lease_names(&store).await.is_empty());
    store.close().await;
}

/// A unit that counts the leases it sees and stores itself as the next.
fn next_lease_sqlx(
    store: &Store,
) -> impl std::future::Future<Output = couponflow_store::Answered<i64, UnitError>> + '_ {
    store.queue_write(move |connection| {
        Box::pin(async move {
            let seen: i64 = sqlx::query("SELECT COUNT(*) AS n FROM leases")
                .fetch_one(&mut *connection)
                .await
                .map_err(StoreError::from)?
                .try_get("n")
                .map_err(StoreError::from)?;
            sqlx::query("INSERT INTO leases (name, holder, until_at) VALUES ($1, 'queued', 0)")
                .bind(format!("q{seen:04}"))
                .execute(&mut *connection)
                .await
                .map_err(StoreError::from)?;
            Ok(seen)
        })
    })
}

/// Units queued one after another run in that order, each seeing what
/// the ones before it wrote, although their answers are awaited only once
/// all are queued (the claim batcher relies on this). On SQLite, native
/// and sqlx units are queued alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_units_run_in_the_order_queued() {
    for url in fresh_urls().await.unwrap() {
        let store = fresh_store(&url).await.unwrap();
        let mut answers = Vec::new();
        for i in 0..300 {
            if store.native_writes() && i % 3 == 0 {
                answers.push(Box::pin(
                    store
                        .queue_native(|connection| {
                            let seen: i64 = connection
                                .query_row("SELECT COUNT(*) FROM leases", [], |row| row.get(0))
                                .map_err(StoreError::from)?;
                            connection
                        .execute(
                            "INSERT INTO leases (name, holder, until_at) VALUES (?1, 'queued', 0)",
                            [format!("q{seen:04}")],
                        )
                        .map_err(StoreError::from)?;
                            Ok::<i64, UnitError>(seen)
                        })
                        .await,
                )
                    as std::pin::Pin<
                        Box<dyn std::future::Future<Output = Result<i64, UnitError>> + Send>,
                    >);
            } else {
                answers.push(Box::pin(next_lease_sqlx(&store).await));
            }
        }
        for (i, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.await.unwrap(), i as i64, "{url}: unit {i}");
        }
        assert_eq!(lease_names(&store).await.len(), 300, "{url}");
        store.close().await;
    }
}

/// `queue_native_then` hands the unit's result to the callback once, after
/// the commit: the row is there when the callback runs, a failed unit's
/// error reaches it and its writes are rolled back, and a store without
/// native writes answers `Unavailable` at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_gets_each_native_unit_s_result_after_its_commit() {
    for url in fresh_urls().await.unwrap() {
        let store = Arc::new(fresh_store(&url).await.unwrap());
        let (sender, mut results) = tokio::sync::mpsc::unbounded_channel();
        for (name, fails) in [("kept", false), ("failed", true)] {
            let sender = sender.clone();
            store
                .queue_native_then(
                    move |connection| {
                        connection
                            .execute(
                                "INSERT INTO leases (name, holder, until_at) VALUES (?1, 'then', 0)",
                                [name],
                            )
                            .map_err(StoreError::from)?;
                        if fails {
                            return Err(UnitError::Refused);
                        }
                        Ok::<&str, UnitError>(name)
                    },
                    move |result| {
                        let _ = sender.send(result.map_err(|error| format!("{error:?}")));
                    },
                )
                .await;
        }
        drop(sender);
        let mut got = Vec::new();
        while let Some(result) = results.recv().await {
            got.push(result);
        }
        if !store.native_writes() {
            assert_eq!(got.len(), 2, "{url}");
            assert!(
                got.iter()
                    .all(|r| r.as_ref().is_err_and(|e| e.contains("native writes"))),
                "{url}: {got:?}"
            );
            continue;
        }
        assert_eq!(got.len(), 2, "each callback exactly once: {got:?}");
        assert_eq!(got[0], Ok("kept"));
        assert_eq!(got[1], Err("Refused".to_owned()));
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM leases WHERE holder = 'then'")
                .fetch_all(store.reader())
                .await
                .unwrap();
        assert_eq!(names, ["kept"], "the failed unit's row is rolled back");
    }
}
