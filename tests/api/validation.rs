//! Bad HTTP requests get the documented status and `{"error":{"code","message"}}` body, and send nothing.

use serde_json::json;

use crate::helpers::spawn_app;

const SEND: &str = "/api/v1/notifications/send";

#[tokio::test]
async fn malformed_json_is_invalid_json() {
    let app = spawn_app(&[]).await;
    let reply = app.post_raw(SEND, r#"{"target_user_id": "alice", "event_type": "#, Some("application/json")).await;
    reply.assert_error(400, "INVALID_JSON");
    assert_eq!(reply.body.as_object().map(|o| o.len()), Some(1), "only `error` in the body: {}", reply.text);
}

#[tokio::test]
async fn missing_or_mistyped_fields_are_invalid_requests() {
    let app = spawn_app(&[]).await;
    let cases = [
        (SEND, json!({"target_user_id": "alice"})),
        (SEND, json!({"event_type": "e"})),
        (SEND, json!({"target_user_id": 42, "event_type": "e"})),
        (SEND, json!({"target_user_id": "alice", "event_type": "e", "priority": "urgent"})),
        ("/api/v1/notifications/send-to-users", json!({"event_type": "e"})),
        ("/api/v1/notifications/broadcast", json!({})),
        ("/api/v1/notifications/channel", json!({"event_type": "e"})),
        ("/api/v1/notifications/channels", json!({"channels": "news", "event_type": "e"})),
    ];
    for (path, body) in cases {
        let reply = app.post(path, &body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (400, "INVALID_REQUEST"),
            "{path} {body}: {}",
            reply.text
        );
    }
}

#[tokio::test]
async fn invalid_values_are_validation_errors() {
    let app = spawn_app(&[]).await;
    let cases = [
        (SEND, json!({"target_user_id": "", "event_type": "e"})),
        (SEND, json!({"target_user_id": "a\u{0007}b", "event_type": "e"})),
        (SEND, json!({"target_user_id": "u".repeat(129), "event_type": "e"})),
        (SEND, json!({"target_user_id": "alice", "event_type": ""})),
        (SEND, json!({"target_user_id": "alice", "event_type": "   "})),
        (SEND, json!({"target_user_id": "alice", "event_type": "e", "ttl": 0})),
        ("/api/v1/notifications/send-to-users", json!({"target_user_ids": [], "event_type": "e"})),
        ("/api/v1/notifications/send-to-users", json!({"target_user_ids": ["ok", ""], "event_type": "e"})),
        ("/api/v1/notifications/broadcast", json!({"event_type": ""})),
        ("/api/v1/notifications/channel", json!({"channel": "bad channel!", "event_type": "e"})),
        ("/api/v1/notifications/channel", json!({"channel": "", "event_type": "e"})),
        ("/api/v1/notifications/channel", json!({"channel": "c".repeat(65), "event_type": "e"})),
        ("/api/v1/notifications/channels", json!({"channels": [], "event_type": "e"})),
        ("/api/v1/notifications/channels", json!({"channels": ["ok", "tenant:chan"], "event_type": "e"})),
    ];
    for (path, body) in cases {
        let reply = app.post(path, &body).await;
        assert_eq!(
            (reply.status.as_u16(), reply.error_code()),
            (400, "VALIDATION_ERROR"),
            "{path} {body}: {}",
            reply.text
        );
    }
    assert_eq!(app.stats().await["notifications_sent"], 0, "nothing invalid was sent");
}

#[tokio::test]
async fn bodies_over_the_default_limit_are_too_large() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let big = json!({"target_user_id": "alice", "event_type": "e", "payload": {"blob": "x".repeat(70 * 1024)}});
    app.post(SEND, &big).await.assert_error(413, "PAYLOAD_TOO_LARGE");
    // Just under the limit is fine.
    let fits = json!({"target_user_id": "alice", "event_type": "e", "payload": {"blob": "x".repeat(60 * 1024)}});
    assert_eq!(app.send(SEND, &fits).await.delivered_to, 1);
    assert_eq!(alice.recv_notification().await["payload"]["blob"].as_str().map(str::len), Some(60 * 1024));
    alice.expect_no_message(std::time::Duration::from_millis(200)).await;
}

#[tokio::test]
async fn body_limit_is_configurable() {
    let app = spawn_app(&[("SERVER_BODY_LIMIT_BYTES", "1024")]).await;
    let big = json!({"event_type": "e", "payload": {"blob": "x".repeat(2000)}});
    app.post("/api/v1/notifications/broadcast", &big).await.assert_error(413, "PAYLOAD_TOO_LARGE");
    let small = json!({"event_type": "e", "payload": {"blob": "x".repeat(500)}});
    assert_eq!(app.post("/api/v1/notifications/broadcast", &small).await.status, 200);
}

#[tokio::test]
async fn wrong_content_type_is_unsupported() {
    let app = spawn_app(&[]).await;
    let body = r#"{"target_user_id":"alice","event_type":"e"}"#;
    app.post_raw(SEND, body, Some("text/plain")).await.assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
    app.post_raw(SEND, body, None).await.assert_error(415, "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test]
async fn unknown_routes_are_not_found() {
    let app = spawn_app(&[]).await;
    app.get("/nope").await.assert_error(404, "NOT_FOUND");
    app.post("/api/v1/notifications/nope", &json!({})).await.assert_error(404, "NOT_FOUND");
    app.get("/api/v2/notifications/send").await.assert_error(404, "NOT_FOUND");
}

#[tokio::test]
async fn wrong_method_is_not_allowed() {
    let app = spawn_app(&[]).await;
    app.get(SEND).await.assert_error(405, "METHOD_NOT_ALLOWED");
    app.post("/health", &json!({})).await.assert_error(405, "METHOD_NOT_ALLOWED");
}

/// A value quoted in a message reads as it was sent: `"…"`, JSON-escaped, never Rust's debug
/// notation (which writes U+200B as `\u{200b}`).
#[tokio::test]
async fn messages_quote_values_as_sent() {
    let app = spawn_app(&[]).await;
    let odd = "zo\u{200b}e";
    let reply = app.get(&format!("/api/v1/users/{odd}/subscriptions")).await;
    reply.assert_error(404, "USER_NOT_FOUND");
    assert_eq!(reply.body["error"]["message"], format!("user \"{odd}\" is not connected"), "{}", reply.text);

    let mut alice = app.connect_user("alice", "default").await;
    let id = format!("not-{odd}");
    alice.send_json(&json!({"type": "Ack", "payload": {"notification_id": id}})).await;
    let frame = alice.recv_error("INVALID_NOTIFICATION_ID").await;
    assert_eq!(frame["message"], format!("\"{id}\" is not a notification id"), "{frame}");
}
