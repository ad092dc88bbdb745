//! Every target type, multi-device delivery, and channel subscriptions.

use std::time::Duration;

use serde_json::json;

use crate::helpers::spawn_app;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn send_to_user_reaches_every_device_of_that_user_and_nobody_else() {
    let app = spawn_app(&[]).await;
    let mut phone = app.connect_user("alice", "default").await;
    let mut laptop = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    assert_ne!(phone.connection_id, laptop.connection_id);

    let report = app
        .send(
            "/api/v1/notifications/send",
            &json!({"target_user_id": "alice", "event_type": "order.shipped", "payload": {"order": 7},
                    "priority": "high", "ttl": 60}),
        )
        .await;
    assert_eq!((report.delivered_to, report.offline_users), (2, 0));

    for device in [&mut phone, &mut laptop] {
        let n = device.recv_notification().await;
        assert_eq!(n["id"], report.notification_id.as_str());
        assert_eq!(n["event_type"], "order.shipped");
        assert_eq!(n["payload"], json!({"order": 7}));
        assert_eq!(n["priority"], "High");
        assert_eq!(n["ttl"], 60);
        let ts = n["timestamp"].as_str().expect("timestamp is a string");
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'), "timestamp {ts}");
        device.expect_no_message(QUIET).await;
    }
    bob.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn send_to_an_offline_user_reports_it_offline() {
    let app = spawn_app(&[]).await;
    let mut bob = app.connect_user("bob", "default").await;
    let report = app.send_to_user("nobody-home", "ping", json!({})).await;
    assert_eq!((report.delivered_to, report.offline_users), (0, 1));
    bob.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn send_to_users_reaches_each_listed_user_once() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    let mut eve = app.connect_user("eve", "default").await;

    let report = app
        .send(
            "/api/v1/notifications/send-to-users",
            &json!({"target_user_ids": ["alice", "bob", "alice", "carol"], "event_type": "team.update",
                    "payload": {"v": 1}}),
        )
        .await;
    assert_eq!((report.delivered_to, report.offline_users), (2, 1), "alice listed twice, carol offline");

    for client in [&mut alice, &mut bob] {
        let n = client.recv_notification().await;
        assert_eq!(
            (n["id"].as_str(), n["event_type"].as_str()),
            (Some(report.notification_id.as_str()), Some("team.update"))
        );
        assert_eq!(n["priority"], "Normal", "priority defaults to Normal");
        assert!(n.get("ttl").is_none(), "ttl only appears when set: {n}");
        client.expect_no_message(QUIET).await;
    }
    eve.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn broadcast_reaches_every_connection() {
    let app = spawn_app(&[]).await;
    let mut clients = vec![
        app.connect_user("a", "default").await,
        app.connect_user("a", "default").await,
        app.connect_user("b", "default").await,
    ];

    let report = app.broadcast("maintenance", json!({"at": "22:00"})).await;
    assert_eq!((report.delivered_to, report.offline_users), (3, 0));
    for client in &mut clients {
        let n = client.recv_notification().await;
        assert_eq!((n["event_type"].as_str(), n["payload"]["at"].as_str()), (Some("maintenance"), Some("22:00")));
        client.expect_no_message(QUIET).await;
    }
}

#[tokio::test]
async fn payload_defaults_to_an_empty_object() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("a", "default").await;
    app.send("/api/v1/notifications/broadcast", &json!({"event_type": "bare"})).await;
    assert_eq!(client.recv_notification().await["payload"], json!({}));
}

#[tokio::test]
async fn channel_send_reaches_only_subscribers() {
    let app = spawn_app(&[]).await;
    let mut reader = app.connect_user("reader", "default").await;
    let mut other = app.connect_user("other", "default").await;
    reader.subscribe(&["news"]).await;
    other.subscribe(&["sports"]).await;

    let report = app.send_to_channel("news", "headline", json!({"title": "hi"})).await;
    assert_eq!(report.delivered_to, 1);
    let n = reader.recv_notification().await;
    assert_eq!((n["event_type"].as_str(), n["id"].as_str()), (Some("headline"), Some(report.notification_id.as_str())));
    other.expect_no_message(QUIET).await;

    // Nobody listens on a channel nobody subscribed to; that is not an error.
    assert_eq!(app.send_to_channel("empty", "headline", json!({})).await.delivered_to, 0);
    reader.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn channels_send_gives_a_connection_in_several_of_them_one_copy() {
    let app = spawn_app(&[]).await;
    let mut both = app.connect_user("both", "default").await;
    let mut sports = app.connect_user("sports-fan", "default").await;
    let mut weather = app.connect_user("weather-fan", "default").await;
    both.subscribe(&["news", "sports"]).await;
    sports.subscribe(&["sports"]).await;
    weather.subscribe(&["weather"]).await;

    let report = app
        .send(
            "/api/v1/notifications/channels",
            &json!({"channels": ["news", "sports"], "event_type": "digest", "payload": {}}),
        )
        .await;
    assert_eq!(report.delivered_to, 2);
    for client in [&mut both, &mut sports] {
        assert_eq!(client.recv_notification().await["id"], report.notification_id.as_str());
        client.expect_no_message(QUIET).await;
    }
    weather.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn after_unsubscribe_no_more_channel_messages_arrive() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;
    client.subscribe(&["news", "sports"]).await;
    assert_eq!(app.send_to_channel("news", "e", json!({"n": 1})).await.delivered_to, 1);
    assert_eq!(client.recv_notification().await["payload"]["n"], 1);

    client.unsubscribe(&["news"]).await;
    assert_eq!(app.send_to_channel("news", "e", json!({"n": 2})).await.delivered_to, 0);
    client.expect_no_message(QUIET).await;

    // The other subscription is untouched.
    assert_eq!(app.send_to_channel("sports", "e", json!({"n": 3})).await.delivered_to, 1);
    assert_eq!(client.recv_notification().await["payload"]["n"], 3);
}

#[tokio::test]
async fn subscribing_twice_to_a_channel_still_gives_one_copy() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;
    client.subscribe(&["news"]).await;
    client.subscribe(&["news"]).await;
    assert_eq!(app.send_to_channel("news", "e", json!({})).await.delivered_to, 1);
    client.recv_notification().await;
    client.expect_no_message(QUIET).await;
}
