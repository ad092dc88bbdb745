//! One cluster node: the `ara` binary as a child process on a free port, with cluster mode on, and
//! the clients the tests use against it.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

pub const SECRET: &str = "cluster-test-secret-that-is-long-enough";
/// `ADMIN_API_KEY` of the tests that turn tenants on.
pub const ADMIN_KEY: &str = "cluster-test-admin-key-that-is-long-enough";
/// The node ttl the tests run with: a dead node is gone from presence this long after its death.
pub const TTL_SECONDS: u64 = 2;

pub struct Node {
    pub id: String,
    pub port: u16,
    child: Option<Child>,
    http: reqwest::Client,
}

/// What every node of one test shares: the Redis, the key prefixes, and extra settings.
#[derive(Clone)]
pub struct Cluster {
    pub redis_url: String,
    pub prefix: String,
    pub extra: Vec<(String, String)>,
}

impl Cluster {
    pub fn new(redis_url: &str) -> Self {
        Self {
            redis_url: redis_url.to_owned(),
            prefix: crate::redis_support::unique("ara-cluster-test"),
            extra: Vec::new(),
        }
    }

    /// With a durable (Redis) offline queue.
    pub fn with_queue(mut self) -> Self {
        self.extra.push(("QUEUE_ENABLED".into(), "true".into()));
        self.extra.push(("QUEUE_BACKEND".into(), "redis".into()));
        self.extra.push(("QUEUE_REDIS_KEY_PREFIX".into(), format!("{}-queue", self.prefix)));
        self
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.extra.push((key.into(), value.into()));
        self
    }

    pub async fn start(&self, id: &str) -> Node {
        self.start_with(id, &[]).await
    }

    /// Starts node `id` with `env` on top of the cluster's settings and waits until it is ready.
    pub async fn start_with(&self, id: &str, env: &[(&str, String)]) -> Node {
        let (port, mut command) = self.command(id, env);
        let child = command.spawn().expect("the ara binary starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("an HTTP client");
        let mut node = Node { id: id.to_owned(), port, child: Some(child), http };
        node.wait_ready(true, Duration::from_secs(20)).await;
        node
    }

    /// Starts node `id` and waits for it to exit (it must, within `within`); returns how it ended.
    pub async fn start_expecting_exit(&self, id: &str, within: Duration) -> (std::process::ExitStatus, Duration) {
        let (_, mut command) = self.command(id, &[]);
        let mut child = command.spawn().expect("the ara binary starts");
        let started = Instant::now();
        while started.elapsed() < within {
            if let Ok(Some(status)) = child.try_wait() {
                return (status, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("node {id} did not exit within {within:?}");
    }

    fn command(&self, id: &str, env: &[(&str, String)]) -> (u16, Command) {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ara"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SERVER_HOST", "127.0.0.1")
            .env("SERVER_PORT", port.to_string())
            .env("JWT_SECRET", SECRET)
            .env("RATELIMIT_ENABLED", "false")
            .env("LOG_LEVEL", std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()))
            .env("REDIS_URL", &self.redis_url)
            .env("REDIS_TIMEOUT_MS", "500")
            .env("REDIS_RECONNECT_MAX_DELAY_MS", "500")
            .env("REDIS_BREAKER_OPEN_MS", "500")
            .env("CLUSTER_ENABLED", "true")
            .env("CLUSTER_NODE_ID", id)
            .env("CLUSTER_REDIS_KEY_PREFIX", &self.prefix)
            .env("CLUSTER_NODE_TTL_SECONDS", TTL_SECONDS.to_string())
            .env("CLUSTER_CANARY_INTERVAL_MS", "200")
            .envs(self.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() });
        (port, command)
    }
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGKILL: nothing is flushed, the node does not leave the cluster.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL the node");
            child.wait().expect("reap the node");
        }
    }

    /// `GET /health/ready`'s status (`None` when it does not answer within 2 s) and body.
    pub async fn readiness(&self) -> Option<(u16, Value)> {
        let reply = self.http.get(self.url("/health/ready")).timeout(Duration::from_secs(2)).send().await.ok()?;
        let status = reply.status().as_u16();
        Some((status, reply.json().await.unwrap_or(Value::Null)))
    }

    pub async fn is_ready(&self) -> bool {
        matches!(self.readiness().await, Some((200, _)))
    }

    /// Waits until `/health/ready` is 200 (`ready`) or 503 (`!ready`); returns how long it took.
    pub async fn wait_ready(&mut self, ready: bool, within: Duration) -> Duration {
        let started = Instant::now();
        let mut last = None;
        while started.elapsed() < within {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("node {} exited ({status})", self.id);
            }
            let now = self.readiness().await;
            if now.as_ref().is_some_and(|(status, _)| (*status == 200) == ready) {
                return started.elapsed();
            }
            last = now;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "node {}: /health/ready not {} within {within:?}; last {last:?}",
            self.id,
            if ready { 200 } else { 503 }
        );
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let reply = self.http.get(self.url(path)).send().await.expect("the node answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// `GET` with the admin key (cluster tests with tenants on).
    pub async fn get_as_admin(&self, path: &str) -> (u16, Value) {
        let reply =
            self.http.get(self.url(path)).header("x-api-key", ADMIN_KEY).send().await.expect("the node answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// A send to `user` with the admin key (cluster tests with tenants on).
    pub async fn send_as_admin(&self, user: &str, seq: usize) {
        let body = json!({"target_user_id": user, "event_type": "test.seq", "payload": {"seq": seq}});
        let request = self.http.post(self.url("/api/v1/notifications/send")).header("x-api-key", ADMIN_KEY);
        let reply = request.json(&body).send().await.expect("the node answers");
        assert_eq!(reply.status().as_u16(), 200, "node {}: send to {user}: {:?}", self.id, reply.text().await);
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let reply = self.http.post(self.url(path)).json(&body).send().await.expect("the node answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// Sends to one user; returns the answer's body (panics on a refusal).
    pub async fn send_to_user(&self, user: &str, seq: usize) -> Value {
        let body = json!({"target_user_id": user, "event_type": "test.seq", "payload": {"seq": seq}});
        let (status, reply) = self.post("/api/v1/notifications/send", body).await;
        assert_eq!(status, 200, "node {}: send to {user}: {reply}", self.id);
        reply
    }

    pub async fn connect(&self, user: &str) -> Client {
        Client::connect(self.port, user).await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// A WebSocket client whose frames a task collects.
pub struct Client {
    pub user: String,
    frames: mpsc::UnboundedReceiver<Value>,
    out: mpsc::UnboundedSender<Message>,
}

pub fn token(user: &str) -> String {
    let auth = ara::adapters::auth::JwtAuth::new(ara::adapters::auth::JwtSettings {
        secret: SECRET.into(),
        issuer: None,
        audience: None,
    });
    auth.mint(user, None, 600).expect("a token")
}

impl Client {
    pub async fn connect(port: u16, user: &str) -> Self {
        match Self::try_connect(port, user).await {
            Ok(client) => client,
            Err((status, body)) => panic!("the WebSocket of {user} was refused with {status}: {body}"),
        }
    }

    /// [`Self::connect`], or the status and body of the refused upgrade.
    pub async fn try_connect(port: u16, user: &str) -> Result<Self, (u16, Value)> {
        use tokio_tungstenite::tungstenite::Error;
        let url = format!("ws://127.0.0.1:{port}/ws?token={}", token(user));
        let connected = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url))
            .await
            .expect("the WebSocket answers within 10s");
        let ws = match connected {
            Ok((ws, _)) => ws,
            Err(Error::Http(reply)) => {
                let body = reply.body().as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
                return Err((reply.status().as_u16(), body));
            }
            Err(e) => panic!("the WebSocket of {user} failed: {e}"),
        };
        let (mut sink, mut stream) = ws.split();
        let (tx, frames) = mpsc::unbounded_channel();
        let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(text))) => {
                            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                                let _ = tx.send(v);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                    message = outgoing.recv() => match message {
                        Some(m) => { if sink.send(m).await.is_err() { return; } }
                        None => { let _ = sink.send(Message::Close(None)).await; return; }
                    },
                }
            }
        });
        let mut client = Self { user: user.to_owned(), frames, out };
        let hello = client.next_frame(Duration::from_secs(5)).await.expect("a connected frame");
        assert_eq!(hello["type"], "connected", "{hello}");
        Ok(client)
    }

    async fn next_frame(&mut self, within: Duration) -> Option<Value> {
        tokio::time::timeout(within, self.frames.recv()).await.ok().flatten()
    }

    pub async fn subscribe(&mut self, channels: &[&str]) {
        let frame = json!({"type": "Subscribe", "payload": {"channels": channels}});
        self.out.send(Message::Text(frame.to_string().into())).expect("the client runs");
        loop {
            let reply = self.next_frame(Duration::from_secs(5)).await.expect("a subscribed frame");
            if reply["type"] == "subscribed" {
                return;
            }
        }
    }

    /// The notifications that arrive until none has for `quiet`.
    pub async fn notifications(&mut self, quiet: Duration) -> Vec<Value> {
        let mut got = Vec::new();
        while let Some(frame) = self.next_frame(quiet).await {
            if frame["type"] == "notification" {
                got.push(frame);
            }
        }
        got
    }

    /// The first `expected` notifications, or fewer when `within` runs out first.
    pub async fn take(&mut self, expected: usize, within: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + within;
        let mut got = Vec::new();
        while got.len() < expected {
            match tokio::time::timeout_at(until, self.frames.recv()).await {
                Ok(Some(frame)) if frame["type"] == "notification" => got.push(frame),
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        got
    }

    /// The notifications that arrive before `markers` notifications of event type `marker` have
    /// (the markers are not returned): what came late, e.g. a duplicate, shows up here. Panics past
    /// `within`.
    pub async fn before_markers(&mut self, marker: &str, markers: usize, within: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + within;
        let (mut got, mut seen) = (Vec::new(), 0);
        while seen < markers {
            match tokio::time::timeout_at(until, self.frames.recv()).await {
                Ok(Some(frame)) if frame["type"] == "notification" && frame["event_type"] == marker => seen += 1,
                Ok(Some(frame)) if frame["type"] == "notification" => got.push(frame),
                Ok(Some(_)) => {}
                _ => panic!("{}: {seen} of {markers} markers within {within:?}", self.user),
            }
        }
        got
    }

    /// The notifications that arrive within `window`, however busy.
    pub async fn notifications_for(&mut self, window: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + window;
        let mut got = Vec::new();
        while let Ok(Some(frame)) = tokio::time::timeout_at(until, self.frames.recv()).await {
            if frame["type"] == "notification" {
                got.push(frame);
            }
        }
        got
    }

    pub fn close(self) {
        drop(self.out);
    }
}

/// How many times each notification id occurs.
pub fn ids(frames: &[Value]) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for frame in frames {
        *counts.entry(frame["id"].as_str().unwrap_or_default().to_owned()).or_default() += 1;
    }
    counts
}

/// Waits until `node` sees `user` with `connections` across the cluster.
pub async fn located(node: &Node, user: &str, connections: u64) {
    eventually(&format!("{user} has {connections} connection(s) in presence"), Duration::from_secs(5), || async {
        let (status, body) = node.get(&format!("/api/v1/cluster/users/{user}")).await;
        status == 200 && body["connections"] == connections
    })
    .await;
}

/// Polls `check` every 50 ms until it holds; panics with `what` past `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < within {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within {within:?}: {what}");
}
