//! Private channels (`CHANNEL_PRIVATE_PREFIX`, default `private-`): a subscription needs the
//! connection token's `channels` claim (exact names and `*` patterns) or a channel subscription token
//! (a JWT with `sub`, `channel`, `exp`) in the Subscribe frame; refusals name the channel and the
//! reason; the HTTP API sends to them like any channel.

use serde_json::{json, Value};

use crate::helpers::{now_secs, sign, spawn_app, TestApp};

fn connection_token(app: &TestApp, user: &str, channels: Value) -> String {
    app.sign(&json!({"sub": user, "exp": now_secs() + 600, "channels": channels}))
}

fn subscription_token(app: &TestApp, user: &str, channel: &str, exp: u64) -> String {
    app.sign(&json!({"sub": user, "channel": channel, "exp": exp}))
}

async fn subscribe_frame(ws: &mut crate::helpers::WsClient, channels: &[&str], token: Option<&str>) -> Value {
    let mut payload = json!({"channels": channels});
    if let Some(t) = token {
        payload["token"] = json!(t);
    }
    ws.send_json(&json!({"type": "Subscribe", "payload": payload})).await;
    ws.recv_json().await
}

#[tokio::test]
async fn the_channels_claim_grants_exact_names_and_patterns() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect_ws(&connection_token(&app, "alice", json!(["private-alice", "private-team-*"]))).await;
    ws.subscribe(&["private-alice", "private-team-7", "public-news"]).await;
    let refused = subscribe_frame(&mut ws, &["private-bob"], None).await;
    assert_eq!(refused["code"], "CHANNEL_FORBIDDEN", "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("private-bob") && message.contains("channels claim"), "{message}");
    // All or nothing: a refused channel in the list subscribes none of them.
    let refused = subscribe_frame(&mut ws, &["private-alice-2", "other"], None).await;
    assert_eq!(refused["code"], "CHANNEL_FORBIDDEN");
    // The HTTP API sends to a private channel as to any.
    let sent = app.send_to_channel("private-team-7", "team.update", json!({"n": 1})).await;
    assert_eq!(sent.delivered_to, 1);
    assert_eq!(ws.recv_notification().await["event_type"], "team.update");
}

#[tokio::test]
async fn a_token_without_the_claim_is_refused_private_channels_only() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect_ws(&app.token("carol", "default")).await;
    ws.subscribe(&["news"]).await;
    let refused = subscribe_frame(&mut ws, &["private-x"], None).await;
    assert_eq!(refused["code"], "CHANNEL_FORBIDDEN");
    assert!(refused["message"].as_str().unwrap().contains("private-x"), "{refused}");
    // SSE: the query's channels are checked the same way, refused with 403.
    let token = app.token("carol", "default");
    let sse = app.try_connect_sse(&format!("token={token}&channels=private-x"), None).await.err().expect("refused");
    sse.assert_error(403, "CHANNEL_FORBIDDEN");
    let granted = connection_token(&app, "carol", json!(["private-x"]));
    let sse = app.try_connect_sse(&format!("token={granted}&channels=private-x"), None).await;
    assert_eq!(sse.unwrap_or_else(|r| panic!("{}", r.text)).channels, json!(["private-x"]));
}

#[tokio::test]
async fn a_subscription_token_opens_its_one_channel_for_its_user() {
    let app = spawn_app(&[]).await;
    let mut ws = app.connect_ws(&app.token("dave", "default")).await;
    let exp = now_secs() + 60;
    let ok =
        subscribe_frame(&mut ws, &["private-room-1"], Some(&subscription_token(&app, "dave", "private-room-1", exp)))
            .await;
    assert_eq!(ok, json!({"type": "subscribed", "channels": ["private-room-1"]}));
    for (token, reason) in [
        (subscription_token(&app, "dave", "private-room-2", exp), "for channel private-room-2"),
        (subscription_token(&app, "erin", "private-room-3", exp), "another user"),
        (subscription_token(&app, "dave", "private-room-3", now_secs() - 3600), "TOKEN_EXPIRED"),
        (
            sign(
                &json!({"sub": "dave", "channel": "private-room-3", "exp": exp}),
                "wrong-secret",
                jsonwebtoken::Algorithm::HS256,
            ),
            "INVALID_SIGNATURE",
        ),
    ] {
        let refused = subscribe_frame(&mut ws, &["private-room-3"], Some(&token)).await;
        assert_eq!(refused["code"], "CHANNEL_FORBIDDEN", "{refused}");
        let message = refused["message"].as_str().unwrap();
        assert!(message.contains("private-room-3") && message.contains(reason), "want {reason}: {message}");
    }
    // A tenant's subscription token does not open the channel in another tenant.
    let mut other = app.connect_ws(&app.token("dave", "acme")).await;
    let refused = subscribe_frame(
        &mut other,
        &["private-room-1"],
        Some(&subscription_token(&app, "dave", "private-room-1", exp)),
    )
    .await;
    assert_eq!(refused["code"], "CHANNEL_FORBIDDEN", "{refused}");
    assert_eq!(app.send_to_channel("private-room-1", "e", json!({})).await.delivered_to, 1);
}

#[tokio::test]
async fn the_prefix_is_configurable_and_empty_turns_private_channels_off() {
    let app = spawn_app(&[("CHANNEL_PRIVATE_PREFIX", "secret.")]).await;
    let mut ws = app.connect_ws(&app.token("u", "default")).await;
    ws.subscribe(&["private-anything"]).await;
    assert_eq!(subscribe_frame(&mut ws, &["secret.plans"], None).await["code"], "CHANNEL_FORBIDDEN");
    let open = spawn_app(&[("CHANNEL_PRIVATE_PREFIX", "")]).await;
    let mut ws = open.connect_ws(&open.token("u", "default")).await;
    ws.subscribe(&["private-anything"]).await;
}
