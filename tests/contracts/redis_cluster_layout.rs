//! What only the Redis Cluster layout promises: per-user data spreads over the masters (hash-tagged
//! buckets), and every script stays in one slot (no CROSSSLOT), which the contract suites above
//! already exercise on the same cluster.

use std::collections::HashSet;
use std::sync::Arc;

use ara::adapters::redis::{RedisAckStore, RedisOfflineQueue, CLUSTER_BUCKETS};
use ara::domain::ack::PendingAck;
use ara::domain::queue::QueuedNotification;
use ara::ports::{AckStore, OfflineQueue};
use chrono::Duration;

use crate::support_backends::{base_now, notification, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_and_ack_records_spread_over_the_masters() {
    let Some((redis, prefix)) = crate::redis_cluster::shared_connection().await else { return };
    let Some(cluster) = crate::redis_cluster::shared() else { return };
    let queue = RedisOfflineQueue::new(redis.clone(), &format!("{prefix}-q"));
    let acks = RedisAckStore::new(redis, &format!("{prefix}-a"));
    let now = base_now();
    for n in 0..100u32 {
        let who = user("t1", &format!("user-{n}"));
        let item = Arc::new(notification("t1", n, now, None));
        let expires_at = now + Duration::hours(1);
        let queued = QueuedNotification { notification: item.clone(), enqueued_at: now, expires_at };
        queue.enqueue(&who, &queued, 10).await.expect("enqueue");
        let pending = PendingAck { notification: item, delivered_at: now, deadline: now + Duration::minutes(5) };
        acks.track(&pending, std::slice::from_ref(&who)).await.expect("track");
    }
    for (what, pattern) in [("queue", format!("{{{prefix}-q:*")), ("ACK", format!("{{{prefix}-a:*"))] {
        let keys = cluster.keys(&pattern);
        let masters: HashSet<u16> = keys.iter().map(|(port, _)| *port).collect();
        assert!(masters.len() > 1, "{what} keys on {} master(s) only: {keys:?}", masters.len());
        let tags: HashSet<&str> = keys.iter().filter_map(|(_, k)| k.split('}').next()).collect();
        assert_eq!(tags.len(), usize::from(CLUSTER_BUCKETS), "{what}: 100 users fill every bucket: {tags:?}");
    }
    // Walking every bucket still sees everything.
    let stats = queue.stats().await.expect("stats");
    assert_eq!((stats.users_with_queue, stats.queued_messages), (100, 100));
    assert_eq!(acks.stats().await.expect("stats").pending, 100);
    let counts = cluster.key_counts();
    assert!(counts.iter().filter(|n| **n > 0).count() > 1, "DBSIZE per master: {counts:?}");
}
