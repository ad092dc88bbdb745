//! The `AckStore` contract (see `src/ports/ack_store.rs`), run against every adapter.
//!
//! Each check is a generic async fn over a `Backend`; `contract_suite!` turns the whole list into
//! `#[tokio::test]`s for every backend. Postgres reads `ARA_TEST_DATABASE_URL` and Redis
//! `ARA_TEST_REDIS_URL`; every test gets its own database or key prefix.

use std::sync::Arc;

use crate::suite::contract_suite;

use crate::support_backends::{base_now, notification, user, Opened};
use ara::adapters::{memory, postgres, redis};
use ara::domain::ack::{AckReceipt, AckStats, ExpiredAck, PendingAck};
use ara::ports::{AckError, AckStore};
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

type Store = Opened<dyn AckStore>;

/// Opens a fresh, empty store; `None` when the backend is absent and skipping is allowed.
trait Backend {
    async fn open() -> Option<Store>;
}

struct Memory;
struct Redis;
struct RedisCluster;
struct Postgres;

impl Backend for Memory {
    async fn open() -> Option<Store> {
        Some(Opened::new(Arc::new(memory::MemoryAckStore::new()), None))
    }
}

impl Backend for Redis {
    async fn open() -> Option<Store> {
        let (url, prefix, cleanup) = crate::support_backends::redis_target();
        match redis::RedisAckStore::connect(&url, &prefix).await {
            Ok(store) => Some(Opened::new(Arc::new(store), Some(cleanup))),
            Err(e) => crate::support_backends::unavailable("Redis", crate::support_backends::REDIS_VARIABLE, e),
        }
    }
}

impl Backend for RedisCluster {
    async fn open() -> Option<Store> {
        let (redis, prefix) = crate::redis_cluster::shared_connection().await?;
        Some(Opened::new(Arc::new(redis::RedisAckStore::new(redis, &prefix)), None))
    }
}

impl Backend for Postgres {
    async fn open() -> Option<Store> {
        let (pool, cleanup) = crate::support_backends::postgres_database().await?;
        Some(Opened::new(Arc::new(postgres::PostgresAckStore::new(pool)), Some(cleanup)))
    }
}

const TIMEOUT: Duration = Duration::seconds(30);

/// The `n`th delivery of `tenant`, at `delivered_at`, due `TIMEOUT` later.
fn pending(tenant: &str, n: u32, delivered_at: DateTime<Utc>) -> PendingAck {
    PendingAck {
        notification: Arc::new(notification(tenant, n, delivered_at, None)),
        delivered_at,
        deadline: delivered_at + TIMEOUT,
    }
}

fn ms(n: i64) -> Duration {
    Duration::milliseconds(n)
}

async fn ack_reports_latency<B: Backend>() {
    let Some(store) = B::open().await else { return };
    store.check_health().await.unwrap();
    let (alice, now) = (user("acme", "alice"), base_now());
    let p = pending("acme", 0, now);
    store.track(&p, std::slice::from_ref(&alice)).await.unwrap();
    let receipt = store.ack(&alice, p.notification.id, now + ms(1_500)).await.unwrap();
    assert_eq!(receipt, AckReceipt { notification_id: p.notification.id, latency_ms: 1_500 });
}

async fn ack_by_wrong_user_changes_nothing<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, bob, now) = (user("acme", "alice"), user("acme", "bob"), base_now());
    let p = pending("acme", 0, now);
    store.track(&p, std::slice::from_ref(&alice)).await.unwrap();
    assert!(matches!(store.ack(&bob, p.notification.id, now + ms(10)).await, Err(AckError::WrongUser)));
    assert_eq!(store.ack(&alice, p.notification.id, now + ms(20)).await.unwrap().latency_ms, 20);
}

async fn ack_from_other_tenant_is_wrong_user<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (in_acme, in_globex, now) = (user("acme", "alice"), user("globex", "alice"), base_now());
    let p = pending("acme", 0, now);
    store.track(&p, std::slice::from_ref(&in_acme)).await.unwrap();
    assert!(matches!(store.ack(&in_globex, p.notification.id, now + ms(10)).await, Err(AckError::WrongUser)));
    assert!(store.ack(&in_acme, p.notification.id, now + ms(10)).await.is_ok());
}

async fn ack_of_unknown_id<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    store.track(&pending("acme", 0, now), std::slice::from_ref(&alice)).await.unwrap();
    assert!(matches!(store.ack(&alice, Uuid::now_v7(), now).await, Err(AckError::UnknownNotification)));
}

async fn double_ack_is_rejected<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let p = pending("acme", 0, now);
    store.track(&p, std::slice::from_ref(&alice)).await.unwrap();
    store.ack(&alice, p.notification.id, now + ms(100)).await.unwrap();
    let again = store.ack(&alice, p.notification.id, now + ms(200)).await;
    assert!(matches!(again, Err(AckError::AlreadyAcknowledged)), "got {again:?}");
    // Even past the deadline, and after a sweep, the answer stays precise.
    assert!(store.expire_due(now + TIMEOUT + ms(1)).await.unwrap().is_empty());
    let late = store.ack(&alice, p.notification.id, now + TIMEOUT + ms(2)).await;
    assert!(matches!(late, Err(AckError::AlreadyAcknowledged)), "got {late:?}");
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending, stats.acknowledged, stats.expired), (0, 1, 0));
}

async fn ack_after_deadline_is_expired<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let p = pending("acme", 0, now);
    store.track(&p, std::slice::from_ref(&alice)).await.unwrap();
    // Before any sweep: the deadline alone decides, and the failed ACK changes nothing.
    assert!(matches!(store.ack(&alice, p.notification.id, p.deadline).await, Err(AckError::Expired)));
    assert_eq!(store.stats().await.unwrap().pending, 1);
    assert_eq!(store.expire_due(p.deadline + ms(1)).await.unwrap().len(), 1);
    // After the sweep, still precise.
    assert!(matches!(store.ack(&alice, p.notification.id, p.deadline + ms(2)).await, Err(AckError::Expired)));
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending, stats.acknowledged, stats.expired), (0, 0, 1));
}

async fn expire_due_returns_and_counts<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, bob, now) = (user("acme", "alice"), user("globex", "bob"), base_now());
    let early_a = pending("acme", 0, now);
    let early_b = pending("globex", 1, now + ms(5));
    let acked = pending("acme", 2, now);
    let late = pending("acme", 3, now + TIMEOUT);
    for (who, p) in [(&alice, &early_a), (&bob, &early_b), (&alice, &acked), (&alice, &late)] {
        store.track(p, std::slice::from_ref(who)).await.unwrap();
    }
    store.ack(&alice, acked.notification.id, now + ms(1)).await.unwrap();

    assert!(store.expire_due(now + TIMEOUT - ms(1)).await.unwrap().is_empty());
    let mut expired = store.expire_due(now + TIMEOUT + ms(5)).await.unwrap();
    expired.sort_by_key(|e| e.pending.notification.id);
    let mut expected =
        vec![ExpiredAck { user: alice.clone(), pending: early_a }, ExpiredAck { user: bob, pending: early_b }];
    expected.sort_by_key(|e| e.pending.notification.id);
    assert_eq!(expired, expected, "the whole delivery comes back, ready for redelivery");
    assert!(store.expire_due(now + TIMEOUT + ms(5)).await.unwrap().is_empty(), "expired once");

    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending, stats.acknowledged, stats.expired), (1, 1, 2));
    assert_eq!(store.ack(&alice, late.notification.id, now + TIMEOUT + ms(7)).await.unwrap().latency_ms, 7);
}

async fn track_is_idempotent<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let first = pending("acme", 0, now);
    // The same notification delivered to a second device of the same user, a second later.
    let second = PendingAck { delivered_at: now + ms(1_000), deadline: now + ms(1_000) + TIMEOUT, ..first.clone() };
    store.track(&first, std::slice::from_ref(&alice)).await.unwrap();
    store.track(&second, std::slice::from_ref(&alice)).await.unwrap();
    assert_eq!(store.stats().await.unwrap().pending, 1);
    let expired = store.expire_due(first.deadline).await.unwrap();
    assert_eq!(expired, [ExpiredAck { user: alice, pending: first }], "the first record stands");
    assert_eq!(store.stats().await.unwrap().expired, 1);
}

/// After expiry the caller may redeliver and track again: the record is re-armed, not stuck expired.
async fn track_after_expiry_rearms<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let first = pending("acme", 0, now);
    store.track(&first, std::slice::from_ref(&alice)).await.unwrap();
    assert_eq!(store.expire_due(first.deadline).await.unwrap().len(), 1);
    let again = PendingAck { delivered_at: first.deadline, deadline: first.deadline + TIMEOUT, ..first.clone() };
    store.track(&again, std::slice::from_ref(&alice)).await.unwrap();
    assert_eq!(store.stats().await.unwrap().pending, 1);
    assert_eq!(store.ack(&alice, first.notification.id, again.delivered_at + ms(40)).await.unwrap().latency_ms, 40);
}

async fn stats_average_ack_time<B: Backend>() {
    let Some(store) = B::open().await else { return };
    assert_eq!(store.stats().await.unwrap(), AckStats::default());
    let (alice, now) = (user("acme", "alice"), base_now());
    let deliveries: Vec<_> = (0..4).map(|n| pending("acme", n, now)).collect();
    for p in &deliveries {
        store.track(p, std::slice::from_ref(&alice)).await.unwrap();
    }
    for (p, latency) in deliveries.iter().zip([100, 200, 600]) {
        store.ack(&alice, p.notification.id, now + ms(latency)).await.unwrap();
    }
    // A failed ACK does not move the average.
    assert!(store.ack(&alice, deliveries[0].notification.id, now + ms(5_000)).await.is_err());
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending, stats.acknowledged, stats.expired), (1, 3, 0));
    assert!((stats.average_ack_time_ms - 300.0).abs() < 1e-9, "average {}", stats.average_ack_time_ms);
}

/// Two devices acknowledging at once: exactly one wins.
async fn concurrent_acks_succeed_once<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let p = pending("acme", 0, now);
    store.track(&p, std::slice::from_ref(&alice)).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (store, alice, id) = (Arc::clone(&store.store), alice.clone(), p.notification.id);
            tokio::spawn(async move { store.ack(&alice, id, now + ms(10)).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(AckError::AlreadyAcknowledged) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.stats().await.unwrap().acknowledged, 1);
}

/// A delivery that reached no connection is forgotten; a finished record is not.
async fn forget_drops_only_pending_records<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let (alice, now) = (user("acme", "alice"), base_now());
    let (undelivered, acked) = (pending("acme", 0, now), pending("acme", 1, now));
    store.track(&undelivered, std::slice::from_ref(&alice)).await.unwrap();
    store.track(&acked, std::slice::from_ref(&alice)).await.unwrap();
    store.ack(&alice, acked.notification.id, now + ms(5)).await.unwrap();
    store.forget(undelivered.notification.id, std::slice::from_ref(&alice)).await.unwrap();
    store.forget(acked.notification.id, std::slice::from_ref(&alice)).await.unwrap();
    store.forget(Uuid::now_v7(), std::slice::from_ref(&alice)).await.unwrap();
    let gone = store.ack(&alice, undelivered.notification.id, now + ms(6)).await;
    assert!(matches!(gone, Err(AckError::UnknownNotification)), "got {gone:?}");
    let kept = store.ack(&alice, acked.notification.id, now + ms(7)).await;
    assert!(matches!(kept, Err(AckError::AlreadyAcknowledged)), "got {kept:?}");
    assert!(store.expire_due(now + TIMEOUT + ms(1)).await.unwrap().is_empty(), "nothing left to expire");
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.pending, stats.acknowledged, stats.expired), (0, 1, 0));
}

/// One call tracks a whole send; one call takes back the users it did not reach.
async fn a_send_is_tracked_and_forgotten_in_one_call<B: Backend>() {
    let Some(store) = B::open().await else { return };
    let now = base_now();
    let users: Vec<_> = (0..5).map(|u| user("acme", &format!("u{u}"))).collect();
    let p = pending("acme", 0, now);
    store.track(&p, &users).await.unwrap();
    assert_eq!(store.stats().await.unwrap().pending, 5);
    store.forget(p.notification.id, &users[3..]).await.unwrap();
    assert_eq!(store.stats().await.unwrap().pending, 3);
    for (i, who) in users.iter().enumerate() {
        let acked = store.ack(who, p.notification.id, now + ms(10)).await;
        match i {
            0..=2 => assert_eq!(acked.unwrap().latency_ms, 10, "user {i}"),
            _ => assert!(matches!(acked, Err(AckError::WrongUser)), "user {i} was forgotten: {acked:?}"),
        }
    }
    // The notification itself is kept once for the send and handed back whole on expiry.
    let q = pending("acme", 1, now);
    store.track(&q, &users[..2]).await.unwrap();
    let mut expired = store.expire_due(q.deadline).await.unwrap();
    expired.sort_by(|a, b| a.user.user.as_str().cmp(b.user.user.as_str()));
    let expected: Vec<_> = users[..2].iter().map(|u| ExpiredAck { user: u.clone(), pending: q.clone() }).collect();
    assert_eq!(expired, expected);
}

contract_suite!(
    [
        ack_reports_latency,
        ack_by_wrong_user_changes_nothing,
        ack_from_other_tenant_is_wrong_user,
        ack_of_unknown_id,
        double_ack_is_rejected,
        ack_after_deadline_is_expired,
        expire_due_returns_and_counts,
        track_is_idempotent,
        track_after_expiry_rearms,
        stats_average_ack_time,
        concurrent_acks_succeed_once,
        forget_drops_only_pending_records,
        a_send_is_tracked_and_forgotten_in_one_call,
    ] for
    on_memory => Memory,
    on_redis => Redis,
    on_redis_cluster => RedisCluster,
    on_postgres => Postgres,
);

/// Finished records keep no notification: checked in each durable backend's own storage.
mod retention {
    use super::*;

    async fn finish_one_of_each(store: &dyn AckStore) -> (Uuid, Uuid) {
        let (alice, now) = (user("acme", "alice"), base_now());
        let (acked, expiring) = (pending("acme", 0, now), pending("acme", 1, now));
        store.track(&acked, std::slice::from_ref(&alice)).await.unwrap();
        store.track(&expiring, std::slice::from_ref(&alice)).await.unwrap();
        store.ack(&alice, acked.notification.id, now + ms(3)).await.unwrap();
        assert_eq!(store.expire_due(now + TIMEOUT + ms(1)).await.unwrap().len(), 1);
        (acked.notification.id, expiring.notification.id)
    }

    #[tokio::test]
    async fn redis_keeps_only_status_and_times() {
        let (url, prefix, cleanup) = crate::support_backends::redis_target();
        let store = match redis::RedisAckStore::connect(&url, &prefix).await {
            Ok(store) => Opened::new(Arc::new(store), Some(cleanup)),
            Err(e) => {
                return crate::support_backends::unavailable("Redis", crate::support_backends::REDIS_VARIABLE, e)
                    .unwrap_or(())
            }
        };
        let ids = finish_one_of_each(&*store.store).await;
        let client = ::redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        for id in [ids.0, ids.1] {
            let fields: Vec<String> =
                ::redis::cmd("HKEYS").arg(format!("{prefix}:ack:id:{id}")).query_async(&mut con).await.unwrap();
            assert_eq!(fields, ["m:acme:alice"], "only the status marker is left for {id}");
        }
    }

    #[tokio::test]
    async fn postgres_keeps_only_status_and_times() {
        let Some((pool, cleanup)) = crate::support_backends::postgres_database().await else { return };
        let store = Opened::new(Arc::new(postgres::PostgresAckStore::new(pool.clone())), Some(cleanup));
        finish_one_of_each(&*store.store).await;
        let (finished, with_body): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(notification) FROM ack_records WHERE status <> 'pending'")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!((finished, with_body), (2, 0), "finished rows keep no notification");
    }
}
