//! Unknown fields are refused everywhere a client sends JSON: a typo (`prioritty`) or a field the
//! endpoint does not have (`tenant` on an HTTP send) must not be silently ignored. An HTTP send's
//! `tenant_id` is known, and refused when it is not the caller's tenant (`tests/api/tenants.rs`).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};
use crate::pubsub::app_with_pubsub;
use crate::redis_support::{publish_json, shared_redis, unique};

const QUIET: Duration = Duration::from_millis(300);

async fn call(app: &TestApp, method: Method, path: &str, body: &Value) -> Reply {
    let response = app.client.request(method, app.url(path)).json(body).send().await.expect("request sent");
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.expect("body");
    Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
}

fn assert_unknown_field(reply: &Reply, field: &str) {
    reply.assert_error(400, "UNKNOWN_FIELD");
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("`{field}`")), "the message names {field:?}: {message}");
}

#[tokio::test]
async fn send_bodies_with_an_unknown_field_are_refused_and_nothing_is_sent() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    alice.subscribe(&["news"]).await;
    let content = |extra: (&str, Value)| {
        let mut body = json!({"event_type": "typo", "payload": {}});
        body[extra.0] = extra.1;
        body
    };
    let with = |mut target: Value, extra: (&str, Value)| {
        for (k, v) in content(extra).as_object().unwrap() {
            target[k] = v.clone();
        }
        target
    };
    let cases = [
        ("/api/v1/notifications/send", with(json!({"target_user_id": "alice"}), ("prioritty", json!("High")))),
        ("/api/v1/notifications/send", with(json!({"target_user_id": "alice"}), ("tenant", json!("acme")))),
        ("/api/v1/notifications/send-to-users", with(json!({"target_user_ids": ["alice"]}), ("ttll", json!(5)))),
        ("/api/v1/notifications/broadcast", content(("prioritty", json!("High")))),
        ("/api/v1/notifications/channel", with(json!({"channel": "news"}), ("channnel", json!("x")))),
        ("/api/v1/notifications/channels", with(json!({"channels": ["news"]}), ("prioritty", json!("Low")))),
    ];
    for (path, body) in cases {
        let reply = app.post(path, &body).await;
        let field = body.as_object().unwrap().keys().find(|k| !known(k)).unwrap().clone();
        assert_unknown_field(&reply, &field);
    }
    let other_tenant = with(json!({"target_user_id": "alice"}), ("tenant_id", json!("acme")));
    app.post("/api/v1/notifications/send", &other_tenant).await.assert_error(403, "TENANT_MISMATCH");
    alice.expect_no_message(QUIET).await;
}

fn known(key: &str) -> bool {
    [
        "target_user_id",
        "target_user_ids",
        "channel",
        "channels",
        "event_type",
        "payload",
        "template_id",
        "variables",
        "priority",
        "ttl",
        "tenant_id",
    ]
    .contains(&key)
}

#[tokio::test]
async fn a_batch_with_an_unknown_field_anywhere_is_refused_whole() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let good = json!({"target": {"type": "user", "id": "alice"}, "event_type": "ok"});
    let cases = [
        ("stop_on_eror", json!({"notifications": [good.clone()], "stop_on_eror": true})),
        (
            "prioritty",
            json!({"notifications": [good.clone(), {"target": {"type": "user", "id": "alice"}, "event_type": "e", "prioritty": "High"}]}),
        ),
        (
            "tenant",
            json!({"notifications": [good.clone(), {"target": {"type": "user", "id": "alice", "tenant": "acme"}, "event_type": "e"}]}),
        ),
        (
            "everyone",
            json!({"notifications": [good.clone(), {"target": {"type": "broadcast", "everyone": true}, "event_type": "e"}]}),
        ),
    ];
    for (field, body) in cases {
        let reply = app.post("/api/v1/notifications/batch", &body).await;
        assert_unknown_field(&reply, field);
    }
    let reply = app.post("/api/v1/notifications/batch", &json!({"notifications": [good.clone(), good]})).await;
    assert_eq!(reply.body["summary"]["successful"], 2, "a clean batch still goes out: {}", reply.text);
    // The two from the clean batch, nothing from the refused ones.
    assert_eq!(alice.recv_notification().await["event_type"], "ok");
    assert_eq!(alice.recv_notification().await["event_type"], "ok");
    alice.expect_no_message(QUIET).await;
}

#[tokio::test]
async fn template_bodies_with_an_unknown_field_are_refused_and_nothing_is_stored() {
    let app = spawn_app(&[]).await;
    let template =
        json!({"id": "welcome", "name": "Welcome", "event_type": "welcome", "payload_template": {"hi": "{{name}}"}});
    let mut typo = template.clone();
    typo["payload_templat"] = json!({"hi": "there"});
    assert_unknown_field(&call(&app, Method::POST, "/api/v1/templates", &typo).await, "payload_templat");
    app.get("/api/v1/templates/welcome").await.assert_error(404, "TEMPLATE_NOT_FOUND");

    assert_eq!(call(&app, Method::POST, "/api/v1/templates", &template).await.status, 201);
    let mut update = template.clone();
    update["name"] = json!("Changed");
    update["ttll"] = json!(60);
    assert_unknown_field(&call(&app, Method::PUT, "/api/v1/templates/welcome", &update).await, "ttll");
    assert_eq!(app.get("/api/v1/templates/welcome").await.body["name"], "Welcome", "the template is unchanged");
}

#[tokio::test]
async fn a_websocket_frame_with_an_unknown_field_gets_invalid_frame_naming_it() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    for (frame, field) in [
        (json!({"type": "Subscribe", "payload": {"channels": ["news"], "chanels": ["sports"]}}), "chanels"),
        (json!({"type": "Unsubscribe", "payload": {"channels": ["news"], "all": true}}), "all"),
        (json!({"type": "Ack", "payload": {"notification_id": "x", "id": "y"}}), "id"),
        (json!({"type": "Ping", "id": 7}), "id"),
    ] {
        alice.send_json(&frame).await;
        let error = alice.recv_error("INVALID_FRAME").await;
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "the error names {field:?}: {error}");
    }
    // The refused Subscribe added nothing.
    app.send_to_channel("news", "not.subscribed", json!({})).await;
    alice.expect_no_message(QUIET).await;
    alice.ping().await;
}

#[tokio::test]
async fn a_pubsub_message_with_an_unknown_field_is_malformed_and_not_delivered() {
    let Some(url) = shared_redis().await else { return };
    let channel = unique("ara-test-unknown");
    let app = app_with_pubsub(&url, &channel, &[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    for bad in [
        json!({"target": {"type": "user", "id": "alice"}, "event_type": "e", "prioritty": "High"}),
        json!({"target": {"type": "user", "id": "alice", "tenant": "acme"}, "event_type": "e"}),
    ] {
        publish_json(&url, &channel, &bad).await;
    }
    let fine = json!({"target": {"type": "user", "id": "alice"}, "event_type": "fine", "tenant_id": "default"});
    publish_json(&url, &channel, &fine).await;
    assert_eq!(alice.recv_notification().await["event_type"], "fine", "tenant_id is still a known field");
    alice.expect_no_message(QUIET).await;
    let stats = app.stats().await;
    assert_eq!((stats["pubsub"]["malformed"].as_u64(), stats["pubsub"]["delivered"].as_u64()), (Some(2), Some(1)));
}
