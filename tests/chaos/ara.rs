//! The real `ara` binary as a child process on a fixed free port (so that it can be SIGKILLed and
//! started again where the clients expect it), and what the chaos tests ask of it over HTTP and
//! WebSocket: health, and draining a user's offline queue.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const SECRET: &str = "chaos-test-secret-that-is-long-enough";

/// What the health helpers below may wait for the server to notice a fault or its end.
pub const HEALTH_NOTICE: Duration = Duration::from_secs(5);
/// What a recovery (a reconnect, a breaker's probe) may take once the fault has ended.
pub const RECOVERY: Duration = Duration::from_secs(15);

pub struct Ara {
    pub port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Ara {
    /// Starts the binary with `env` on a free port and waits until it is healthy.
    pub async fn start(env: &[(&str, String)]) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("an HTTP client");
        let mut ara = Self { port, env, child: None, http };
        ara.spawn().await;
        ara
    }

    async fn spawn(&mut self) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ara"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SERVER_HOST", "127.0.0.1")
            .env("SERVER_PORT", self.port.to_string())
            .env("JWT_SECRET", SECRET)
            .env("RATELIMIT_ENABLED", "false")
            .env("LOG_LEVEL", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() });
        self.child = Some(command.spawn().expect("the ara binary starts"));
        let took = self.wait_ready("ready after start", Duration::from_secs(30), can_queue).await;
        eprintln!("chaos: ara on port {} healthy {took:?} after start", self.port);
    }

    /// SIGKILL: nothing is flushed, nothing is shut down.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the server");
            child.wait().expect("reap the server");
        }
    }

    /// Starts it again, same port and settings, and waits until it is healthy.
    pub async fn restart(&mut self) {
        self.kill_hard();
        self.spawn().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn http(&self) -> reqwest::Client {
        self.http.clone()
    }

    /// `GET /health` with a bound of its own: `None` when it does not answer within 2 s.
    pub async fn health(&self) -> Option<(u16, Value)> {
        self.get_bounded("/health").await
    }

    /// `GET /health/ready`, bounded the same way.
    pub async fn readiness(&self) -> Option<(u16, Value)> {
        self.get_bounded("/health/ready").await
    }

    async fn get_bounded(&self, path: &str) -> Option<(u16, Value)> {
        let request = self.http.get(self.url(path)).timeout(Duration::from_secs(2)).send();
        let reply = request.await.ok()?;
        let status = reply.status().as_u16();
        Some((status, reply.json().await.unwrap_or(Value::Null)))
    }

    /// Polls `/health/ready` until `ok` holds for its status and body; returns how long that took.
    /// Panics past `within`, and when the process died.
    pub async fn wait_ready(&mut self, what: &str, within: Duration, ok: impl Fn(u16, &Value) -> bool) -> Duration {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < within {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("ara exited ({status}) while waiting for: {what}");
                }
            }
            if let Some((status, body)) = self.readiness().await {
                if ok(status, &body) {
                    return started.elapsed();
                }
                last = Some((status, body));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("/health/ready was not `{what}` within {within:?}; last: {last:?}");
    }

    /// Waits until the server says it cannot queue (see [`can_queue`]); returns how long it took.
    pub async fn wait_unable_to_queue(&mut self) -> Duration {
        self.wait_ready("offline queue down", HEALTH_NOTICE, |status, body| {
            !can_queue(status, body) && body["checks"]["offline_queue"] == "down"
        })
        .await
    }

    /// Waits until the server says it can queue again, without a restart; returns how long it took.
    pub async fn wait_able_to_queue(&mut self) -> Duration {
        self.wait_ready("ready again", RECOVERY, can_queue).await
    }

    /// Every notification a user's connections replay, connecting again until one gets nothing (a
    /// replay is bounded by the connection's outbound queue).
    pub async fn drain(&self, user: &str) -> Vec<Value> {
        let mut all = Vec::new();
        for _ in 0..100 {
            let batch = self.receive_replay(user).await;
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
        panic!("{user}: the replay did not end after 100 connections");
    }

    /// A WebSocket connection of `user` (tenant `default`).
    pub async fn connect(&self, user: &str) -> Ws {
        let auth = ara::adapters::auth::JwtAuth::new(ara::adapters::auth::JwtSettings {
            secret: SECRET.into(),
            issuer: None,
            audience: None,
        });
        let token = auth.mint(user, None, 600).expect("a token");
        let url = format!("ws://127.0.0.1:{}/ws?token={token}", self.port);
        let (ws, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url))
            .await
            .expect("the WebSocket connects within 10s")
            .expect("the WebSocket connects");
        ws
    }

    async fn receive_replay(&self, user: &str) -> Vec<Value> {
        let mut ws = self.connect(user).await;
        let mut got = Vec::new();
        // The replay is written before any live frame; a pause this long means it is over.
        let quiet = Duration::from_millis(700);
        loop {
            match tokio::time::timeout(quiet, ws.next()).await {
                Err(_) => break,
                Ok(None) => panic!("{user}: the server closed the socket during the replay"),
                Ok(Some(Err(e))) => panic!("{user}: WebSocket error during the replay: {e}"),
                Ok(Some(Ok(Message::Text(text)))) => {
                    let frame: Value = serde_json::from_str(&text).expect("a JSON frame");
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
}

impl Drop for Ara {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// Whether `/health/ready` says this node can take notifications for offline users (and the rest of
/// its work): 200 `ready`. The one place the chaos tests read readiness from.
pub fn can_queue(status: u16, ready: &Value) -> bool {
    status == 200 && ready["status"] == "ready"
}
