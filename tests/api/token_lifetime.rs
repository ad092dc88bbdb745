//! A live connection's token: `token_expiring` before `exp`, `Refresh` for the same user and tenant
//! extends it, otherwise the connection closes after `exp` plus the leeway — WebSocket with close
//! code 4001 (after an `error` frame), SSE with a last `error` event and the end of the stream.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{now_secs, spawn_app, Incoming, TestApp};

/// Short times so that a test takes seconds: the notice 2 s before `exp`, closed 1 s after it.
const SHORT: &[(&str, &str)] = &[("JWT_EXPIRY_NOTICE_SECONDS", "2"), ("JWT_LEEWAY_SECONDS", "1")];

fn token(app: &TestApp, user: &str, tenant: &str, exp: u64) -> String {
    app.sign(&json!({"sub": user, "tenant_id": tenant, "exp": exp, "iat": now_secs()}))
}

#[tokio::test]
async fn websocket_is_warned_then_closed_with_4001_after_exp() {
    let app = spawn_app(SHORT).await;
    let exp = now_secs() + 3;
    let mut ws = app.connect_ws(&token(&app, "alice", "default", exp)).await;
    assert_eq!(app.send_to_user("alice", "x", json!({})).await.delivered_to, 1);
    ws.recv_notification().await;
    let warning = ws.recv_type("token_expiring").await;
    assert_eq!(
        warning["expires_at"],
        chrono::DateTime::from_timestamp(exp as i64, 0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    assert!(warning["expires_in_seconds"].as_i64().unwrap() <= 3, "{warning}");
    assert!(warning["closes_at"].is_string(), "{warning}");
    let (close, frames) = ws.recv_close(Duration::from_secs(8)).await;
    assert!(now_secs() > exp, "closed before exp + leeway");
    let (code, _) = close.expect("a close frame");
    assert_eq!(code, 4001);
    assert_eq!(
        frames.last().map(|f| (f["type"].clone(), f["code"].clone())),
        Some((json!("error"), json!("TOKEN_EXPIRED")))
    );
    // The user is offline now.
    assert_eq!(app.send_to_user("alice", "x", json!({})).await.delivered_to, 0);
}

#[tokio::test]
async fn refresh_with_a_token_for_the_same_user_and_tenant_extends_the_connection() {
    let app = spawn_app(SHORT).await;
    let exp = now_secs() + 3;
    let mut ws = app.connect_ws(&token(&app, "alice", "default", exp)).await;
    ws.recv_type("token_expiring").await;
    let later = now_secs() + 120;
    ws.send_json(&json!({"type": "Refresh", "payload": {"token": token(&app, "alice", "default", later)}})).await;
    let refreshed = ws.recv_type("token_refreshed").await;
    assert_eq!(
        refreshed["expires_at"],
        chrono::DateTime::from_timestamp(later as i64, 0).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    // Past the old exp + leeway: still open, and delivering.
    ws.expect_no_message(Duration::from_secs(3)).await;
    assert_eq!(app.send_to_user("alice", "still-here", json!({})).await.delivered_to, 1);
    assert_eq!(ws.recv_notification().await["event_type"], "still-here");
}

#[tokio::test]
async fn refresh_is_refused_for_another_user_or_tenant_or_a_bad_token_and_the_old_end_holds() {
    let app = spawn_app(SHORT).await;
    let exp = now_secs() + 4;
    let started = Instant::now();
    let mut ws = app.connect_ws(&token(&app, "alice", "acme", exp)).await;
    let later = now_secs() + 120;
    let attempts = [
        (token(&app, "bob", "acme", later), "TOKEN_MISMATCH"),
        (token(&app, "alice", "globex", later), "TOKEN_MISMATCH"),
        (token(&app, "alice", "acme", now_secs() - 600), "TOKEN_EXPIRED"),
        (
            crate::helpers::sign(
                &json!({"sub": "alice", "tenant_id": "acme", "exp": later}),
                "not-the-secret",
                jsonwebtoken::Algorithm::HS256,
            ),
            "INVALID_SIGNATURE",
        ),
        ("garbage".to_owned(), "INVALID_TOKEN"),
    ];
    for (token, code) in attempts {
        ws.send_json(&json!({"type": "Refresh", "payload": {"token": token}})).await;
        let frame = loop {
            let frame = ws.recv_json().await;
            if frame["type"] != "token_expiring" {
                break frame;
            }
        };
        assert_eq!((frame["type"].as_str(), frame["code"].as_str()), (Some("error"), Some(code)), "{frame}");
    }
    ws.send_json(&json!({"type": "Refresh", "payload": {"token": "t", "user": "x"}})).await;
    let frame = loop {
        let frame = ws.recv_json().await;
        if frame["type"] != "token_expiring" {
            break frame;
        }
    };
    assert_eq!(frame["code"], "INVALID_FRAME", "unknown fields are refused: {frame}");
    let (close, _) = ws.recv_close(Duration::from_secs(10)).await;
    assert_eq!(close.map(|c| c.0), Some(4001));
    assert!(started.elapsed() >= Duration::from_secs(3), "closed at the first token's end, not before");
}

#[tokio::test]
async fn a_token_within_the_leeway_connects_and_is_closed_soon() {
    let app = spawn_app(&[("JWT_EXPIRY_NOTICE_SECONDS", "60"), ("JWT_LEEWAY_SECONDS", "2")]).await;
    let mut ws = app.connect_ws(&token(&app, "alice", "default", now_secs() - 1)).await;
    let warning = ws.recv_type("token_expiring").await;
    assert_eq!(warning["expires_in_seconds"], 0);
    let (close, _) = ws.recv_close(Duration::from_secs(5)).await;
    assert_eq!(close.map(|c| c.0), Some(4001));
}

#[tokio::test]
async fn sse_is_warned_then_sent_an_error_event_and_ended() {
    let app = spawn_app(SHORT).await;
    let exp = now_secs() + 3;
    let mut sse = app
        .try_connect_sse(&format!("token={}", token(&app, "alice", "default", exp)), None)
        .await
        .unwrap_or_else(|r| panic!("{}", r.text));
    let events = sse.recv_until_end(Duration::from_secs(8)).await;
    assert!(now_secs() > exp, "ended before exp + leeway");
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["token_expiring", "error"], "{events:?}");
    assert_eq!(events[0].json()["type"], "token_expiring");
    assert_eq!(events[1].json()["code"], "TOKEN_EXPIRED");
    assert_eq!(app.send_to_user("alice", "x", json!({})).await.delivered_to, 0);
}

#[tokio::test]
async fn a_long_lived_token_hears_nothing() {
    let app = spawn_app(SHORT).await;
    let mut ws = app.connect_ws(&token(&app, "alice", "acme", now_secs() + 3600)).await;
    match ws.next_within(Duration::from_secs(2)).await {
        None => {}
        Some(Incoming::Json(frame)) => panic!("unexpected frame {frame}"),
        Some(other) => panic!("unexpected {other:?}"),
    }
}
