//! CORS: what a browser script on another origin may read of Ara's responses. The rate-limit headers
//! and `Retry-After` must be exposed, or a page cannot tell how long to back off.

use crate::helpers::{spawn_app, Reply, TestApp};

const ORIGIN: &str = "https://app.example.com";
const SEND: &str = "/api/v1/notifications/broadcast";
const RATE_LIMIT_HEADERS: [&str; 4] =
    ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "retry-after"];

async fn post_from_browser(app: &TestApp) -> Reply {
    let response = app
        .client
        .post(app.url(SEND))
        .header("origin", ORIGIN)
        .json(&serde_json::json!({"event_type": "cors.check", "payload": {}}))
        .send()
        .await
        .expect("POST reaches the server");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Reply { status, headers, body: serde_json::from_str(&text).unwrap_or_default(), text }
}

fn exposed(reply: &Reply) -> Vec<String> {
    let raw = reply
        .headers
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Access-Control-Expose-Headers on {}: {:?}", reply.status, reply.headers));
    raw.split(',').map(|h| h.trim().to_ascii_lowercase()).collect()
}

fn assert_rate_limit_headers_exposed(reply: &Reply) {
    let exposed = exposed(reply);
    for name in RATE_LIMIT_HEADERS.iter().chain(&["x-request-id"]) {
        assert!(exposed.iter().any(|h| h == name), "{name} is not exposed to scripts: {exposed:?}");
    }
}

#[tokio::test]
async fn rate_limit_headers_and_retry_after_are_exposed_to_scripts() {
    for origins in ["*", ORIGIN] {
        let app = spawn_app(&[
            ("CORS_ORIGINS", origins),
            ("RATELIMIT_ENABLED", "true"),
            ("RATELIMIT_HTTP_REQUESTS_PER_SECOND", "1"),
            ("RATELIMIT_HTTP_BURST_SIZE", "1"),
        ])
        .await;
        let accepted = post_from_browser(&app).await;
        assert_eq!(accepted.status, 200, "{}", accepted.text);
        assert!(accepted.headers.contains_key("x-ratelimit-remaining"), "the header is sent: {:?}", accepted.headers);
        assert_rate_limit_headers_exposed(&accepted);

        let refused = post_from_browser(&app).await;
        refused.assert_error(429, "RATE_LIMIT_EXCEEDED");
        assert!(refused.headers.contains_key("retry-after"));
        assert_rate_limit_headers_exposed(&refused);
    }
}

#[tokio::test]
async fn websocket_and_sse_handshakes_from_other_origins_are_refused() {
    let app = spawn_app(&[("CORS_ORIGINS", ORIGIN)]).await;
    let token = app.token("alice", "default");

    let refused = app.try_connect_ws_from(&token, "https://evil.example").await.err().expect("refused");
    refused.assert(403, "ORIGIN_NOT_ALLOWED");
    assert!(
        refused.body["error"]["message"].as_str().is_some_and(|m| m.contains("evil.example")),
        "{:?}",
        refused.body
    );
    let allowed = app.try_connect_ws_from(&token, ORIGIN).await.expect("the configured origin connects");
    assert_eq!(allowed.user_id, "alice");
    // Programs send no Origin; their token is what counts.
    app.try_connect_ws(Some(&token)).await.expect("no Origin connects");

    let sse =
        |origin: &'static str| app.client.get(app.url(&format!("/sse?token={token}"))).header("origin", origin).send();
    let reply = sse("https://evil.example").await.expect("answered");
    assert_eq!(reply.status(), 403);
    let body: serde_json::Value = reply.json().await.expect("JSON error");
    assert_eq!(body["error"]["code"], "ORIGIN_NOT_ALLOWED", "{body}");
    let reply = sse(ORIGIN).await.expect("answered");
    assert_eq!(reply.status(), 200, "the configured origin streams");
}

#[tokio::test]
async fn any_origin_may_connect_when_cors_origins_is_unset() {
    let app = spawn_app(&[]).await;
    let token = app.token("bob", "default");
    app.try_connect_ws_from(&token, "https://anything.example").await.expect("any origin connects");
}
