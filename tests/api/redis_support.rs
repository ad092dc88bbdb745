//! Redis for the Pub/Sub, rate-limit and outage tests: the shared server (`ARA_TEST_REDIS_URL`,
//! default the local one) for tests that only need one, and a private `redis-server` child process
//! on a free port for tests that take Redis down (the shared server is never stopped).
//!
//! An absent Redis fails the test, unless `ARA_SKIP_BACKEND_TESTS=1` turns it into a loud skip.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// `None` (with a SKIPPED line) when skipping backend tests is allowed; panics otherwise.
pub fn unavailable<T>(what: &str, error: impl std::fmt::Display) -> Option<T> {
    let message = format!("{what} is unavailable ({error})");
    if std::env::var("ARA_SKIP_BACKEND_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: {message} (ARA_SKIP_BACKEND_TESTS=1)");
        return None;
    }
    panic!("{message}; start it or set ARA_TEST_REDIS_URL, or set ARA_SKIP_BACKEND_TESTS=1 to skip backend tests");
}

/// The shared Redis URL, after checking that it answers.
pub async fn shared_redis() -> Option<String> {
    let url = std::env::var("ARA_TEST_REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
    match ping(&url).await {
        Ok(()) => Some(url),
        Err(e) => unavailable("Redis (ARA_TEST_REDIS_URL)", e),
    }
}

/// A name nobody else uses (channels, key prefixes).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::now_v7().simple())
}

async fn ping(url: &str) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let attempt = async {
        let mut con = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<()>(&mut con).await
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("no answer within 2s".into()),
    }
}

/// Publishes `message` on `channel`; returns how many subscribers got it.
pub async fn publish(url: &str, channel: &str, message: &str) -> i64 {
    let client = redis::Client::open(url).expect("a Redis URL");
    let mut con = client.get_multiplexed_async_connection().await.expect("Redis answers");
    redis::cmd("PUBLISH").arg(channel).arg(message).query_async(&mut con).await.expect("PUBLISH works")
}

/// Publishes the JSON `message`.
pub async fn publish_json(url: &str, channel: &str, message: &Value) -> i64 {
    publish(url, channel, &message.to_string()).await
}

/// A private `redis-server` that a test may kill and restart on the same port: without persistence
/// ([`RedisServer::start`]), or with an append-only file fsynced on every write
/// ([`RedisServer::start_persistent`]), which keeps across a SIGKILL everything Redis acknowledged.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    data: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// Starts one on a free port; `None` when `redis-server` cannot run and skipping is allowed.
    pub async fn start() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let mut server = Self { port, child: None, data: None };
        server.spawn().await?;
        Some(server)
    }

    /// Like [`RedisServer::start`], with `appendonly yes` and `appendfsync always` in a directory of
    /// its own.
    #[allow(dead_code)] // the chaos suite's
    pub async fn start_persistent() -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let data = tempfile::Builder::new().prefix("ara-redis-").tempdir().ok()?;
        let mut server = Self { port, child: None, data: Some(data) };
        server.spawn().await?;
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) -> Option<()> {
        let mut command = Command::new("redis-server");
        command.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", ""]);
        match &self.data {
            Some(dir) => command.arg("--dir").arg(dir.path()).args(["--appendonly", "yes", "--appendfsync", "always"]),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command.args(["--daemonize", "no"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
        match child {
            Ok(child) => self.child = Some(child),
            Err(e) => return unavailable("redis-server (needed to simulate an outage)", e),
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if ping(&self.url()).await.is_ok() {
                return Some(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {} did not answer within 10s", self.port);
    }

    /// SIGKILLs the server: clients see their connections drop at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (empty, unless it is persistent).
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await.expect("redis-server restarts");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
