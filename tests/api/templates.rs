//! Templates end to end: CRUD over HTTP, templated sends reaching WebSocket clients, the errors a
//! sender sees, and (with Postgres) templates surviving a restart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, Reply, TestApp};

const QUIET: Duration = Duration::from_millis(300);
const TEMPLATES: &str = "/api/v1/templates";

/// Any method, with the app's API key; `body` as JSON when given.
async fn call(app: &TestApp, method: Method, path: &str, body: Option<&Value>) -> Reply {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = &app.api_key {
        request = request.header("x-api-key", key);
    }
    let response = request.send().await.expect("request reaches the server");
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.expect("response body is readable");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, body, text }
}

fn order_shipped() -> Value {
    json!({
        "id": "order-shipped",
        "name": "Order shipped",
        "event_type": "order.shipped",
        "payload_template": {
            "title": "Order {{order_id}} shipped!",
            "count": "{{count}}",
            "action": {"url": "/orders/{{order_id}}/tracking", "who": ["{{ user.name }}"]},
        },
        "priority": "High",
        "ttl": 600,
    })
}

/// Creates a template, which must succeed.
async fn create(app: &TestApp, body: &Value) -> Value {
    let reply = call(app, Method::POST, TEMPLATES, Some(body)).await;
    assert_eq!(reply.status, 201, "create failed: {}", reply.text);
    reply.body
}

fn shipped_variables() -> Value {
    json!({"order_id": "ORD-1", "count": 3, "user": {"name": "Ann"}})
}

fn shipped_payload() -> Value {
    json!({"title": "Order ORD-1 shipped!", "count": 3, "action": {"url": "/orders/ORD-1/tracking", "who": ["Ann"]}})
}

#[tokio::test]
async fn templates_can_be_created_read_listed_updated_and_deleted() {
    let app = spawn_app(&[]).await;
    let reply = call(&app, Method::POST, TEMPLATES, Some(&order_shipped())).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.headers["location"], "/api/v1/templates/order-shipped");
    let created = reply.body;
    assert_eq!((created["id"].as_str(), created["name"].as_str()), (Some("order-shipped"), Some("Order shipped")));
    assert_eq!(created["payload_template"], order_shipped()["payload_template"]);
    assert_eq!((created["priority"].as_str(), created["ttl"].as_u64()), (Some("High"), Some(600)));
    assert_eq!(created["variables"], json!(["order_id", "user.name", "count"]));
    assert_eq!(created["created_at"], created["updated_at"]);

    let got = call(&app, Method::GET, "/api/v1/templates/order-shipped", None).await;
    assert_eq!((got.status.as_u16(), &got.body), (200, &created));
    let minimal = json!({"id": "a-minimal", "name": "Minimal", "event_type": "ping"});
    let minimal = create(&app, &minimal).await;
    assert_eq!(minimal["payload_template"], json!({}));
    assert!(minimal.get("priority").is_none() && minimal.get("ttl").is_none(), "unset defaults are omitted: {minimal}");
    let list = call(&app, Method::GET, TEMPLATES, None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body, json!({"templates": [minimal, created.clone()], "total": 2}), "ordered by id");

    tokio::time::sleep(Duration::from_millis(5)).await;
    let change = json!({"name": "Renamed", "event_type": "order.sent", "payload_template": {"v": "{{v}}"}});
    let updated = call(&app, Method::PUT, "/api/v1/templates/order-shipped", Some(&change)).await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(
        (updated.body["name"].as_str(), updated.body["event_type"].as_str()),
        (Some("Renamed"), Some("order.sent"))
    );
    assert!(updated.body.get("priority").is_none(), "a PUT replaces every field: {}", updated.text);
    assert_eq!(updated.body["created_at"], created["created_at"]);
    assert_ne!(updated.body["updated_at"], created["updated_at"]);
    assert_eq!(call(&app, Method::GET, "/api/v1/templates/order-shipped", None).await.body, updated.body);

    let deleted = call(&app, Method::DELETE, "/api/v1/templates/order-shipped", None).await;
    assert_eq!((deleted.status.as_u16(), deleted.text.as_str()), (204, ""));
    call(&app, Method::GET, "/api/v1/templates/order-shipped", None).await.assert_error(404, "TEMPLATE_NOT_FOUND");
    call(&app, Method::DELETE, "/api/v1/templates/order-shipped", None).await.assert_error(404, "TEMPLATE_NOT_FOUND");
    assert_eq!(call(&app, Method::GET, TEMPLATES, None).await.body["total"], 1);
}

#[tokio::test]
async fn bad_template_requests_get_structured_errors() {
    let app = spawn_app(&[]).await;
    create(&app, &order_shipped()).await;
    call(&app, Method::POST, TEMPLATES, Some(&order_shipped())).await.assert_error(409, "TEMPLATE_EXISTS");

    let with = |field: &str, value: Value| {
        let mut body = order_shipped();
        body["id"] = json!("fresh");
        body[field] = value;
        body
    };
    for invalid in [
        with("id", json!("has space")),
        with("id", json!("a".repeat(65))),
        with("id", json!("")),
        with("name", json!("")),
        with("event_type", json!("  ")),
        with("ttl", json!(0)),
    ] {
        call(&app, Method::POST, TEMPLATES, Some(&invalid)).await.assert_error(400, "VALIDATION_ERROR");
    }
    for malformed in [json!({"id": "x", "event_type": "e"}), with("priority", json!("urgent")), with("ttl", json!(-1))]
    {
        call(&app, Method::POST, TEMPLATES, Some(&malformed)).await.assert_error(400, "INVALID_REQUEST");
    }
    let fields = json!({"name": "n", "event_type": "e"});
    call(&app, Method::PUT, "/api/v1/templates/nope", Some(&fields)).await.assert_error(404, "TEMPLATE_NOT_FOUND");
    let renamed = json!({"id": "other", "name": "n", "event_type": "e"});
    call(&app, Method::PUT, "/api/v1/templates/order-shipped", Some(&renamed))
        .await
        .assert_error(400, "INVALID_REQUEST");
    call(&app, Method::GET, "/api/v1/templates/bad.id", None).await.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(call(&app, Method::GET, TEMPLATES, None).await.body["total"], 1, "nothing invalid was stored");
}

/// Messages name the template id as the user wrote it (`"nope"`), never as Rust debug text
/// (`TemplateId("nope")`).
#[tokio::test]
async fn template_errors_name_the_id_in_plain_text() {
    let app = spawn_app(&[]).await;
    create(&app, &order_shipped()).await;
    let message = |reply: &Reply| reply.body["error"]["message"].as_str().unwrap_or_default().to_owned();

    let send = json!({"target_user_id": "alice", "template_id": "nope", "variables": {}});
    let reply = app.post("/api/v1/notifications/send", &send).await;
    reply.assert_error(404, "TEMPLATE_NOT_FOUND");
    assert_eq!(message(&reply), r#"no template with id "nope""#, "{}", reply.text);

    let fields = json!({"name": "n", "event_type": "e"});
    for reply in [
        call(&app, Method::GET, "/api/v1/templates/nope", None).await,
        call(&app, Method::PUT, "/api/v1/templates/nope", Some(&fields)).await,
        call(&app, Method::DELETE, "/api/v1/templates/nope", None).await,
    ] {
        reply.assert_error(404, "TEMPLATE_NOT_FOUND");
        assert_eq!(message(&reply), r#"no template with id "nope""#, "{}", reply.text);
    }
    let reply = call(&app, Method::POST, TEMPLATES, Some(&order_shipped())).await;
    reply.assert_error(409, "TEMPLATE_EXISTS");
    assert_eq!(message(&reply), r#"a template with id "order-shipped" already exists"#, "{}", reply.text);
    let reply = call(&app, Method::GET, "/api/v1/templates/bad.id", None).await;
    reply.assert_error(400, "VALIDATION_ERROR");
    assert!(message(&reply).starts_with(r#"invalid template id "bad.id": "#), "{}", reply.text);
}

#[tokio::test]
async fn templated_sends_reach_websocket_clients_on_every_target() {
    let app = spawn_app(&[]).await;
    create(&app, &order_shipped()).await;
    let mut alice = app.connect_user("alice", "default").await;
    let mut bob = app.connect_user("bob", "default").await;
    bob.subscribe(&["orders"]).await;
    let by_template = json!({"template_id": "order-shipped", "variables": shipped_variables()});
    let with_target = |target: Value| {
        let mut body = by_template.clone();
        if let (Some(body), Some(target)) = (body.as_object_mut(), target.as_object()) {
            body.extend(target.clone());
        }
        body
    };

    let report = app.send("/api/v1/notifications/send", &with_target(json!({"target_user_id": "alice"}))).await;
    let n = alice.recv_notification().await;
    assert_eq!(n["id"], report.notification_id.as_str());
    assert_eq!((n["event_type"].as_str(), &n["payload"]), (Some("order.shipped"), &shipped_payload()));
    assert_eq!((n["priority"].as_str(), n["ttl"].as_u64()), (Some("High"), Some(600)), "the template's defaults");
    bob.expect_no_message(QUIET).await;

    let users = with_target(json!({"target_user_ids": ["alice", "bob"]}));
    assert_eq!(app.send("/api/v1/notifications/send-to-users", &users).await.delivered_to, 2);
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.recv_notification().await["payload"], shipped_payload());
    }

    let channel = with_target(json!({"channel": "orders"}));
    assert_eq!(app.send("/api/v1/notifications/channel", &channel).await.delivered_to, 1);
    assert_eq!(bob.recv_notification().await["payload"]["title"], "Order ORD-1 shipped!");
    let channels = with_target(json!({"channels": ["orders", "news"]}));
    assert_eq!(app.send("/api/v1/notifications/channels", &channels).await.delivered_to, 1);
    assert_eq!(bob.recv_notification().await["event_type"], "order.shipped");
    assert_eq!(app.send("/api/v1/notifications/broadcast", &by_template).await.delivered_to, 2);
    for client in [&mut alice, &mut bob] {
        assert_eq!(client.recv_notification().await["payload"], shipped_payload());
        client.expect_no_message(QUIET).await;
    }
}

#[tokio::test]
async fn a_send_overrides_the_template_priority_and_ttl() {
    let app = spawn_app(&[]).await;
    create(&app, &order_shipped()).await;
    create(&app, &json!({"id": "plain", "name": "Plain", "event_type": "plain", "payload_template": "{{x}}"})).await;
    let mut alice = app.connect_user("alice", "default").await;

    let mut body = json!({"target_user_id": "alice", "template_id": "order-shipped", "variables": shipped_variables(),
                          "priority": "low", "ttl": 5});
    app.send("/api/v1/notifications/send", &body).await;
    let n = alice.recv_notification().await;
    assert_eq!((n["priority"].as_str(), n["ttl"].as_u64()), (Some("Low"), Some(5)));
    if let Some(fields) = body.as_object_mut() {
        fields.remove("ttl");
    }
    app.send("/api/v1/notifications/send", &body).await;
    let n = alice.recv_notification().await;
    assert_eq!((n["priority"].as_str(), n["ttl"].as_u64()), (Some("Low"), Some(600)), "each default applies alone");

    let plain = json!({"target_user_id": "alice", "template_id": "plain", "variables": {"x": [1, {"y": true}]}});
    app.send("/api/v1/notifications/send", &plain).await;
    let n = alice.recv_notification().await;
    assert_eq!((n["priority"].as_str(), &n["payload"]), (Some("Normal"), &json!([1, {"y": true}])));
    assert!(n.get("ttl").is_none(), "no ttl without one on the template or the send: {n}");
}

#[tokio::test]
async fn missing_variables_are_a_400_that_lists_every_name() {
    let app = spawn_app(&[]).await;
    create(&app, &order_shipped()).await;
    let mut alice = app.connect_user("alice", "default").await;
    let body = json!({"target_user_id": "alice", "template_id": "order-shipped", "variables": {"count": 1}});
    let reply = app.post("/api/v1/notifications/send", &body).await;
    reply.assert_error(400, "MISSING_VARIABLES");
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("order_id") && message.contains("user.name"), "{message}");
    assert!(!message.contains("count"), "{message}");
    let no_variables = json!({"target_user_id": "alice", "template_id": "order-shipped"});
    app.post("/api/v1/notifications/send", &no_variables).await.assert_error(400, "MISSING_VARIABLES");
    alice.expect_no_message(QUIET).await;
    assert_eq!(app.stats().await["notifications_sent"], 0);
}

#[tokio::test]
async fn mixed_unknown_or_oversized_template_content_is_refused() {
    let app = spawn_app(&[("SERVER_BODY_LIMIT_BYTES", "2048")]).await;
    create(&app, &json!({"id": "echo", "name": "Echo", "event_type": "echo", "payload_template": ["{{v}}", "{{v}}"]}))
        .await;
    const SEND: &str = "/api/v1/notifications/send";
    let cases = [
        (json!({"template_id": "echo", "event_type": "e"}), 400, "INVALID_REQUEST"),
        (json!({"template_id": "echo", "payload": {}}), 400, "INVALID_REQUEST"),
        (json!({"event_type": "e", "variables": {"v": 1}}), 400, "INVALID_REQUEST"),
        (json!({"template_id": "echo", "variables": ["v"]}), 400, "INVALID_REQUEST"),
        (json!({"template_id": "nope", "variables": {}}), 404, "TEMPLATE_NOT_FOUND"),
        (json!({"template_id": "bad id", "variables": {}}), 400, "VALIDATION_ERROR"),
        // Each copy fits the body limit; the rendered payload holds two and does not.
        (json!({"template_id": "echo", "variables": {"v": "x".repeat(1500)}}), 400, "VALIDATION_ERROR"),
        (json!({"template_id": "echo", "variables": {"v": 1}, "ttl": 0}), 400, "VALIDATION_ERROR"),
    ];
    for (mut body, status, code) in cases {
        body["target_user_id"] = json!("alice");
        call(&app, Method::POST, SEND, Some(&body)).await.assert_error(status, code);
    }
    assert_eq!(app.stats().await["notifications_sent"], 0);
}

#[tokio::test]
async fn batch_items_may_name_templates() {
    let app = spawn_app(&[]).await;
    create(&app, &order_shipped()).await;
    let mut alice = app.connect_user("alice", "default").await;
    let body = json!({"notifications": [
        {"target": {"type": "user", "id": "alice"}, "template_id": "order-shipped", "variables": shipped_variables()},
        {"target": {"type": "user", "id": "alice"}, "template_id": "order-shipped", "variables": {}},
        {"target": {"type": "user", "id": "alice"}, "template_id": "nope"},
    ]});
    let reply = app.post("/api/v1/notifications/batch", &body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let results = &reply.body["results"];
    assert_eq!(results[0]["success"], true, "{}", reply.text);
    assert_eq!(results[1]["error_code"], "MISSING_VARIABLES", "{}", reply.text);
    assert_eq!(results[2]["error_code"], "TEMPLATE_NOT_FOUND", "{}", reply.text);
    assert_eq!(alice.recv_notification().await["payload"], shipped_payload());
    alice.expect_no_message(QUIET).await;
}

mod postgres;
