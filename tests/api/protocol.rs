//! Client frames: Ping, bad frames that leave the connection usable, and the abusive-client cutoff.

use serde_json::json;

use crate::helpers::{spawn_app, RECV_TIMEOUT};

#[tokio::test]
async fn ping_gets_pong() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;
    client.ping().await;
    // Lower-case type names are accepted too.
    client.send_json(&json!({"type": "ping"})).await;
    assert_eq!(client.recv_json().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_stays_usable() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;

    client.send_text("this is not json").await;
    client.recv_error("INVALID_FRAME").await;
    client.send_json(&json!({"type": "Launch", "payload": {}})).await;
    client.recv_error("INVALID_FRAME").await;
    client.send_json(&json!({"type": "Subscribe"})).await;
    client.recv_error("INVALID_FRAME").await;
    client.send_json(&json!({"type": "Subscribe", "payload": {"channels": ["bad channel!"]}})).await;
    client.recv_error("INVALID_CHANNEL").await;
    client.send_json(&json!({"type": "Subscribe", "payload": {"channels": []}})).await;
    client.recv_error("INVALID_CHANNEL").await;
    client.send_json(&json!({"type": "Unsubscribe", "payload": {"channels": ["x/y"]}})).await;
    client.recv_error("INVALID_CHANNEL").await;
    client.send_binary(vec![1, 2, 3]).await;
    client.recv_error("UNSUPPORTED_FRAME").await;

    // A failed subscribe added nothing; the connection still works normally.
    client.ping().await;
    client.subscribe(&["news"]).await;
    assert_eq!(app.send_to_channel("news", "e", json!({"ok": true})).await.delivered_to, 1);
    assert_eq!(client.recv_notification().await["payload"]["ok"], true);
    assert_eq!(app.send_to_user("u", "direct", json!({})).await.delivered_to, 1);
    assert_eq!(client.recv_notification().await["event_type"], "direct");
}

#[tokio::test]
async fn more_than_twenty_bad_frames_in_a_row_close_with_1008() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;
    for _ in 0..20 {
        client.send_text("nonsense").await;
        client.recv_error("INVALID_FRAME").await;
    }
    // Twenty is tolerated: a good frame resets the count.
    client.ping().await;
    for _ in 0..20 {
        client.send_text("nonsense").await;
        client.recv_error("INVALID_FRAME").await;
    }
    client.send_text("nonsense").await;
    let (close, frames) = client.recv_close(RECV_TIMEOUT).await;
    assert!(frames.is_empty(), "no more error frames after the cutoff: {frames:?}");
    let (code, _) = close.expect("close frame has a code");
    assert_eq!(code, 1008);
    app.wait_for_stat("connections", "0", |n| n == 0).await;
}

#[tokio::test]
async fn client_close_unregisters_the_connection() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;
    client.subscribe(&["news"]).await;
    let stats = app.stats().await;
    assert_eq!((stats["connections"].as_u64(), stats["channels"].as_u64()), (Some(1), Some(1)));
    client.close().await;
    let stats = app.wait_for_stat("connections", "0", |n| n == 0).await;
    assert_eq!((stats["users"].as_u64(), stats["channels"].as_u64()), (Some(0), Some(0)), "{stats}");
    assert_eq!(app.send_to_channel("news", "e", json!({})).await.delivered_to, 0);
}

#[tokio::test]
async fn a_client_frame_larger_than_the_read_buffer_is_read_whole() {
    // The server reads client frames in 512-byte chunks; 50 channel names of 64 characters make a
    // ~3.4 KB Subscribe frame that has to be put together from several reads.
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;
    let names: Vec<String> = (0..50).map(|i| format!("{i:02}{}", "c".repeat(62))).collect();
    let channels: Vec<&str> = names.iter().map(String::as_str).collect();
    client.subscribe(&channels).await;
    let last = channels[49];
    assert_eq!(app.send_to_channel(last, "e", json!({"ok": true})).await.delivered_to, 1);
    assert_eq!(client.recv_type("notification").await["payload"], json!({"ok": true}));
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_is_closed_with_1007() {
    let app = spawn_app(&[]).await;
    let mut client = app.connect_user("u", "default").await;
    client.send_raw_text(vec![b'{', 0xff, 0xfe, b'}']).await;
    let (close, _) = client.recv_close(RECV_TIMEOUT).await;
    assert_eq!(close.map(|c| c.0), Some(1007), "invalid UTF-8 is closed with 1007 (RFC 6455 §8.1)");
    app.wait_for_stat("connections", "0", |n| n == 0).await;
}

#[tokio::test]
async fn a_frame_over_the_size_limit_is_closed_with_1009() {
    let app = spawn_app(&[("WEBSOCKET_MAX_MESSAGE_BYTES", "1024")]).await;
    let mut client = app.connect_user("u", "default").await;
    // Under the limit is fine.
    client.send_text(&format!(r#"{{"type":"Ping","pad":"{}"}}"#, "x".repeat(100))).await;
    let _ = client.recv_json().await;
    client.send_text(&"x".repeat(4096)).await;
    let (close, _) = client.recv_close(RECV_TIMEOUT).await;
    assert_eq!(close.map(|c| c.0), Some(1009), "a too-big message is closed with 1009 (RFC 6455 §7.4.1)");
    app.wait_for_stat("connections", "0", |n| n == 0).await;
}
