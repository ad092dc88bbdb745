//! The shared Redis connection for features that must keep working while Redis is away (the
//! distributed rate limiter, health probes): one multiplexed connection (or one cluster connection
//! routing to every master, see [`super::connection`]) behind a circuit breaker,
//! every call bounded by a timeout, and a background task that reconnects with exponential backoff
//! and ±10% jitter after the connection is lost.
//!
//! A call never waits longer than `timeout`; while the breaker is open it fails at once. Callers map
//! [`RedisCallError`] to their own port's "unavailable" error and fall back as they document.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use redis::{ErrorKind, RedisError, RedisResult};
use serde::Serialize;
use thiserror::Error;

use super::backoff;
use super::breaker::{BreakerSettings, BreakerState, CircuitBreaker};
use super::connection::{RedisConnection, RedisTarget};
use super::keys::KeyLayout;
use super::RedisConnectError;

#[derive(Debug, Clone, Copy)]
pub struct ResilienceSettings {
    pub breaker: BreakerSettings,
    /// Bounds every call and every connection attempt.
    pub timeout: Duration,
    pub reconnect_min_delay: Duration,
    pub reconnect_max_delay: Duration,
}

/// The documented defaults of `REDIS_TIMEOUT_MS`, `REDIS_BREAKER_*` and `REDIS_RECONNECT_*`.
impl Default for ResilienceSettings {
    fn default() -> Self {
        Self {
            breaker: BreakerSettings {
                failure_threshold: 5,
                success_threshold: 2,
                open_duration: Duration::from_secs(10),
            },
            timeout: Duration::from_millis(1000),
            reconnect_min_delay: Duration::from_millis(200),
            reconnect_max_delay: Duration::from_millis(5000),
        }
    }
}

#[derive(Debug, Error)]
pub enum RedisCallError {
    #[error("Redis circuit breaker is open; not trying")]
    CircuitOpen,
    #[error("not connected to Redis (reconnecting in the background)")]
    NotConnected,
    #[error("Redis did not answer within {}ms", .0.as_millis())]
    Timeout(Duration),
    #[error(transparent)]
    Redis(#[from] RedisError),
}

impl RedisCallError {
    /// True when Redis could not be reached, as opposed to having answered with an error.
    pub fn is_unavailable(&self) -> bool {
        match self {
            RedisCallError::Redis(e) => is_availability_error(e),
            _ => true,
        }
    }
}

/// Errors that say "Redis is not there (or not ready)", which count against the breaker.
fn is_availability_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || matches!(
            e.kind(),
            ErrorKind::BusyLoadingError
                | ErrorKind::TryAgain
                | ErrorKind::MasterDown
                | ErrorKind::ClusterDown
                | ErrorKind::ClusterConnectionNotFound
        )
}

/// What `/stats` and `/health` show about the connection.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionStats {
    pub connected: bool,
    pub breaker: BreakerState,
    pub breaker_opened: u64,
    pub reconnects: u64,
    pub reconnect_attempts: u64,
    pub failed_calls: u64,
}

pub struct ResilientRedis {
    target: RedisTarget,
    addr: String,
    settings: ResilienceSettings,
    /// The live connection and its generation, so that a late failure of an old connection does not
    /// throw away its replacement.
    connection: Mutex<(u64, Option<RedisConnection>)>,
    breaker: CircuitBreaker,
    reconnecting: AtomicBool,
    reconnects: AtomicU64,
    reconnect_attempts: AtomicU64,
    failed_calls: AtomicU64,
    me: Weak<ResilientRedis>,
}

impl ResilientRedis {
    /// Parses `url` and tries to connect once. An unreachable server is not an error: the connection
    /// is retried in the background and calls fail fast meanwhile.
    ///
    /// # Errors
    /// [`RedisConnectError::InvalidUrl`] when `url` is not a Redis URL.
    pub async fn connect(url: &str, settings: ResilienceSettings) -> Result<Arc<Self>, RedisConnectError> {
        let client = redis::Client::open(url).map_err(RedisConnectError::InvalidUrl)?;
        Ok(Self::connect_client(client, settings).await)
    }

    /// [`Self::connect`] with a client built already (e.g. with TLS material, see [`super::tls`]).
    pub async fn connect_client(client: redis::Client, settings: ResilienceSettings) -> Arc<Self> {
        Self::connect_target(RedisTarget::Single(client), settings).await
    }

    /// [`Self::connect`] for one server or a Redis Cluster.
    pub async fn connect_target(target: RedisTarget, settings: ResilienceSettings) -> Arc<Self> {
        let addr = target.addr();
        let this = Arc::new_cyclic(|me| Self {
            target,
            addr,
            settings,
            connection: Mutex::new((0, None)),
            breaker: CircuitBreaker::new(settings.breaker),
            reconnecting: AtomicBool::new(true),
            reconnects: AtomicU64::new(0),
            reconnect_attempts: AtomicU64::new(0),
            failed_calls: AtomicU64::new(0),
            me: me.clone(),
        });
        match this.open_connection().await {
            Ok(con) => {
                this.install(con);
                this.reconnecting.store(false, Ordering::SeqCst);
            }
            Err(e) => {
                tracing::error!(addr = %this.addr, error = %crate::domain::ErrorChain(&e), "cannot reach Redis; retrying in the background");
                this.reconnecting.store(false, Ordering::SeqCst);
                this.ensure_reconnecting();
            }
        }
        this
    }

    /// What it talks to, for connections of their own (subscriptions).
    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Whether keys must be laid out for Redis Cluster.
    pub fn layout(&self) -> KeyLayout {
        self.target.layout()
    }

    pub fn settings(&self) -> &ResilienceSettings {
        &self.settings
    }

    /// Runs `op` on the shared connection, through the breaker and within the timeout.
    pub async fn call<T, F, Fut>(&self, op: F) -> Result<T, RedisCallError>
    where
        F: FnOnce(RedisConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let permit = self.breaker.try_acquire().ok_or(RedisCallError::CircuitOpen)?;
        let (generation, connection) = {
            let guard = self.connection.lock();
            (guard.0, guard.1.clone())
        };
        let Some(connection) = connection else {
            self.breaker.record(permit, false);
            self.failed_calls.fetch_add(1, Ordering::Relaxed);
            self.ensure_reconnecting();
            return Err(RedisCallError::NotConnected);
        };
        let outcome = match tokio::time::timeout(self.settings.timeout, op(connection)).await {
            Ok(result) => result.map_err(RedisCallError::from),
            Err(_) => Err(RedisCallError::Timeout(self.settings.timeout)),
        };
        match &outcome {
            Err(e) if e.is_unavailable() => {
                self.breaker.record(permit, false);
                self.failed_calls.fetch_add(1, Ordering::Relaxed);
                self.lost(generation);
            }
            // An error reply still proves that Redis is there.
            _ => self.breaker.record(permit, true),
        }
        outcome
    }

    /// Like [`Self::connect`], but the server must answer now: for stores, which never start on a
    /// Redis they cannot reach.
    ///
    /// # Errors
    /// [`RedisConnectError::InvalidUrl`], or [`RedisConnectError::Unreachable`] when the first PING fails.
    pub async fn connect_reachable(url: &str, settings: ResilienceSettings) -> Result<Arc<Self>, RedisConnectError> {
        let this = Self::connect(url, settings).await?;
        match this.ping().await {
            Ok(()) => Ok(this),
            Err(source) => Err(RedisConnectError::Unreachable { addr: this.addr.clone(), source }),
        }
    }

    /// The `host:port` it talks to (never the URL, which may carry a password).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// A PING through the breaker.
    pub async fn ping(&self) -> Result<(), RedisCallError> {
        self.call(|mut con| async move { redis::cmd("PING").query_async::<()>(&mut con).await }).await
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            connected: self.connection.lock().1.is_some(),
            breaker: self.breaker.state(),
            breaker_opened: self.breaker.times_opened(),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            reconnect_attempts: self.reconnect_attempts.load(Ordering::Relaxed),
            failed_calls: self.failed_calls.load(Ordering::Relaxed),
        }
    }

    async fn open_connection(&self) -> Result<RedisConnection, RedisCallError> {
        let timeout = self.settings.timeout;
        let attempt = async {
            let mut con = self.target.connect(timeout).await?;
            // On a cluster PING goes to every master: all of them must answer.
            redis::cmd("PING").query_async::<()>(&mut con).await?;
            Ok::<_, RedisError>(con)
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result.map_err(RedisCallError::from),
            Err(_) => Err(RedisCallError::Timeout(timeout)),
        }
    }

    fn install(&self, connection: RedisConnection) {
        let mut guard = self.connection.lock();
        guard.0 += 1;
        guard.1 = Some(connection);
    }

    /// Drops the connection of `generation` (if still current) and starts reconnecting.
    fn lost(&self, generation: u64) {
        {
            let mut guard = self.connection.lock();
            if guard.0 != generation || guard.1.is_none() {
                return;
            }
            guard.1 = None;
        }
        tracing::warn!(addr = %self.addr, "lost the Redis connection; reconnecting in the background");
        self.ensure_reconnecting();
    }

    fn ensure_reconnecting(&self) {
        if self.reconnecting.swap(true, Ordering::SeqCst) {
            return;
        }
        let me = self.me.clone();
        let settings = self.settings;
        tokio::spawn(async move {
            let mut delays = backoff::delays(settings.reconnect_min_delay, settings.reconnect_max_delay);
            loop {
                let delay = delays.next().unwrap_or(settings.reconnect_max_delay);
                tokio::time::sleep(delay).await;
                // Holding only a weak reference lets the task end with the application.
                let Some(this) = me.upgrade() else { return };
                this.reconnect_attempts.fetch_add(1, Ordering::Relaxed);
                match this.open_connection().await {
                    Ok(con) => {
                        this.install(con);
                        this.reconnects.fetch_add(1, Ordering::Relaxed);
                        this.reconnecting.store(false, Ordering::SeqCst);
                        tracing::info!(addr = %this.addr, "reconnected to Redis");
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(addr = %this.addr, error = %crate::domain::ErrorChain(&e), "Redis reconnect attempt failed")
                    }
                }
            }
        });
    }
}
