//! `ttl` is an `integer` in the spec, and to JSON Schema `500.0` is one: sends, batch items and
//! templates take it as 500; a fraction or a negative number is still refused.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_integral_float_ttl_is_an_integer_everywhere() {
    let app = spawn_app(&[]).await;
    let mut alice = app.connect_user("alice", "default").await;
    let send = app
        .post("/api/v1/notifications/send", &json!({"target_user_id": "alice", "event_type": "e", "ttl": 500.0}))
        .await;
    assert_eq!(send.status, 200, "{}", send.text);
    assert_eq!(alice.recv_notification().await["ttl"], 500);

    let batch = json!({"notifications": [{"target": {"type": "user", "id": "alice"}, "event_type": "b", "ttl": 6e1}]});
    let reply = app.post("/api/v1/notifications/batch", &batch).await;
    assert_eq!(reply.body["summary"]["successful"], 1, "{}", reply.text);
    assert_eq!(alice.recv_notification().await["ttl"], 60);

    let template = json!({"id": "float-ttl", "name": "n", "event_type": "t", "ttl": 600.0});
    let created = app.post("/api/v1/templates", &template).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["ttl"], 600);
}

#[tokio::test]
async fn a_fractional_or_negative_ttl_is_still_refused() {
    let app = spawn_app(&[]).await;
    for ttl in [json!(1.5), json!(-1), json!(-1.0), json!(4294967296u64), json!("5")] {
        let body = json!({"target_user_id": "alice", "event_type": "e", "ttl": ttl});
        app.post("/api/v1/notifications/send", &body).await.assert_error(400, "INVALID_REQUEST");
        let template = json!({"id": "t", "name": "n", "event_type": "e", "ttl": ttl});
        app.post("/api/v1/templates", &template).await.assert_error(400, "INVALID_REQUEST");
    }
}
