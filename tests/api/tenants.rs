//! Managed tenants (`TENANT_ENABLED=true`) over the real server: the Tenant API and its shape, keys
//! that act only in their own tenant, every tenant-scoped route refusing tenant B's key on tenant A's
//! resources (and every operation of the served spec). Quotas, suspension and deletion: `tenant_quotas.rs`.

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

/// Every API operation of the served spec, called with tenant B's key on tenant A's resources, is
/// refused with a structured 403: naming A is `TENANT_MISMATCH`, and the Tenant API is
/// `ADMIN_KEY_REQUIRED` whatever it names. A's resources are unchanged afterwards.
#[tokio::test]
async fn every_spec_route_refuses_tenant_b_on_tenant_a() {
    let app = spawn_tenants(&[]).await;
    let a = tenant_with_key(&app, "tenant-a", json!({})).await;
    let b = tenant_with_key(&app, "tenant-b", json!({})).await;
    let a_key_id = admin(&app, Method::GET, "/api/v1/tenants/tenant-a/keys", None).await.body["keys"][0]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut alice = app.connect_user("alice", "tenant-a").await;
    alice.subscribe(&["orders"]).await;
    let template = json!({"id": "greet", "name": "Greet", "event_type": "g", "payload_template": {}});
    assert_eq!(send_as(&app, &a, "/api/v1/templates", &template).await.status, 201);

    let spec: Value = app.get("/api-docs/openapi.json").await.body;
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !(path.starts_with("/api/v1/") || path == "/stats") {
            continue;
        }
        let concrete = path
            .replace("{tenant_id}", "tenant-a")
            .replace("{key_id}", &a_key_id)
            .replace("{id}", "greet")
            .replace("{name}", "orders")
            .replace("{user_id}", "alice");
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let body = matches!(method, Method::POST | Method::PUT).then(|| json!({}));
            let named = call(&app, method.clone(), &concrete, &b, Some("tenant-a"), body.as_ref()).await;
            named.assert_error(403, "TENANT_MISMATCH");
            if path.starts_with("/api/v1/tenants") {
                let plain = call(&app, method.clone(), &concrete, &b, None, body.as_ref()).await;
                plain.assert_error(403, "ADMIN_KEY_REQUIRED");
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} operations checked");
    alice.expect_no_message(Duration::from_millis(200)).await;
    assert_eq!(call(&app, Method::GET, "/api/v1/templates/greet", &a, None, None).await.status, 200);
    assert_eq!(send_as(&app, &a, "/api/v1/notifications/broadcast", &json!({"event_type": "still"})).await.status, 200);
    assert_eq!(alice.recv_notification().await["event_type"], "still", "A's key still works");
    let view = admin(&app, Method::GET, "/api/v1/tenants/tenant-a", None).await;
    assert_eq!((&view.body["status"], &view.body["connections"]), (&json!("active"), &json!(1)));
}

/// A deleted tenant's offline queues go with it: the tenant made again under the id replays
/// nothing of the old one, and another tenant's queue of a user with the same name stays.
#[tokio::test]
async fn deleting_a_tenant_drops_its_offline_queues() {
    let app = spawn_tenants(&[("QUEUE_ENABLED", "true")]).await;
    let acme = tenant_with_key(&app, "acme", json!({})).await;
    let globex = tenant_with_key(&app, "globex", json!({})).await;
    let send = |seq: u32| json!({"target_user_id": "alice", "event_type": "old", "payload": {"seq": seq}});
    for (key, seq) in [(&acme, 1), (&acme, 2), (&globex, 3)] {
        let queued = send_as(&app, key, "/api/v1/notifications/send", &send(seq)).await;
        assert_eq!((queued.status.as_u16(), &queued.body["queued"]), (200, &json!(1)), "{}", queued.text);
    }

    let deleted = admin(&app, Method::DELETE, "/api/v1/tenants/acme", None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let acme = tenant_with_key(&app, "acme", json!({})).await;
    let mut fresh = app.connect_user("alice", "acme").await;
    let live =
        send_as(&app, &acme, "/api/v1/notifications/send", &json!({"target_user_id": "alice", "event_type": "new"}))
            .await;
    assert_eq!(live.body["delivered_to"], 1, "{}", live.text);
    let first = fresh.recv_notification().await;
    assert_eq!(first["event_type"], "new", "the old tenant's queue was not replayed: {first}");

    let mut other = app.connect_user("alice", "globex").await;
    let kept = other.recv_notification().await;
    assert_eq!(kept["payload"]["seq"], 3, "globex's alice keeps her queue: {kept}");
}

/// An unacknowledged notification of a tenant deleted meanwhile is not redelivered (into a queue of
/// the tenant made again under the id, or anywhere).
#[tokio::test]
async fn a_deleted_tenants_unacknowledged_notifications_are_not_redelivered() {
    let settings = [
        ("QUEUE_ENABLED", "true"),
        ("ACK_REDELIVER", "true"),
        ("ACK_TIMEOUT_SECONDS", "1"),
        ("ACK_CLEANUP_INTERVAL_SECONDS", "1"),
    ];
    let app = spawn_tenants(&settings).await;
    let acme = tenant_with_key(&app, "acme", json!({})).await;
    let mut alice = app.connect_user("alice", "acme").await;
    let high = json!({"target_user_id": "alice", "event_type": "old", "priority": "High"});
    assert_eq!(send_as(&app, &acme, "/api/v1/notifications/send", &high).await.body["delivered_to"], 1);
    assert_eq!(alice.recv_notification().await["event_type"], "old");
    drop(alice);

    let deleted = admin(&app, Method::DELETE, "/api/v1/tenants/acme?force=true", None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    // Past the ACK deadline and a few sweeps.
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let acme = tenant_with_key(&app, "acme", json!({})).await;
    let mut again = app.connect_user("alice", "acme").await;
    let live = json!({"target_user_id": "alice", "event_type": "new"});
    assert_eq!(send_as(&app, &acme, "/api/v1/notifications/send", &live).await.body["delivered_to"], 1);
    let first = again.recv_notification().await;
    assert_eq!(first["event_type"], "new", "nothing of the deleted tenant came back: {first}");
    let stats = app.request(Method::GET, "/stats", &[("x-api-key", crate::tenants::API_KEY)], None).await;
    assert_eq!(stats.body["notifications_redelivered"], 0, "{}", stats.text);
}
