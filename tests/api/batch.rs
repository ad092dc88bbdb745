//! `POST /api/v1/notifications/batch`: up to 100 notifications with their own targets, reported item by
//! item, with `stop_on_error`, `deduplicate` and `atomic`, and a body limit of its own (1 MiB).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp, WsClient};

const QUIET: Duration = Duration::from_millis(300);
const BATCH: &str = "/api/v1/notifications/batch";

fn to_user(id: &str, event_type: &str) -> Value {
    json!({"target": {"type": "user", "id": id}, "event_type": event_type, "payload": {}})
}

/// Posts a batch that must be answered 200.
async fn batch(app: &TestApp, body: &Value) -> Value {
    let reply = app.post(BATCH, body).await;
    assert_eq!(reply.status, 200, "batch failed: {}", reply.text);
    reply.body
}

fn summary(body: &Value) -> (u64, u64, u64, u64) {
    let s = &body["summary"];
    let n = |field: &str| s[field].as_u64().unwrap_or_else(|| panic!("summary has no {field}: {body}"));
    let summary = (n("total"), n("successful"), n("failed"), n("skipped"));
    assert_eq!((body["successful"].as_u64(), body["failed"].as_u64()), (Some(summary.1), Some(summary.2)), "{body}");
    summary
}

fn id_of(body: &Value, index: usize) -> String {
    let item = &body["results"][index];
    assert_eq!((item["index"].as_u64(), item["success"].as_bool()), (Some(index as u64), Some(true)), "{body}");
    item["notification_id"].as_str().unwrap_or_else(|| panic!("item {index} has no notification_id: {body}")).to_owned()
}

/// Asserts that item `index` failed with `code` and was not sent.
fn assert_failed(body: &Value, index: usize, code: &str) {
    let item = &body["results"][index];
    assert_eq!(item["index"], index, "{body}");
    assert_eq!(
        (item["success"].as_bool(), item["error_code"].as_str()),
        (Some(false), Some(code)),
        "item {index}: {body}"
    );
    assert!(item["error"].as_str().is_some_and(|e| !e.is_empty()), "item {index} explains itself: {body}");
    assert!(item.get("notification_id").is_none() && item.get("skipped").is_none(), "item {index}: {body}");
}

fn assert_skipped(body: &Value, index: usize) {
    let item = &body["results"][index];
    assert_eq!(item["index"], index, "{body}");
    assert_eq!(
        (item["success"].as_bool(), item["skipped"].as_bool()),
        (Some(false), Some(true)),
        "item {index}: {body}"
    );
    assert!(item.get("notification_id").is_none(), "item {index} was not sent: {body}");
}

#[tokio::test]
async fn mixed_targets_reach_the_right_clients_with_per_item_results() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    let mut carol = app.connect_user("carol", "default").await;
    bob.subscribe(&["orders"]).await;
    carol.subscribe(&["news"]).await;

    let body = batch(
        &app,
        &json!({"notifications": [
            {"target": {"type": "user", "id": "alice"}, "event_type": "message.new", "payload": {"i": 0}},
            {"target": {"type": "users", "ids": ["alice", "bob", "dave"]}, "event_type": "team", "payload": {"i": 1}},
            {"target": {"type": "channel", "name": "orders"}, "event_type": "order.created", "payload": {"i": 2},
             "priority": "high"},
            {"target": {"type": "channels", "names": ["orders", "news"]}, "event_type": "digest", "payload": {"i": 3}},
            {"target": {"type": "broadcast"}, "event_type": "maintenance", "payload": {"i": 4}, "ttl": 30},
        ]}),
    )
    .await;
    assert_eq!(summary(&body), (5, 5, 0, 0));
    let delivered: Vec<_> = (0..5).map(|i| body["results"][i]["delivered_to"].as_u64()).collect();
    assert_eq!(delivered, [Some(1), Some(2), Some(1), Some(2), Some(3)], "{body}");
    let ids: Vec<String> = (0..5).map(|i| id_of(&body, i)).collect();

    for (client, expected) in [(&mut alice, vec![0, 1, 4]), (&mut bob, vec![1, 2, 3, 4]), (&mut carol, vec![3, 4])] {
        for i in expected {
            let n = client.recv_notification().await;
            assert_eq!((n["id"].as_str(), n["payload"]["i"].as_u64()), (Some(ids[i].as_str()), Some(i as u64)));
        }
        client.expect_no_message(QUIET).await;
    }
    let stats = app.stats().await;
    assert_eq!(stats["notifications_sent"], 5, "{stats}");
    assert_eq!(stats["queue"]["queued_messages"], 1, "dave is offline, and user targets queue: {stats}");
}

#[tokio::test]
async fn empty_and_oversized_batches_are_refused_as_a_whole() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    app.post(BATCH, &json!({"notifications": []})).await.assert_error(400, "EMPTY_BATCH");
    let items: Vec<Value> = (0..101).map(|_| to_user("alice", "e")).collect();
    app.post(BATCH, &json!({"notifications": items})).await.assert_error(400, "BATCH_TOO_LARGE");
    alice.expect_no_message(QUIET).await;
    assert_eq!(app.stats().await["notifications_sent"], 0);

    let items: Vec<Value> = (0..100).map(|_| to_user("alice", "e")).collect();
    let body = batch(&app, &json!({"notifications": items})).await;
    assert_eq!(summary(&body), (100, 100, 0, 0), "100 items is the limit, not over it");
    for _ in 0..100 {
        alice.recv_notification().await;
    }
}

#[tokio::test]
async fn an_invalid_item_is_reported_at_its_index_while_the_others_are_sent() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let body = batch(
        &app,
        &json!({"notifications": [
            to_user("alice", "first"),
            {"target": {"type": "planet", "id": "mars"}, "event_type": "e"},
            {"target": {"type": "channel", "name": "bad name!"}, "event_type": "e"},
            {"target": {"type": "user", "id": "alice"}, "event_type": "e", "ttl": 0},
            {"event_type": "no target"},
            to_user("alice", "last"),
        ]}),
    )
    .await;
    assert_eq!(summary(&body), (6, 2, 4, 0));
    assert_failed(&body, 1, "INVALID_ITEM");
    assert_failed(&body, 2, "VALIDATION_ERROR");
    assert_failed(&body, 3, "VALIDATION_ERROR");
    assert_failed(&body, 4, "INVALID_ITEM");
    for (index, event_type) in [(0, "first"), (5, "last")] {
        let n = alice.recv_notification().await;
        assert_eq!(
            (n["id"].as_str(), n["event_type"].as_str()),
            (Some(id_of(&body, index).as_str()), Some(event_type))
        );
    }
    alice.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn stop_on_error_skips_everything_after_the_first_failure() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let body = batch(
        &app,
        &json!({"stop_on_error": true, "notifications": [
            to_user("alice", "sent"),
            to_user("", "fails"),
            to_user("alice", "skipped"),
            to_user("alice", "skipped too"),
        ]}),
    )
    .await;
    assert_eq!(summary(&body), (4, 1, 1, 2));
    id_of(&body, 0);
    assert_failed(&body, 1, "VALIDATION_ERROR");
    assert_skipped(&body, 2);
    assert_skipped(&body, 3);
    assert_eq!(alice.recv_notification().await["event_type"], "sent");
    alice.expect_no_message(QUIET).await;
}

/// Reads `count` notifications, then nothing; returns their `payload.i`.
async fn payloads(client: &mut WsClient, count: usize) -> Vec<u64> {
    let mut got = Vec::new();
    for _ in 0..count {
        got.push(client.recv_notification().await["payload"]["i"].as_u64().unwrap_or(u64::MAX));
    }
    client.expect_no_message(QUIET).await;
    got
}

#[tokio::test]
async fn deduplicate_skips_items_with_the_same_target_and_event_type() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    bob.subscribe(&["news"]).await;
    let items = json!([
        {"target": {"type": "user", "id": "alice"}, "event_type": "e1", "payload": {"i": 0}},
        {"target": {"type": "user", "id": "alice"}, "event_type": "e1", "payload": {"i": 1}},
        {"target": {"type": "user", "id": "alice"}, "event_type": "e2", "payload": {"i": 2}},
        {"target": {"type": "user", "id": "bob"}, "event_type": "e1", "payload": {"i": 3}},
        {"target": {"type": "channel", "name": "news"}, "event_type": "e1", "payload": {"i": 4}},
        {"target": {"type": "channel", "name": "news"}, "event_type": "e1", "payload": {"i": 5}},
    ]);
    let body = batch(&app, &json!({"deduplicate": true, "notifications": items})).await;
    assert_eq!(summary(&body), (6, 4, 0, 2));
    assert_skipped(&body, 1);
    assert_skipped(&body, 5);
    assert_eq!(payloads(&mut alice, 2).await, [0, 2]);
    assert_eq!(payloads(&mut bob, 2).await, [3, 4]);

    // Without the option the same batch sends everything.
    let body = batch(&app, &json!({"notifications": items})).await;
    assert_eq!(summary(&body), (6, 6, 0, 0));
    assert_eq!(payloads(&mut alice, 3).await, [0, 1, 2]);
    assert_eq!(payloads(&mut bob, 3).await, [3, 4, 5]);
}

#[tokio::test]
async fn an_atomic_batch_with_an_invalid_item_sends_nothing() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let reply = app
        .post(
            BATCH,
            &json!({"atomic": true, "notifications": [
                to_user("alice", "a"),
                {"target": {"type": "broadcast"}, "event_type": "b"},
                {"target": {"type": "channel", "name": "bad name!"}, "event_type": "c"},
                to_user("bob", "d"),
            ]}),
        )
        .await;
    reply.assert_error(400, "BATCH_VALIDATION_FAILED");
    let results = &reply.body["results"];
    assert_eq!(results.as_array().map(Vec::len), Some(4), "{}", reply.text);
    assert_failed(&reply.body, 2, "VALIDATION_ERROR");
    for index in [0, 1, 3] {
        assert_skipped(&reply.body, index);
    }
    alice.expect_no_message(QUIET).await;
    let stats = app.stats().await;
    assert_eq!((stats["notifications_sent"].as_u64(), stats["notifications_queued"].as_u64()), (Some(0), Some(0)));

    let body =
        batch(&app, &json!({"atomic": true, "notifications": [to_user("alice", "a"), to_user("alice", "b")]})).await;
    assert_eq!(summary(&body), (2, 2, 0, 0));
    assert_eq!(alice.recv_notification().await["event_type"], "a");
    assert_eq!(alice.recv_notification().await["event_type"], "b");
}

/// A batch may be up to 1 MiB although a single send is limited to 64 KiB.
#[tokio::test]
async fn the_batch_body_limit_is_one_mebibyte() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let item = |i: usize| json!({"target": {"type": "user", "id": "alice"}, "event_type": "big", "payload": {"i": i, "blob": "x".repeat(50 * 1024)}});

    let body = json!({"notifications": (0..4).map(item).collect::<Vec<_>>()});
    assert!(body.to_string().len() > 200 * 1024);
    let accepted = batch(&app, &body).await;
    assert_eq!(summary(&accepted), (4, 4, 0, 0));
    for i in 0..4 {
        let n = alice.recv_notification().await;
        assert_eq!(
            (n["payload"]["i"].as_u64(), n["payload"]["blob"].as_str().map(str::len)),
            (Some(i), Some(50 * 1024))
        );
    }
    // The same bytes are too much for a single send.
    let single: Reply = app.post_raw("/api/v1/notifications/send", body.to_string(), Some("application/json")).await;
    single.assert_error(413, "PAYLOAD_TOO_LARGE");

    let over = json!({"notifications": (0..21).map(item).collect::<Vec<_>>()});
    assert!(over.to_string().len() > 1024 * 1024);
    app.post(BATCH, &over).await.assert_error(413, "PAYLOAD_TOO_LARGE");
    alice.expect_no_message(QUIET).await;
}
