//! No configured secret in any output: the real binary runs with every kind of secret set (JWT
//! secret, key-set secret, API key, admin key, store URLs with passwords), logs at `trace` in JSON
//! (span fields included: what a trace exporter would carry), and takes traffic and failures — good
//! and forged tokens, wrong keys on every kind of route, malformed bodies, refreshes and private
//! channels refused, revocations, the audit log, a JWKS server that cannot be reached. Every
//! response (status line, headers, body), every WebSocket frame, every log line and the outputs of
//! `ara config` and `ara checktoken` are then searched for each secret.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{now_secs, sign, POLL_DEADLINE};

const JWT_SECRET: &str = "jwt-secret-0f3a9c1e7b2d4a6f8e0c1b3d5f7a9c2e";
const KEY_SET_SECRET: &str = "keyset-secret-7d1e3f5a9b2c4e6a8d0f1b3c5e7a9d2f";
const API_KEY: &str = "api-key-5b8e2d4f6a1c3e5b7d9f0a2c4e6b8d1f";
const ADMIN_KEY: &str = "admin-key-9c2e4a6b8d0f1e3a5c7b9d2f4a6c8e0b";
const DB_PASSWORD: &str = "db-password-3e5a7c9b1d2f4e6a";
const REDIS_PASSWORD: &str = "redis-password-8b0d2f4a6c1e3b5d";
const SECRETS: [&str; 6] = [JWT_SECRET, KEY_SET_SECRET, API_KEY, ADMIN_KEY, DB_PASSWORD, REDIS_PASSWORD];

fn env(port: u16, jwks_port: u16) -> Vec<(String, String)> {
    [
        ("SERVER_HOST", "127.0.0.1".to_owned()),
        ("SERVER_PORT", port.to_string()),
        ("LOG_LEVEL", "trace".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RATELIMIT_ENABLED", "false".to_owned()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("JWT_KEYS", format!("k1=HS256:{KEY_SET_SECRET}")),
        ("JWT_JWKS_URL", format!("https://127.0.0.1:{jwks_port}/jwks.json")),
        ("JWT_JWKS_TIMEOUT_MS", "300".to_owned()),
        ("JWT_JWKS_MIN_REFRESH_SECONDS", "0".to_owned()),
        ("API_KEY", API_KEY.to_owned()),
        ("ADMIN_API_KEY", ADMIN_KEY.to_owned()),
        // Set but not used by any store: they must not leak from the configuration either.
        ("DATABASE_URL", format!("postgres://ara:{DB_PASSWORD}@127.0.0.1:1/ara")),
        ("REDIS_URL", format!("redis://:{REDIS_PASSWORD}@127.0.0.1:1")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

async fn record(outputs: &mut Vec<String>, response: reqwest::Response) -> u16 {
    let status = response.status().as_u16();
    let headers = format!("{:?}", response.headers());
    let body = response.text().await.unwrap_or_default();
    outputs.push(format!("{status} {headers} {body}"));
    status
}

#[tokio::test]
async fn no_configured_secret_reaches_logs_responses_frames_or_tools() {
    let (port, jwks_port) = (free_port(), free_port());
    let vars = env(port, jwks_port);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ara"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ara starts");
    // Read all along: a trace log fills a pipe nobody reads within milliseconds, and the server
    // would block writing it.
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let stdout_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = out_pipe.read_to_string(&mut text).await;
        text
    });
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text).await;
        text
    });
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + POLL_DEADLINE;
    while client.get(format!("{base}/health/live")).send().await.is_err() {
        assert!(Instant::now() < deadline, "ara did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut outputs = Vec::new();
    let good = sign(
        &json!({"sub": "alice", "exp": now_secs() + 600, "jti": "t-1"}),
        JWT_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let forged =
        sign(&json!({"sub": "alice", "exp": now_secs() + 600}), "guessed-secret", jsonwebtoken::Algorithm::HS256);

    // Probes, stats, metrics and the spec; with the right key, a wrong one, none.
    for (path, key) in [
        ("/health", None),
        ("/health/ready", None),
        ("/metrics", None),
        ("/api-docs/openapi.json", None),
        ("/stats", Some(API_KEY)),
        ("/stats", Some("wrong-key-1")),
        ("/stats", None),
        ("/api/v1/audit", Some(ADMIN_KEY)),
        ("/api/v1/audit", Some(API_KEY)),
        ("/api/v1/channels", Some("wrong-key-2")),
    ] {
        let mut request = client.get(format!("{base}{path}"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        record(&mut outputs, request.send().await.expect("GET")).await;
    }
    // Sends, revocations and disconnects, good and bad.
    for (path, body, key) in [
        ("/api/v1/notifications/send", json!({"target_user_id": "alice", "event_type": "e", "payload": {}}), API_KEY),
        ("/api/v1/notifications/send", json!({"target_user_id": "alice", "event_tpe": "e"}), API_KEY),
        ("/api/v1/notifications/channel", json!({"channel": "private-x", "event_type": "e"}), API_KEY),
        ("/api/v1/tokens/revoke", json!({"jti": "t-9"}), API_KEY),
        ("/api/v1/tokens/revoke", json!({"jti": "t-9", "user_id": "u"}), API_KEY),
        ("/api/v1/users/bob/disconnect", json!({"reconnect": false}), API_KEY),
        ("/api/v1/notifications/send", json!({}), "wrong-key-3"),
    ] {
        let request = client.post(format!("{base}{path}")).header("x-api-key", key).json(&body);
        record(&mut outputs, request.send().await.expect("POST")).await;
    }
    let malformed = client
        .post(format!("{base}/api/v1/notifications/send"))
        .header("x-api-key", API_KEY)
        .header("content-type", "application/json")
        .body("{nope");
    record(&mut outputs, malformed.send().await.expect("POST")).await;
    // Connections: forged, JWKS-dependent (the key server is down), and a good one that misbehaves.
    let mut unknown = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    unknown.kid = Some("from-the-jwks".into());
    for token in [
        forged.clone(),
        format!("{}.{}.x", "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZyb20tdGhlLWp3a3MifQ", "e30"),
        "garbage".into(),
    ] {
        record(&mut outputs, client.get(format!("{base}/sse?token={token}")).send().await.expect("GET")).await;
    }
    let (mut ws, response) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws?token={good}")).await.expect("ws");
    outputs.push(format!("{response:?}"));
    for frame in [
        json!({"type": "Refresh", "payload": {"token": forged}}),
        json!({"type": "Subscribe", "payload": {"channels": ["private-x"], "token": forged}}),
        json!({"type": "Subscribe", "payload": {"channels": ["private-x"]}}),
        json!({"type": "Nope"}),
    ] {
        ws.send(Message::Text(frame.to_string().into())).await.expect("send");
    }
    let revoke =
        client.post(format!("{base}/api/v1/tokens/revoke")).header("x-api-key", API_KEY).json(&json!({"jti": "t-1"}));
    record(&mut outputs, revoke.send().await.expect("POST")).await;
    let frames_deadline = Instant::now() + Duration::from_secs(5);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(frames_deadline.into(), ws.next()).await {
        outputs.push(format!("{message:?}"));
        if matches!(message, Message::Close(_)) {
            break;
        }
    }
    let audit = client.get(format!("{base}/api/v1/audit")).header("x-api-key", ADMIN_KEY).send().await.expect("GET");
    assert_eq!(record(&mut outputs, audit).await, 200);

    // The tools, with the same settings.
    for args in [
        vec!["config"],
        vec!["config", "--json"],
        vec!["checktoken", forged.as_str()],
        vec!["checktoken", good.as_str()],
    ] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ara"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(&args)
            .output()
            .await
            .expect("ara runs");
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
    }

    let pid = child.id().expect("running") as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    if tokio::time::timeout(Duration::from_secs(15), child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
    let stdout = tokio::time::timeout(Duration::from_secs(5), stdout_task).await.expect("stdout ends").expect("reader");
    let stderr = tokio::time::timeout(Duration::from_secs(5), stderr_task).await.expect("stderr ends").expect("reader");
    assert!(stdout.lines().count() > 50, "the trace log says something: {} lines", stdout.lines().count());
    assert!(stdout.contains("ara::audit") || stdout.contains("\"audit\""), "audit events are logged");
    outputs.push(stdout);
    outputs.push(stderr);

    let everything = outputs.join("\n");
    for secret in SECRETS.iter().chain(&["wrong-key-1", "wrong-key-2", "wrong-key-3", "guessed-secret"]) {
        if let Some(at) = everything.find(secret) {
            let from = at.saturating_sub(300);
            panic!(
                "{secret} appears in the outputs: …{}…",
                &everything[from..(at + secret.len() + 100).min(everything.len())]
            );
        }
    }
}
