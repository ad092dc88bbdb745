//! The `Presence` contract (see `src/ports/presence.rs`), run against the memory adapter (a node on
//! its own) and the Redis adapter. Each backend opens two views of one store, `a` and `b`, that act
//! as two processes.

use std::sync::Arc;
use std::time::Duration;

use crate::suite::contract_suite;
use crate::support_backends::{user, Opened};
use ara::adapters::memory::MemoryPresence;
use ara::adapters::redis::{RedisPresence, ResilienceSettings, ResilientRedis};
use ara::domain::cluster::{NodeCount, NodeId, PresenceKey};
use ara::domain::{ChannelName, TenantId};
use ara::ports::{Heartbeat, Presence, PresenceError};

struct Pair {
    a: Opened<dyn Presence>,
    b: Arc<dyn Presence>,
}

trait Backend {
    async fn open() -> Option<Pair>;
}

struct Memory;
struct Redis;
struct RedisCluster;

impl Backend for Memory {
    async fn open() -> Option<Pair> {
        let a = MemoryPresence::new();
        let b = Arc::new(a.handle());
        Some(Pair { a: Opened::new(Arc::new(a), None), b })
    }
}

impl Backend for Redis {
    async fn open() -> Option<Pair> {
        let (url, prefix, cleanup) = crate::support_backends::redis_target();
        let redis = ResilientRedis::connect(&url, ResilienceSettings::default()).await.expect("a Redis URL");
        if let Err(e) = redis.ping().await {
            return crate::support_backends::unavailable("Redis", crate::support_backends::REDIS_VARIABLE, e);
        }
        let a = Arc::new(RedisPresence::new(redis.clone(), &prefix));
        let b = Arc::new(RedisPresence::new(redis, &prefix));
        Some(Pair { a: Opened::new(a, Some(cleanup)), b })
    }
}

impl Backend for RedisCluster {
    async fn open() -> Option<Pair> {
        let (redis, prefix) = crate::redis_cluster::shared_connection().await?;
        let a = Arc::new(RedisPresence::new(redis.clone(), &prefix));
        let b = Arc::new(RedisPresence::new(redis, &prefix));
        Some(Pair { a: Opened::new(a, None), b })
    }
}

fn node(id: &str) -> NodeId {
    NodeId::parse(id).unwrap()
}

fn count(id: &str, connections: usize) -> NodeCount {
    NodeCount { node_id: node(id), connections }
}

const TTL: Duration = Duration::from_secs(5);

async fn a_node_id_is_held_by_one_live_process<B: Backend>() {
    let Some(p) = B::open().await else { return };
    let first = p.a.join(&node("n1"), TTL).await.unwrap();
    assert!(matches!(p.b.join(&node("n1"), TTL).await, Err(PresenceError::NodeIdTaken(_))));
    assert!(matches!(p.b.heartbeat(&node("n1"), 0, TTL).await, Err(PresenceError::NodeIdTaken(_))));
    assert_eq!(p.a.heartbeat(&node("n1"), 3, TTL).await.unwrap(), Heartbeat::Kept);
    let second = p.b.join(&node("n2"), TTL).await.unwrap();
    assert_ne!(first, second, "incarnations are unique");
    let nodes = p.a.nodes().await.unwrap();
    let ids: Vec<_> = nodes.iter().map(|n| (n.node_id.as_str(), n.connections)).collect();
    assert_eq!(ids, [("n1", 3), ("n2", 0)]);
    p.a.leave(&node("n1")).await.unwrap();
    assert!(p.b.join(&node("n1"), TTL).await.is_ok(), "a node id that left is free");
}

async fn counts_are_per_node_and_tenant_and_zero_removes<B: Backend>() {
    let Some(p) = B::open().await else { return };
    p.a.join(&node("n1"), TTL).await.unwrap();
    p.b.join(&node("n2"), TTL).await.unwrap();
    let alice = PresenceKey::User(user("t1", "alice"));
    let alice_elsewhere = PresenceKey::User(user("t2", "alice"));
    let news = PresenceKey::Channel(TenantId::parse("t1").unwrap(), ChannelName::parse("news").unwrap());
    p.a.set_counts(&node("n1"), &[(alice.clone(), 2), (news.clone(), 1)]).await.unwrap();
    p.b.set_counts(&node("n2"), &[(alice.clone(), 1)]).await.unwrap();
    let found = p.a.counts(&[alice.clone(), alice_elsewhere.clone(), news.clone()]).await.unwrap();
    assert_eq!(found, vec![vec![count("n1", 2), count("n2", 1)], vec![], vec![count("n1", 1)]]);
    p.a.set_counts(&node("n1"), &[(alice.clone(), 0)]).await.unwrap();
    assert_eq!(p.b.counts(&[alice]).await.unwrap(), vec![vec![count("n2", 1)]]);
}

async fn names_held_lists_the_keys_live_nodes_count<B: Backend>() {
    let Some(p) = B::open().await else { return };
    let short = Duration::from_millis(300);
    p.a.join(&node("n1"), short).await.unwrap();
    p.b.join(&node("n2"), TTL).await.unwrap();
    let (t1, t2, t10) =
        (TenantId::parse("t1").unwrap(), TenantId::parse("t2").unwrap(), TenantId::parse("t10").unwrap());
    let chan = |t: &TenantId, name: &str| PresenceKey::Channel(t.clone(), ChannelName::parse(name).unwrap());
    // A user id with glob characters must match only itself.
    let (star, plain) = (PresenceKey::User(user("t1", "a*[x]?")), PresenceKey::User(user("t1", "ab")));
    p.a.set_counts(&node("n1"), &[(chan(&t1, "sports"), 2), (chan(&t1, "news"), 1), (star.clone(), 1)]).await.unwrap();
    p.b.set_counts(&node("n2"), &[(chan(&t1, "news"), 3), (chan(&t1, "a.b"), 1), (chan(&t2, "news"), 1)])
        .await
        .unwrap();
    p.b.set_counts(&node("n2"), &[(chan(&t10, "t10-only"), 1), (plain.clone(), 2)]).await.unwrap();
    let prefix = |t: &TenantId| PresenceKey::channel_prefix(t);
    assert_eq!(p.a.names_held(&prefix(&t1)).await.unwrap(), ["chan:t1:a.b", "chan:t1:news", "chan:t1:sports"]);
    assert_eq!(p.b.names_held(&prefix(&t2)).await.unwrap(), ["chan:t2:news"]);
    assert_eq!(p.b.names_held(&prefix(&t10)).await.unwrap(), ["chan:t10:t10-only"], "t1 does not match t10");
    assert_eq!(p.b.names_held(&star.name()).await.unwrap(), [star.name()], "no glob: {}", star.name());
    assert_eq!(p.b.names_held(&PresenceKey::user_prefix(&t1)).await.unwrap(), [star.name(), plain.name()]);
    p.b.set_counts(&node("n2"), &[(chan(&t1, "a.b"), 0)]).await.unwrap();
    assert_eq!(p.b.names_held(&prefix(&t1)).await.unwrap(), ["chan:t1:news", "chan:t1:sports"], "0 leaves the list");
    // n1 dies: what it alone held leaves the list.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(p.b.names_held(&prefix(&t1)).await.unwrap(), ["chan:t1:news"]);
    assert_eq!(p.b.names_held(&PresenceKey::user_prefix(&t1)).await.unwrap(), [plain.name()]);
}

async fn a_dead_node_leaves_no_ghosts<B: Backend>() {
    let Some(p) = B::open().await else { return };
    let short = Duration::from_millis(300);
    p.a.join(&node("n1"), short).await.unwrap();
    p.b.join(&node("n2"), TTL).await.unwrap();
    let alice = PresenceKey::User(user("t1", "alice"));
    p.a.set_counts(&node("n1"), &[(alice.clone(), 1)]).await.unwrap();
    assert_eq!(p.b.counts(std::slice::from_ref(&alice)).await.unwrap(), vec![vec![count("n1", 1)]]);
    // n1 "crashes": no leave, no heartbeat.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        p.b.counts(std::slice::from_ref(&alice)).await.unwrap(),
        vec![vec![]],
        "a dead node's users are offline"
    );
    p.b.heartbeat(&node("n2"), 0, TTL).await.unwrap();
    let ids: Vec<_> = p.b.nodes().await.unwrap().into_iter().map(|n| n.node_id).collect();
    assert_eq!(ids, [node("n2")]);
    // Another process taking the id over does not inherit what the dead one counted.
    p.b.join(&node("n1"), TTL).await.unwrap();
    assert_eq!(p.b.counts(&[alice]).await.unwrap(), vec![vec![]], "no ghost comes back with the id");
}

async fn a_lapsed_heartbeat_is_retaken<B: Backend>() {
    let Some(p) = B::open().await else { return };
    p.a.join(&node("n1"), Duration::from_millis(200)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(p.a.heartbeat(&node("n1"), 0, TTL).await.unwrap(), Heartbeat::Retaken);
    assert_eq!(p.a.heartbeat(&node("n1"), 0, TTL).await.unwrap(), Heartbeat::Kept);
}

async fn a_lease_has_one_holder_until_given_back_or_expired<B: Backend>() {
    let Some(p) = B::open().await else { return };
    let key = PresenceKey::User(user("t1", "bob"));
    let token = p.a.lock(&key, Duration::from_secs(5)).await.unwrap().expect("free lease");
    assert!(p.b.lock(&key, Duration::from_secs(5)).await.unwrap().is_none());
    p.a.unlock(&key, &token).await.unwrap();
    let short = p.b.lock(&key, Duration::from_millis(200)).await.unwrap().expect("given back");
    // An old token gives nothing back.
    p.a.unlock(&key, &token).await.unwrap();
    assert!(p.a.lock(&key, Duration::from_secs(5)).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(p.a.lock(&key, Duration::from_secs(5)).await.unwrap().is_some(), "an expired lease is free");
    drop(short);
}

async fn a_claim_has_one_winner_among_racers<B: Backend>() {
    let Some(p) = B::open().await else { return };
    let racers = (0..16).map(|i| {
        let store: Arc<dyn Presence> = if i % 2 == 0 { p.a.store.clone() } else { p.b.clone() };
        tokio::spawn(async move { store.claim("m-1", Duration::from_secs(5)).await.unwrap() })
    });
    let won = futures_util::future::join_all(racers).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1);
    assert!(p.a.claim("m-2", Duration::from_secs(5)).await.unwrap());
}

contract_suite!([
    a_node_id_is_held_by_one_live_process,
    counts_are_per_node_and_tenant_and_zero_removes,
    a_dead_node_leaves_no_ghosts,
    names_held_lists_the_keys_live_nodes_count,
    a_lapsed_heartbeat_is_retaken,
    a_lease_has_one_holder_until_given_back_or_expired,
    a_claim_has_one_winner_among_racers,
] for on_memory => Memory, on_redis => Redis, on_redis_cluster => RedisCluster);
