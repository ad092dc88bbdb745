//! `X-API-Key` on the HTTP API when `API_KEY` is set; `/health` and `/ws` never need it.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

const KEY: &str = "test-api-key-123";

fn send_body() -> Value {
    json!({"target_user_id": "alice", "event_type": "e", "payload": {}})
}

#[tokio::test]
async fn sends_without_the_key_are_refused() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let reply = app.post_with_key("/api/v1/notifications/send", &send_body(), None).await;
    reply.assert_error(401, "MISSING_API_KEY");
    assert_eq!(reply.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
    for path in ["/send-to-users", "/broadcast", "/channel", "/channels"] {
        let reply = app.post_with_key(&format!("/api/v1/notifications{path}"), &json!({}), None).await;
        reply.assert_error(401, "MISSING_API_KEY");
    }
}

#[tokio::test]
async fn sends_with_a_wrong_key_are_refused() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    for wrong in ["test-api-key-124", "test-api-key-1234", "", "TEST-API-KEY-123"] {
        let reply = app.post_with_key("/api/v1/notifications/send", &send_body(), Some(wrong)).await;
        reply.assert_error(401, "INVALID_API_KEY");
    }
    assert_eq!(app.stats().await["notifications_sent"], 0, "refused requests send nothing");
}

#[tokio::test]
async fn sends_with_the_right_key_are_delivered() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let reply = app.post_with_key("/api/v1/notifications/send", &send_body(), Some(KEY)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["delivered_to"], 1);
    alice.recv_notification().await;
}

#[tokio::test]
async fn stats_needs_the_key_and_health_does_not() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    app.get_with_key("/stats", None).await.assert_error(401, "MISSING_API_KEY");
    app.get_with_key("/stats", Some("wrong")).await.assert_error(401, "INVALID_API_KEY");
    assert_eq!(app.get_with_key("/stats", Some(KEY)).await.status, 200);
    let health = app.get_with_key("/health", None).await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.body["status"], "healthy");
}

#[tokio::test]
async fn websocket_clients_need_a_token_not_the_key() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let client = app.connect_ws(&app.token("alice", "default")).await;
    assert_eq!(client.user_id, "alice");
}

#[tokio::test]
async fn numeric_looking_keys_are_compared_as_text() {
    let app = spawn_app(&[("API_KEY", "0012345")]).await;
    let reply = app.post_with_key("/api/v1/notifications/send", &send_body(), Some("0012345")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    app.post_with_key("/api/v1/notifications/send", &send_body(), Some("12345"))
        .await
        .assert_error(401, "INVALID_API_KEY");
}

#[tokio::test]
async fn without_a_configured_key_the_api_is_open() {
    let app = spawn_app(&[]).await;
    let reply = app.post_with_key("/api/v1/notifications/send", &send_body(), None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}
