//! The committed spec is the generated one: clients built from `openapi/openapi.json` match the server.

#[test]
fn committed_spec_matches_the_generated_one() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = ara::app::spec::openapi_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date; regenerate it with:\n    cargo run -q -- openapi > openapi/openapi.json"
    );
}

#[test]
fn spec_describes_every_route() {
    let spec: serde_json::Value = serde_json::from_str(&ara::app::spec::openapi_json()).expect("JSON spec");
    let paths = spec["paths"].as_object().expect("paths");
    for route in [
        "/api/v1/notifications/send",
        "/api/v1/notifications/send-to-users",
        "/api/v1/notifications/broadcast",
        "/api/v1/notifications/channel",
        "/api/v1/notifications/channels",
        "/api/v1/notifications/batch",
        "/api/v1/templates",
        "/api/v1/templates/{id}",
        "/api/v1/channels",
        "/api/v1/channels/{name}",
        "/api/v1/users/{user_id}/subscriptions",
        "/api/v1/users/{user_id}/disconnect",
        "/api/v1/tokens/revoke",
        "/api/v1/audit",
        "/api/v1/cluster/status",
        "/api/v1/cluster/users/{user_id}",
        "/api/v1/stats/acks",
        "/health",
        "/stats",
        "/metrics",
        "/ws",
        "/sse",
        "/api/v1/tenants",
        "/api/v1/tenants/{tenant_id}",
        "/api/v1/tenants/{tenant_id}/suspend",
        "/api/v1/tenants/{tenant_id}/activate",
        "/api/v1/tenants/{tenant_id}/keys",
        "/api/v1/tenants/{tenant_id}/keys/{key_id}/rotate",
        "/api/v1/tenants/{tenant_id}/keys/{key_id}",
    ] {
        assert!(paths.contains_key(route), "{route} is missing from the spec");
    }
    let send = &paths["/api/v1/notifications/send"]["post"]["responses"];
    for status in ["200", "400", "401", "413", "429"] {
        assert!(send.get(status).is_some(), "send documents {status}");
    }
}
