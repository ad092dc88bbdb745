//! A real Redis Cluster of three masters (no replicas) on free loopback ports, for the tests of
//! `REDIS_CLUSTER=true`: three `redis-server --cluster-enabled yes` in a temporary directory, joined
//! by `redis-cli --cluster create`, ready once every node says `cluster_state:ok`.
//!
//! Each server runs under a small shell watchdog that stops it once this test process is gone, so a
//! cluster kept for a whole test binary ([`shared`]) does not outlive it; an owned one is shut down
//! on drop. Without `redis-server` the tests fail, unless `ARA_SKIP_BACKEND_TESTS=1` (a loud skip).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct RedisCluster {
    /// The masters' client ports.
    pub ports: Vec<u16>,
    watchdogs: Vec<Child>,
    _dir: tempfile::TempDir,
}

fn skip_or_fail<T>(why: String) -> Option<T> {
    if std::env::var("ARA_SKIP_BACKEND_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED: cannot start a Redis Cluster: {why} (ARA_SKIP_BACKEND_TESTS=1)");
        return None;
    }
    panic!("cannot start a Redis Cluster: {why}; install redis-server and redis-cli, or set ARA_SKIP_BACKEND_TESTS=1");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

/// One cluster for the whole test binary (tests isolate themselves by key prefix).
pub fn shared() -> Option<&'static RedisCluster> {
    static SHARED: OnceLock<Option<RedisCluster>> = OnceLock::new();
    SHARED.get_or_init(RedisCluster::start_blocking).as_ref()
}

impl RedisCluster {
    /// Starts a cluster of its own; `None` when that is impossible and skipping is allowed.
    pub async fn start() -> Option<Self> {
        tokio::task::spawn_blocking(Self::start_blocking).await.expect("the cluster start-up does not panic")
    }

    fn start_blocking() -> Option<Self> {
        let dir = tempfile::Builder::new().prefix("ara-redis-cluster-").tempdir().ok()?;
        let me = std::process::id().to_string();
        let mut ports = Vec::new();
        let mut watchdogs = Vec::new();
        for _ in 0..3 {
            let (port, bus_port) = (free_port(), free_port());
            let conf = dir.path().join(format!("nodes-{port}.conf"));
            // The watchdog polls this process and stops its server once the process is gone.
            let script = r#"redis-server "$@" & server=$!
while kill -0 "$WATCHED" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
kill "$server" 2>/dev/null"#;
            let child = Command::new("sh")
                .arg("-c")
                .arg(script)
                .arg("redis-cluster-node")
                .args(["--port", &port.to_string(), "--cluster-port", &bus_port.to_string()])
                .args(["--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                .arg("--cluster-config-file")
                .arg(&conf)
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .env("WATCHED", &me)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            match child {
                Ok(child) => watchdogs.push(child),
                Err(e) => return skip_or_fail(format!("sh: {e}")),
            }
            ports.push(port);
        }
        let cluster = Self { ports, watchdogs, _dir: dir };
        for port in &cluster.ports {
            if !wait_until(Duration::from_secs(10), || cli(*port, &["PING"]).is_some_and(|o| o.contains("PONG"))) {
                return skip_or_fail(format!("redis-server on port {port} did not answer within 10s"));
            }
        }
        let nodes: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !created.is_ok_and(|s| s.success()) {
            return skip_or_fail(format!("redis-cli --cluster create {} failed", nodes.join(" ")));
        }
        let ok = |port: u16| {
            cli(port, &["CLUSTER", "INFO"])
                .is_some_and(|info| info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3"))
        };
        if !wait_until(Duration::from_secs(20), || cluster.ports.iter().all(|p| ok(*p))) {
            panic!("the Redis Cluster on {nodes:?} did not reach cluster_state:ok within 20s");
        }
        Some(cluster)
    }

    /// The seed list as `REDIS_URL` takes it with `REDIS_CLUSTER=true`.
    pub fn urls(&self) -> String {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    /// How many keys each master holds (`DBSIZE`).
    pub fn key_counts(&self) -> Vec<u64> {
        self.ports.iter().map(|p| cli(*p, &["DBSIZE"]).and_then(|o| o.trim().parse().ok()).unwrap_or(0)).collect()
    }

    /// The master serving `key`'s slot (also a channel's, for `SSUBSCRIBE`), from its own
    /// `CLUSTER NODES` line.
    pub fn master_of(&self, key: &str) -> Option<u16> {
        let slot: u16 = cli(self.ports[0], &["CLUSTER", "KEYSLOT", key])?.trim().parse().ok()?;
        self.ports.iter().copied().find(|port| {
            let nodes = cli(*port, &["CLUSTER", "NODES"]).unwrap_or_default();
            let Some(me) = nodes.lines().find(|line| line.contains("myself")) else { return false };
            me.split_whitespace().skip(8).any(|range| {
                let mut ends = range.splitn(2, '-').map(|end| end.parse::<u16>().ok());
                match (ends.next().flatten(), ends.next()) {
                    (Some(low), Some(Some(high))) => (low..=high).contains(&slot),
                    (Some(only), None) => only == slot,
                    _ => false,
                }
            })
        })
    }

    /// `CLIENT KILL TYPE pubsub` on the master at `port`: how many subscribers it closed.
    pub fn kill_subscribers(&self, port: u16) -> Option<u64> {
        cli(port, &["CLIENT", "KILL", "TYPE", "pubsub"])?.trim().parse().ok()
    }

    /// The keys matching `pattern` on every master, as `(port, key)`.
    pub fn keys(&self, pattern: &str) -> Vec<(u16, String)> {
        self.ports
            .iter()
            .flat_map(|p| {
                let out = cli(*p, &["--scan", "--pattern", pattern]).unwrap_or_default();
                out.lines().map(|k| (*p, k.to_owned())).collect::<Vec<_>>()
            })
            .collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for port in &self.ports {
            let _ = cli(*port, &["SHUTDOWN", "NOSAVE"]);
        }
        for watchdog in &mut self.watchdogs {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
    }
}

/// `redis-cli -p <port> <args>`'s output, or `None` when it could not run or failed.
fn cli(port: u16, args: &[&str]) -> Option<String> {
    let out = Command::new("redis-cli").args(["-h", "127.0.0.1", "-p", &port.to_string()]).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn wait_until(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A shared connection (default breaker and timeout) to the binary's [`shared`] cluster, and a key
/// prefix nobody else uses.
pub async fn shared_connection() -> Option<(std::sync::Arc<ara::adapters::redis::ResilientRedis>, String)> {
    connection(shared()?).await
}

/// A shared connection (default breaker and timeout) to `cluster`, and a key prefix nobody else uses.
pub async fn connection(
    cluster: &RedisCluster,
) -> Option<(std::sync::Arc<ara::adapters::redis::ResilientRedis>, String)> {
    use ara::adapters::redis::{tls, RedisTarget, ResilienceSettings, ResilientRedis};
    let seeds = tls::cluster_seeds(&cluster.urls(), &tls::RedisTls::default()).expect("the seed list parses");
    let redis = ResilientRedis::connect_target(RedisTarget::Cluster(seeds), ResilienceSettings::default()).await;
    if let Err(e) = redis.ping().await {
        panic!("the test Redis Cluster does not answer: {e}");
    }
    Some((redis, format!("ara-test-{}", uuid::Uuid::now_v7().simple())))
}
