//! The Redis bus on a Redis Cluster of its own (the shared one serves other tests, whose
//! subscriptions this would close): a master closing every subscriber (`CLIENT KILL TYPE pubsub`)
//! is noticed, and a topic whose slot that master serves is heard again afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;

use crate::cluster_bus::{bus_settings, channel, subscribed};
use crate::redis_cluster::{self, RedisCluster};
use ara::adapters::redis::RedisBus;
use ara::domain::cluster::Topic;
use ara::ports::{BusEvent, BusStream, ClusterBus};

/// Generous: the cluster client notices the closed connection on its own schedule.
const DEADLINE: Duration = Duration::from_secs(30);

/// Publishes to `topic` until a message comes back; `false` once the deadline passed.
async fn heard_again(bus: &Arc<dyn ClusterBus>, stream: &mut BusStream, topic: &Topic) -> bool {
    let deadline = Instant::now() + DEADLINE;
    let mut attempt = 0u32;
    while Instant::now() < deadline {
        attempt += 1;
        let payload = Bytes::from(format!("after-{attempt}"));
        if bus.publish(&[(topic.clone(), payload.clone())]).await.is_ok() {
            let wait_until = Instant::now() + Duration::from_millis(500);
            while let Ok(Some(event)) = tokio::time::timeout_at(wait_until.into(), stream.next()).await {
                if event == (BusEvent::Message { topic: topic.name(), payload: payload.clone() }) {
                    return true;
                }
            }
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_closing_its_subscribers_is_noticed_and_delivery_comes_back() {
    let Some(cluster) = RedisCluster::start().await else { return };
    let Some((redis, prefix)) = redis_cluster::connection(&cluster).await else { return };
    let killed = cluster.ports[0];
    let topic = (0..200)
        .map(|i| channel(&format!("shard{i}")))
        .find(|t| cluster.master_of(&format!("{prefix}:{}", t.name())) == Some(killed))
        .expect("one of 200 topics has its slot on the first master");
    let bus: Arc<dyn ClusterBus> = RedisBus::open(redis, &prefix, bus_settings());
    subscribed(&bus).await;
    let mut stream = bus.stream().expect("the stream");
    bus.subscribe(&topic).await.unwrap();
    assert!(heard_again(&bus, &mut stream, &topic).await, "the topic is heard before the kill");

    let closed = cluster.kill_subscribers(killed).expect("CLIENT KILL answers");
    assert!(closed >= 1, "the bus's subscription on the master was closed");

    let deadline = Instant::now() + DEADLINE;
    let mut noticed = false;
    while !noticed && Instant::now() < deadline {
        noticed = !bus.is_subscribed();
        if let Ok(Some(BusEvent::Resubscribed)) = tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
            noticed = true;
        }
    }
    assert!(noticed, "the bus notices the lost shard subscription");
    assert!(heard_again(&bus, &mut stream, &topic).await, "the topic is heard again after the kill");
    assert!(bus.is_subscribed(), "the bus is subscribed again");
}
