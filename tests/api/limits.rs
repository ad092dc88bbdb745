//! Connection and subscription limits.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app, POLL_DEADLINE};

#[tokio::test]
async fn server_full_refuses_with_503_until_a_slot_frees_up() {
    let app = spawn_app(&[("WEBSOCKET_MAX_CONNECTIONS", "2")]).await;
    let first = app.connect_user("a", "default").await;
    let _second = app.connect_user("b", "acme").await;
    let refusal = app.try_connect_ws(Some(&app.token("c", "default"))).await.err().expect("third connection refused");
    refusal.assert(503, "SERVER_FULL");
    let stats = app.stats().await;
    assert_eq!(stats["connections"], 2, "a refused connection takes no slot: {stats}");

    first.close().await;
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        match app.try_connect_ws(Some(&app.token("c", "default"))).await {
            Ok(client) => {
                assert_eq!(client.user_id, "c");
                break;
            }
            Err(r) => {
                r.assert(503, "SERVER_FULL");
                assert!(Instant::now() < deadline, "the closed connection's slot never freed up");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

#[tokio::test]
async fn per_user_limit_refuses_with_429_for_that_user_only() {
    let app = spawn_app(&[("WEBSOCKET_MAX_CONNECTIONS_PER_USER", "2")]).await;
    let _one = app.connect_user("alice", "default").await;
    let _two = app.connect_user("alice", "default").await;
    let refusal = app.try_connect_ws(Some(&app.token("alice", "default"))).await.err().expect("refused");
    refusal.assert(429, "USER_CONNECTION_LIMIT");
    // Other users, and the same user id in another tenant, are not affected.
    let _bob = app.connect_user("bob", "default").await;
    let _other_alice = app.connect_user("alice", "acme").await;
    let stats = app.stats().await;
    assert_eq!((stats["connections"].as_u64(), stats["users"].as_u64()), (Some(4), Some(3)), "{stats}");
}

#[tokio::test]
async fn subscription_limit_is_an_error_frame_and_all_or_nothing() {
    let app = spawn_app(&[("WEBSOCKET_MAX_SUBSCRIPTIONS_PER_CONNECTION", "2")]).await;
    let mut client = app.connect_user("u", "default").await;
    client.subscribe(&["a", "b"]).await;

    client.send_json(&json!({"type": "Subscribe", "payload": {"channels": ["c"]}})).await;
    client.recv_error("SUBSCRIPTION_LIMIT").await;
    // Re-subscribing to a channel it already has adds nothing, so it is within the limit.
    client.subscribe(&["a"]).await;
    assert_eq!(app.send_to_channel("c", "e", json!({})).await.delivered_to, 0, "c was not added");

    // Past the limit, none of the requested channels is added.
    client.unsubscribe(&["a"]).await;
    client.send_json(&json!({"type": "Subscribe", "payload": {"channels": ["c", "d"]}})).await;
    client.recv_error("SUBSCRIPTION_LIMIT").await;
    assert_eq!(app.send_to_channel("c", "e", json!({})).await.delivered_to, 0, "c was not added");

    // The connection is still usable, and freed room can be used.
    client.subscribe(&["c"]).await;
    assert_eq!(app.send_to_channel("c", "e", json!({"n": 1})).await.delivered_to, 1);
    assert_eq!(client.recv_notification().await["payload"]["n"], 1);
}
