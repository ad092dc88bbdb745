//! The offline queue (memory backend): user-targeted sends to offline users wait, and are replayed in
//! order, once, to the connection that brings the user back online, before anything live.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, WsClient};

const QUIET: Duration = Duration::from_millis(300);
const SEND: &str = "/api/v1/notifications/send";

/// POSTs a send that must succeed and returns its whole body (which carries `queued`).
async fn send_body(app: &TestApp, path: &str, body: &Value) -> Value {
    let reply = app.post(path, body).await;
    assert_eq!(reply.status, 200, "send to {path} failed: {}", reply.text);
    reply.body
}

/// Sends `{"n": n}` to `user` and returns the send response.
async fn send_n(app: &TestApp, user: &str, n: u64) -> Value {
    send_body(app, SEND, &json!({"target_user_id": user, "event_type": "queued.test", "payload": {"n": n}})).await
}

/// Reads notifications until `QUIET` passes without one; returns their `payload.n`.
async fn drain_ns(client: &mut WsClient) -> Vec<u64> {
    let mut ns = Vec::new();
    while let Some(got) = client.next_within(QUIET).await {
        match got {
            crate::helpers::Incoming::Json(frame) if frame["type"] == "notification" => {
                ns.push(frame["payload"]["n"].as_u64().unwrap_or_else(|| panic!("payload without n: {frame}")));
            }
            other => panic!("expected only notifications, got {other:?}"),
        }
    }
    ns
}

fn queued_messages(stats: &Value) -> u64 {
    stats["queue"]["queued_messages"].as_u64().unwrap_or_else(|| panic!("/stats has no queue.queued_messages: {stats}"))
}

#[tokio::test]
async fn sends_to_an_offline_user_are_queued_and_replayed_in_order_before_live_ones_exactly_once() {
    let app = spawn_app(&[]).await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let body = send_n(&app, "alice", n).await;
        assert_eq!(
            (body["delivered_to"].as_u64(), body["offline_users"].as_u64(), body["queued"].as_u64()),
            (Some(0), Some(1), Some(1)),
            "an offline user's notification is queued: {body}"
        );
        ids.push(body["notification_id"].as_str().expect("notification_id").to_owned());
    }
    let stats = app.stats().await;
    assert_eq!(queued_messages(&stats), 3, "{stats}");
    assert_eq!(stats["queue"]["users_with_queue"], 1, "{stats}");
    assert_eq!(stats["notifications_queued"], 3, "{stats}");

    // A live send races the connection: it is either queued before the replay reads the queue (and
    // replayed last) or delivered live after the replay. Either way it comes fourth, once.
    let (mut alice, live) = tokio::join!(app.connect_user("alice", "default"), send_n(&app, "alice", 4));
    let live_id = live["notification_id"].as_str().expect("notification_id").to_owned();
    for (i, expected) in ids.iter().chain([&live_id]).enumerate() {
        let n = alice.recv_notification().await;
        assert_eq!(n["id"], expected.as_str(), "entry {i} out of order: {n}");
        assert_eq!(n["payload"]["n"], i + 1);
        assert_eq!(n["event_type"], "queued.test");
        assert_eq!(n["priority"], "Normal");
    }
    let n = send_n(&app, "alice", 5).await;
    assert_eq!((n["delivered_to"].as_u64(), n["queued"].as_u64()), (Some(1), Some(0)), "alice is online: {n}");
    assert_eq!(alice.recv_notification().await["payload"]["n"], 5);
    alice.expect_no_message(QUIET).await;

    let stats = app.wait_for_stats("an empty queue", |s| queued_messages(s) == 0).await;
    assert_eq!(stats["queue"]["users_with_queue"], 0, "{stats}");
    assert!(stats["notifications_replayed"].as_u64().is_some_and(|n| n >= 3), "{stats}");

    // Nothing is replayed a second time, neither to a new device nor after a reconnect.
    let mut tablet = app.connect_user("alice", "default").await;
    tablet.expect_no_message(QUIET).await;
    alice.close().await;
    tablet.close().await;
    app.wait_for_stat("users", "0", |n| n == 0).await;
    let mut again = app.connect_user("alice", "default").await;
    again.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn send_to_users_queues_only_for_the_offline_ones() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let body = send_body(
        &app,
        "/api/v1/notifications/send-to-users",
        &json!({"target_user_ids": ["alice", "bob", "carol"], "event_type": "team", "payload": {"n": 1}}),
    )
    .await;
    assert_eq!(
        (body["delivered_to"].as_u64(), body["offline_users"].as_u64(), body["queued"].as_u64()),
        (Some(1), Some(2), Some(2)),
        "{body}"
    );
    assert_eq!(alice.recv_notification().await["id"], body["notification_id"]);
    let stats = app.stats().await;
    assert_eq!((queued_messages(&stats), stats["queue"]["users_with_queue"].as_u64()), (2, Some(2)), "{stats}");

    let mut bob = app.connect_user("bob", "default").await;
    assert_eq!(bob.recv_notification().await["id"], body["notification_id"], "the same id is replayed");
    bob.expect_no_message(QUIET).await;
    alice.expect_no_message(QUIET).await;
    let stats = app.wait_for_stats("only carol's entry left", |s| queued_messages(s) == 1).await;
    assert_eq!(stats["queue"]["users_with_queue"], 1, "{stats}");
}

#[tokio::test]
async fn an_overflowing_queue_keeps_the_newest_entries() {
    let app = spawn_app(&[("QUEUE_MAX_SIZE_PER_USER", "3")]).await;
    for n in 1..=5 {
        assert_eq!(send_n(&app, "alice", n).await["queued"], 1);
    }
    let stats = app.stats().await;
    assert_eq!(stats["queue_dropped"], 2, "the two oldest were dropped: {stats}");
    assert_eq!(queued_messages(&stats), 3, "{stats}");

    let mut alice = app.connect_user("alice", "default").await;
    assert_eq!(drain_ns(&mut alice).await, [3, 4, 5]);
    app.wait_for_stats("an empty queue", |s| queued_messages(s) == 0).await;
}

/// A replay takes only what fits in the connection's outbound queue; the rest waits for the next
/// connection that brings the user online.
#[tokio::test]
async fn what_does_not_fit_the_outbound_queue_waits_for_the_next_connection() {
    let app = spawn_app(&[("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "3")]).await;
    for n in 1..=5 {
        send_n(&app, "alice", n).await;
    }
    let mut alice = app.connect_user("alice", "default").await;
    assert_eq!(drain_ns(&mut alice).await, [1, 2, 3]);
    app.wait_for_stats("two entries left", |s| queued_messages(s) == 2).await;
    alice.close().await;
    app.wait_for_stat("users", "0", |n| n == 0).await;

    let mut again = app.connect_user("alice", "default").await;
    assert_eq!(drain_ns(&mut again).await, [4, 5]);
    app.wait_for_stats("an empty queue", |s| queued_messages(s) == 0).await;
}

#[tokio::test]
async fn a_notification_whose_own_ttl_ran_out_is_not_replayed() {
    let app = spawn_app(&[]).await;
    let short = json!({"target_user_id": "alice", "event_type": "short", "payload": {"n": 1}, "ttl": 1});
    assert_eq!(send_body(&app, SEND, &short).await["queued"], 1);
    let long = json!({"target_user_id": "alice", "event_type": "long", "payload": {"n": 2}, "ttl": 60});
    assert_eq!(send_body(&app, SEND, &long).await["queued"], 1);
    send_n(&app, "alice", 3).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let mut alice = app.connect_user("alice", "default").await;
    let n = alice.recv_notification().await;
    assert_eq!((n["event_type"].as_str(), n["ttl"].as_u64()), (Some("long"), Some(60)), "{n}");
    assert_eq!(alice.recv_notification().await["payload"]["n"], 3);
    alice.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn entries_older_than_the_queue_ttl_are_purged_and_never_replayed() {
    let app = spawn_app(&[("QUEUE_MESSAGE_TTL_SECONDS", "1"), ("QUEUE_CLEANUP_INTERVAL_SECONDS", "1")]).await;
    send_n(&app, "alice", 1).await;
    let long = json!({"target_user_id": "alice", "event_type": "e", "payload": {"n": 2}, "ttl": 600});
    assert_eq!(send_body(&app, SEND, &long).await["queued"], 1, "the shorter of the two ttls applies");
    let stats = app
        .wait_for_stats("both entries purged", |s| queued_messages(s) == 0 && s["queue_expired"].as_u64() == Some(2))
        .await;
    assert_eq!(stats["notifications_replayed"], 0, "{stats}");
    let mut alice = app.connect_user("alice", "default").await;
    alice.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn broadcast_and_channel_sends_are_never_queued() {
    let app = spawn_app(&[]).await;
    let sends = [
        ("/api/v1/notifications/broadcast", json!({"event_type": "b"})),
        ("/api/v1/notifications/channel", json!({"channel": "news", "event_type": "c"})),
        ("/api/v1/notifications/channels", json!({"channels": ["news", "orders"], "event_type": "cs"})),
    ];
    for (path, body) in &sends {
        let reply = send_body(&app, path, body).await;
        assert_eq!((reply["delivered_to"].as_u64(), reply["queued"].as_u64()), (Some(0), Some(0)), "{path}: {reply}");
    }
    let stats = app.stats().await;
    assert_eq!((stats["notifications_queued"].as_u64(), queued_messages(&stats)), (Some(0), 0), "{stats}");

    let mut alice = app.connect_user("alice", "default").await;
    alice.subscribe(&["news"]).await;
    alice.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn with_the_queue_disabled_offline_users_miss_their_notifications() {
    let app = spawn_app(&[("QUEUE_ENABLED", "false")]).await;
    let body = send_n(&app, "alice", 1).await;
    assert_eq!(
        (body["delivered_to"].as_u64(), body["offline_users"].as_u64(), body["queued"].as_u64()),
        (Some(0), Some(1), Some(0)),
        "{body}"
    );
    let stats = app.stats().await;
    assert_eq!(stats["notifications_queued"], 0, "{stats}");
    assert!(stats.get("queue").is_none_or(|q| q["queued_messages"] == 0), "nothing is queued: {stats}");

    let mut alice = app.connect_user("alice", "default").await;
    alice.expect_no_message(QUIET).await;
    assert_eq!(send_n(&app, "alice", 2).await["delivered_to"], 1, "live delivery still works");
    assert_eq!(alice.recv_notification().await["payload"]["n"], 2);
}

/// Two devices of a user with a queue connect at the same moment. Exactly one of them (the first to
/// register: the replay and the registration happen under one per-user lock, and the second sees the
/// user online and skips the replay) gets the whole queue in order; neither gets any entry twice, and
/// both then get live notifications. Repeated to give the race a chance to go either way.
#[tokio::test]
async fn when_two_devices_connect_at_once_exactly_one_gets_the_replay() {
    let app = spawn_app(&[]).await;
    for round in 0..5u64 {
        let first = round * 10;
        for n in first + 1..=first + 4 {
            send_n(&app, "alice", n).await;
        }
        let (mut a, mut b) = tokio::join!(app.connect_user("alice", "default"), app.connect_user("alice", "default"));
        let (got_a, got_b) = tokio::join!(drain_ns(&mut a), drain_ns(&mut b));
        let expected: Vec<u64> = (first + 1..=first + 4).collect();
        let (replayed, other) = if got_a.is_empty() { (got_b, got_a) } else { (got_a, got_b) };
        assert_eq!(replayed, expected, "round {round}: one device gets the whole queue, in order");
        assert!(other.is_empty(), "round {round}: the other device gets no replay: {other:?}");

        assert_eq!(send_n(&app, "alice", 100).await["delivered_to"], 2);
        for device in [&mut a, &mut b] {
            assert_eq!(drain_ns(device).await, [100], "round {round}: each device gets the live one once");
        }
        app.wait_for_stats("an empty queue", |s| queued_messages(s) == 0).await;
        a.close().await;
        b.close().await;
        app.wait_for_stat("users", "0", |n| n == 0).await;
    }
}
