//! The durable backends under test, each a private server of its own on a free port — a persistent
//! `redis-server` or a Postgres cluster — optionally behind a [`FaultProxy`], and the faults done to
//! them.

use std::time::{Duration, Instant};

use crate::audit::Refused;
use crate::fault_proxy::FaultProxy;
use crate::postgres_cluster::PostgresCluster;
use crate::redis_support::RedisServer;

/// `REDIS_TIMEOUT_MS` and `DATABASE_TIMEOUT_MS` of the servers under test.
pub const STORE_TIMEOUT: Duration = Duration::from_millis(500);
/// What any send may take, whatever the fault: a few store timeouts (a send waits for the user's
/// queue lock, then for the store, each bounded), generous for a loaded 2-core machine.
pub const ANSWER_BOUND: Duration = Duration::from_millis(STORE_TIMEOUT.as_millis() as u64 * 6);

/// The channel Ara's Pub/Sub trigger listens on, when the store is Redis.
pub const PUBSUB_CHANNEL: &str = "ara:chaos";

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Redis,
    Postgres,
}

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// The store process is killed (Redis: SIGKILL; Postgres: `pg_ctl stop -m immediate`) and, at the
    /// end, started again on the same port with the data it had made durable.
    StoreDown,
    /// The link goes silent both ways: sockets stay open, nothing passes (a hang, not a reset).
    Cut,
    /// Every chunk, either way, held this long.
    Latency(Duration),
    /// A chunk stalls, with this probability, for a retransmission delay.
    Loss(f64, Duration),
}

impl Fault {
    fn needs_proxy(self) -> bool {
        !matches!(self, Fault::StoreDown)
    }

    /// Whether the server must say it cannot queue while the fault lasts.
    pub fn makes_unready(self) -> bool {
        matches!(self, Fault::StoreDown | Fault::Cut)
    }
}

pub struct Backend {
    pub kind: Kind,
    redis: Option<RedisServer>,
    postgres: Option<PostgresCluster>,
    proxy: Option<FaultProxy>,
}

impl Backend {
    /// `None` when `redis-server` or `initdb` cannot run and backend tests may be skipped
    /// (`ARA_SKIP_BACKEND_TESTS=1`).
    pub async fn start(kind: Kind, with_proxy: bool) -> Option<Self> {
        let (redis, postgres, upstream) = match kind {
            Kind::Redis => {
                let redis = RedisServer::start_persistent().await?;
                let upstream = format!("127.0.0.1:{}", redis.port);
                (Some(redis), None, upstream)
            }
            Kind::Postgres => {
                if let Err(e) = PostgresCluster::available() {
                    let message = format!("PostgreSQL's server binaries are needed for a private cluster ({e}); install them or set ARA_TEST_PG_BINDIR");
                    if std::env::var("ARA_SKIP_BACKEND_TESTS").as_deref() == Ok("1") {
                        eprintln!("SKIPPED: {message} (ARA_SKIP_BACKEND_TESTS=1)");
                        return None;
                    }
                    panic!("{message}, or set ARA_SKIP_BACKEND_TESTS=1 to skip backend tests");
                }
                let cluster = tokio::task::spawn_blocking(PostgresCluster::start).await.expect("initdb ran");
                let upstream = cluster.addr();
                (None, Some(cluster), upstream)
            }
        };
        let proxy = if with_proxy { Some(FaultProxy::start(&upstream).await) } else { None };
        Some(Self { kind, redis, postgres, proxy })
    }

    pub async fn for_fault(kind: Kind, fault: Fault) -> Option<Self> {
        Self::start(kind, fault.needs_proxy()).await
    }

    /// The settings that put Ara's queue and ACK store on this backend, through the proxy if any.
    pub fn ara_env(&self) -> Vec<(&'static str, String)> {
        let timeout = STORE_TIMEOUT.as_millis().to_string();
        let mut env = vec![
            ("QUEUE_MAX_SIZE_PER_USER", "100000".to_owned()),
            ("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4096".to_owned()),
        ];
        match self.kind {
            Kind::Redis => {
                let direct = self.redis.as_ref().map(RedisServer::url).unwrap_or_default();
                let url = self.proxy.as_ref().map_or(direct.clone(), |p| p.url_via(&direct));
                env.extend([
                    ("QUEUE_BACKEND", "redis".to_owned()),
                    ("ACK_BACKEND", "redis".to_owned()),
                    ("REDIS_URL", url),
                    ("REDIS_TIMEOUT_MS", timeout),
                    ("REDIS_BREAKER_FAILURE_THRESHOLD", "3".to_owned()),
                    ("REDIS_BREAKER_SUCCESS_THRESHOLD", "1".to_owned()),
                    ("REDIS_BREAKER_OPEN_MS", "1000".to_owned()),
                    ("REDIS_RECONNECT_MIN_DELAY_MS", "50".to_owned()),
                    ("REDIS_RECONNECT_MAX_DELAY_MS", "500".to_owned()),
                    // The Pub/Sub trigger on the same Redis: it must deliver again after the fault.
                    ("REDIS_PUBSUB_ENABLED", "true".to_owned()),
                    ("REDIS_CHANNELS", PUBSUB_CHANNEL.to_owned()),
                ]);
            }
            Kind::Postgres => {
                let direct = self.postgres.as_ref().map(PostgresCluster::url).unwrap_or_default();
                let url = self.proxy.as_ref().map_or(direct.clone(), |p| p.url_via(&direct));
                env.extend([
                    ("QUEUE_BACKEND", "postgres".to_owned()),
                    ("ACK_BACKEND", "postgres".to_owned()),
                    ("DATABASE_URL", url),
                    ("DATABASE_TIMEOUT_MS", timeout),
                ]);
            }
        }
        env
    }

    /// The Redis to publish on, directly (never through the proxy); `None` on Postgres.
    pub fn redis_url(&self) -> Option<String> {
        self.redis.as_ref().map(RedisServer::url)
    }

    /// What a 503 may mean on this backend under `fault` (see [`Refused`]), `None` for no fault;
    /// `down_at`: when the fault had been applied.
    ///
    /// Postgres refuses connections while it is down, so a 503 for a send that started then was not
    /// queued. Behind a link that hangs, a statement Ara gave up on is still delivered (and committed)
    /// once the link carries again — TCP delivers what it was given — so there, as on Redis, a 503 may
    /// have been queued (docs/DELIVERY.md).
    pub fn refused(&self, fault: Option<Fault>, down_at: Instant) -> Refused {
        match (self.kind, fault) {
            (Kind::Postgres, None | Some(Fault::StoreDown)) => Refused::NotQueuedAfter(down_at),
            _ => Refused::MayBeQueued,
        }
    }

    pub async fn apply(&mut self, fault: Fault) {
        match fault {
            Fault::StoreDown => self.stop_store().await,
            Fault::Cut => self.proxy().cut(),
            Fault::Latency(latency) => self.proxy().set_latency(latency),
            Fault::Loss(loss, stall) => self.proxy().set_loss(loss, stall),
        }
    }

    pub async fn heal(&mut self, fault: Fault) {
        match fault {
            Fault::StoreDown => self.start_store().await,
            Fault::Cut | Fault::Latency(_) | Fault::Loss(..) => self.proxy().heal(),
        }
    }

    fn proxy(&self) -> &FaultProxy {
        self.proxy.as_ref().expect("this fault needs the backend behind a proxy")
    }

    async fn stop_store(&mut self) {
        if let Some(redis) = self.redis.as_mut() {
            redis.kill();
        }
        if let Some(mut cluster) = self.postgres.take() {
            let cluster = tokio::task::spawn_blocking(move || {
                cluster.crash();
                cluster
            });
            self.postgres = Some(cluster.await.expect("pg_ctl stop ran"));
        }
    }

    async fn start_store(&mut self) {
        if let Some(redis) = self.redis.as_mut() {
            redis.restart().await;
        }
        if let Some(mut cluster) = self.postgres.take() {
            let cluster = tokio::task::spawn_blocking(move || {
                cluster.restart();
                cluster
            });
            self.postgres = Some(cluster.await.expect("pg_ctl start ran"));
        }
    }
}
