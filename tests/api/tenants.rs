//! Managed tenants (`TENANT_ENABLED=true`) over the real server: the Tenant API and its shape, keys
//! that act only in their own tenant, every tenant-scoped route refusing tenant B's key on tenant A's
//! resources, suspension, deletion, quotas exceeded and recovered, and limits changed live.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};

pub const ADMIN_KEY: &str = "admin-key-0123456789abcdef";
pub const API_KEY: &str = "api-key-0123456789";

/// A server with managed tenants, an admin key and an API key.
pub async fn spawn_tenants(extra: &[(&str, &str)]) -> TestApp {
    let mut pairs = vec![("TENANT_ENABLED", "true"), ("ADMIN_API_KEY", ADMIN_KEY), ("API_KEY", API_KEY)];
    pairs.extend_from_slice(extra);
    spawn_app(&pairs).await
}

pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    tenant: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let mut headers = vec![("x-api-key", key)];
    if let Some(t) = tenant {
        headers.push(("x-tenant-id", t));
    }
    app.request(method, path, &headers, body).await
}

pub async fn admin(app: &TestApp, method: Method, path: &str, body: Option<&Value>) -> Reply {
    call(app, method, path, ADMIN_KEY, None, body).await
}

/// Creates a tenant (with `limits`) and one key of its; returns the key.
pub async fn tenant_with_key(app: &TestApp, id: &str, limits: Value) -> String {
    let created = admin(app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": id, "limits": limits}))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let key = admin(app, Method::POST, &format!("/api/v1/tenants/{id}/keys"), None).await;
    assert_eq!(key.status, 201, "{}", key.text);
    key.body["key"].as_str().expect("the key is shown once").to_owned()
}

pub async fn send_as(app: &TestApp, key: &str, path: &str, body: &Value) -> Reply {
    call(app, Method::POST, path, key, None, Some(body)).await
}

#[tokio::test]
async fn the_tenant_api_has_the_references_shape() {
    let app = spawn_tenants(&[]).await;
    let created = admin(
        &app,
        Method::POST,
        "/api/v1/tenants",
        Some(&json!({"tenant_id": "acme-corp", "name": "Acme", "metadata": {"plan": "gold"},
            "limits": {"max_connections": 5000, "max_connections_per_user": 10}})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.headers["location"], "/api/v1/tenants/acme-corp");
    let key = tenant_with_key(&app, "globex", json!({})).await;
    let mut ws = app.connect_user("alice", "acme-corp").await;
    ws.subscribe(&["orders"]).await;
    send_as(&app, ADMIN_KEY, "/api/v1/notifications/broadcast", &json!({"event_type": "x", "tenant_id": "acme-corp"}))
        .await
        .assert_error(403, "TENANT_MISMATCH");
    let sent = call(
        &app,
        Method::POST,
        "/api/v1/notifications/broadcast",
        ADMIN_KEY,
        Some("acme-corp"),
        Some(&json!({"event_type": "x"})),
    )
    .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    ws.recv_notification().await;

    let one = admin(&app, Method::GET, "/api/v1/tenants/acme-corp", None).await;
    assert_eq!(one.status, 200, "{}", one.text);
    let t = &one.body;
    assert_eq!(
        (&t["tenant_id"], &t["connections"], &t["users"], &t["channels"], &t["messages_today"]),
        (&json!("acme-corp"), &json!(1), &json!(1), &json!(1), &json!(1)),
        "{t}"
    );
    assert_eq!((&t["status"], &t["name"], &t["metadata"]["plan"]), (&json!("active"), &json!("Acme"), &json!("gold")));
    assert_eq!(t["quotas"]["connections"], json!({"limit": 5000, "used": 1}), "{t}");
    assert_eq!(t["quotas"]["max_connections_per_user"], 10);

    let list = admin(&app, Method::GET, "/api/v1/tenants", None).await;
    let ids: Vec<&str> =
        list.body["tenants"].as_array().unwrap().iter().map(|t| t["tenant_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["acme-corp", "default", "globex"], "default exists from the start");
    assert_eq!(list.body["total"], 3);

    let updated = admin(&app, Method::PUT, "/api/v1/tenants/globex", Some(&json!({"name": "Globex Inc"}))).await;
    assert_eq!((updated.status.as_u16(), &updated.body["name"]), (200, &json!("Globex Inc")));
    admin(&app, Method::PUT, "/api/v1/tenants/globex", Some(&json!({"tenant_id": "other"})))
        .await
        .assert_error(400, "INVALID_REQUEST");
    admin(&app, Method::PUT, "/api/v1/tenants/globex", Some(&json!({"limits": {"max_connections": 0}})))
        .await
        .assert_error(400, "VALIDATION_ERROR");
    admin(&app, Method::PUT, "/api/v1/tenants/globex", Some(&json!({"colour": "red"})))
        .await
        .assert_error(400, "UNKNOWN_FIELD");
    admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "globex"})))
        .await
        .assert_error(409, "TENANT_CONFLICT");
    let stem = admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "acme_corp"}))).await;
    stem.assert_error(409, "TENANT_CONFLICT");
    assert!(stem.text.contains("TENANT_ACME_CORP_"), "{}", stem.text);
    admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "DEFAULT"})))
        .await
        .assert_error(409, "TENANT_CONFLICT");
    admin(&app, Method::DELETE, "/api/v1/tenants/default", None).await.assert_error(409, "TENANT_CONFLICT");
    admin(&app, Method::GET, "/api/v1/tenants/nobody", None).await.assert_error(404, "TENANT_NOT_FOUND");

    let deleted = admin(&app, Method::DELETE, "/api/v1/tenants/globex", None).await;
    assert_eq!((deleted.status.as_u16(), &deleted.body["deleted"]), (200, &json!(true)), "{}", deleted.text);
    send_as(&app, &key, "/api/v1/notifications/broadcast", &json!({"event_type": "x"}))
        .await
        .assert_error(401, "INVALID_API_KEY");
}

#[tokio::test]
async fn only_the_admin_key_manages_tenants() {
    let app = spawn_tenants(&[]).await;
    let key = tenant_with_key(&app, "acme", json!({})).await;
    for k in [API_KEY, key.as_str()] {
        call(&app, Method::GET, "/api/v1/tenants", k, None, None).await.assert_error(403, "ADMIN_KEY_REQUIRED");
        call(&app, Method::GET, "/api/v1/tenants/acme", k, None, None).await.assert_error(403, "ADMIN_KEY_REQUIRED");
        call(&app, Method::POST, "/api/v1/tenants/acme/keys", k, None, None)
            .await
            .assert_error(403, "ADMIN_KEY_REQUIRED");
        call(&app, Method::POST, "/api/v1/tenants/acme/suspend", k, None, None)
            .await
            .assert_error(403, "ADMIN_KEY_REQUIRED");
    }
    app.request(Method::GET, "/api/v1/tenants", &[], None).await.assert_error(401, "MISSING_API_KEY");
    call(&app, Method::GET, "/api/v1/tenants", "ara_tk_wrong", None, None).await.assert_error(401, "INVALID_API_KEY");
}

#[tokio::test]
async fn without_tenant_enabled_the_tenant_api_is_off_and_nothing_else_changes() {
    let app = spawn_app(&[("ADMIN_API_KEY", ADMIN_KEY), ("API_KEY", API_KEY)]).await;
    admin(&app, Method::GET, "/api/v1/tenants", None).await.assert_error(404, "FEATURE_DISABLED");
    call(
        &app,
        Method::POST,
        "/api/v1/notifications/broadcast",
        API_KEY,
        Some("acme"),
        Some(&json!({"event_type": "e"})),
    )
    .await
    .assert_error(403, "TENANT_MISMATCH");
    // Tokens still name their tenant, as before.
    let mut acme = app.connect_user("bob", "acme").await;
    acme.ping().await;
}

#[tokio::test]
async fn keys_act_only_in_their_tenant() {
    let app = spawn_tenants(&[]).await;
    let a = tenant_with_key(&app, "tenant-a", json!({})).await;
    let b = tenant_with_key(&app, "tenant-b", json!({})).await;
    let mut alice_a = app.connect_user("alice", "tenant-a").await;
    let mut alice_b = app.connect_user("alice", "tenant-b").await;
    let mut alice_home = app.connect_user("alice", "default").await;
    let body = json!({"target_user_id": "alice", "event_type": "for-a"});
    let sent = send_as(&app, &a, "/api/v1/notifications/send", &body).await;
    assert_eq!((sent.status.as_u16(), &sent.body["delivered_to"]), (200, &json!(1)), "{}", sent.text);
    assert_eq!(alice_a.recv_notification().await["event_type"], "for-a");
    let home =
        send_as(&app, API_KEY, "/api/v1/notifications/send", &json!({"target_user_id": "alice", "event_type": "home"}))
            .await;
    assert_eq!(home.status, 200);
    assert_eq!(alice_home.recv_notification().await["event_type"], "home", "API_KEY acts in default");
    let named = call(&app, Method::POST, "/api/v1/notifications/send", &a, Some("tenant-b"), Some(&body)).await;
    named.assert_error(403, "TENANT_MISMATCH");
    let in_body = json!({"target_user_id": "alice", "event_type": "x", "tenant_id": "tenant-b"});
    send_as(&app, &a, "/api/v1/notifications/send", &in_body).await.assert_error(403, "TENANT_MISMATCH");
    let batch =
        json!({"notifications": [{"target": {"type": "broadcast"}, "event_type": "x", "tenant_id": "tenant-b"}]});
    send_as(&app, &a, "/api/v1/notifications/batch", &batch).await.assert_error(403, "TENANT_MISMATCH");
    send_as(
        &app,
        &a,
        "/api/v1/notifications/send",
        &json!({"target_user_id": "alice", "event_type": "x", "tenant_id": "tenant-a"}),
    )
    .await;
    assert_eq!(alice_a.recv_notification().await["event_type"], "x", "its own tenant may be named");
    let by_admin = call(
        &app,
        Method::POST,
        "/api/v1/notifications/send",
        ADMIN_KEY,
        Some("tenant-b"),
        Some(&json!({"target_user_id": "alice", "event_type": "adm"})),
    )
    .await;
    assert_eq!(by_admin.status, 200, "{}", by_admin.text);
    assert_eq!(alice_b.recv_notification().await["event_type"], "adm");
    for ws in [&mut alice_a, &mut alice_b, &mut alice_home] {
        ws.expect_no_message(Duration::from_millis(200)).await;
    }
    let _ = b;
}

#[tokio::test]
async fn keys_are_listed_by_prefix_rotated_and_revoked() {
    let app = spawn_tenants(&[]).await;
    let first = tenant_with_key(&app, "acme", json!({})).await;
    let list = admin(&app, Method::GET, "/api/v1/tenants/acme/keys", None).await;
    assert_eq!(list.body["total"], 1, "{}", list.text);
    let listed = &list.body["keys"][0];
    assert!(!list.text.contains(&first), "a key is never listed: {}", list.text);
    assert!(first.starts_with(listed["prefix"].as_str().unwrap()), "the prefix identifies it");
    let key_id = listed["key_id"].as_str().unwrap().to_owned();
    let send = json!({"event_type": "e"});
    assert_eq!(send_as(&app, &first, "/api/v1/notifications/broadcast", &send).await.status, 200);

    let rotated =
        admin(&app, Method::POST, &format!("/api/v1/tenants/acme/keys/{key_id}/rotate?grace_seconds=60"), None).await;
    assert_eq!(rotated.status, 201, "{}", rotated.text);
    let second = rotated.body["key"].as_str().unwrap().to_owned();
    assert_eq!(rotated.body["replaces"]["active"], true, "the old key works through its grace period");
    assert_eq!(send_as(&app, &first, "/api/v1/notifications/broadcast", &send).await.status, 200);
    assert_eq!(send_as(&app, &second, "/api/v1/notifications/broadcast", &send).await.status, 200);

    let revoked = admin(&app, Method::DELETE, &format!("/api/v1/tenants/acme/keys/{key_id}"), None).await;
    assert_eq!((revoked.status.as_u16(), &revoked.body["active"]), (200, &json!(false)), "{}", revoked.text);
    send_as(&app, &first, "/api/v1/notifications/broadcast", &send).await.assert_error(401, "INVALID_API_KEY");
    let second_id = rotated.body["key_id"].as_str().unwrap().to_owned();
    let now = admin(&app, Method::POST, &format!("/api/v1/tenants/acme/keys/{second_id}/rotate"), None).await;
    assert_eq!(now.status, 201);
    send_as(&app, &second, "/api/v1/notifications/broadcast", &send).await.assert_error(401, "INVALID_API_KEY");
    let third = now.body["key"].as_str().unwrap();
    assert_eq!(send_as(&app, third, "/api/v1/notifications/broadcast", &send).await.status, 200);
    admin(&app, Method::DELETE, "/api/v1/tenants/acme/keys/ffffffffffffffff", None)
        .await
        .assert_error(404, "KEY_NOT_FOUND");
    // Another tenant's key id is not found in this one.
    tenant_with_key(&app, "other", json!({})).await;
    admin(&app, Method::DELETE, &format!("/api/v1/tenants/other/keys/{second_id}"), None)
        .await
        .assert_error(404, "KEY_NOT_FOUND");
}

/// Tenant B's key on tenant A's resources: every tenant-scoped route either refuses (naming A) or
/// answers in B only (A's resources do not exist there).
#[tokio::test]
async fn tenant_b_key_never_reaches_tenant_a() {
    let app = spawn_tenants(&[]).await;
    let a = tenant_with_key(&app, "tenant-a", json!({})).await;
    let b = tenant_with_key(&app, "tenant-b", json!({})).await;
    let mut alice = app.connect_user("alice", "tenant-a").await;
    alice.subscribe(&["orders"]).await;
    let template = json!({"id": "greet", "name": "Greet", "event_type": "g", "payload_template": {"x": "{{v}}"}});
    assert_eq!(send_as(&app, &a, "/api/v1/templates", &template).await.status, 201);

    let routes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::POST, "/api/v1/notifications/send", Some(json!({"target_user_id": "alice", "event_type": "e"}))),
        (
            Method::POST,
            "/api/v1/notifications/send-to-users",
            Some(json!({"target_user_ids": ["alice"], "event_type": "e"})),
        ),
        (Method::POST, "/api/v1/notifications/broadcast", Some(json!({"event_type": "e"}))),
        (Method::POST, "/api/v1/notifications/channel", Some(json!({"channel": "orders", "event_type": "e"}))),
        (Method::POST, "/api/v1/notifications/channels", Some(json!({"channels": ["orders"], "event_type": "e"}))),
        (
            Method::POST,
            "/api/v1/notifications/batch",
            Some(json!({"notifications": [{"target": {"type": "broadcast"}, "event_type": "e"}]})),
        ),
        (Method::GET, "/api/v1/templates", None),
        (
            Method::POST,
            "/api/v1/templates",
            Some(json!({"id": "t2", "name": "T", "event_type": "e", "payload_template": {}})),
        ),
        (Method::GET, "/api/v1/templates/greet", None),
        (Method::PUT, "/api/v1/templates/greet", Some(json!({"name": "T", "event_type": "e", "payload_template": {}}))),
        (Method::DELETE, "/api/v1/templates/greet", None),
        (Method::GET, "/api/v1/channels", None),
        (Method::GET, "/api/v1/channels/orders", None),
        (Method::GET, "/api/v1/users/alice/subscriptions", None),
        (Method::GET, "/stats", None),
        (Method::GET, "/api/v1/stats/acks", None),
    ];
    for (method, path, body) in &routes {
        let named = call(&app, method.clone(), path, &b, Some("tenant-a"), body.as_ref()).await;
        named.assert_error(403, "TENANT_MISMATCH");
    }
    for path in ["/api/v1/tenants/tenant-a", "/api/v1/tenants/tenant-a/keys"] {
        call(&app, Method::GET, path, &b, None, None).await.assert_error(403, "ADMIN_KEY_REQUIRED");
    }
    // In its own tenant, B finds none of A's resources and reaches none of A's connections.
    call(&app, Method::GET, "/api/v1/templates/greet", &b, None, None).await.assert_error(404, "TEMPLATE_NOT_FOUND");
    call(&app, Method::DELETE, "/api/v1/templates/greet", &b, None, None).await.assert_error(404, "TEMPLATE_NOT_FOUND");
    let templated = json!({"target_user_id": "alice", "template_id": "greet", "variables": {"v": 1}});
    send_as(&app, &b, "/api/v1/notifications/send", &templated).await.assert_error(404, "TEMPLATE_NOT_FOUND");
    call(&app, Method::GET, "/api/v1/channels/orders", &b, None, None).await.assert_error(404, "CHANNEL_NOT_FOUND");
    call(&app, Method::GET, "/api/v1/users/alice/subscriptions", &b, None, None)
        .await
        .assert_error(404, "USER_NOT_FOUND");
    let channels = call(&app, Method::GET, "/api/v1/channels", &b, None, None).await;
    assert_eq!(channels.body["total"], 0, "{}", channels.text);
    let stats = call(&app, Method::GET, "/stats", &b, None, None).await;
    assert_eq!(
        (&stats.body["tenant_id"], &stats.body["connections"]),
        (&json!("tenant-b"), &json!(0)),
        "{}",
        stats.text
    );
    call(&app, Method::GET, "/api/v1/stats/acks", &b, None, None).await.assert_error(403, "NODE_WIDE_STATS");
    for (_, path, body) in routes.iter().take(6) {
        let sent = send_as(&app, &b, path, body.as_ref().unwrap()).await;
        assert_eq!(sent.status, 200, "{path}: {}", sent.text);
    }
    alice.expect_no_message(Duration::from_millis(300)).await;
    // A's own view still has its template and its channel.
    assert_eq!(call(&app, Method::GET, "/api/v1/templates/greet", &a, None, None).await.status, 200);
    assert_eq!(call(&app, Method::GET, "/api/v1/channels/orders", &a, None, None).await.body["subscriber_count"], 1);
}

#[tokio::test]
async fn tokens_must_name_an_existing_active_tenant() {
    let app = spawn_tenants(&[]).await;
    let refused = app.try_connect_ws(Some(&app.token("alice", "nobody"))).await.err().expect("refused");
    assert_eq!((refused.status, &refused.body["error"]["code"]), (404, &json!("TENANT_NOT_FOUND")));
    let sse =
        app.try_connect_sse(&format!("token={}", app.token("alice", "nobody")), None).await.err().expect("refused");
    sse.assert_error(404, "TENANT_NOT_FOUND");
}

#[tokio::test]
async fn suspending_closes_connections_and_refuses_until_activated() {
    let app = spawn_tenants(&[]).await;
    let key = tenant_with_key(&app, "acme", json!({})).await;
    let mut ws = app.connect_user("alice", "acme").await;
    let mut sse = app.connect_sse("bob", "acme", None).await;
    let mut other = app.connect_user("alice", "default").await;
    let suspended = admin(&app, Method::POST, "/api/v1/tenants/acme/suspend", None).await;
    assert_eq!(
        (suspended.status.as_u16(), &suspended.body["status"]),
        (200, &json!("suspended")),
        "{}",
        suspended.text
    );
    let (close, frames) = ws.recv_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| c.0), Some(4403), "a close code that says so");
    assert!(frames.iter().any(|f| f["code"] == "TENANT_SUSPENDED"), "{frames:?}");
    let last = sse.recv_any().await;
    assert_eq!((last.event.as_str(), &last.json()["code"]), ("error", &json!("TENANT_SUSPENDED")));
    other.ping().await;

    send_as(&app, &key, "/api/v1/notifications/broadcast", &json!({"event_type": "e"}))
        .await
        .assert_error(403, "TENANT_SUSPENDED");
    call(
        &app,
        Method::POST,
        "/api/v1/notifications/broadcast",
        ADMIN_KEY,
        Some("acme"),
        Some(&json!({"event_type": "e"})),
    )
    .await
    .assert_error(403, "TENANT_SUSPENDED");
    let refused = app.try_connect_ws(Some(&app.token("alice", "acme"))).await.err().expect("refused");
    assert_eq!((refused.status, &refused.body["error"]["code"]), (403, &json!("TENANT_SUSPENDED")));

    assert_eq!(admin(&app, Method::POST, "/api/v1/tenants/acme/activate", None).await.body["status"], "active");
    assert_eq!(send_as(&app, &key, "/api/v1/notifications/broadcast", &json!({"event_type": "e"})).await.status, 200);
    app.connect_user("alice", "acme").await.ping().await;
}

#[tokio::test]
async fn deleting_a_tenant_with_connections_needs_force_and_closes_them() {
    let app = spawn_tenants(&[]).await;
    tenant_with_key(&app, "acme", json!({})).await;
    let mut ws = app.connect_user("alice", "acme").await;
    admin(&app, Method::DELETE, "/api/v1/tenants/acme", None).await.assert_error(409, "TENANT_HAS_CONNECTIONS");
    ws.ping().await;
    let forced = admin(&app, Method::DELETE, "/api/v1/tenants/acme?force=true", None).await;
    assert_eq!(forced.body["closed_connections"], 1, "{}", forced.text);
    let (close, _) = ws.recv_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| c.0), Some(4404));
    admin(&app, Method::GET, "/api/v1/tenants/acme", None).await.assert_error(404, "TENANT_NOT_FOUND");
}

#[tokio::test]
async fn connection_quotas_are_enforced_and_recover_and_change_live() {
    let app = spawn_tenants(&[]).await;
    tenant_with_key(&app, "acme", json!({"max_connections": 2, "max_connections_per_user": 1})).await;
    let first = app.connect_user("alice", "acme").await;
    let per_user = app.try_connect_ws(Some(&app.token("alice", "acme"))).await.err().expect("refused");
    assert_eq!((per_user.status, &per_user.body["error"]["code"]), (429, &json!("TENANT_QUOTA_EXCEEDED")));
    assert_eq!(per_user.body["error"]["quota"], "max_connections_per_user");
    let second = app.connect_user("bob", "acme").await;
    let full = app.try_connect_ws(Some(&app.token("carol", "acme"))).await.err().expect("refused");
    assert_eq!(
        (full.status, &full.body["error"]["quota"], &full.body["error"]["limit"]),
        (429, &json!("max_connections"), &json!(2))
    );
    app.connect_user("carol", "default").await.ping().await;
    first.close().await;
    app.wait_for_stat("connections", "1 (bob)", |n| n == 1).await;
    let mut carol = app.connect_user("carol", "acme").await;

    // Raised over the API: applies to the next connect, no restart.
    let raised = admin(
        &app,
        Method::PUT,
        "/api/v1/tenants/acme",
        Some(&json!({"limits": {"max_connections": 3, "max_subscriptions_per_connection": 1}})),
    )
    .await;
    assert_eq!(raised.status, 200, "{}", raised.text);
    app.connect_user("dave", "acme").await.ping().await;
    // And to open connections' next check.
    carol.send_json(&json!({"type": "Subscribe", "payload": {"channels": ["a", "b"]}})).await;
    carol.recv_error("SUBSCRIPTION_LIMIT").await;
    carol.subscribe(&["a"]).await;
    drop(second);
}

#[tokio::test]
async fn send_rate_and_payload_quotas_are_enforced_and_recover() {
    let app = spawn_tenants(&[]).await;
    let key =
        tenant_with_key(&app, "acme", json!({"sends_per_second": 2, "send_burst": 2, "max_payload_bytes": 64})).await;
    let body = json!({"event_type": "e"});
    for _ in 0..2 {
        assert_eq!(send_as(&app, &key, "/api/v1/notifications/broadcast", &body).await.status, 200);
    }
    let over = send_as(&app, &key, "/api/v1/notifications/broadcast", &body).await;
    over.assert_error(429, "TENANT_QUOTA_EXCEEDED");
    assert_eq!((&over.body["error"]["quota"], &over.body["error"]["limit"]), (&json!("sends_per_second"), &json!(2)));
    let retry: u64 = over.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1).contains(&retry), "{retry}");
    // Other tenants have their own budget.
    assert_eq!(send_as(&app, API_KEY, "/api/v1/notifications/broadcast", &body).await.status, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(send_as(&app, &key, "/api/v1/notifications/broadcast", &body).await.status, 200, "recovered");

    let big = json!({"event_type": "e", "payload": {"x": "y".repeat(100)}});
    tokio::time::sleep(Duration::from_millis(600)).await;
    send_as(&app, &key, "/api/v1/notifications/broadcast", &big).await.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        send_as(&app, API_KEY, "/api/v1/notifications/broadcast", &big).await.status,
        200,
        "default's limit is the server's"
    );
    let lifted = admin(&app, Method::PUT, "/api/v1/tenants/acme", Some(&json!({"limits": {}}))).await;
    assert_eq!(lifted.status, 200);
    for _ in 0..5 {
        assert_eq!(
            send_as(&app, &key, "/api/v1/notifications/broadcast", &big).await.status,
            200,
            "limits lifted live"
        );
    }
}

#[tokio::test]
async fn per_tenant_variables_set_a_tenants_connection_limit() {
    let app =
        spawn_tenants(&[("TENANT_ACME_CORP_MAX_CONNECTIONS", "1"), ("TENANT_DEFAULT_MAX_CONNECTIONS_PER_USER", "1")])
            .await;
    tenant_with_key(&app, "acme-corp", json!({})).await;
    let _first = app.connect_user("alice", "acme-corp").await;
    let full = app.try_connect_ws(Some(&app.token("bob", "acme-corp"))).await.err().expect("refused");
    assert_eq!((full.status, &full.body["error"]["quota"]), (429, &json!("max_connections")));
    let _home = app.connect_user("alice", "default").await;
    let per_user = app.try_connect_ws(Some(&app.token("alice", "default"))).await.err().expect("refused");
    assert_eq!(per_user.body["error"]["quota"], "max_connections_per_user", "the defaults apply to `default`");
    let view = admin(&app, Method::GET, "/api/v1/tenants/acme-corp", None).await;
    assert_eq!(view.body["quotas"]["connections"], json!({"limit": 1, "used": 1}));
}

#[tokio::test]
async fn prometheus_gets_a_tenant_label_only_when_asked() {
    for labelled in [false, true] {
        let app = spawn_tenants(&[("TENANT_METRICS_LABEL", if labelled { "true" } else { "false" })]).await;
        let key = tenant_with_key(&app, "acme", json!({})).await;
        let _ws = app.connect_user("alice", "acme").await;
        assert_eq!(
            send_as(&app, &key, "/api/v1/notifications/broadcast", &json!({"event_type": "e"})).await.status,
            200
        );
        let text = app.get("/metrics").await.text;
        if labelled {
            assert!(text.contains(r#"ara_tenant_connections{tenant="acme"} 1"#), "{text}");
            assert!(text.contains(r#"ara_tenant_notifications_sent_total{tenant="acme"} 1"#), "{text}");
            assert!(text.contains(r#"ara_connections_opened_total{tenant="acme",transport="websocket"} 1"#), "{text}");
        } else {
            assert!(!text.contains("tenant=\""), "no tenant label by default");
        }
    }
}
