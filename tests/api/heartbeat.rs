//! Heartbeats and the idle timeout: a client that never answers pings is closed as idle, one that
//! reads (and so answers pings, as standard clients do) stays connected.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn silent_client_is_closed_as_idle_and_a_reading_client_stays() {
    let app =
        spawn_app(&[("WEBSOCKET_HEARTBEAT_INTERVAL_SECONDS", "1"), ("WEBSOCKET_CONNECTION_TIMEOUT_SECONDS", "2")])
            .await;
    let mut silent = app.connect_user("silent", "default").await;
    let mut reader = app.connect_user("reader", "default").await;

    // The reader keeps reading (tungstenite answers each ping with a pong while it reads).
    let reading = tokio::spawn(async move {
        let until = Instant::now() + Duration::from_millis(4500);
        while let Some(left) = until.checked_duration_since(Instant::now()) {
            if let Some(got) = reader.next_within(left).await {
                panic!("the reading client got {got:?} instead of staying quietly connected");
            }
        }
        reader
    });

    // The silent client reads nothing, so it never pongs. After 2 s of silence the next heartbeat
    // (at about 3 s) closes it.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    // Then it wakes up, as a stalled client does: it says something and reads. The server is closing
    // this connection, so it must keep the socket until the closing handshake is done (or times out);
    // otherwise the client's frame and its automatic pongs hit a dead socket and the close is lost.
    silent.send_json(&json!({"type": "Ping"})).await;
    let (close, frames) = silent.recv_close(Duration::from_secs(2)).await;
    assert!(frames.is_empty(), "nothing but pings before the close: {frames:?}");
    assert_eq!(close, Some((1000, "idle timeout".to_owned())));
    assert!(silent.pings_seen() <= 3, "closed late, after {} pings", silent.pings_seen());
    app.wait_for_stat("connections", "1", |n| n == 1).await;

    let mut reader = reading.await.expect("reader task");
    let stats = app.stats().await;
    assert_eq!((stats["connections"].as_u64(), stats["users"].as_u64()), (Some(1), Some(1)), "{stats}");
    reader.ping().await;
    assert_eq!(app.send_to_user("reader", "still-here", json!({})).await.delivered_to, 1);
    assert_eq!(reader.recv_notification().await["event_type"], "still-here");
}

#[tokio::test]
async fn a_client_that_never_answers_is_dropped_within_a_few_seconds() {
    let app =
        spawn_app(&[("WEBSOCKET_HEARTBEAT_INTERVAL_SECONDS", "1"), ("WEBSOCKET_CONNECTION_TIMEOUT_SECONDS", "2")])
            .await;
    let _silent = app.connect_user("silent", "default").await;
    let started = Instant::now();
    app.wait_for_stat("connections", "0", |n| n == 0).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(1900), "dropped before the idle timeout: {elapsed:?}");
}

#[tokio::test]
async fn server_pings_at_the_heartbeat_interval() {
    let app =
        spawn_app(&[("WEBSOCKET_HEARTBEAT_INTERVAL_SECONDS", "1"), ("WEBSOCKET_CONNECTION_TIMEOUT_SECONDS", "30")])
            .await;
    let mut client = app.connect_user("u", "default").await;
    // `next_within` answers and skips pings; an idle client that reads gets nothing else, and stays.
    client.expect_no_message(Duration::from_millis(2500)).await;
    let pings = client.pings_seen();
    assert!(pings >= 2, "expected about one ping a second, saw {pings}");
}
