//! The send use case end to end below the transports: one send to 1, 100 and 1,000 users, either
//! all online (each with a live connection; every delivery tracked for its ACK) or all offline (every
//! one queued), with the ACK store and the offline queue on memory, Redis and Postgres.
//!
//! The queue keeps its default 100 entries per user (older ones are dropped, as in production).
//!
//! Run `cargo bench --bench send [-- memory redis postgres]`. Postgres uses a fresh database from
//! `ARA_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the
//! end); Redis uses `ARA_BENCH_REDIS_URL` (default `redis://127.0.0.1:6379`) under a random prefix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ara::adapters::auth::{JwtAuth, JwtSettings};
use ara::adapters::runtime::TokioTimer;
use ara::adapters::{memory, postgres, redis};
use ara::delivery::Next;
use ara::domain::queue::QueuePolicy;
use ara::domain::{ConnectionPolicy, Identity, Limits, NotificationDraft, Target, TenantId, Transport, UserId};
use ara::ports::{DynAckStore, DynOfflineQueue, PolicySource, RateQuotas, SystemClock};
use ara::service::{AckConfig, NotificationService, QueueConfig, ServiceParts, TemplateResolver};
use sqlx::Connection;

/// Recipients per case: the number of sends is this divided by the users per send.
const RECIPIENTS: usize = 20_000;
const FANOUTS: [usize; 3] = [1, 100, 1_000];
const TIMEOUT: Duration = Duration::from_secs(5);

struct Stores {
    queue: DynOfflineQueue,
    acks: DynAckStore,
}

fn users(n: usize, case: &str) -> Vec<UserId> {
    (0..n).map(|u| UserId::parse(&format!("{case}-{u}")).expect("a valid user id")).collect()
}

fn draft(tenant: &TenantId) -> NotificationDraft {
    let payload = serde_json::json!({"order": "A-17", "status": "shipped", "eta": "2 days", "items": [1, 2, 3]});
    NotificationDraft::new(tenant.clone(), "order.updated".into(), payload, None, None, 4096).expect("a valid draft")
}

/// The defaults, with room for every connection of the bench and a connection queue big enough for
/// its sends.
struct BenchPolicies;

impl PolicySource for BenchPolicies {
    fn limits(&self, _: &TenantId) -> Limits {
        Limits { max_connections: 10_000, ..Limits::default() }
    }
    fn connection(&self, _: &TenantId) -> ConnectionPolicy {
        ConnectionPolicy { outbound_queue_size: RECIPIENTS, ..ConnectionPolicy::default() }
    }
    fn queue(&self, _: &TenantId) -> QueuePolicy {
        QueuePolicy::default()
    }
    fn max_payload_bytes(&self, _: &TenantId) -> usize {
        4096
    }
    fn rate_quotas(&self) -> Option<RateQuotas> {
        None
    }
}

fn service(stores: &Stores) -> Arc<NotificationService> {
    let parts = ServiceParts {
        clock: Arc::new(SystemClock),
        timer: Arc::new(TokioTimer),
        policies: Arc::new(BenchPolicies),
        templates: Arc::new(TemplateResolver::new(Arc::new(memory::MemoryTemplateStore::new()), Arc::new(SystemClock))),
        verifier: Arc::new(JwtAuth::new(JwtSettings { secret: "bench".into(), ..Default::default() })),
    };
    let acks =
        AckConfig { store: stores.acks.clone(), timeout_seconds: 3600, redeliver: false, store_timeout: TIMEOUT };
    let service = NotificationService::new(parts)
        .with_offline_queue(QueueConfig { store: stores.queue.clone(), timeout: TIMEOUT })
        .with_acks(acks);
    Arc::new(service)
}

/// Sends `RECIPIENTS / n` times to `n` users; returns the wall time.
async fn run_case(notifier: &NotificationService, tenant: &TenantId, targets: &[UserId]) -> Duration {
    let sends = (RECIPIENTS / targets.len()).max(1);
    let target = match targets {
        [one] => Target::User(one.clone()),
        many => Target::Users(many.to_vec()),
    };
    let started = Instant::now();
    for _ in 0..sends {
        notifier.send(draft(tenant), &target).await.expect("the send succeeds");
    }
    started.elapsed()
}

async fn bench(name: &str, stores: Stores) {
    let tenant = TenantId::parse("bench").expect("a valid tenant");
    for n in FANOUTS {
        let notifier = service(&stores);
        let online = users(n, &format!("on{n}"));
        let mut handles = Vec::with_capacity(n);
        for user in &online {
            let identity = Identity { tenant: tenant.clone(), user: user.clone() };
            let (handle, mut receiver) =
                notifier.connect(identity, Transport::WebSocket, None, &[]).await.expect("registers");
            handles.push(handle);
            tokio::spawn(async move { while let Some(Next::Frame(_)) = receiver.next().await {} });
        }
        let took = run_case(&notifier, &tenant, &online).await;
        report(name, "online", n, took);
        let offline = users(n, &format!("off{n}"));
        let took = run_case(&notifier, &tenant, &offline).await;
        report(name, "offline", n, took);
        drop(handles);
    }
}

fn report(backend: &str, case: &str, n: usize, took: Duration) {
    let sends = (RECIPIENTS / n).max(1);
    let recipients = (sends * n) as f64;
    println!(
        "{backend:>8} {case:>7} {n:>5} users/send: {:>8.0} sends/s, {:>8.0} recipients/s, {:>7.2} µs/recipient",
        sends as f64 / took.as_secs_f64(),
        recipients / took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / recipients,
    );
}

async fn bench_postgres() {
    let admin_url = std::env::var("ARA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("ara_bench_{}", uuid::Uuid::now_v7().simple());
    let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
        Ok(admin) => admin,
        Err(e) => return println!("postgres: skipped, unreachable: {e}"),
    };
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
    let url = match admin_url.rfind('/') {
        Some(slash) if slash > admin_url.find("://").map_or(0, |i| i + 2) => format!("{}/{name}", &admin_url[..slash]),
        _ => format!("{admin_url}/{name}"),
    };
    let pool = postgres::connect(&url, 16, TIMEOUT).await.expect("connect to the bench database");
    let stores = Stores {
        queue: Arc::new(postgres::PostgresOfflineQueue::new(pool.clone())),
        acks: Arc::new(postgres::PostgresAckStore::new(pool.clone())),
    };
    bench("postgres", stores).await;
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.expect("drop database");
}

async fn bench_redis() {
    let url = std::env::var("ARA_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("ara-bench-{}", uuid::Uuid::now_v7().simple());
    let (queue, acks) = match (
        redis::RedisOfflineQueue::connect(&url, &prefix).await,
        redis::RedisAckStore::connect(&url, &prefix).await,
    ) {
        (Ok(queue), Ok(acks)) => (queue, acks),
        (Err(e), _) | (_, Err(e)) => return println!("redis: skipped, unreachable: {e}"),
    };
    bench("redis", Stores { queue: Arc::new(queue), acks: Arc::new(acks) }).await;
    if let Ok(client) = ::redis::Client::open(url.as_str()) {
        if let Ok(mut con) = client.get_multiplexed_async_connection().await {
            let keys: Vec<String> =
                ::redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut con).await.unwrap_or_default();
            for chunk in keys.chunks(500) {
                let _: Result<(), _> = ::redis::cmd("DEL").arg(chunk).query_async(&mut con).await;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let mut backends: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if backends.is_empty() {
        backends = vec!["memory".into(), "redis".into(), "postgres".into()];
    }
    println!("{RECIPIENTS} recipients per case; online: each user has one live connection and every delivery is tracked for its ACK; offline: every one is queued");
    for backend in backends {
        match backend.as_str() {
            "memory" => {
                let stores = Stores {
                    queue: Arc::new(memory::MemoryOfflineQueue::new()),
                    acks: Arc::new(memory::MemoryAckStore::with_max_records(10 * RECIPIENTS)),
                };
                bench("memory", stores).await;
            }
            "redis" => bench_redis().await,
            "postgres" => bench_postgres().await,
            other => println!("unknown backend {other:?}; expected memory, redis or postgres"),
        }
    }
}
