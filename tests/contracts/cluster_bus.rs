//! The `ClusterBus` contract (see `src/ports/cluster_bus.rs`), run against the memory adapter (a
//! node on its own, hearing itself) and the Redis adapter, on one server and on a Redis Cluster.
//! Only the check that asks for a resubscription accepts [`BusEvent::Resubscribed`]: anywhere else
//! one is a spurious restart (and what was published meanwhile is lost), so it fails the check.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::suite::contract_suite;
use crate::support_backends::Opened;
use ara::adapters::memory::MemoryBus;
use ara::adapters::redis::{BusSettings, RedisBus, ResilienceSettings, ResilientRedis};
use ara::domain::cluster::{NodeId, Topic};
use ara::domain::{ChannelName, TenantId};
use ara::ports::{BusEvent, BusStream, ClusterBus};

trait Backend {
    async fn open() -> Option<Opened<dyn ClusterBus>>;
}

struct Memory;
struct Redis;
struct RedisCluster;

pub(crate) fn bus_settings() -> BusSettings {
    BusSettings {
        timeout: Duration::from_secs(1),
        keepalive_interval: Duration::from_secs(5),
        reconnect_min_delay: Duration::from_millis(50),
        reconnect_max_delay: Duration::from_millis(500),
    }
}

/// The driver subscribes in the background; the port promises nothing before that.
pub(crate) async fn subscribed(bus: &Arc<dyn ClusterBus>) {
    for _ in 0..100 {
        if bus.is_subscribed() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(bus.is_subscribed(), "the Redis bus subscribes");
}

impl Backend for Memory {
    async fn open() -> Option<Opened<dyn ClusterBus>> {
        Some(Opened::new(Arc::new(MemoryBus::new()), None))
    }
}

impl Backend for Redis {
    async fn open() -> Option<Opened<dyn ClusterBus>> {
        let (url, prefix, cleanup) = crate::support_backends::redis_target();
        let redis = ResilientRedis::connect(&url, ResilienceSettings::default()).await.expect("a Redis URL");
        if let Err(e) = redis.ping().await {
            return crate::support_backends::unavailable("Redis", crate::support_backends::REDIS_VARIABLE, e);
        }
        let bus: Arc<dyn ClusterBus> = RedisBus::open(redis, &prefix, bus_settings());
        subscribed(&bus).await;
        Some(Opened::new(bus, Some(cleanup)))
    }
}

impl Backend for RedisCluster {
    async fn open() -> Option<Opened<dyn ClusterBus>> {
        let (redis, prefix) = crate::redis_cluster::shared_connection().await?;
        let bus: Arc<dyn ClusterBus> = RedisBus::open(redis, &prefix, bus_settings());
        subscribed(&bus).await;
        Some(Opened::new(bus, None))
    }
}

pub(crate) fn channel(name: &str) -> Topic {
    Topic::Channel(TenantId::parse("t1").unwrap(), ChannelName::parse(name).unwrap())
}

/// The next message within 500 ms; a resubscription fails the check.
async fn next_message(stream: &mut BusStream) -> Option<(String, Bytes)> {
    match tokio::time::timeout(Duration::from_millis(500), stream.next()).await {
        Ok(Some(BusEvent::Message { topic, payload })) => Some((topic, payload)),
        Ok(Some(BusEvent::Resubscribed)) => panic!("the bus resubscribed, though nothing was lost"),
        _ => None,
    }
}

async fn what_is_published_after_subscribe_arrives_once_in_order<B: Backend>() {
    let Some(bus) = B::open().await else { return };
    let mut stream = bus.stream().expect("the stream");
    assert!(bus.stream().is_none(), "one stream per bus");
    let me = Topic::Node(NodeId::parse("n1").unwrap());
    bus.subscribe(&me).await.unwrap();
    bus.subscribe(&me).await.unwrap();
    let batch: Vec<(Topic, Bytes)> = (0..50).map(|i| (me.clone(), Bytes::from(format!("m{i}")))).collect();
    assert_eq!(bus.publish(&batch[..25]).await.unwrap(), vec![1; 25], "each reached its one subscriber");
    bus.publish(&batch[25..]).await.unwrap();
    for i in 0..50 {
        let (topic, payload) = next_message(&mut stream).await.unwrap_or_else(|| panic!("message {i} arrives"));
        assert_eq!(topic, me.name());
        assert_eq!(payload, Bytes::from(format!("m{i}")));
    }
    assert!(next_message(&mut stream).await.is_none(), "each message once");
}

async fn unsubscribed_topics_are_swallowed<B: Backend>() {
    let Some(bus) = B::open().await else { return };
    let mut stream = bus.stream().expect("the stream");
    bus.subscribe(&channel("news")).await.unwrap();
    assert_eq!(bus.publish(&[(channel("other"), Bytes::from_static(b"x"))]).await.unwrap(), vec![0]);
    bus.publish(&[(channel("news"), Bytes::from_static(b"1"))]).await.unwrap();
    assert_eq!(next_message(&mut stream).await.map(|m| m.1), Some(Bytes::from_static(b"1")));
    bus.unsubscribe(&channel("news")).await.unwrap();
    bus.publish(&[(channel("news"), Bytes::from_static(b"2"))]).await.unwrap();
    assert!(next_message(&mut stream).await.is_none());
}

async fn a_resubscription_keeps_every_topic<B: Backend>() {
    let Some(bus) = B::open().await else { return };
    let mut stream = bus.stream().expect("the stream");
    bus.subscribe(&channel("news")).await.unwrap();
    bus.resubscribe();
    let mut back = false;
    for _ in 0..100 {
        match tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
            Ok(Some(BusEvent::Resubscribed)) => back = true,
            _ if back && bus.is_subscribed() => break,
            _ => {}
        }
    }
    assert!(back, "the stream says the subscription came back");
    bus.publish(&[(channel("news"), Bytes::from_static(b"after"))]).await.unwrap();
    assert_eq!(next_message(&mut stream).await.map(|m| m.1), Some(Bytes::from_static(b"after")));
}

/// Our own unsubscribe, answered after the topic was subscribed again, is not a lost subscription.
/// A backlog of messages on another topic keeps the bus reading behind, so that the answers to
/// the unsubscribes are read after the topics were subscribed again.
async fn subscribing_again_right_after_unsubscribing_loses_nothing<B: Backend>() {
    const BACKLOG: usize = 5_000;
    let Some(bus) = B::open().await else { return };
    let mut stream = bus.stream().expect("the stream");
    let busy = channel("busy");
    bus.subscribe(&busy).await.unwrap();
    let backlog: Vec<(Topic, Bytes)> = (0..BACKLOG).map(|i| (busy.clone(), Bytes::from(format!("b{i}")))).collect();
    let publish_backlog = async {
        for chunk in backlog.chunks(250) {
            bus.publish(chunk).await.unwrap();
        }
    };
    let topics: Vec<Topic> = (0..50).map(|i| channel(&format!("churn{i}"))).collect();
    let churns = topics.iter().map(|topic| {
        let bus = bus.store.clone();
        async move {
            bus.subscribe(topic).await?;
            bus.unsubscribe(topic).await?;
            bus.subscribe(topic).await
        }
    });
    let ((), churned) = tokio::join!(publish_backlog, futures_util::future::join_all(churns));
    for result in churned {
        result.unwrap_or_else(|e| panic!("subscribing, unsubscribing and subscribing again works: {e:?}"));
    }
    let batch: Vec<(Topic, Bytes)> = topics.iter().map(|t| (t.clone(), Bytes::from(t.name()))).collect();
    assert_eq!(bus.publish(&batch).await.unwrap(), vec![1; topics.len()], "every topic is subscribed once");
    let (mut heard, mut backlog_heard) = (std::collections::HashSet::new(), 0);
    while heard.len() < topics.len() || backlog_heard < BACKLOG {
        let (topic, payload) = next_message(&mut stream).await.unwrap_or_else(|| {
            panic!(
                "{} of {} topics and {backlog_heard} of {BACKLOG} backlog messages arrived",
                heard.len(),
                topics.len()
            )
        });
        if topic == busy.name() {
            backlog_heard += 1;
        } else {
            assert_eq!(payload, Bytes::from(topic.clone()));
            assert!(heard.insert(topic), "each message once");
        }
    }
    assert!(next_message(&mut stream).await.is_none(), "nothing more, and no resubscription");
}

contract_suite!([
    what_is_published_after_subscribe_arrives_once_in_order,
    unsubscribed_topics_are_swallowed,
    a_resubscription_keeps_every_topic,
    subscribing_again_right_after_unsubscribing_loses_nothing,
] for on_memory => Memory, on_redis => Redis, on_redis_cluster => RedisCluster);
