//! ACK tracking over WebSocket: `Ack` frames, their error codes, expiry, the statistics, and
//! redelivery of unacknowledged High/Critical notifications with the same id.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Incoming, TestApp, WsClient, POLL_DEADLINE};

const QUIET: Duration = Duration::from_millis(300);
const ACK_STATS: &str = "/api/v1/stats/acks";
/// Expiry and redelivery within about a second.
const FAST_EXPIRY: [(&str, &str); 2] = [("ACK_TIMEOUT_SECONDS", "1"), ("ACK_CLEANUP_INTERVAL_SECONDS", "1")];

async fn send_ack(client: &mut WsClient, id: &str) {
    client.send_json(&json!({"type": "Ack", "payload": {"notification_id": id}})).await;
}

/// Acks `id`, which must be confirmed.
async fn ack(client: &mut WsClient, id: &str) {
    send_ack(client, id).await;
    assert_eq!(client.recv_json().await, json!({"type": "acked", "notification_id": id}));
}

/// Acks `id`, which must be refused with `code`.
async fn ack_refused(client: &mut WsClient, id: &str, code: &str) {
    send_ack(client, id).await;
    client.recv_error(code).await;
}

/// Sends to `user` with `priority` and returns the notification id.
async fn send(app: &TestApp, user: &str, priority: &str) -> String {
    let body =
        json!({"target_user_id": user, "event_type": "ack.test", "payload": {"p": priority}, "priority": priority});
    app.send("/api/v1/notifications/send", &body).await.notification_id
}

async fn ack_stats(app: &TestApp) -> Value {
    let reply = app.get(ACK_STATS).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

fn counts(stats: &Value) -> (Option<u64>, Option<u64>, Option<u64>) {
    (stats["pending"].as_u64(), stats["acknowledged"].as_u64(), stats["expired"].as_u64())
}

/// Polls the ACK statistics until `pred` holds.
async fn wait_for_ack_stats(app: &TestApp, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        let stats = ack_stats(app).await;
        if pred(&stats) {
            return stats;
        }
        assert!(Instant::now() < deadline, "{ACK_STATS} never showed {what}; last: {stats}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_ack_is_confirmed_once() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let id = send(&app, "alice", "normal").await;
    assert_eq!(alice.recv_notification().await["id"], id.as_str());
    assert_eq!(counts(&ack_stats(&app).await), (Some(1), Some(0), Some(0)), "delivered and awaiting its ACK");

    ack(&mut alice, &id).await;
    ack_refused(&mut alice, &id, "ALREADY_ACKNOWLEDGED").await;
    let stats = ack_stats(&app).await;
    assert_eq!(counts(&stats), (Some(0), Some(1), Some(0)), "{stats}");
    assert!(stats["average_ack_time_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{stats}");
    // The connection is unharmed by the refusal.
    alice.ping().await;
}

#[tokio::test]
async fn acks_for_other_users_unknown_or_malformed_ids_are_refused() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    let mut acme_alice = app.connect_user("alice", "acme").await;
    let id = send(&app, "alice", "high").await;
    assert_eq!(alice.recv_notification().await["id"], id.as_str());

    ack_refused(&mut bob, &id, "NOT_YOUR_NOTIFICATION").await;
    ack_refused(&mut acme_alice, &id, "NOT_YOUR_NOTIFICATION").await;
    ack_refused(&mut bob, &uuid::Uuid::now_v7().to_string(), "UNKNOWN_NOTIFICATION").await;
    ack_refused(&mut bob, "not-a-uuid", "INVALID_NOTIFICATION_ID").await;
    ack_refused(&mut bob, "", "INVALID_NOTIFICATION_ID").await;
    // Broadcasts are not tracked.
    let broadcast = app.broadcast("b", json!({})).await.notification_id;
    for client in [&mut alice, &mut bob, &mut acme_alice] {
        if client.tenant_id == "default" {
            assert_eq!(client.recv_notification().await["id"], broadcast.as_str());
        }
    }
    ack_refused(&mut alice, &broadcast, "UNKNOWN_NOTIFICATION").await;

    // None of that changed anything: alice can still ACK her notification.
    assert_eq!(counts(&ack_stats(&app).await), (Some(1), Some(0), Some(0)));
    ack(&mut alice, &id).await;
    for client in [&mut alice, &mut bob, &mut acme_alice] {
        client.expect_no_message(QUIET).await;
    }
}

#[tokio::test]
async fn ack_statistics_add_up_on_both_endpoints() {
    let app = spawn_app(&[]).await;
    let mut phone = app.connect_user("alice", "default").await;
    let mut laptop = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    let mut alice_ids = Vec::new();
    for _ in 0..3 {
        let id = send(&app, "alice", "normal").await;
        for device in [&mut phone, &mut laptop] {
            assert_eq!(device.recv_notification().await["id"], id.as_str());
        }
        alice_ids.push(id);
    }
    let bob_id = send(&app, "bob", "low").await;
    bob.recv_notification().await;
    // Tracked per user, not per device: 3 for alice (on two devices) and 1 for bob.
    assert_eq!(counts(&ack_stats(&app).await), (Some(4), Some(0), Some(0)));

    ack(&mut phone, &alice_ids[0]).await;
    // Her other device cannot ACK it again.
    ack_refused(&mut laptop, &alice_ids[0], "ALREADY_ACKNOWLEDGED").await;
    ack(&mut laptop, &alice_ids[1]).await;
    ack(&mut bob, &bob_id).await;

    let stats = ack_stats(&app).await;
    assert_eq!(counts(&stats), (Some(1), Some(3), Some(0)), "{stats}");
    let average = stats["average_ack_time_ms"].as_f64().unwrap_or(-1.0);
    assert!((0.0..5000.0).contains(&average), "average_ack_time_ms {average}: {stats}");
    let all = app.stats().await;
    assert_eq!(all["acks"], stats, "/stats `acks` holds the same numbers: {all}");
}

#[tokio::test]
async fn an_ack_after_the_deadline_is_expired() {
    let app = spawn_app(&FAST_EXPIRY).await;
    let mut alice = app.connect_user("alice", "default").await;
    let id = send(&app, "alice", "normal").await;
    alice.recv_notification().await;

    let stats = wait_for_ack_stats(&app, "the ACK expired", |s| s["expired"].as_u64().is_some_and(|n| n >= 1)).await;
    assert_eq!(counts(&stats), (Some(0), Some(0), Some(1)), "{stats}");
    ack_refused(&mut alice, &id, "ACK_EXPIRED").await;
    let all = app.stats().await;
    assert!(all["acks_expired"].as_u64().is_some_and(|n| n >= 1), "{all}");
    assert_eq!(all["acks"]["expired"], 1, "{all}");
    // Without redelivery (the default) a Normal notification is not sent again.
    alice.expect_no_message(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn with_acks_disabled_acks_are_refused_and_there_are_no_statistics() {
    let app = spawn_app(&[("ACK_ENABLED", "false")]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let id = send(&app, "alice", "high").await;
    alice.recv_notification().await;
    ack_refused(&mut alice, &id, "ACK_DISABLED").await;
    app.get(ACK_STATS).await.assert_error(404, "FEATURE_DISABLED");
    let stats = app.stats().await;
    assert!(stats.get("acks").is_none_or(Value::is_null), "no ACK numbers without ACK tracking: {stats}");
}

/// With `ACK_REDELIVER=true`, a High notification that is not acknowledged in time comes again with
/// the same id; a Normal one does not; once acknowledged, no more copies come.
#[tokio::test]
async fn unacknowledged_high_priority_notifications_are_redelivered_with_the_same_id() {
    let mut settings = vec![("ACK_REDELIVER", "true")];
    settings.extend(FAST_EXPIRY);
    let app = spawn_app(&settings).await;
    let mut alice = app.connect_user("alice", "default").await;
    let high = send(&app, "alice", "high").await;
    let normal = send(&app, "alice", "normal").await;
    let first = alice.recv_notification().await;
    assert_eq!(first["id"], high.as_str());
    assert_eq!(alice.recv_notification().await["id"], normal.as_str());

    // Expired after 1 s, swept within the next second: the copy comes in about 1–2 s.
    let again = match alice.next_within(Duration::from_secs(5)).await {
        Some(Incoming::Json(frame)) => frame,
        other => panic!("expected the High notification again, got {other:?}"),
    };
    assert_eq!(again, first, "the very same notification, same id, is sent again");
    ack(&mut alice, &high).await;
    ack_refused(&mut alice, &normal, "ACK_EXPIRED").await;

    // Several more sweeps: nothing else arrives (the High one is acknowledged, the Normal one is not
    // redelivered).
    alice.expect_no_message(Duration::from_millis(3000)).await;
    let stats = app.stats().await;
    assert_eq!(stats["notifications_redelivered"], 1, "{stats}");
    assert_eq!(counts(&stats["acks"]), (Some(0), Some(1), Some(2)), "two expiries, one ACK: {stats}");
}

/// A High notification whose user went offline before acknowledging it is redelivered into the
/// queue, and replayed with the same id when the user returns.
#[tokio::test]
async fn a_redelivery_for_an_offline_user_goes_into_the_queue() {
    let mut settings = vec![("ACK_REDELIVER", "true")];
    settings.extend(FAST_EXPIRY);
    let app = spawn_app(&settings).await;
    let mut alice = app.connect_user("alice", "default").await;
    let id = send(&app, "alice", "critical").await;
    assert_eq!(alice.recv_notification().await["id"], id.as_str());
    alice.close().await;

    app.wait_for_stats("the redelivery queued", |s| s["queue"]["queued_messages"] == 1).await;
    let mut back = app.connect_user("alice", "default").await;
    let n = back.recv_notification().await;
    assert_eq!((n["id"].as_str(), n["priority"].as_str()), (Some(id.as_str()), Some("Critical")), "{n}");
    ack(&mut back, &id).await;
    back.expect_no_message(Duration::from_millis(2500)).await;
}

#[tokio::test]
async fn replayed_notifications_are_tracked_and_can_be_acknowledged() {
    let app = spawn_app(&[]).await;
    let first = send(&app, "alice", "normal").await;
    let second = send(&app, "alice", "low").await;
    assert_eq!(counts(&ack_stats(&app).await), (Some(0), Some(0), Some(0)), "queued is not delivered");
    let mut alice = app.connect_user("alice", "default").await;
    assert_eq!(alice.recv_notification().await["id"], first.as_str());
    assert_eq!(alice.recv_notification().await["id"], second.as_str());
    assert_eq!(counts(&ack_stats(&app).await), (Some(2), Some(0), Some(0)), "replayed is delivered");
    ack(&mut alice, &second).await;
    ack(&mut alice, &first).await;
    assert_eq!(counts(&ack_stats(&app).await), (Some(0), Some(2), Some(0)));
}

/// Redelivery gives up once the notification's own ttl has run out, so a client that never ACKs is
/// not sent the same notification forever.
#[tokio::test]
async fn redelivery_stops_when_the_notification_expires() {
    let mut settings = vec![("ACK_REDELIVER", "true")];
    settings.extend(FAST_EXPIRY);
    let app = spawn_app(&settings).await;
    let mut alice = app.connect_user("alice", "default").await;
    let body = json!({"target_user_id": "alice", "event_type": "short", "priority": "high", "ttl": 2});
    let id = app.send("/api/v1/notifications/send", &body).await.notification_id;

    // The ttl runs out 2 s after the send; any copy comes before the sweep after that.
    let mut copies = 0;
    let until = Instant::now() + Duration::from_millis(4500);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match alice.next_within(left).await {
            Some(Incoming::Json(frame)) => {
                assert_eq!(frame["id"], id.as_str(), "{frame}");
                copies += 1;
            }
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
    assert!((1..=3).contains(&copies), "the original and at most a copy or two: {copies}");
    alice.expect_no_message(Duration::from_millis(2500)).await;
}
