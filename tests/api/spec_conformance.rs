//! Real answers of a running server checked against the schemas the served OpenAPI spec gives for
//! them: the spec describes what the server says, field for field.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

/// Checks `instance` against the spec's component `name`.
fn assert_matches(spec: &Value, name: &str, instance: &Value) {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{name}"),
        "components": spec["components"],
    });
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("the {name} schema compiles: {e}"));
    let problems: Vec<String> =
        validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path)).collect();
    assert!(problems.is_empty(), "{name} does not describe {instance}:\n{}", problems.join("\n"));
}

async fn served_spec(app: &TestApp) -> Value {
    let reply = app.get("/api-docs/openapi.json").await;
    assert_eq!(reply.status, 200);
    reply.body
}

#[tokio::test]
async fn stats_health_and_errors_match_the_spec() {
    let app = spawn_app(&[("QUEUE_ENABLED", "true"), ("ACK_ENABLED", "true")]).await;
    let spec = served_spec(&app).await;
    let mut alice = app.connect_user("alice", "default").await;
    let sent = app.post("/api/v1/notifications/send", &json!({"target_user_id": "alice", "event_type": "e"})).await;
    assert_eq!(sent.status, 200);
    assert_matches(&spec, "SendResponse", &sent.body);
    alice.recv_notification().await;
    app.send_to_user("bob", "queued", json!({})).await;

    let stats = app.stats().await;
    assert!(stats["queue"].is_object() && stats["acks"].is_object(), "{stats}");
    assert_matches(&spec, "Stats", &stats);
    assert_matches(&spec, "AckStats", &stats["acks"]);
    assert_matches(&spec, "Health", &app.get("/health").await.body);
    assert_matches(&spec, "AckStats", &app.get("/api/v1/stats/acks").await.body);

    let not_found = app.get("/nope").await;
    assert_eq!(not_found.status, 404);
    assert_matches(&spec, "ErrorResponse", &not_found.body);
    let refused = app.post("/api/v1/notifications/send", &json!({"target_user_id": "a", "prioritty": "High"})).await;
    assert_eq!(refused.status, 400);
    assert_matches(&spec, "ErrorResponse", &refused.body);
}

/// A response missing a field the schema requires is caught: the check is not vacuous.
#[tokio::test]
async fn the_check_refuses_what_the_spec_does_not_describe() {
    let app = spawn_app(&[]).await;
    let spec = served_spec(&app).await;
    let mut stats = app.stats().await;
    stats.as_object_mut().unwrap().remove("notifications_sent");
    let result = std::panic::catch_unwind(|| assert_matches(&spec, "Stats", &stats));
    assert!(result.is_err(), "a Stats without notifications_sent must not pass");
}
