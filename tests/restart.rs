//! End to end, across a crash: notifications queued for an offline user on a durable backend survive a
//! SIGKILL of the server and are replayed once each, in order, after it restarts.
//!
//! These tests run the real `ara` binary as a child process and talk to it over HTTP and WebSocket.

// Shared with the contract suites, which use more of it.
#[allow(dead_code)]
mod support_backends;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const SECRET: &str = "restart-test-secret-that-is-long-enough";

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(port: u16, env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ara"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SERVER_HOST", "127.0.0.1")
            .env("SERVER_PORT", port.to_string())
            .env("JWT_SECRET", SECRET)
            .env("RATELIMIT_ENABLED", "false")
            .env("LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(if std::env::var("TEST_LOG").is_ok() { Stdio::inherit() } else { Stdio::null() });
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the ara binary starts");
        Self { child, port }
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let url = format!("http://127.0.0.1:{}/health", self.port);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited during start-up with {status}");
            }
            if let Ok(r) = reqwest::get(&url).await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server did not become healthy within 20s");
    }

    fn kill_hard(&mut self) {
        // SIGKILL: no graceful shutdown, nothing flushed.
        self.child.kill().expect("kill the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn token(user: &str) -> String {
    let auth = ara::adapters::auth::JwtAuth::new(ara::adapters::auth::JwtSettings {
        secret: SECRET.into(),
        issuer: None,
        audience: None,
    });
    auth.mint(user, None, 600).expect("token")
}

async fn send(port: u16, user: &str, seq: usize) {
    let body = serde_json::json!({"target_user_id": user, "event_type": "restart.test", "payload": {"seq": seq}});
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/notifications/send"))
        .json(&body)
        .send()
        .await
        .expect("send request");
    assert!(r.status().is_success(), "send failed: {}", r.status());
    let report: serde_json::Value = r.json().await.expect("send response");
    assert_eq!(report["queued"], 1, "the user is offline, so the notification must be queued: {report}");
}

/// Connects as `user` and collects notification frames until `quiet` passes without one.
async fn receive_all(port: u16, user: &str, quiet: Duration) -> Vec<serde_json::Value> {
    let url = format!("ws://127.0.0.1:{port}/ws?token={}", token(user));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket connects");
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(quiet, ws.next()).await {
            Err(_) => break,
            Ok(None) => panic!("server closed the socket"),
            Ok(Some(Err(e))) => panic!("websocket error: {e}"),
            Ok(Some(Ok(Message::Text(text)))) => {
                let frame: serde_json::Value = serde_json::from_str(&text).expect("JSON frame");
                if frame["type"] == "notification" {
                    got.push(frame);
                }
            }
            Ok(Some(Ok(_))) => {}
        }
    }
    let _ = ws.send(Message::Close(None)).await;
    got
}

async fn queued_messages_survive_sigkill(env: Vec<(&str, String)>) {
    let port = free_port();
    let user = format!("offline-{}", Uuid::now_v7().simple());
    let mut server = Server::start(port, &env);
    server.wait_healthy().await;
    for seq in 0..25 {
        send(port, &user, seq).await;
    }
    server.kill_hard();

    let mut server = Server::start(port, &env);
    server.wait_healthy().await;
    let got = receive_all(port, &user, Duration::from_millis(800)).await;
    let seqs: Vec<u64> = got.iter().filter_map(|f| f["payload"]["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..25).collect::<Vec<u64>>(), "every queued notification once, in order");

    // Replayed entries were removed once written: a second connection gets nothing more.
    let again = receive_all(port, &user, Duration::from_millis(500)).await;
    assert!(again.is_empty(), "replayed twice: {again:?}");
    server.kill_hard();
}

#[tokio::test]
async fn redis_queue_survives_sigkill() {
    let (url, prefix, _cleanup) = support_backends::redis_target();
    if let Err(e) =
        redis::Client::open(url.as_str()).and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
    {
        if support_backends::unavailable::<()>("Redis", support_backends::REDIS_VARIABLE, e).is_none() {
            return;
        }
    }
    let prefix = format!("{prefix}:");
    queued_messages_survive_sigkill(vec![
        ("QUEUE_BACKEND", "redis".into()),
        ("ACK_BACKEND", "redis".into()),
        ("REDIS_URL", url),
        ("QUEUE_REDIS_KEY_PREFIX", prefix.clone()),
        ("ACK_REDIS_KEY_PREFIX", format!("{prefix}ack:")),
    ])
    .await;
}

#[tokio::test]
async fn postgres_queue_survives_sigkill() {
    let Some((pool, cleanup)) = support_backends::postgres_database().await else { return };
    let url = match &cleanup {
        support_backends::Cleanup::Database { admin_url, name } => support_backends::with_database(admin_url, name),
        support_backends::Cleanup::RedisPrefix { .. } => unreachable!("a database cleanup"),
    };
    pool.close().await;
    queued_messages_survive_sigkill(vec![
        ("QUEUE_BACKEND", "postgres".into()),
        ("ACK_BACKEND", "postgres".into()),
        ("DATABASE_URL", url),
    ])
    .await;
    drop(cleanup);
}
