//! Tenant quotas over the real server: connections, per user, subscriptions, sends per second,
//! payload size and the offline queue, each exceeded and recovered, and changed live over the API;
//! per-tenant variables; suspension and deletion closing connections; per-tenant Prometheus series.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::tenants::{admin, call, send_as, spawn_tenants, tenant_with_key, ADMIN_KEY, API_KEY};

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
    // Made again under the same id, it starts afresh: none of the old tenant's templates or keys.
    let key = tenant_with_key(&app, "acme", json!({})).await;
    let template = json!({"id": "t", "name": "T", "event_type": "e", "payload_template": {}});
    assert_eq!(send_as(&app, &key, "/api/v1/templates", &template).await.status, 201);
    admin(&app, Method::DELETE, "/api/v1/tenants/acme", None).await;
    let key = tenant_with_key(&app, "acme", json!({})).await;
    call(&app, Method::GET, "/api/v1/templates/t", &key, None, None).await.assert_error(404, "TEMPLATE_NOT_FOUND");
    assert_eq!(admin(&app, Method::GET, "/api/v1/tenants/acme/keys", None).await.body["total"], 1);
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
    let too_big = send_as(&app, &key, "/api/v1/notifications/broadcast", &big).await;
    too_big.assert_error(413, "TENANT_QUOTA_EXCEEDED");
    assert_eq!(
        (&too_big.body["error"]["quota"], &too_big.body["error"]["limit"]),
        (&json!("max_payload_bytes"), &json!(64))
    );
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

#[tokio::test]
async fn offline_queue_quotas_apply_per_tenant() {
    let app = spawn_tenants(&[]).await;
    let small = tenant_with_key(&app, "small", json!({"queue_max_per_user": 2})).await;
    let brief = tenant_with_key(&app, "brief", json!({"queue_ttl_seconds": 1})).await;
    for n in 0..3 {
        let body = json!({"target_user_id": "alice", "event_type": format!("q{n}")});
        assert_eq!(send_as(&app, &small, "/api/v1/notifications/send", &body).await.body["queued"], 1);
        assert_eq!(send_as(&app, API_KEY, "/api/v1/notifications/send", &body).await.body["queued"], 1);
    }
    let body = json!({"target_user_id": "alice", "event_type": "brief"});
    assert_eq!(send_as(&app, &brief, "/api/v1/notifications/send", &body).await.body["queued"], 1);
    let mut ws = app.connect_user("alice", "small").await;
    let replayed = [ws.recv_notification().await, ws.recv_notification().await];
    assert_eq!(replayed.map(|n| n["event_type"].clone()), [json!("q1"), json!("q2")], "the oldest made room");
    ws.expect_no_message(Duration::from_millis(200)).await;
    let mut home = app.connect_user("alice", "default").await;
    for n in 0..3 {
        assert_eq!(home.recv_notification().await["event_type"], format!("q{n}"), "default keeps the server's size");
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut late = app.connect_user("alice", "brief").await;
    late.expect_no_message(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn an_id_of_a_configured_tenants_stem_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ara.toml");
    let toml = format!(
        "[server]\nhost = \"127.0.0.1\"\nport = 0\n[admin]\napi_key = \"{ADMIN_KEY}\"\n\
         [tenant]\nenabled = true\n[tenant.overrides.acme_corp]\nmax_connections = 7\n"
    );
    std::fs::write(&path, toml).unwrap();
    let app = crate::helpers::spawn_app_from(ara::app::Settings::load(Some(&path)).unwrap()).await;
    let taken = admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "acme-corp"}))).await;
    taken.assert_error(409, "TENANT_CONFLICT");
    assert!(taken.text.contains("acme_corp"), "{}", taken.text);
    assert_eq!(
        admin(&app, Method::POST, "/api/v1/tenants", Some(&json!({"tenant_id": "acme_corp"}))).await.status,
        201
    );
    let view = admin(&app, Method::GET, "/api/v1/tenants/acme_corp", None).await;
    assert_eq!(view.body["quotas"]["connections"]["limit"], 7, "the TOML override applies");
}
