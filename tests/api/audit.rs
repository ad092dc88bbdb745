//! The audit log over HTTP: disconnects and revocations are recorded (who, what, to what, when, from
//! where) and read back with the admin key, newest first, page by page; Postgres keeps them.

use serde_json::json;

use crate::helpers::{now_secs, spawn_app};

const API_KEY: &str = "audit-test-api-key-0001";
const ADMIN_KEY: &str = "audit-test-admin-key-0001";

async fn audit_trail(backend: &[(&str, &str)]) {
    let mut pairs = vec![("API_KEY", API_KEY), ("ADMIN_API_KEY", ADMIN_KEY)];
    pairs.extend_from_slice(backend);
    let app = spawn_app(&pairs).await;
    let token = app.sign(&json!({"sub": "alice", "exp": now_secs() + 600, "jti": "a-1"}));
    let _ws = app.connect_ws(&token).await;
    for (path, body) in [
        ("/api/v1/users/alice/disconnect", json!({"reconnect": false})),
        ("/api/v1/tokens/revoke", json!({"jti": "j-9"})),
        ("/api/v1/tokens/revoke", json!({"user_id": "bob"})),
    ] {
        let reply = app.post(path, &body).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    }

    let page = app.get_with_key("/api/v1/audit?limit=2", Some(ADMIN_KEY)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let events = page.body["events"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["token.revoke_issued_before", "token.revoke"]);
    assert_eq!(events[1]["target"], "j-9");
    assert_eq!(events[1]["actor"], "api_key");
    assert_eq!(events[1]["tenant_id"], "default");
    assert_eq!(events[1]["source_ip"], "127.0.0.1");
    assert!(events[1]["request_id"].is_string() && events[1]["at"].is_string(), "{}", events[1]);
    let cursor = page.body["next_cursor"].as_i64().expect("a next page");
    let rest = app.get_with_key(&format!("/api/v1/audit?limit=2&cursor={cursor}"), Some(ADMIN_KEY)).await;
    let events = rest.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{}", rest.text);
    assert_eq!(events[0]["action"], "user.disconnect");
    assert_eq!(events[0]["target"], "alice");
    assert_eq!(events[0]["details"], json!({"connection_id": null, "reconnect": false, "connections_closed": 1}));
    assert_eq!(rest.body["next_cursor"], json!(null));
    // Only the admin key reads it; the text never holds a key.
    app.get_with_key("/api/v1/audit", Some(API_KEY)).await.assert_error(403, "ADMIN_KEY_REQUIRED");
    app.get_with_key("/api/v1/audit", None).await.assert_error(401, "MISSING_API_KEY");
    app.get_with_key("/api/v1/audit?limit=0", Some(ADMIN_KEY)).await.assert_error(400, "VALIDATION_ERROR");
    app.get_with_key("/api/v1/audit?limt=5", Some(ADMIN_KEY)).await.assert_error(400, "INVALID_QUERY");
    assert!(!page.text.contains(API_KEY) && !page.text.contains(ADMIN_KEY));
}

#[tokio::test]
async fn disconnects_and_revocations_are_audited_in_memory() {
    audit_trail(&[]).await;
}

#[tokio::test]
async fn disconnects_and_revocations_are_audited_in_postgres() {
    let Some((pool, _cleanup)) = crate::support_backends::postgres_database().await else { return };
    let admin =
        std::env::var("ARA_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = pool.connect_options().get_database().expect("a database").to_owned();
    let url = crate::support_backends::with_database(&admin, &name);
    audit_trail(&[("AUDIT_BACKEND", "postgres"), ("DATABASE_URL", &url)]).await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 3);
}

/// Tenant and key changes are administrative actions too; no key material is recorded.
#[tokio::test]
async fn tenant_and_key_changes_are_recorded() {
    let app = spawn_app(&[("ADMIN_API_KEY", ADMIN_KEY), ("TENANT_ENABLED", "true")]).await;
    let admin = |path: &'static str, body: serde_json::Value| {
        let request = app.client.post(app.url(path)).header("x-api-key", ADMIN_KEY).json(&body);
        async move { request.send().await.expect("answered") }
    };
    let secret = "an-hs256-secret-of-the-tenant-0123456789";
    let created = admin(
        "/api/v1/tenants",
        json!({"tenant_id": "acme", "token_keys": [{"kid": "k1", "algorithm": "HS256", "key": secret}]}),
    )
    .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap_or_default());
    let key: serde_json::Value = admin("/api/v1/tenants/acme/keys", json!({})).await.json().await.expect("JSON");
    let key_id = key["key_id"].as_str().expect("key_id").to_owned();
    let suspended = admin("/api/v1/tenants/acme/suspend", json!({})).await;
    assert_eq!(suspended.status(), 200);

    let page = app.get_with_key("/api/v1/audit", Some(ADMIN_KEY)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let actions: Vec<&str> =
        page.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["tenant.suspend", "tenant.key.create", "tenant.create"], "{}", page.text);
    let events = page.body["events"].as_array().unwrap();
    assert_eq!(events[1]["target"], key_id.as_str());
    assert!(events.iter().all(|e| e["actor"] == "admin" && e["tenant_id"] == "acme"), "{}", page.text);
    assert!(!page.text.contains(secret), "no token secret in the audit log");
    assert!(!page.text.contains(key["key"].as_str().unwrap()), "no API key in the audit log");
}
