//! The Redis Pub/Sub trigger, end to end: a message published with a Redis client reaches WebSocket
//! clients exactly like an HTTP send; malformed messages are counted and do not stop the next ones.
//! Runs against the shared Redis with a channel of its own per test.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, POLL_DEADLINE};
use crate::redis_support::{publish, publish_json, shared_redis, unique};

/// An app subscribed to `channels` (comma-separated) on `url`, once its subscription is live.
pub async fn app_with_pubsub(url: &str, channels: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut pairs = vec![("REDIS_URL", url), ("REDIS_PUBSUB_ENABLED", "true"), ("REDIS_CHANNELS", channels)];
    pairs.extend_from_slice(extra);
    let app = spawn_app(&pairs).await;
    wait_for_health(&app, "subscribed", |h| h["dependencies"]["pubsub"]["subscribed"] == true).await;
    app
}

/// Polls `/health` until `pred` holds.
pub async fn wait_for_health(app: &TestApp, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        let health = app.get("/health").await.body;
        if pred(&health) {
            return health;
        }
        assert!(Instant::now() < deadline, "health never showed {what}: {health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn published_messages_reach_every_kind_of_target() {
    let Some(url) = shared_redis().await else { return };
    let channel = unique("ara-test-notifications");
    let app = app_with_pubsub(&url, &channel, &[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    bob.subscribe(&["news"]).await;

    let to_alice = json!({"target": {"type": "user", "id": "alice"}, "event_type": "order.shipped",
        "payload": {"order": "A-17"}, "priority": "High", "ttl": 60});
    assert_eq!(publish_json(&url, &channel, &to_alice).await, 1, "exactly one subscriber: the app");
    let n = alice.recv_notification().await;
    assert_eq!(
        (&n["event_type"], &n["payload"], &n["priority"]),
        (&json!("order.shipped"), &json!({"order": "A-17"}), &json!("High"))
    );

    publish_json(
        &url,
        &channel,
        &json!({"target": {"type": "users", "ids": ["alice", "bob"]}, "event_type": "e.users"}),
    )
    .await;
    assert_eq!(alice.recv_notification().await["event_type"], "e.users");
    assert_eq!(bob.recv_notification().await["event_type"], "e.users");

    publish_json(&url, &channel, &json!({"target": {"type": "channel", "name": "news"}, "event_type": "e.channel"}))
        .await;
    assert_eq!(bob.recv_notification().await["event_type"], "e.channel");
    publish_json(
        &url,
        &channel,
        &json!({"target": {"type": "channels", "names": ["news", "x"]}, "event_type": "e.chans"}),
    )
    .await;
    assert_eq!(bob.recv_notification().await["event_type"], "e.chans");

    publish_json(&url, &channel, &json!({"target": {"type": "broadcast"}, "event_type": "e.all"})).await;
    assert_eq!(alice.recv_notification().await["event_type"], "e.all");
    assert_eq!(bob.recv_notification().await["event_type"], "e.all");
    alice.expect_no_message(Duration::from_millis(200)).await;

    let stats = app.stats().await;
    assert_eq!(
        (stats["pubsub"]["received"].as_u64(), stats["pubsub"]["delivered"].as_u64()),
        (Some(5), Some(5)),
        "{stats}"
    );
}

#[tokio::test]
async fn malformed_messages_are_counted_and_skipped() {
    let Some(url) = shared_redis().await else { return };
    let channel = unique("ara-test-notifications");
    let app = app_with_pubsub(&url, &channel, &[]).await;
    let mut alice = app.connect_user("alice", "default").await;

    for bad in [
        "not json at all",
        r#"{"event_type":"no.target"}"#,
        r#"{"target":{"type":"planet"},"event_type":"e"}"#,
        r#"{"target":{"type":"user","id":"alice"}}"#,
        r#"{"target":{"type":"user","id":"alice"},"template_id":"welcome","variables":{}}"#,
        r#"{"target":{"type":"user","id":"alice"},"event_type":"e","tenant_id":"bad tenant"}"#,
    ] {
        publish(&url, &channel, bad).await;
    }
    publish_json(&url, &channel, &json!({"target": {"type": "user", "id": "alice"}, "event_type": "still.works"}))
        .await;
    assert_eq!(alice.recv_notification().await["event_type"], "still.works", "the subscriber kept going");

    let stats = app.stats().await;
    let pubsub = &stats["pubsub"];
    assert_eq!((pubsub["received"].as_u64(), pubsub["malformed"].as_u64()), (Some(7), Some(6)), "{stats}");
    assert_eq!(pubsub["delivered"], 1);
}

#[tokio::test]
async fn tenant_id_scopes_the_delivery_and_every_channel_is_heard() {
    let Some(url) = shared_redis().await else { return };
    let (first, second) = (unique("ara-test-a"), unique("ara-test-b"));
    let app = app_with_pubsub(&url, &format!("{first}, {second}"), &[]).await;
    let mut acme_alice = app.connect_user("alice", "acme").await;
    let mut default_alice = app.connect_user("alice", "default").await;

    let message = json!({"target": {"type": "user", "id": "alice"}, "event_type": "acme.only", "tenant_id": "acme"});
    publish_json(&url, &first, &message).await;
    assert_eq!(acme_alice.recv_notification().await["event_type"], "acme.only");
    default_alice.expect_no_message(Duration::from_millis(300)).await;

    publish_json(&url, &second, &json!({"target": {"type": "broadcast"}, "event_type": "second.channel"})).await;
    assert_eq!(default_alice.recv_notification().await["event_type"], "second.channel");
}

#[tokio::test]
async fn health_shows_the_subscription_and_stays_up_without_pubsub() {
    let Some(url) = shared_redis().await else { return };
    let app = app_with_pubsub(&url, &unique("ara-test-health"), &[]).await;
    let health = app.get("/health").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body["status"], "healthy", "{}", health.text);
    assert_eq!(health.body["dependencies"]["redis"], json!({"status": "healthy", "breaker": "closed"}));
    assert_eq!(health.body["dependencies"]["pubsub"]["status"], "healthy");

    // Off by default: no Redis entry at all.
    let plain = spawn_app(&[]).await.get("/health").await;
    assert!(plain.body["dependencies"].get("pubsub").is_none() && plain.body["dependencies"].get("redis").is_none());
}

#[tokio::test]
async fn templated_messages_are_rendered_and_bad_ones_counted() {
    let Some(url) = shared_redis().await else { return };
    let channel = unique("ara-test-templates");
    let app = app_with_pubsub(&url, &channel, &[]).await;
    let created = app
        .post(
            "/api/v1/templates",
            &json!({"id": "shipped", "name": "Shipped", "event_type": "order.shipped",
                "payload_template": {"text": "Order {{order}} shipped", "count": "{{count}}"}, "priority": "High"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let mut alice = app.connect_user("alice", "default").await;

    let message = json!({"target": {"type": "user", "id": "alice"}, "template_id": "shipped",
        "variables": {"order": "A-17", "count": 3}});
    publish_json(&url, &channel, &message).await;
    let n = alice.recv_notification().await;
    assert_eq!(n["event_type"], "order.shipped");
    assert_eq!(n["payload"], json!({"text": "Order A-17 shipped", "count": 3}));
    assert_eq!(n["priority"], "High", "the template's priority applies");

    // A missing variable and an unknown template are dropped and counted; the next message still goes.
    publish_json(&url, &channel, &json!({"target": {"type": "user", "id": "alice"}, "template_id": "shipped"})).await;
    publish_json(&url, &channel, &json!({"target": {"type": "user", "id": "alice"}, "template_id": "nope"})).await;
    publish_json(&url, &channel, &json!({"target": {"type": "user", "id": "alice"}, "event_type": "after"})).await;
    assert_eq!(alice.recv_notification().await["event_type"], "after");
    let stats = app.stats().await;
    assert_eq!(stats["pubsub"]["malformed"].as_u64(), Some(2), "{stats}");
}

/// A subscribed connection answers PING with `["pong", ""]`; the keep-alive once took that for a
/// failure and resubscribed every period, losing what was published meanwhile.
#[tokio::test]
async fn a_healthy_subscription_outlives_many_keepalives_without_losing_a_message() {
    let Some(url) = shared_redis().await else { return };
    let channel = unique("ara-test-keepalive");
    let app = app_with_pubsub(&url, &channel, &[("REDIS_PUBSUB_KEEPALIVE_MS", "200")]).await;
    let mut alice = app.connect_user("alice", "default").await;

    // About 15 keep-alive periods, a message every 20 ms.
    let started = Instant::now();
    let mut published = 0u32;
    while started.elapsed() < Duration::from_secs(3) {
        let message =
            json!({"target": {"type": "user", "id": "alice"}, "event_type": "tick", "payload": {"n": published}});
        let heard_by = publish_json(&url, &channel, &message).await;
        assert_eq!(heard_by, 1, "message {published}: nobody was subscribed ({:?} in)", started.elapsed());
        published += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for n in 0..published {
        let got = alice.recv_notification().await;
        assert_eq!(got["payload"]["n"], n, "message {n} of {published}: {got}");
    }
    let stats = app.stats().await;
    let pubsub = &stats["pubsub"];
    assert_eq!(pubsub["delivered"].as_u64(), Some(u64::from(published)), "{stats}");
    assert_eq!((pubsub["reconnects"].as_u64(), pubsub["subscriptions_lost"].as_u64()), (Some(0), Some(0)), "{stats}");
    assert_eq!(pubsub["subscribed"], true, "{stats}");
}
