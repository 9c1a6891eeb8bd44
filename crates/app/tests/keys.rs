//! API keys (SPEC §13) on every back end: stored only as hashes, scoped by
//! role, revocable, and the first admin key made once.

mod support;

use serde_json::json;
use sqlx::Row;

use couponflow_app::keys::{ROLES, hash_key, is_api_key_format};
use couponflow_app::{App, AppError};
use support::*;

const CONFIGURED_KEY: &str = "cf_0123456789abcdef0123456789abcdef";

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

async fn stored_hashes(app: &App) -> Vec<String> {
    sqlx::query("SELECT key_hash FROM api_keys ORDER BY id")
        .fetch_all(app.store().reader())
        .await
        .unwrap()
        .iter()
        .map(|row| row.get::<String, _>("key_hash"))
        .collect()
}

async fn active_admins(app: &App) -> i64 {
    sqlx::query("SELECT COUNT(*) AS n FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL")
        .fetch_one(app.store().reader())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_shown_once_and_stored_only_as_its_sha256() {
    for t in apps().await {
        let app = &t.app;
        let (record, key) = app
            .create_api_key(&actor("admin-1"), "operator", vec![], vec![], "ops laptop")
            .await
            .unwrap();
        assert!(is_api_key_format(&key), "{key}");
        assert_eq!(
            (record.role.as_str(), record.label.as_str()),
            ("operator", "ops laptop")
        );
        assert_eq!(record.created_by, "admin-1");
        let hashes = stored_hashes(app).await;
        assert_eq!(hashes, [hash_key(&key)], "{}", t.url);
        assert_eq!(hashes[0].len(), 64);
        assert!(
            !hashes[0].contains(&key[3..]),
            "the plaintext is not stored"
        );
        let found = app.find_key_by_hash(&hash_key(&key)).await.unwrap();
        assert_eq!(found, Some(record.clone()));
        assert_eq!(
            app.find_key_by_hash(&hash_key("cf_other")).await.unwrap(),
            None
        );
        assert_eq!(app.api_key(&record.id).await.unwrap(), record);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchant_keys_name_shops_and_partner_keys_name_existing_templates() {
    for t in apps().await {
        let app = &t.app;
        let admin = actor("admin-1");
        let (merchant, _) = app
            .create_api_key(
                &admin,
                "merchant",
                owned(&["s-1", "s-2"]),
                vec![],
                "shop staff",
            )
            .await
            .unwrap();
        assert_eq!(merchant.shops, ["s-1", "s-2"]);
        let template_id = app
            .create_template(
                &admin,
                template(json!({"name": "10元", "benefit": {"kind": "cash", "amount": 1000},
                    "scope": {"include": {"all": true}}, "validity": {"type": "relative", "days": 30}})),
            )
            .await
            .unwrap()
            .id;
        let (partner, _) = app
            .create_api_key(&admin, "partner", vec![], vec![template_id.clone()], "bank")
            .await
            .unwrap();
        assert_eq!(partner.templates, [template_id]);
        let refusals = [
            ("merchant", vec![], vec![]),
            ("partner", vec![], vec![]),
            ("operator", owned(&["s-1"]), vec![]),
            ("root", vec![], vec![]),
        ];
        for (role, shops, templates) in refusals {
            let refused = app.create_api_key(&admin, role, shops, templates, "").await;
            assert!(
                matches!(refused, Err(AppError::Invalid { .. })),
                "{role}: {refused:?}"
            );
        }
        let unknown = app
            .create_api_key(&admin, "partner", vec![], owned(&["tpl_missing"]), "")
            .await;
        assert!(
            matches!(unknown, Err(AppError::TemplateNotFound(_))),
            "{}",
            t.url
        );
        for role in ROLES {
            let (shops, templates) = match role {
                "merchant" => (owned(&["s-1"]), vec![]),
                "partner" => (vec![], vec![partner.templates[0].clone()]),
                _ => (vec![], vec![]),
            };
            let made = app
                .create_api_key(&admin, role, shops, templates, role)
                .await;
            assert!(made.is_ok(), "{role}: {made:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_no_longer_found() {
    for t in apps().await {
        let app = &t.app;
        let (record, key) = app
            .create_api_key(&actor("admin-1"), "service", vec![], vec![], "mall")
            .await
            .unwrap();
        let revoked = app
            .revoke_api_key(&actor("admin-1"), &record.id)
            .await
            .unwrap();
        assert_eq!(revoked.revoked_at, Some(app.now()));
        assert_eq!(
            app.find_key_by_hash(&hash_key(&key)).await.unwrap(),
            None,
            "{}",
            t.url
        );
        t.clock.advance(chrono::Duration::minutes(5));
        let again = app
            .revoke_api_key(&actor("admin-1"), &record.id)
            .await
            .unwrap();
        assert_eq!(
            again.revoked_at, revoked.revoked_at,
            "revoking twice keeps the first time"
        );
        let missing = app.revoke_api_key(&actor("admin-1"), "key_missing").await;
        assert!(matches!(missing, Err(AppError::ApiKeyNotFound(_))));
        assert_eq!(missing.unwrap_err().code(), "API_KEY_NOT_FOUND");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_key_the_first_admin_is_generated_once() {
    for t in apps().await {
        let app = &t.app;
        let key = app
            .ensure_bootstrap_admin(None)
            .await
            .unwrap()
            .expect("a new admin key");
        assert!(is_api_key_format(&key));
        let admin = app
            .find_key_by_hash(&hash_key(&key))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (admin.role.as_str(), admin.created_by.as_str()),
            ("admin", "bootstrap")
        );
        assert_eq!(
            app.ensure_bootstrap_admin(None).await.unwrap(),
            None,
            "{}",
            t.url
        );
        assert_eq!(active_admins(app).await, 1);
        // With the only admin revoked, the next start makes a new one.
        app.revoke_api_key(&actor("admin"), &admin.id)
            .await
            .unwrap();
        let next = app.ensure_bootstrap_admin(None).await.unwrap();
        assert!(next.is_some_and(|next| next != key));
        assert_eq!(active_admins(app).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_bootstrap_key_is_stored_as_admin_once_and_never_printed() {
    for t in apps().await {
        let app = &t.app;
        for _ in 0..3 {
            assert_eq!(
                app.ensure_bootstrap_admin(Some(CONFIGURED_KEY))
                    .await
                    .unwrap(),
                None
            );
        }
        let admin = app
            .find_key_by_hash(&hash_key(CONFIGURED_KEY))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(admin.role, "admin");
        assert_eq!(
            stored_hashes(app).await,
            [hash_key(CONFIGURED_KEY)],
            "{}",
            t.url
        );
        // An admin exists, so nothing is generated either.
        assert_eq!(app.ensure_bootstrap_admin(None).await.unwrap(), None);
        // Revoked on purpose, it stays revoked across restarts.
        app.revoke_api_key(&actor("admin"), &admin.id)
            .await
            .unwrap();
        assert_eq!(
            app.ensure_bootstrap_admin(Some(CONFIGURED_KEY))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            app.find_key_by_hash(&hash_key(CONFIGURED_KEY))
                .await
                .unwrap(),
            None
        );
        let malformed = app.ensure_bootstrap_admin(Some("hunter2")).await;
        assert!(
            matches!(malformed, Err(AppError::Invalid { .. })),
            "{malformed:?}"
        );
    }
}

/// Two nodes (two stores, two pipelines) starting at once on one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_bootstraps_on_two_nodes_make_one_admin() {
    for t in apps().await {
        let second = couponflow_store::Store::open(&t.url).await.unwrap();
        let nodes = [
            std::sync::Arc::new(t.app),
            std::sync::Arc::new(App::new(
                std::sync::Arc::new(second),
                t.clock.clone(),
                couponflow_app::Settings::default(),
            )),
        ];
        let starts: Vec<_> = (0..6)
            .map(|start| {
                let app = nodes[start % 2].clone();
                tokio::spawn(async move { app.ensure_bootstrap_admin(None).await.unwrap() })
            })
            .collect();
        let mut printed = 0;
        for start in starts {
            printed += usize::from(start.await.unwrap().is_some());
        }
        assert_eq!(printed, 1, "{}", t.url);
        assert_eq!(active_admins(&nodes[0]).await, 1);
    }
}
