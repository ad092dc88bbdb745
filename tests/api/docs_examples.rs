//! What the reference docs show, checked against the running server: the send response's fields
//! (docs/API.md), the order of a template's `variables` for the docs' own example (docs/API.md), and
//! the route label of a parameterised route (docs/OBSERVABILITY.md).

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_send_response_has_the_documented_fields() {
    let app = spawn_app(&[]).await;
    let _alice = app.connect_user("alice", "default").await;
    let body = json!({"target_user_ids": ["alice", "ghost"], "event_type": "e", "payload": {}});
    let reply = app.post("/api/v1/notifications/send-to-users", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut fields: Vec<&str> = reply.body.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["delivered_to", "notification_id", "offline_users", "queued", "success"], "{}", reply.text);
    let counts = ["delivered_to", "offline_users", "queued"].map(|k| reply.body[k].as_u64());
    assert_eq!(counts, [Some(1), Some(1), Some(1)], "{}", reply.text);
}

#[tokio::test]
async fn template_variables_come_in_the_documented_order() {
    let app = spawn_app(&[]).await;
    // The example of docs/API.md, as written there.
    let example = json!({
        "id": "order-shipped",
        "name": "Order shipped",
        "event_type": "order.shipped",
        "payload_template": {
            "title": "Order {{order_id}} shipped!",
            "items": "{{count}}",
            "action": {"type": "open_url", "url": "/orders/{{order_id}}/tracking", "for": "{{ user.name }}"}
        },
        "priority": "High",
        "ttl": 86400
    });
    let reply = app.post("/api/v1/templates", &example).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["variables"], json!(["user.name", "order_id", "count"]), "{}", reply.text);
    // payload_template comes back with its keys sorted, the order the names are read in.
    let at = |key: &str| reply.text.find(&format!("\"{key}\"")).unwrap_or_else(|| panic!("{key}: {}", reply.text));
    assert!(at("action") < at("items") && at("items") < at("title"), "{}", reply.text);
    assert!(at("for") < at("type") && at("type") < at("url"), "{}", reply.text);
}

#[tokio::test]
async fn route_labels_name_parameters_with_a_colon() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.get("/api/v1/templates/nope").await.status, 404);
    let metrics = app.get("/metrics").await.text;
    let line = metrics
        .lines()
        .find(|l| l.starts_with("ara_http_requests_total{") && l.contains("status=\"404\""))
        .unwrap_or_else(|| panic!("no 404 sample: {metrics}"));
    assert!(line.contains("route=\"/api/v1/templates/:id\""), "{line}");
}
