//! Authentication at the WebSocket upgrade: every JWT failure is an HTTP 401 with a precise code.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::helpers::{now_secs, sign, spawn_app};

#[tokio::test]
async fn token_in_the_query_string_connects_with_its_identity() {
    let app = spawn_app(&[]).await;
    let client = app.connect_ws(&app.token("alice", "acme")).await;
    assert_eq!((client.user_id.as_str(), client.tenant_id.as_str()), ("alice", "acme"));
    assert!(client.connection_id > 0);
}

#[tokio::test]
async fn token_in_a_bearer_header_connects() {
    let app = spawn_app(&[]).await;
    let mut client = app.try_connect_ws_bearer(&app.token("bob", "default")).await.expect("bearer token accepted");
    assert_eq!(client.user_id, "bob");
    // And it is a working connection.
    assert_eq!(app.send_to_user("bob", "hello", json!({})).await.delivered_to, 1);
    client.recv_notification().await;
}

#[tokio::test]
async fn a_token_without_tenant_claim_belongs_to_the_default_tenant() {
    let app = spawn_app(&[]).await;
    let token = app.sign(&json!({"sub": "carol", "exp": now_secs() + 60}));
    let client = app.connect_ws(&token).await;
    assert_eq!((client.user_id.as_str(), client.tenant_id.as_str()), ("carol", "default"));
}

#[tokio::test]
async fn missing_token_is_refused() {
    let app = spawn_app(&[]).await;
    app.try_connect_ws(None).await.err().expect("refused").assert(401, "MISSING_TOKEN");
    app.try_connect_ws(Some("")).await.err().expect("refused").assert(401, "MISSING_TOKEN");
}

#[tokio::test]
async fn expired_token_is_refused() {
    let app = spawn_app(&[]).await;
    let token = app.sign(&json!({"sub": "alice", "exp": now_secs() - 3600}));
    app.try_connect_ws(Some(&token)).await.err().expect("refused").assert(401, "TOKEN_EXPIRED");
}

#[tokio::test]
async fn token_not_valid_yet_is_refused_over_websocket_and_sse() {
    let app = spawn_app(&[]).await;
    let now = now_secs();
    let early = app.sign(&json!({"sub": "alice", "exp": now + 7200, "nbf": now + 3600}));
    app.try_connect_ws(Some(&early)).await.err().expect("refused").assert(401, "TOKEN_NOT_YET_VALID");
    let refusal = app.try_connect_sse(&format!("token={early}"), None).await.err().expect("refused");
    refusal.assert_error(401, "TOKEN_NOT_YET_VALID");
    // Already valid: accepted on both.
    let valid = app.sign(&json!({"sub": "alice", "exp": now + 7200, "nbf": now - 60}));
    assert_eq!(app.connect_ws(&valid).await.user_id, "alice");
    let sse = app.try_connect_sse(&format!("token={valid}"), None).await.unwrap_or_else(|r| panic!("{}", r.text));
    assert_eq!(sse.user_id, "alice");
}

#[tokio::test]
async fn token_signed_with_another_secret_is_refused() {
    let app = spawn_app(&[]).await;
    let token = sign(&json!({"sub": "alice", "exp": now_secs() + 60}), "not-the-server-secret", Algorithm::HS256);
    app.try_connect_ws(Some(&token)).await.err().expect("refused").assert(401, "INVALID_SIGNATURE");
    // Through the header too.
    app.try_connect_ws_bearer(&token).await.err().expect("refused").assert(401, "INVALID_SIGNATURE");
}

#[tokio::test]
async fn token_with_another_algorithm_is_refused() {
    let app = spawn_app(&[]).await;
    let token = sign(&json!({"sub": "alice", "exp": now_secs() + 60}), &app.jwt_secret, Algorithm::HS512);
    app.try_connect_ws(Some(&token)).await.err().expect("refused").assert(401, "INVALID_ALGORITHM");
}

#[tokio::test]
async fn unsigned_alg_none_token_is_refused_as_a_bad_algorithm_or_token() {
    let app = spawn_app(&[]).await;
    // {"alg":"none","typ":"JWT"} . {"sub":"alice","exp":4102444800} . (no signature)
    let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6NDEwMjQ0NDgwMH0.";
    let refusal = app.try_connect_ws(Some(token)).await.err().expect("alg none must be refused");
    assert_eq!(refusal.status, 401);
    let code = refusal.body["error"]["code"].as_str().unwrap_or_default();
    assert!(
        code == "INVALID_ALGORITHM" || code == "INVALID_TOKEN",
        "alg none should be INVALID_ALGORITHM (or INVALID_TOKEN), got {}",
        refusal.body
    );
}

#[tokio::test]
async fn garbage_token_is_refused_as_invalid() {
    let app = spawn_app(&[]).await;
    app.try_connect_ws(Some("not-a-jwt")).await.err().expect("refused").assert(401, "INVALID_TOKEN");
}

#[tokio::test]
async fn audience_is_checked_when_configured() {
    let app = spawn_app(&[("JWT_AUDIENCE", "ara-clients")]).await;
    let exp = now_secs() + 60;
    let wrong = app.sign(&json!({"sub": "alice", "exp": exp, "aud": "someone-else"}));
    app.try_connect_ws(Some(&wrong)).await.err().expect("refused").assert(401, "INVALID_AUDIENCE");
    let missing = app.sign(&json!({"sub": "alice", "exp": exp}));
    app.try_connect_ws(Some(&missing)).await.err().expect("refused").assert(401, "INVALID_AUDIENCE");
    let right = app.sign(&json!({"sub": "alice", "exp": exp, "aud": "ara-clients"}));
    assert_eq!(app.connect_ws(&right).await.user_id, "alice");
}

#[tokio::test]
async fn an_audience_array_is_accepted_and_any_member_may_match() {
    let exp = now_secs() + 60;
    let open = spawn_app(&[]).await;
    let array = open.sign(&json!({"sub": "alice", "exp": exp, "aud": ["account", "broker"]}));
    assert_eq!(open.connect_ws(&array).await.user_id, "alice", "no JWT_AUDIENCE: aud is not checked");

    let app = spawn_app(&[("JWT_AUDIENCE", "ara-clients")]).await;
    let matching = app.sign(&json!({"sub": "alice", "exp": exp, "aud": ["account", "ara-clients"]}));
    assert_eq!(app.connect_ws(&matching).await.user_id, "alice");
    let sse = app.try_connect_sse(&format!("token={matching}"), None).await.unwrap_or_else(|r| panic!("{}", r.text));
    assert_eq!(sse.user_id, "alice");
    let none = app.sign(&json!({"sub": "alice", "exp": exp, "aud": ["account", "broker"]}));
    app.try_connect_ws(Some(&none)).await.err().expect("refused").assert(401, "INVALID_AUDIENCE");
}

#[tokio::test]
async fn issuer_is_checked_when_configured() {
    let app = spawn_app(&[("JWT_ISSUER", "ara-auth")]).await;
    let exp = now_secs() + 60;
    let wrong = app.sign(&json!({"sub": "alice", "exp": exp, "iss": "mallory"}));
    app.try_connect_ws(Some(&wrong)).await.err().expect("refused").assert(401, "INVALID_ISSUER");
    let missing = app.sign(&json!({"sub": "alice", "exp": exp}));
    app.try_connect_ws(Some(&missing)).await.err().expect("refused").assert(401, "INVALID_ISSUER");
    let right = app.sign(&json!({"sub": "alice", "exp": exp, "iss": "ara-auth"}));
    assert_eq!(app.connect_ws(&right).await.user_id, "alice");
}

#[tokio::test]
async fn configured_secret_is_used_instead_of_the_development_one() {
    let app = spawn_app(&[("JWT_SECRET", "a-test-secret-for-the-api-suite")]).await;
    let dev =
        sign(&json!({"sub": "alice", "exp": now_secs() + 60}), ara::app::config::DEV_JWT_SECRET, Algorithm::HS256);
    app.try_connect_ws(Some(&dev)).await.err().expect("refused").assert(401, "INVALID_SIGNATURE");
    assert_eq!(app.connect_ws(&app.token("alice", "default")).await.user_id, "alice");
}

#[tokio::test]
async fn refused_upgrades_and_plain_requests_register_no_connection() {
    let app = spawn_app(&[]).await;
    app.try_connect_ws(Some("not-a-jwt")).await.err().expect("refused");
    // A plain GET with a valid token is not an upgrade.
    let url = format!("{}?token={}", app.url("/ws"), app.token("alice", "default"));
    let response = app.client.get(url).send().await.expect("GET /ws");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json error body");
    assert_eq!(body["error"]["code"], "WEBSOCKET_UPGRADE_REQUIRED");
    let stats = app.stats().await;
    assert_eq!((stats["connections"].as_u64(), stats["users"].as_u64()), (Some(0), Some(0)), "{stats}");
}

#[tokio::test]
async fn unauthorized_responses_carry_www_authenticate() {
    let app = spawn_app(&[]).await;
    let response = app.client.get(app.url("/ws")).send().await.expect("GET /ws");
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));
}
