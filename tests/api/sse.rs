//! Server-Sent Events: `GET /sse` streams the same notifications as WebSocket, with `id:` set to the
//! notification id, heartbeats, channel subscriptions, offline-queue replay and `Last-Event-ID` resume.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

const QUIET: Duration = Duration::from_millis(300);

/// Queues `count` notifications for the offline `user`; returns their ids in order.
async fn queue_for(app: &TestApp, user: &str, count: u64) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 1..=count {
        let reply = app
            .post(
                "/api/v1/notifications/send",
                &json!({"target_user_id": user, "event_type": "queued", "payload": {"n": n}}),
            )
            .await;
        assert_eq!((reply.status.as_u16(), reply.body["queued"].as_u64()), (200, Some(1)), "{}", reply.text);
        ids.push(reply.body["notification_id"].as_str().expect("notification_id").to_owned());
        // Ids are compared on resume; keep them a millisecond apart (see
        // `resume_is_exact_for_notifications_accepted_in_the_same_millisecond` for why).
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    ids
}

fn queued_messages(stats: &Value) -> u64 {
    stats["queue"]["queued_messages"].as_u64().unwrap_or_else(|| panic!("/stats has no queue.queued_messages: {stats}"))
}

#[tokio::test]
async fn sse_sends_connected_then_the_same_notifications_as_websocket() {
    let app = spawn_app(&[]).await;
    let mut sse = app.connect_sse("alice", "default", None).await;
    assert!(sse.connection_id > 0);
    assert_eq!(sse.channels, json!([]));
    let mut ws = app.connect_user("alice", "default").await;
    let stats = app.stats().await;
    assert_eq!((stats["connections"].as_u64(), stats["users"].as_u64()), (Some(2), Some(1)), "{stats}");

    let report = app
        .send(
            "/api/v1/notifications/send",
            &json!({"target_user_id": "alice", "event_type": "order.shipped", "payload": {"order": 7},
                    "priority": "critical", "ttl": 60}),
        )
        .await;
    assert_eq!(report.delivered_to, 2, "both transports are devices of alice");
    let frame = ws.recv_notification().await;
    let (id, data) = sse.recv_notification().await;
    assert_eq!(id, report.notification_id);
    assert_eq!(data, frame, "the SSE data is the WebSocket frame");
    assert_eq!((data["priority"].as_str(), data["ttl"].as_u64()), (Some("Critical"), Some(60)));

    let broadcast = app.broadcast("news", json!({"x": [1, 2]})).await;
    assert_eq!(broadcast.delivered_to, 2);
    let (id, data) = sse.recv_notification().await;
    assert_eq!((id.as_str(), &data["payload"]), (broadcast.notification_id.as_str(), &json!({"x": [1, 2]})));
    assert_eq!(data, ws.recv_notification().await);
    sse.expect_no_event(QUIET).await;
}

#[tokio::test]
async fn sse_sends_heartbeats() {
    let app = spawn_app(&[("WEBSOCKET_HEARTBEAT_INTERVAL_SECONDS", "1")]).await;
    let mut sse = app.connect_sse("alice", "default", None).await;
    for _ in 0..2 {
        let event = sse.next_any_within(Duration::from_millis(2500)).await.expect("a heartbeat within 2.5 s");
        assert_eq!(event.event, "heartbeat", "{event:?}");
        assert!(event.id.is_none(), "heartbeats carry no id, so they do not move Last-Event-ID: {event:?}");
        let ts = event.json()["timestamp"].as_str().map(str::to_owned).unwrap_or_default();
        assert!(chrono::DateTime::parse_from_rfc3339(&ts).is_ok(), "heartbeat timestamp {ts:?}");
    }
    // Heartbeats keep coming on an idle stream, and nothing else does.
    sse.expect_no_event(Duration::from_millis(2500)).await;
    assert!(sse.heartbeats_seen() >= 2, "heartbeats while idle: {}", sse.heartbeats_seen());
}

#[tokio::test]
async fn the_channels_parameter_subscribes_the_stream() {
    let app = spawn_app(&[]).await;
    let mut sse = app.connect_sse("alice", "default", Some("orders,news")).await;
    assert_eq!(sse.channels, json!(["news", "orders"]), "connected lists the subscriptions");
    let info = app.get("/api/v1/channels/orders").await;
    assert_eq!(info.body, json!({"name": "orders", "subscriber_count": 1}), "{}", info.text);

    let news = app.send_to_channel("news", "headline", json!({})).await;
    assert_eq!(news.delivered_to, 1);
    assert_eq!(sse.recv_notification().await.0, news.notification_id);
    assert_eq!(app.send_to_channel("sports", "goal", json!({})).await.delivered_to, 0);
    let orders = app.send_to_channel("orders", "created", json!({})).await;
    assert_eq!(sse.recv_notification().await.0, orders.notification_id);
    sse.expect_no_event(QUIET).await;
}

#[tokio::test]
async fn sse_refusals_are_http_errors_before_the_stream() {
    let app = spawn_app(&[]).await;
    let refusal = |r: Result<_, crate::helpers::Reply>| match r {
        Ok(_) => panic!("the stream was not refused"),
        Err(reply) => reply,
    };
    let reply = refusal(app.try_connect_sse("", None).await);
    reply.assert_error(401, "MISSING_TOKEN");
    let reply = refusal(app.try_connect_sse("token=not.a.jwt", None).await);
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", reply.text);
    let forged = crate::helpers::sign(
        &json!({"sub": "alice", "exp": crate::helpers::now_secs() + 300}),
        "another-secret",
        jsonwebtoken::Algorithm::HS256,
    );
    refusal(app.try_connect_sse(&format!("token={forged}"), None).await).assert_error(401, "INVALID_SIGNATURE");

    let token = app.token("alice", "default");
    let too_long = "x".repeat(65);
    for channels in ["news,bad!name", "bad%20name", too_long.as_str()] {
        let reply = refusal(app.try_connect_sse(&format!("token={token}&channels={channels}"), None).await);
        reply.assert_error(400, "VALIDATION_ERROR");
    }
    let stats = app.stats().await;
    assert_eq!(stats["connections"], 0, "no refused stream was registered: {stats}");
}

#[tokio::test]
async fn sse_accepts_a_bearer_token_and_shares_the_connection_limits() {
    let app = spawn_app(&[("WEBSOCKET_MAX_CONNECTIONS_PER_USER", "2")]).await;
    let mut response = app
        .client
        .get(app.url("/sse"))
        .bearer_auth(app.token("alice", "default"))
        .send()
        .await
        .expect("GET /sse reaches the server");
    assert_eq!(response.status(), 200);
    let first = tokio::time::timeout(crate::helpers::RECV_TIMEOUT, response.chunk())
        .await
        .expect("the connected event comes at once")
        .expect("the stream is readable")
        .expect("the stream has data");
    let first = String::from_utf8_lossy(&first);
    assert!(first.contains("event: connected") || first.contains("event:connected"), "{first}");

    let _ws = app.connect_user("alice", "default").await;
    let query = format!("token={}", app.token("alice", "default"));
    match app.try_connect_sse(&query, None).await {
        Ok(_) => panic!("a third connection of alice was accepted"),
        Err(reply) => reply.assert_error(429, "USER_CONNECTION_LIMIT"),
    }
    assert_eq!(app.stats().await["connections"], 2);
}

/// A stream refused for asking too many channels delivered nothing: its user's queue is intact for
/// the next connection, and nothing awaits an ACK.
#[tokio::test]
async fn a_stream_refused_for_too_many_channels_leaves_the_queue_intact() {
    let app = spawn_app(&[("WEBSOCKET_MAX_SUBSCRIPTIONS_PER_CONNECTION", "2")]).await;
    let ids = queue_for(&app, "alice", 2).await;
    let query = format!("token={}&channels=a,b,c", app.token("alice", "default"));
    match app.try_connect_sse(&query, None).await {
        Ok(_) => panic!("three channels were accepted with a limit of two"),
        Err(reply) => reply.assert_error(400, "SUBSCRIPTION_LIMIT"),
    }
    let stats = app.stats().await;
    assert_eq!((stats["connections"].as_u64(), queued_messages(&stats)), (Some(0), 2), "{stats}");
    assert_eq!(stats["acks"]["pending"], 0, "nothing was delivered, so nothing awaits an ACK: {stats}");

    let mut sse = app.connect_sse("alice", "default", Some("a,b")).await;
    for expected in &ids {
        assert_eq!(&sse.recv_notification().await.0, expected);
    }
    sse.expect_no_event(QUIET).await;
}

#[tokio::test]
async fn sse_replays_the_offline_queue_first() {
    let app = spawn_app(&[]).await;
    let ids = queue_for(&app, "alice", 3).await;
    let mut sse = app.connect_sse("alice", "default", None).await;
    for (i, expected) in ids.iter().enumerate() {
        let (id, data) = sse.recv_notification().await;
        assert_eq!((&id, data["payload"]["n"].as_u64()), (expected, Some(i as u64 + 1)));
    }
    let live = app.send_to_user("alice", "live", json!({})).await;
    assert_eq!(live.delivered_to, 1);
    assert_eq!(sse.recv_notification().await.0, live.notification_id);
    sse.expect_no_event(QUIET).await;
    app.wait_for_stats("an empty queue", |s| queued_messages(s) == 0).await;
}

/// A browser `EventSource` that reconnects sends the last id it saw: the queue up to it is dropped,
/// the rest replayed.
#[tokio::test]
async fn reconnecting_with_last_event_id_replays_only_what_came_after_it() {
    let app = spawn_app(&[]).await;
    let ids = queue_for(&app, "alice", 3).await;
    let query = format!("token={}", app.token("alice", "default"));
    let mut sse = app.try_connect_sse(&query, Some(&ids[0])).await.unwrap_or_else(|r| panic!("refused: {r:?}"));
    for expected in &ids[1..] {
        assert_eq!(&sse.recv_notification().await.0, expected);
    }
    sse.expect_no_event(QUIET).await;
    let stats = app.wait_for_stats("an empty queue", |s| queued_messages(s) == 0).await;
    assert_eq!(stats["queue"]["users_with_queue"], 0, "{stats}");

    // An id the server never issued is ignored: the whole queue is replayed.
    let bob_ids = queue_for(&app, "bob", 2).await;
    let query = format!("token={}", app.token("bob", "default"));
    let mut bob = app.try_connect_sse(&query, Some("garbage")).await.unwrap_or_else(|r| panic!("refused: {r:?}"));
    for expected in &bob_ids {
        assert_eq!(&bob.recv_notification().await.0, expected);
    }
    bob.expect_no_event(QUIET).await;
}

#[tokio::test]
async fn sse_broadcasts_stay_within_the_tenant() {
    let app = spawn_app(&[]).await;
    let mut home = app.connect_sse("alice", "default", Some("news")).await;
    let mut acme = app.connect_sse("alice", "acme", Some("news")).await;
    let report = app.broadcast("maintenance", json!({})).await;
    assert_eq!(report.delivered_to, 1, "only the default tenant's stream");
    assert_eq!(home.recv_notification().await.0, report.notification_id);
    assert_eq!(app.send_to_channel("news", "headline", json!({})).await.delivered_to, 1);
    home.recv_notification().await;
    assert_eq!(app.send_to_user("alice", "direct", json!({})).await.delivered_to, 1);
    home.recv_notification().await;
    acme.expect_no_event(QUIET).await;
    home.expect_no_event(QUIET).await;
}

#[tokio::test]
async fn a_closed_sse_stream_is_unregistered() {
    let app = spawn_app(&[("WEBSOCKET_HEARTBEAT_INTERVAL_SECONDS", "1")]).await;
    let sse = app.connect_sse("alice", "default", Some("news")).await;
    assert_eq!(app.stats().await["connections"], 1);
    drop(sse);
    app.wait_for_stat("connections", "0", |n| n == 0).await;
    app.get("/api/v1/channels/news").await.assert_error(404, "CHANNEL_NOT_FOUND");
    // The user is offline again, so sends to them are queued.
    assert_eq!(
        app.post("/api/v1/notifications/send", &json!({"target_user_id": "alice", "event_type": "e"})).await.body
            ["queued"],
        1
    );
}

/// `Last-Event-ID` must resume exactly after that notification even when many were accepted within
/// the same millisecond (a batch queues 100 in a few milliseconds): nothing after it may be lost and
/// nothing up to it replayed.
#[tokio::test]
async fn resume_is_exact_for_notifications_accepted_in_the_same_millisecond() {
    let app = spawn_app(&[]).await;
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"target": {"type": "user", "id": "alice"}, "event_type": "burst", "payload": {"i": i}}))
        .collect();
    let reply = app.post("/api/v1/notifications/batch", &json!({"notifications": items})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let ids: Vec<String> = (0..100)
        .map(|i| reply.body["results"][i]["notification_id"].as_str().expect("notification_id").to_owned())
        .collect();
    assert_eq!(queued_messages(&app.stats().await), 100);

    let query = format!("token={}", app.token("alice", "default"));
    let mut sse = app.try_connect_sse(&query, Some(&ids[49])).await.unwrap_or_else(|r| panic!("refused: {r:?}"));
    let mut got = Vec::new();
    while let Some(event) = sse.next_within(QUIET).await {
        got.push(event.json()["payload"]["i"].as_u64().unwrap_or(u64::MAX));
    }
    let expected: Vec<u64> = (50..100).collect();
    assert_eq!(got, expected, "the client saw 0..=49 and must get exactly 50..=99, in order");
}
