//! A client that does not read is disconnected once its bounded outbound queue overflows, while the
//! clients that keep up get everything.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app, Incoming, TestApp, WsClient, RECV_TIMEOUT};

/// Enough 16 KiB notifications to fill a non-reading client's socket buffers and its queue.
const MAX_SENDS: u64 = 2000;
/// Broadcasts sent after the slow client was dropped, to show the others are still served.
const AFTER_DROP: u64 = 20;

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_a_reading_client_gets_everything() {
    let app = spawn_app(&[("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4")]).await;
    let mut slow = app.connect_user("slow", "default").await;
    let fast = app.connect_user("fast", "default").await;

    let reading = tokio::spawn(async move {
        let mut fast = fast;
        let mut seqs = Vec::new();
        loop {
            let n = fast.recv_notification().await;
            if n["event_type"] == "done" {
                return (fast, seqs);
            }
            seqs.push(n["payload"]["seq"].as_u64().expect("seq"));
        }
    });

    let blob = "x".repeat(16 * 1024);
    let mut sent = 0;
    let mut dropped = false;
    let mut after_drop = 0;
    while sent < MAX_SENDS && after_drop < AFTER_DROP {
        let report = app.broadcast("bulk", json!({"seq": sent, "blob": blob})).await;
        sent += 1;
        if dropped {
            assert_eq!(report.delivered_to, 1, "after the drop only the reading client is served");
            after_drop += 1;
        } else if report.delivered_to < 2 {
            assert_eq!(report.delivered_to, 1, "the reading client must still be served");
            dropped = true;
        }
    }
    assert!(dropped, "the non-reading client was never dropped after {sent} sends of 16 KiB");
    app.broadcast("done", json!({})).await;

    let (mut fast, seqs) = reading.await.expect("the reading client got every notification (see its panic)");
    assert_eq!(seqs, (0..sent).collect::<Vec<_>>(), "the reading client gets all {sent}, in order");

    let stats = app.stats().await;
    assert!(stats["slow_consumers_disconnected"].as_u64() >= Some(1), "{stats}");

    // The slow client finds what fit in its buffers, in order, and then the end of the connection.
    let mut got = 0;
    let ending = loop {
        match slow.next_within(RECV_TIMEOUT).await {
            Some(Incoming::Json(n)) if n["type"] == "notification" => {
                assert_eq!(n["payload"]["seq"], got, "the slow client's notifications stay in order");
                got += 1;
            }
            Some(Incoming::Json(n)) => {
                assert_eq!((n["type"].as_str(), n["code"].as_str()), (Some("error"), Some("SLOW_CONSUMER")), "{n}");
            }
            Some(Incoming::Close(close)) => {
                assert_eq!(close.map(|c| c.0), Some(1008), "a slow consumer is closed with 1008");
                break "close";
            }
            Some(Incoming::Ended(_)) => break "end",
            None => panic!("the dropped client's connection never ended (read {got} notifications)"),
        }
    };
    assert!(got < sent, "the slow client cannot have received everything ({got} of {sent}, {ending})");
    let stats = app.wait_for_stat("connections", "1", |n| n == 1).await;
    fast.ping().await;
    // One client was disconnected, however many sends found its queue full while it was closing.
    assert_eq!(stats["slow_consumers_disconnected"], 1, "one slow consumer was disconnected: {stats}");
}

#[tokio::test]
async fn with_drop_oldest_a_slow_client_stays_connected_and_is_told_what_it_missed() {
    let app =
        spawn_app(&[("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4"), ("WEBSOCKET_SLOW_CONSUMER_POLICY", "drop_oldest")]).await;
    let mut slow = app.connect_user("slow", "default").await;
    // Far more than the socket buffers and the 4-frame queue hold while the client does not read.
    let sends: u64 = 600;
    let blob = "x".repeat(16 * 1024);
    for seq in 0..sends {
        let report = app.broadcast("bulk", json!({"seq": seq, "blob": blob})).await;
        assert_eq!(report.delivered_to, 1, "the slow client stays registered");
    }

    let (mut seqs, mut dropped) = (Vec::new(), 0u64);
    while seqs.last() != Some(&(sends - 1)) {
        match slow.next_within(RECV_TIMEOUT).await {
            Some(Incoming::Json(frame)) if frame["type"] == "dropped" => {
                dropped += frame["count"].as_u64().expect("a dropped count");
            }
            Some(Incoming::Json(frame)) if frame["type"] == "notification" => {
                seqs.push(frame["payload"]["seq"].as_u64().expect("seq"));
            }
            Some(Incoming::Json(_)) => {}
            other => panic!("the slow client should stay connected and get the newest notification: {other:?}"),
        }
    }
    assert!(dropped > 0, "the client was told it missed notifications");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "what arrives is in order");
    assert_eq!(seqs.len() as u64 + dropped, sends, "every notification is either delivered or counted as dropped");
    let stats = app.stats().await;
    assert_eq!(stats["slow_consumers_disconnected"], 0);
    assert_eq!(stats["notifications_dropped"].as_u64(), Some(dropped));
}

/// How long a slow consumer may stay registered once it is found out (the documented bound is
/// `WEBSOCKET_WRITE_TIMEOUT_SECONDS` plus a 5 s close handshake; the tests use a 1 s write timeout).
const GONE_WITHIN: Duration = Duration::from_secs(10);

/// Retries a connect of `user` until the per-user limit lets it in, for at most [`GONE_WITHIN`].
async fn reconnect_within(app: &TestApp, user: &str) -> WsClient {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        match app.try_connect_ws(Some(&app.token(user, "default"))).await {
            Ok(client) => return client,
            Err(refusal) => {
                refusal.assert(429, "USER_CONNECTION_LIMIT");
                assert!(Instant::now() < deadline, "the slow consumer still holds the user's only place");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the stalled client's socket until the server's end of it; fails if it never ends.
async fn assert_socket_ends(mut client: WsClient) {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_within(left).await {
            Some(Incoming::Json(_)) => continue,
            Some(Incoming::Close(_) | Incoming::Ended(_)) => return,
            None => panic!("the slow consumer's socket was never closed"),
        }
    }
}

#[tokio::test]
async fn a_slow_consumer_that_never_reads_again_is_unregistered_and_its_queue_replays_to_the_next_device() {
    let app = spawn_app(&[
        ("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4"),
        ("WEBSOCKET_MAX_CONNECTIONS_PER_USER", "1"),
        ("WEBSOCKET_WRITE_TIMEOUT_SECONDS", "1"),
        ("QUEUE_ENABLED", "true"),
    ])
    .await;
    let slow = app.connect_user_small_buffer("phone", "default").await;
    let blob = "x".repeat(16 * 1024);
    let mut found_out = false;
    for seq in 0..MAX_SENDS {
        let report = app.send_to_user("phone", "bulk", json!({"seq": seq, "blob": blob})).await;
        if report.delivered_to == 0 {
            found_out = true;
            break;
        }
    }
    assert!(found_out, "the non-reading client was never found out after {MAX_SENDS} sends of 16 KiB");
    // Sent while the slow device is closing: queued for the user's next connection.
    let mut after = Vec::new();
    for seq in 0..3 {
        after.push(
            app.send(
                "/api/v1/notifications/send",
                &json!({"target_user_id": "phone", "event_type": "after", "payload": {"seq": seq}}),
            )
            .await
            .notification_id,
        );
    }

    let mut laptop = reconnect_within(&app, "phone").await;
    let mut replayed = Vec::new();
    while replayed.len() < after.len() {
        let n = laptop.recv_notification().await;
        if n["event_type"] == "after" {
            replayed.push(n["id"].as_str().expect("id").to_owned());
        }
    }
    assert_eq!(replayed, after, "the user's queue replays, in order, to the next device");
    let stats = app.wait_for_stat("connections", "1", |n| n == 1).await;
    assert_eq!(stats["slow_consumers_disconnected"], 1, "{stats}");
    assert_socket_ends(slow).await;
}

#[tokio::test]
async fn with_drop_oldest_a_client_whose_socket_stays_full_is_closed_after_the_write_timeout() {
    let app = spawn_app(&[
        ("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4"),
        ("WEBSOCKET_SLOW_CONSUMER_POLICY", "drop_oldest"),
        ("WEBSOCKET_WRITE_TIMEOUT_SECONDS", "1"),
        ("WEBSOCKET_MAX_CONNECTIONS_PER_USER", "1"),
    ])
    .await;
    let slow = app.connect_user_small_buffer("tablet", "default").await;
    let blob = "x".repeat(16 * 1024);
    // Enough to fill the socket buffers; the ring keeps taking frames whatever the socket does.
    for seq in 0..200 {
        app.send_to_user("tablet", "bulk", json!({"seq": seq, "blob": blob})).await;
    }
    let stats = app.wait_for_stats("the stalled connection gone", |s| s["connections"] == 0).await;
    assert_eq!(stats["slow_consumers_disconnected"], 1, "{stats}");
    let mut again = reconnect_within(&app, "tablet").await;
    again.ping().await;
    assert_socket_ends(slow).await;
}

/// An SSE client over a socket with a small receive buffer that reads nothing after its request.
async fn stalled_sse(app: &TestApp, user: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF can be set");
    let mut stream = socket.connect(app.addr).await.expect("the server accepts");
    let request = format!(
        "GET /sse?token={} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        app.token(user, "default"),
        app.addr
    );
    stream.write_all(request.as_bytes()).await.expect("the request is sent");
    stream
}

/// Reads what the server left in the socket; passes once the server closed its end.
async fn assert_tcp_closed(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let deadline = Instant::now() + GONE_WITHIN;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the stalled SSE connection was never closed"),
        }
    }
}

#[tokio::test]
async fn an_sse_client_that_stops_reading_is_unregistered_and_its_connection_dropped() {
    for policy in ["disconnect", "drop_oldest"] {
        let app = spawn_app(&[
            ("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4"),
            ("WEBSOCKET_SLOW_CONSUMER_POLICY", policy),
            ("WEBSOCKET_WRITE_TIMEOUT_SECONDS", "1"),
            ("WEBSOCKET_MAX_CONNECTIONS_PER_USER", "1"),
        ])
        .await;
        let stalled = stalled_sse(&app, "reader").await;
        app.wait_for_stat("connections", "1", |n| n == 1).await;
        let blob = "x".repeat(16 * 1024);
        for seq in 0..200 {
            app.send_to_user("reader", "bulk", json!({"seq": seq, "blob": blob})).await;
        }
        let stats = app.wait_for_stats("the stalled SSE connection gone", |s| s["connections"] == 0).await;
        assert_eq!(stats["slow_consumers_disconnected"], 1, "{policy}: {stats}");
        // The user's queue replays to the next connection (notifications sent after the cut), then
        // the connection answers as usual.
        let mut again = reconnect_within(&app, "reader").await;
        again.send_json(&json!({"type": "Ping"})).await;
        loop {
            let frame = again.recv_json().await;
            if frame["type"] == "pong" {
                break;
            }
            assert_eq!(frame["type"], "notification", "{policy}: only replayed notifications come first");
        }
        assert_tcp_closed(stalled).await;
    }
}
