//! Tenants are isolated: HTTP sends act for `default`, and never reach another tenant's connections,
//! even with the same user id or channel name.

use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn default_tenant_sends_never_reach_another_tenant() {
    let app = spawn_app(&[]).await;
    let mut home = app.connect_user("alice", "default").await;
    let mut acme = app.connect_user("alice", "acme").await;
    home.subscribe(&["news"]).await;
    acme.subscribe(&["news"]).await;

    let sends = [
        ("/api/v1/notifications/send", json!({"target_user_id": "alice", "event_type": "user"})),
        ("/api/v1/notifications/send-to-users", json!({"target_user_ids": ["alice"], "event_type": "users"})),
        ("/api/v1/notifications/broadcast", json!({"event_type": "broadcast"})),
        ("/api/v1/notifications/channel", json!({"channel": "news", "event_type": "channel"})),
        ("/api/v1/notifications/channels", json!({"channels": ["news"], "event_type": "channels"})),
    ];
    for (path, body) in sends {
        let report = app.send(path, &body).await;
        assert_eq!(report.delivered_to, 1, "{path}: only the default tenant's connection");
        let n = home.recv_notification().await;
        assert_eq!(n["event_type"], body["event_type"]);
    }
    acme.expect_no_message(Duration::from_millis(300)).await;
    // The acme connection is alive, just not addressed.
    acme.ping().await;
}

#[tokio::test]
async fn another_tenant_alone_is_offline_for_default_sends() {
    let app = spawn_app(&[]).await;
    let mut acme = app.connect_user("bob", "acme").await;
    acme.subscribe(&["alerts"]).await;
    let report = app.send_to_user("bob", "e", json!({})).await;
    assert_eq!((report.delivered_to, report.offline_users), (0, 1), "bob of acme is not bob of default");
    assert_eq!(app.broadcast("e", json!({})).await.delivered_to, 0);
    assert_eq!(app.send_to_channel("alerts", "e", json!({})).await.delivered_to, 0);
    acme.expect_no_message(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn stats_count_users_and_channels_per_tenant() {
    let app = spawn_app(&[]).await;
    let mut home = app.connect_user("alice", "default").await;
    let mut acme = app.connect_user("alice", "acme").await;
    home.subscribe(&["news"]).await;
    acme.subscribe(&["news"]).await;
    let stats = app.stats().await;
    assert_eq!(
        (stats["connections"].as_u64(), stats["users"].as_u64(), stats["channels"].as_u64()),
        (Some(2), Some(2), Some(2)),
        "alice@default and alice@acme are two users, news@default and news@acme two channels: {stats}"
    );
}

#[tokio::test]
async fn without_managed_tenants_a_keyless_server_still_takes_any_request_for_default() {
    let app = spawn_app(&[]).await;
    let mut home = app.connect_user("alice", "default").await;
    let body = json!({"target_user_id": "alice", "event_type": "e"});
    let sent = app.post_with_key("/api/v1/notifications/send", &body, Some("whatever")).await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    home.recv_notification().await;
}
