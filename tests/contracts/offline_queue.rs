//! The `OfflineQueue` contract (see `src/ports/offline_queue.rs`), run against every adapter.
//!
//! Each check is a generic async fn over a `Backend`; `contract_suite!` turns the whole list into
//! `#[tokio::test]`s for every backend. Postgres reads `ARA_TEST_DATABASE_URL` and Redis
//! `ARA_TEST_REDIS_URL`; every test gets its own database or key prefix.

use std::sync::Arc;

use crate::suite::contract_suite;

use crate::support_backends::{base_now, notification, user, Opened};
use ara::adapters::{memory, postgres, redis};
use ara::domain::queue::{QueuePolicy, QueueStats, QueuedNotification};
use ara::domain::NotificationDraft;
use ara::domain::UserKey;
use ara::ports::OfflineQueue;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

/// A store under test and the per-user cap its test applies on every enqueue (the caller's policy).
struct Queue {
    store: Opened<dyn OfflineQueue>,
    max_per_user: usize,
}

impl std::ops::Deref for Queue {
    type Target = dyn OfflineQueue;
    fn deref(&self) -> &(dyn OfflineQueue + 'static) {
        &*self.store
    }
}

impl Queue {
    fn new(
        store: Arc<dyn OfflineQueue>,
        cleanup: Option<crate::support_backends::Cleanup>,
        policy: QueuePolicy,
    ) -> Self {
        Self { store: Opened::new(store, cleanup), max_per_user: policy.max_per_user }
    }

    async fn push(&self, user: &UserKey, item: &QueuedNotification) -> Result<u64, ara::ports::QueueError> {
        self.store.enqueue(user, item, self.max_per_user).await
    }
}

/// Opens a fresh, empty queue with `policy`; `None` when the backend is absent and skipping is allowed.
trait Backend {
    async fn open(policy: QueuePolicy) -> Option<Queue>;
}

struct Memory;
struct Redis;
struct RedisCluster;
struct Postgres;

impl Backend for Memory {
    async fn open(policy: QueuePolicy) -> Option<Queue> {
        Some(Queue::new(Arc::new(memory::MemoryOfflineQueue::new()), None, policy))
    }
}

impl Backend for Redis {
    async fn open(policy: QueuePolicy) -> Option<Queue> {
        let (url, prefix, cleanup) = crate::support_backends::redis_target();
        match redis::RedisOfflineQueue::connect(&url, &prefix).await {
            Ok(queue) => Some(Queue::new(Arc::new(queue), Some(cleanup), policy)),
            Err(e) => crate::support_backends::unavailable("Redis", crate::support_backends::REDIS_VARIABLE, e),
        }
    }
}

impl Backend for RedisCluster {
    async fn open(policy: QueuePolicy) -> Option<Queue> {
        let (redis, prefix) = crate::redis_cluster::shared_connection().await?;
        Some(Queue::new(Arc::new(redis::RedisOfflineQueue::new(redis, &prefix)), None, policy))
    }
}

impl Backend for Postgres {
    async fn open(policy: QueuePolicy) -> Option<Queue> {
        let (pool, cleanup) = crate::support_backends::postgres_database().await?;
        Some(Queue::new(Arc::new(postgres::PostgresOfflineQueue::new(pool)), Some(cleanup), policy))
    }
}

fn policy(max_per_user: usize, message_ttl_seconds: u32) -> QueuePolicy {
    QueuePolicy { max_per_user, message_ttl_seconds }
}

/// The `n`th entry for `key`, enqueued `n` ms after `base` (so creation order is enqueue order).
fn item(key: &UserKey, n: u32, base: DateTime<Utc>, own_ttl: Option<u32>, policy: &QueuePolicy) -> QueuedNotification {
    let at = base + Duration::milliseconds(i64::from(n));
    QueuedNotification::new(Arc::new(notification(key.tenant.as_str(), n, at, own_ttl)), at, policy)
}

fn ids(items: &[QueuedNotification]) -> Vec<Uuid> {
    items.iter().map(|i| i.notification.id).collect()
}

async fn enqueue_all(queue: &Queue, key: &UserKey, items: &[QueuedNotification]) {
    for i in items {
        assert_eq!(queue.push(key, i).await.unwrap(), 0, "nothing should overflow here");
    }
}

async fn fifo_replay_order<B: Backend>() {
    let policy = policy(100, 3600);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let items: Vec<_> = (0..5).map(|n| item(&alice, n, now, None, &policy)).collect();
    enqueue_all(&queue, &alice, &items).await;

    let all = queue.peek(&alice, 10, now).await.unwrap();
    assert_eq!(all, items, "entries come back whole and oldest first");
    assert_eq!(queue.peek(&alice, 3, now).await.unwrap(), items[..3].to_vec());
    assert_eq!(queue.peek(&alice, 10, now).await.unwrap(), items, "peek does not remove");
    assert!(queue.peek(&user("acme", "nobody"), 10, now).await.unwrap().is_empty());
}

/// Any JSON a sender may send comes back byte for byte, including a NUL escape and astral characters.
async fn payloads_round_trip_verbatim<B: Backend>() {
    let policy = policy(100, 3600);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let payload = serde_json::json!({"nul": "a\u{0}b", "emoji": "🦀", "deep": [[{"x": null}]]});
    let draft = NotificationDraft::new(alice.tenant.clone(), "e".into(), payload.clone(), None, None, 4096).unwrap();
    let entry = QueuedNotification::new(Arc::new(draft.accept(now)), now, &policy);
    enqueue_all(&queue, &alice, std::slice::from_ref(&entry)).await;
    let back = queue.peek(&alice, 10, now).await.unwrap();
    assert_eq!(back, vec![entry.clone()]);
    assert_eq!(back[0].notification.frame(), entry.notification.frame(), "the frame comes back byte for byte");
    assert_eq!(back[0].notification.payload(), payload);
}

async fn overflow_drops_oldest<B: Backend>() {
    let policy = policy(3, 3600);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let items: Vec<_> = (0..5).map(|n| item(&alice, n, now, None, &policy)).collect();
    let mut dropped = Vec::new();
    for i in &items {
        dropped.push(queue.push(&alice, i).await.unwrap());
    }
    assert_eq!(dropped, [0, 0, 0, 1, 1]);
    assert_eq!(ids(&queue.peek(&alice, 10, now).await.unwrap()), ids(&items[2..]));
}

async fn expiry_by_queue_ttl<B: Backend>() {
    let policy = policy(100, 60);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let entry = item(&alice, 0, now, None, &policy);
    enqueue_all(&queue, &alice, std::slice::from_ref(&entry)).await;
    assert_eq!(queue.peek(&alice, 10, entry.expires_at - Duration::milliseconds(1)).await.unwrap().len(), 1);
    assert!(queue.peek(&alice, 10, entry.expires_at).await.unwrap().is_empty(), "expired at expires_at");
    assert!(queue.peek(&alice, 10, now + Duration::hours(2)).await.unwrap().is_empty());
}

async fn expiry_by_own_ttl<B: Backend>() {
    let policy = policy(100, 60);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let short = item(&alice, 0, now, Some(5), &policy);
    let long = item(&alice, 1, now, None, &policy);
    enqueue_all(&queue, &alice, &[short.clone(), long.clone()]).await;
    assert_eq!(queue.peek(&alice, 10, now + Duration::seconds(4)).await.unwrap(), [short, long.clone()]);
    assert_eq!(queue.peek(&alice, 10, now + Duration::seconds(5)).await.unwrap(), std::slice::from_ref(&long));
    // An expired entry does not count towards the limit either.
    assert_eq!(queue.peek(&alice, 1, now + Duration::seconds(5)).await.unwrap(), [long]);
}

async fn purge_expired<B: Backend>() {
    let policy = policy(100, 60);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, bob, now) = (user("acme", "alice"), user("acme", "bob"), base_now());
    let a = [item(&alice, 0, now, Some(5), &policy), item(&alice, 1, now, None, &policy)];
    let b = [item(&bob, 2, now, Some(5), &policy), item(&bob, 3, now, Some(6), &policy)];
    enqueue_all(&queue, &alice, &a).await;
    enqueue_all(&queue, &bob, &b).await;

    assert_eq!(queue.purge_expired(now + Duration::seconds(1)).await.unwrap(), 0);
    // Entry n is created n ms after `now`, and its own ttl counts from then.
    assert_eq!(queue.purge_expired(now + Duration::milliseconds(5_002)).await.unwrap(), 2);
    // Gone for good: even a peek with an earlier clock no longer sees them.
    assert_eq!(queue.peek(&alice, 10, now).await.unwrap(), [a[1].clone()]);
    assert_eq!(queue.peek(&bob, 10, now).await.unwrap(), [b[1].clone()]);
    assert_eq!(queue.stats().await.unwrap(), QueueStats { queued_messages: 2, users_with_queue: 2 });
    assert_eq!(queue.purge_expired(now + Duration::milliseconds(6_003)).await.unwrap(), 1);
    assert_eq!(queue.stats().await.unwrap(), QueueStats { queued_messages: 1, users_with_queue: 1 });
}

async fn purge_tenant_takes_only_that_tenant<B: Backend>() {
    let policy = policy(100, 3600);
    let Some(queue) = B::open(policy).await else { return };
    let now = base_now();
    // `acme2` starts with `acme`: only the tenant named goes, not one whose id begins with it.
    let (alice, bob, other, near) =
        (user("acme", "alice"), user("acme", "bob"), user("globex", "alice"), user("acme2", "carol"));
    let users = [&alice, &bob, &other, &near];
    let mut kept = Vec::new();
    for (n, key) in users.iter().enumerate() {
        let items: Vec<_> = (0..3).map(|i| item(key, (n * 10 + i) as u32, now, None, &policy)).collect();
        enqueue_all(&queue, key, &items).await;
        kept.push(items);
    }

    assert_eq!(queue.purge_tenant(&alice.tenant).await.unwrap(), 6, "alice's and bob's three each");
    assert!(queue.peek(&alice, 10, now).await.unwrap().is_empty());
    assert!(queue.peek(&bob, 10, now).await.unwrap().is_empty());
    assert_eq!(queue.peek(&other, 10, now).await.unwrap(), kept[2], "another tenant's user of the same name stays");
    assert_eq!(queue.peek(&near, 10, now).await.unwrap(), kept[3]);
    assert_eq!(queue.stats().await.unwrap(), QueueStats { queued_messages: 6, users_with_queue: 2 });
    assert_eq!(queue.purge_tenant(&alice.tenant).await.unwrap(), 0, "nothing left to purge");
    // The tenant made again starts with empty queues that work as before.
    let again = item(&alice, 99, now, None, &policy);
    enqueue_all(&queue, &alice, std::slice::from_ref(&again)).await;
    assert_eq!(queue.peek(&alice, 10, now).await.unwrap(), [again]);
}

async fn remove_only_given_ids<B: Backend>() {
    let policy = policy(100, 3600);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, bob, now) = (user("acme", "alice"), user("acme", "bob"), base_now());
    let items: Vec<_> = (0..4).map(|n| item(&alice, n, now, None, &policy)).collect();
    enqueue_all(&queue, &alice, &items).await;

    assert_eq!(queue.remove(&bob, &ids(&items)).await.unwrap(), 0, "bob's queue holds none of them");
    let removed = queue.remove(&alice, &[items[1].notification.id, items[3].notification.id, Uuid::now_v7()]).await;
    assert_eq!(removed.unwrap(), 2);
    assert_eq!(queue.peek(&alice, 10, now).await.unwrap(), [items[0].clone(), items[2].clone()]);
    assert_eq!(queue.remove(&alice, &[]).await.unwrap(), 0);
}

async fn tenant_isolation<B: Backend>() {
    let policy = policy(100, 3600);
    let Some(queue) = B::open(policy).await else { return };
    let (in_acme, in_globex, now) = (user("acme", "alice"), user("globex", "alice"), base_now());
    let entry = item(&in_acme, 0, now, None, &policy);
    enqueue_all(&queue, &in_acme, std::slice::from_ref(&entry)).await;

    assert!(queue.peek(&in_globex, 10, now).await.unwrap().is_empty());
    assert_eq!(queue.remove(&in_globex, &[entry.notification.id]).await.unwrap(), 0);
    assert_eq!(queue.peek(&in_acme, 10, now).await.unwrap(), [entry]);
    // Key encodings must not let a user id that contains the separator reach another queue.
    let tricky = user("acme", "alice:x");
    assert!(queue.peek(&tricky, 10, now).await.unwrap().is_empty());
}

/// A replay loop (peek, then remove what was "sent") racing writers must see every entry once and
/// in each writer's order.
async fn concurrent_enqueue_during_replay<B: Backend>() {
    const WRITERS: u32 = 4;
    const PER_WRITER: u32 = 50;
    let policy = policy(1000, 3600);
    let Some(queue) = B::open(policy).await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());

    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, alice) = (Arc::clone(&queue.store.store), alice.clone());
        writers.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let entry = item(&alice, w * 1000 + i, now, None, &policy);
                assert_eq!(store.enqueue(&alice, &entry, policy.max_per_user).await.unwrap(), 0);
                tokio::task::yield_now().await;
            }
        }));
    }

    let mut seen: Vec<u64> = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while seen.len() < (WRITERS * PER_WRITER) as usize {
        assert!(tokio::time::Instant::now() < deadline, "replay stalled after {} entries", seen.len());
        let batch = queue.peek(&alice, 7, now).await.unwrap();
        if batch.is_empty() {
            tokio::task::yield_now().await;
            continue;
        }
        assert_eq!(queue.remove(&alice, &ids(&batch)).await.unwrap(), batch.len() as u64);
        seen.extend(batch.iter().map(|i| i.notification.payload()["n"].as_u64().unwrap()));
    }
    for w in writers {
        w.await.unwrap();
    }

    assert!(queue.peek(&alice, 10, now).await.unwrap().is_empty(), "nothing left over");
    for w in 0..u64::from(WRITERS) {
        let from_w: Vec<u64> = seen.iter().copied().filter(|n| n / 1000 == w).collect();
        let expected: Vec<u64> = (0..u64::from(PER_WRITER)).map(|i| w * 1000 + i).collect();
        assert_eq!(from_w, expected, "writer {w}'s entries lost, duplicated or reordered");
    }
}

async fn stats_count_messages_and_users<B: Backend>() {
    let policy = policy(100, 3600);
    let Some(queue) = B::open(policy).await else { return };
    queue.check_health().await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), QueueStats::default());
    let (alice, bob, now) = (user("acme", "alice"), user("globex", "bob"), base_now());
    let a: Vec<_> = (0..3).map(|n| item(&alice, n, now, None, &policy)).collect();
    let b: Vec<_> = (3..5).map(|n| item(&bob, n, now, None, &policy)).collect();
    enqueue_all(&queue, &alice, &a).await;
    enqueue_all(&queue, &bob, &b).await;
    assert_eq!(queue.stats().await.unwrap(), QueueStats { queued_messages: 5, users_with_queue: 2 });
    queue.remove(&alice, &ids(&a)).await.unwrap();
    assert_eq!(queue.stats().await.unwrap(), QueueStats { queued_messages: 2, users_with_queue: 1 });
}

contract_suite!(
    [
        fifo_replay_order,
        payloads_round_trip_verbatim,
        overflow_drops_oldest,
        expiry_by_queue_ttl,
        expiry_by_own_ttl,
        purge_expired,
        purge_tenant_takes_only_that_tenant,
        remove_only_given_ids,
        tenant_isolation,
        concurrent_enqueue_during_replay,
        stats_count_messages_and_users,
    ] for
    on_memory => Memory,
    on_redis => Redis,
    on_redis_cluster => RedisCluster,
    on_postgres => Postgres,
);
