//! `GET /health` and the numbers of `GET /stats`.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

fn counts(stats: &Value) -> [u64; 5] {
    ["connections", "users", "channels", "notifications_sent", "notifications_delivered"]
        .map(|k| stats[k].as_u64().unwrap_or_else(|| panic!("/stats has no number {k}: {stats}")))
}

#[tokio::test]
async fn health_reports_healthy_with_version_and_uptime() {
    let app = spawn_app(&[]).await;
    let reply = app.get("/health").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["status"], "healthy");
    assert_eq!(reply.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(reply.body["uptime_seconds"].as_u64().is_some_and(|s| s < 60), "{}", reply.text);
}

#[tokio::test]
async fn a_fresh_server_has_zero_everything() {
    let app = spawn_app(&[]).await;
    let stats = app.stats().await;
    assert_eq!(counts(&stats), [0, 0, 0, 0, 0], "{stats}");
    assert_eq!(stats["slow_consumers_disconnected"], 0);
}

#[tokio::test]
async fn stats_count_connections_users_channels_and_notifications() {
    let app = spawn_app(&[]).await;
    let mut phone = app.connect_user("alice", "default").await;
    let mut laptop = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    phone.subscribe(&["news", "sports"]).await;
    bob.subscribe(&["sports"]).await;
    assert_eq!(counts(&app.stats().await), [3, 2, 2, 0, 0]);

    // Each send counts once; deliveries count per connection.
    assert_eq!(app.send_to_user("alice", "e", json!({})).await.delivered_to, 2);
    assert_eq!(app.broadcast("e", json!({})).await.delivered_to, 3);
    assert_eq!(app.send_to_channel("sports", "e", json!({})).await.delivered_to, 2);
    let report = app
        .send(
            "/api/v1/notifications/channels",
            &json!({"channels": ["news", "sports"], "event_type": "e", "payload": {}}),
        )
        .await;
    assert_eq!(report.delivered_to, 2);
    let report = app
        .send(
            "/api/v1/notifications/send-to-users",
            &json!({"target_user_ids": ["alice", "bob", "ghost"], "event_type": "e", "payload": {}}),
        )
        .await;
    assert_eq!((report.delivered_to, report.offline_users), (3, 1));
    assert_eq!(app.send_to_user("ghost", "e", json!({})).await.delivered_to, 0);
    assert_eq!(counts(&app.stats().await), [3, 2, 2, 6, 2 + 3 + 2 + 2 + 3]);

    // Closing connections shrinks the live counts; the totals stay.
    phone.close().await;
    let stats = app.wait_for_stat("connections", "2", |n| n == 2).await;
    assert_eq!(counts(&stats), [2, 2, 1, 6, 12], "news had only the phone: {stats}");
    bob.close().await;
    let stats = app.wait_for_stat("connections", "1", |n| n == 1).await;
    assert_eq!(counts(&stats), [1, 1, 0, 6, 12], "{stats}");
    // The remaining device got its three (user, broadcast, users) and is still served.
    for _ in 0..3 {
        laptop.recv_notification().await;
    }
    laptop.ping().await;
}
