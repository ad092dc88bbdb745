//! Channel info: the default tenant's channels with subscriber counts, one channel, and a user's
//! connections and subscriptions, all from this node's live connections.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp, POLL_DEADLINE};

/// GETs `path`, which must answer 200; returns the body.
async fn get_ok(app: &TestApp, path: &str) -> Value {
    let reply = app.get(path).await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
    reply.body
}

/// Polls `path` until it answers `status`.
async fn wait_for_status(app: &TestApp, path: &str, status: u16) -> crate::helpers::Reply {
    let deadline = std::time::Instant::now() + POLL_DEADLINE;
    loop {
        let reply = app.get(path).await;
        if reply.status == status {
            return reply;
        }
        assert!(std::time::Instant::now() < deadline, "GET {path} never answered {status}; last: {}", reply.text);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn channels_are_listed_sorted_with_their_subscriber_counts() {
    let app = spawn_app(&[]).await;
    assert_eq!(get_ok(&app, "/api/v1/channels").await, json!({"channels": [], "total": 0}));
    let mut a = app.connect_user("a", "default").await;
    let mut b = app.connect_user("b", "default").await;
    let mut c = app.connect_user("c", "default").await;
    let mut other_tenant = app.connect_user("a", "acme").await;
    a.subscribe(&["orders", "news"]).await;
    b.subscribe(&["orders"]).await;
    c.subscribe(&["zeta", "alpha"]).await;
    other_tenant.subscribe(&["orders", "secret"]).await;

    let list = get_ok(&app, "/api/v1/channels").await;
    assert_eq!(
        list,
        json!({"channels": [
            {"name": "alpha", "subscriber_count": 1},
            {"name": "news", "subscriber_count": 1},
            {"name": "orders", "subscriber_count": 2},
            {"name": "zeta", "subscriber_count": 1},
        ], "total": 4}),
        "sorted by name; the acme tenant's channels and subscribers are not counted"
    );
}

#[tokio::test]
async fn one_channel_answers_its_count_or_404() {
    let app = spawn_app(&[]).await;
    let mut a = app.connect_user("a", "default").await;
    let mut b = app.connect_user("b", "default").await;
    let mut other_tenant = app.connect_user("x", "acme").await;
    a.subscribe(&["orders"]).await;
    b.subscribe(&["orders", "news"]).await;
    other_tenant.subscribe(&["secret", "orders"]).await;

    assert_eq!(get_ok(&app, "/api/v1/channels/orders").await, json!({"name": "orders", "subscriber_count": 2}));
    assert_eq!(get_ok(&app, "/api/v1/channels/news").await, json!({"name": "news", "subscriber_count": 1}));
    app.get("/api/v1/channels/nobody").await.assert_error(404, "CHANNEL_NOT_FOUND");
    app.get("/api/v1/channels/secret").await.assert_error(404, "CHANNEL_NOT_FOUND");
    app.get("/api/v1/channels/bad!name").await.assert_error(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn a_users_subscriptions_are_the_union_over_their_connections() {
    let app = spawn_app(&[]).await;
    let mut phone = app.connect_user("alice", "default").await;
    let mut laptop = app.connect_user("alice", "default").await;
    let _bob = app.connect_user("bob", "default").await;
    let mut acme = app.connect_user("carol", "acme").await;
    phone.subscribe(&["orders", "news"]).await;
    laptop.subscribe(&["sports", "orders"]).await;
    acme.subscribe(&["orders"]).await;

    assert_eq!(
        get_ok(&app, "/api/v1/users/alice/subscriptions").await,
        json!({"user_id": "alice", "connections": 2, "channels": ["news", "orders", "sports"]})
    );
    assert_eq!(
        get_ok(&app, "/api/v1/users/bob/subscriptions").await,
        json!({"user_id": "bob", "connections": 1, "channels": []})
    );
    app.get("/api/v1/users/nobody/subscriptions").await.assert_error(404, "USER_NOT_FOUND");
    app.get("/api/v1/users/carol/subscriptions").await.assert_error(404, "USER_NOT_FOUND");
}

#[tokio::test]
async fn counts_drop_after_unsubscribe_and_disconnect() {
    let app = spawn_app(&[]).await;
    let mut a = app.connect_user("a", "default").await;
    let mut b = app.connect_user("b", "default").await;
    a.subscribe(&["orders", "news"]).await;
    b.subscribe(&["orders"]).await;
    assert_eq!(get_ok(&app, "/api/v1/channels/orders").await["subscriber_count"], 2);

    a.unsubscribe(&["orders"]).await;
    assert_eq!(get_ok(&app, "/api/v1/channels/orders").await["subscriber_count"], 1);
    assert_eq!(get_ok(&app, "/api/v1/users/a/subscriptions").await["channels"], json!(["news"]));

    b.close().await;
    wait_for_status(&app, "/api/v1/channels/orders", 404).await.assert_error(404, "CHANNEL_NOT_FOUND");
    app.get("/api/v1/users/b/subscriptions").await.assert_error(404, "USER_NOT_FOUND");
    assert_eq!(
        get_ok(&app, "/api/v1/channels").await,
        json!({"channels": [{"name": "news", "subscriber_count": 1}], "total": 1})
    );

    a.close().await;
    wait_for_status(&app, "/api/v1/users/a/subscriptions", 404).await.assert_error(404, "USER_NOT_FOUND");
    assert_eq!(get_ok(&app, "/api/v1/channels").await, json!({"channels": [], "total": 0}));
}

#[tokio::test]
async fn channel_info_needs_the_api_key_when_one_is_set() {
    const KEY: &str = "channel-info-key";
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let mut a = app.connect_user("a", "default").await;
    a.subscribe(&["orders"]).await;
    for path in ["/api/v1/channels", "/api/v1/channels/orders", "/api/v1/users/a/subscriptions"] {
        app.get_with_key(path, None).await.assert_error(401, "MISSING_API_KEY");
        app.get_with_key(path, Some("wrong")).await.assert_error(401, "INVALID_API_KEY");
        let reply = app.get_with_key(path, Some(KEY)).await;
        assert_eq!(reply.status, 200, "GET {path} with the key: {}", reply.text);
    }
}
