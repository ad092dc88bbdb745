//! Offline queue throughput per backend: enqueue, then replay (peek + remove), for 1,000 users with
//! 100 messages each, from 8 concurrent tasks.
//!
//! Run `cargo bench --bench queue [-- memory redis postgres]`. Postgres uses a fresh database from
//! `ARA_BENCH_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`, dropped at the
//! end); Redis uses `ARA_BENCH_REDIS_URL` (default `redis://127.0.0.1:6379`) under a random prefix.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ara::adapters::{memory, postgres, redis};
use ara::domain::queue::{QueuePolicy, QueuedNotification};
use ara::domain::{NotificationDraft, TenantId, UserId, UserKey};
use ara::ports::OfflineQueue;
use chrono::Utc;
use sqlx::Connection;

const USERS: usize = 1_000;
const PER_USER: usize = 100;
const TASKS: usize = 8;

type Work = Arc<Vec<(UserKey, Vec<QueuedNotification>)>>;

fn workload(policy: &QueuePolicy) -> Work {
    let now = Utc::now();
    let tenant = TenantId::parse("bench").unwrap_or_else(|_| TenantId::default_tenant());
    let users = (0..USERS).map(|u| {
        let user = UserKey::new(tenant.clone(), UserId::parse(&format!("user-{u}")).expect("valid user id"));
        let items = (0..PER_USER)
            .map(|m| {
                let payload = serde_json::json!({ "order": m, "status": "shipped", "eta": "2 days" });
                let draft = NotificationDraft::new(tenant.clone(), "order.updated".into(), payload, None, None, 4096);
                QueuedNotification::new(Arc::new(draft.expect("valid draft").accept(now)), now, policy)
            })
            .collect();
        (user, items)
    });
    Arc::new(users.collect())
}

/// Runs `step` for every user index, spread over `TASKS` tasks; returns the wall time.
async fn fan_out<F, Fut>(step: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let step = Arc::new(step);
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let step = Arc::clone(&step);
            tokio::spawn(async move {
                for u in (t..USERS).step_by(TASKS) {
                    step(u).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("bench task panicked");
    }
    started.elapsed()
}

async fn run(name: &str, queue: Arc<dyn OfflineQueue>, work: Work) {
    let (q, w) = (Arc::clone(&queue), Arc::clone(&work));
    let enqueue = fan_out(move |u| {
        let (q, w) = (Arc::clone(&q), Arc::clone(&w));
        async move {
            let (user, items) = &w[u];
            for item in items {
                q.enqueue(user, item, PER_USER).await.expect("enqueue");
            }
        }
    })
    .await;
    let (q, w) = (Arc::clone(&queue), Arc::clone(&work));
    let replay = fan_out(move |u| {
        let (q, w) = (Arc::clone(&q), Arc::clone(&w));
        async move {
            let user = &w[u].0;
            let batch = q.peek(user, PER_USER, Utc::now()).await.expect("peek");
            assert_eq!(batch.len(), PER_USER, "{user:?} lost entries");
            let ids: Vec<_> = batch.iter().map(|i| i.notification.id).collect();
            q.remove(user, &ids).await.expect("remove");
        }
    })
    .await;
    let messages = (USERS * PER_USER) as f64;
    println!(
        "{name:>8}: enqueue {:>7.2}s ({:>8.0} msg/s, {:>6.1} µs/msg) | replay {:>6.2}s ({:>8.0} msg/s, {:>7.1} µs/user)",
        enqueue.as_secs_f64(),
        messages / enqueue.as_secs_f64(),
        enqueue.as_secs_f64() * 1e6 / messages,
        replay.as_secs_f64(),
        messages / replay.as_secs_f64(),
        replay.as_secs_f64() * 1e6 / USERS as f64,
    );
}

async fn bench_postgres(work: Work) {
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
    let pool = postgres::connect(&url, TASKS as u32, std::time::Duration::from_secs(5))
        .await
        .expect("connect to the bench database");
    run("postgres", Arc::new(postgres::PostgresOfflineQueue::new(pool.clone())), work).await;
    pool.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut admin).await.expect("drop database");
}

#[tokio::main]
async fn main() {
    let policy = QueuePolicy { max_per_user: PER_USER, message_ttl_seconds: 3600 };
    let mut backends: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if backends.is_empty() {
        backends = vec!["memory".into(), "redis".into(), "postgres".into()];
    }
    println!("{USERS} users x {PER_USER} messages, {TASKS} concurrent tasks");
    let work = workload(&policy);
    for backend in backends {
        match backend.as_str() {
            "memory" => run("memory", Arc::new(memory::MemoryOfflineQueue::new()), Arc::clone(&work)).await,
            "redis" => {
                let url = std::env::var("ARA_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
                let prefix = format!("ara-bench-{}", uuid::Uuid::now_v7().simple());
                // Replay removes every entry, so the queue keys and the registry are gone afterwards.
                match redis::RedisOfflineQueue::connect(&url, &prefix).await {
                    Ok(queue) => run("redis", Arc::new(queue), Arc::clone(&work)).await,
                    Err(e) => println!("redis: skipped, unreachable: {e}"),
                }
            }
            "postgres" => bench_postgres(Arc::clone(&work)).await,
            other => println!("unknown backend {other:?}; expected memory, redis or postgres"),
        }
    }
}
