//! Ending access on a live server: `POST /api/v1/tokens/revoke` (by `jti`, by "issued before") and
//! `POST /api/v1/users/{id}/disconnect` (all or one connection, reconnecting allowed or not); revoked
//! tokens are refused at connect and refresh and their connections closed — also on another node
//! sharing the Redis store.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{now_secs, spawn_app, TestApp};

const KEY: &str = "revocation-test-api-key";

fn token(app: &TestApp, user: &str, jti: &str, iat: u64) -> String {
    app.sign(&json!({"sub": user, "exp": now_secs() + 600, "iat": iat, "jti": jti}))
}

async fn refused_code(app: &TestApp, token: &str) -> (u16, String) {
    let r = app.try_connect_ws(Some(token)).await.err().expect("refused");
    (r.status, r.body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

fn last_error(frames: &[Value]) -> Option<&str> {
    frames.iter().rev().find(|f| f["type"] == "error").and_then(|f| f["code"].as_str())
}

#[tokio::test]
async fn revoking_a_jti_closes_its_connections_and_refuses_it_afterwards() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let now = now_secs();
    let revoked = token(&app, "alice", "jti-revoked", now);
    let other = token(&app, "alice", "jti-other", now);
    let mut ws = app.connect_ws(&revoked).await;
    let mut sse = app.try_connect_sse(&format!("token={revoked}"), None).await.unwrap_or_else(|r| panic!("{}", r.text));
    let mut kept = app.connect_ws(&other).await;
    let reply = app.post("/api/v1/tokens/revoke", &json!({"jti": "jti-revoked", "expires_at": now + 600})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body, json!({"revoked": "token", "connections_closed": 2}));
    let (close, frames) = ws.recv_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| c.0), Some(4002));
    assert_eq!(last_error(&frames), Some("TOKEN_REVOKED"));
    let events = sse.recv_until_end(Duration::from_secs(5)).await;
    assert_eq!(events.last().map(|e| e.json()["code"].clone()), Some(json!("TOKEN_REVOKED")), "{events:?}");
    assert_eq!(refused_code(&app, &revoked).await, (401, "TOKEN_REVOKED".into()));
    let sse = app.try_connect_sse(&format!("token={revoked}"), None).await.err().expect("refused");
    sse.assert_error(401, "TOKEN_REVOKED");
    // The user's other token is untouched, and cannot be swapped for the revoked one.
    kept.ping().await;
    kept.send_json(&json!({"type": "Refresh", "payload": {"token": revoked}})).await;
    assert_eq!(kept.recv_type("error").await["code"], "TOKEN_REVOKED");
}

#[tokio::test]
async fn revoking_what_a_user_was_issued_before_a_moment_spares_newer_tokens() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let now = now_secs();
    let old = token(&app, "bob", "old", now - 60);
    let mut ws = app.connect_ws(&old).await;
    let mut carol = app.connect_ws(&token(&app, "carol", "c", now - 60)).await;
    let before = chrono::DateTime::from_timestamp(now as i64 - 30, 0).unwrap().to_rfc3339();
    let reply = app.post("/api/v1/tokens/revoke", &json!({"user_id": "bob", "issued_before": before})).await;
    assert_eq!(reply.body, json!({"revoked": "issued_before", "connections_closed": 1}), "{}", reply.text);
    assert_eq!(ws.recv_close(Duration::from_secs(5)).await.0.map(|c| c.0), Some(4002));
    assert_eq!(refused_code(&app, &old).await, (401, "TOKEN_REVOKED".into()));
    let without_iat = app.sign(&json!({"sub": "bob", "exp": now + 600}));
    assert_eq!(refused_code(&app, &without_iat).await, (401, "TOKEN_REVOKED".into()), "no iat: cannot be newer");
    assert_eq!(app.connect_ws(&token(&app, "bob", "new", now)).await.user_id, "bob");
    carol.ping().await;
}

#[tokio::test]
async fn disconnecting_a_user_closes_every_connection_and_may_let_it_back() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let t = token(&app, "dave", "d1", now_secs());
    let mut a = app.connect_ws(&t).await;
    let mut b = app.connect_ws(&t).await;
    // No body at all: every connection, reconnecting allowed.
    let reply =
        app.client.post(app.url("/api/v1/users/dave/disconnect")).header("x-api-key", KEY).send().await.expect("POST");
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body, json!({"user_id": "dave", "disconnected": 2, "reconnect": true}));
    for ws in [&mut a, &mut b] {
        let (close, frames) = ws.recv_close(Duration::from_secs(5)).await;
        assert_eq!(close.map(|c| c.0), Some(4004));
        assert_eq!(last_error(&frames), Some("DISCONNECTED"));
    }
    assert_eq!(app.connect_ws(&t).await.user_id, "dave", "reconnect allowed");
    let none = app.post("/api/v1/users/nobody/disconnect", &json!({})).await;
    assert_eq!(none.body["disconnected"], 0);
}

#[tokio::test]
async fn disconnecting_one_connection_without_reconnect_revokes_its_token_only() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let now = now_secs();
    let (t1, t2) = (token(&app, "erin", "e1", now), token(&app, "erin", "e2", now));
    let mut first = app.connect_ws(&t1).await;
    let mut second = app.connect_ws(&t2).await;
    let path = "/api/v1/users/erin/disconnect";
    let reply = app.post(path, &json!({"connection_id": first.connection_id, "reconnect": false})).await;
    assert_eq!(reply.body, json!({"user_id": "erin", "disconnected": 1, "reconnect": false}), "{}", reply.text);
    assert_eq!(first.recv_close(Duration::from_secs(5)).await.0.map(|c| c.0), Some(4003));
    second.ping().await;
    assert_eq!(refused_code(&app, &t1).await, (401, "TOKEN_REVOKED".into()));
    let mut third = app.connect_ws(&t2).await;
    let missing = app.post(path, &json!({"connection_id": 999_999})).await;
    missing.assert_error(404, "CONNECTION_NOT_FOUND");
    // All connections without reconnect: every token issued until now is refused.
    let reply = app.post(path, &json!({"reconnect": false})).await;
    assert_eq!(reply.body["disconnected"], 2, "{}", reply.text);
    for ws in [&mut second, &mut third] {
        assert_eq!(ws.recv_close(Duration::from_secs(5)).await.0.map(|c| c.0), Some(4003));
    }
    assert_eq!(refused_code(&app, &t2).await, (401, "TOKEN_REVOKED".into()));
    let later = token(&app, "erin", "e3", now_secs() + 2);
    assert_eq!(app.connect_ws(&later).await.user_id, "erin", "a token issued afterwards connects");
}

#[tokio::test]
async fn the_routes_check_the_api_key_and_their_bodies() {
    let app = spawn_app(&[("API_KEY", KEY)]).await;
    let no_key = app.post_with_key("/api/v1/tokens/revoke", &json!({"jti": "x"}), None).await;
    no_key.assert_error(401, "MISSING_API_KEY");
    let wrong = app.post_with_key("/api/v1/users/u/disconnect", &json!({}), Some("wrong")).await;
    wrong.assert_error(401, "INVALID_API_KEY");
    for (body, code) in [
        (json!({"jti": "x", "user_id": "u"}), "VALIDATION_ERROR"),
        (json!({}), "VALIDATION_ERROR"),
        (json!({"jti": ""}), "VALIDATION_ERROR"),
        (json!({"jti": "x", "issued_before": "2026-01-01T00:00:00Z"}), "VALIDATION_ERROR"),
        (json!({"jti": "x", "jit": "y"}), "UNKNOWN_FIELD"),
        (json!({"user_id": "u", "issued_before": "yesterday"}), "INVALID_REQUEST"),
    ] {
        app.post("/api/v1/tokens/revoke", &body).await.assert_error(400, code);
    }
    app.post("/api/v1/users/u/disconnect", &json!({"reconect": false})).await.assert_error(400, "UNKNOWN_FIELD");
}

#[tokio::test]
async fn a_revocation_on_one_node_closes_connections_on_another_through_redis() {
    let prefix = format!("ara-test-revoked-{}", uuid::Uuid::now_v7().simple());
    let shared = [
        ("API_KEY", KEY),
        ("REVOCATION_BACKEND", "redis"),
        ("REVOCATION_REDIS_KEY_PREFIX", prefix.as_str()),
        ("REVOCATION_SYNC_INTERVAL_MS", "100"),
    ];
    let a = spawn_app(&shared).await;
    let b = spawn_app(&shared).await;
    let t = token(&b, "frank", "f1", now_secs());
    let mut on_b = b.connect_ws(&t).await;
    let reply = a.post("/api/v1/tokens/revoke", &json!({"jti": "f1"})).await;
    assert_eq!(reply.body["connections_closed"], 0, "none on node a: {}", reply.text);
    let (close, _) = on_b.recv_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| c.0), Some(4002), "node b learned of it");
    assert_eq!(refused_code(&b, &t).await, (401, "TOKEN_REVOKED".into()));
    // Disconnect without reconnect on a, too.
    let g = token(&b, "gina", "g1", now_secs());
    let mut gina = b.connect_ws(&g).await;
    a.post("/api/v1/users/gina/disconnect", &json!({"reconnect": false})).await;
    assert_eq!(gina.recv_close(Duration::from_secs(5)).await.0.map(|c| c.0), Some(4002));
    assert_eq!(refused_code(&b, &g).await, (401, "TOKEN_REVOKED".into()));
    let mut redis =
        redis::Client::open("redis://127.0.0.1:6379").unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query_async(&mut redis).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut redis).await.unwrap();
    }
}
