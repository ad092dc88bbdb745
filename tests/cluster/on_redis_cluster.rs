//! Three nodes with `REDIS_CLUSTER=true` on a real three-master Redis Cluster the test starts:
//! presence, the sharded bus, the offline queue and the ACK store all on the cluster.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::node::{eventually, ids, located, Cluster};
use crate::redis_cluster::RedisCluster;
use crate::redis_support::unique;

/// Generous: how long a delivery may take before the test gives up on it.
const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_a_redis_cluster_deliver_once_and_replay_the_queue() {
    let Some(redis) = RedisCluster::start().await else { return };
    let trigger = unique("ara-cluster-trigger");
    let cluster = Cluster::new(&redis.urls())
        .with_queue()
        .with("REDIS_CLUSTER", "true")
        .with("ACK_ENABLED", "true")
        .with("ACK_BACKEND", "redis")
        .with("ACK_REDIS_KEY_PREFIX", &unique("ara-cluster-ack"))
        .with("REDIS_PUBSUB_ENABLED", "true")
        .with("REDIS_CHANNELS", &trigger);
    let (n1, n2, n3) = tokio::join!(cluster.start("node-1"), cluster.start("node-2"), cluster.start("node-3"));
    let nodes = [n1, n2, n3];
    for node in &nodes {
        let (status, body) = node.readiness().await.expect("the node answers");
        assert_eq!(status, 200, "node {} ready on the Redis Cluster: {body}", node.id);
    }
    let (_, status) = nodes[0].get("/api/v1/cluster/status").await;
    assert_eq!(status["healthy_nodes"], 3, "{status}");

    // A user send crosses from node 2 to node 1 once.
    let mut alice = nodes[0].connect("alice").await;
    located(&nodes[1], "alice", 1).await;
    let reply = nodes[1].send_to_user("alice", 1).await;
    assert_eq!(reply["delivered_to"], 1, "{reply}");
    let got = alice.take(1, DEADLINE).await;
    assert_eq!(ids(&got).get(reply["notification_id"].as_str().unwrap()), Some(&1), "once: {got:?}");
    // A marker from the same sender comes after anything else that sender sent her (FIFO per node).
    let marker = json!({"target_user_id": "alice", "event_type": "marker"});
    assert_eq!(nodes[1].post("/api/v1/notifications/send", marker).await.0, 200);
    let late = alice.before_markers("marker", 1, DEADLINE).await;
    assert!(late.is_empty(), "no second copy: {late:?}");

    // A channel send reaches a subscriber on every node once; each channel topic is a sharded
    // channel on the master of its slot.
    let mut subscribers = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let mut client = node.connect(&format!("sub-{i}")).await;
        client.subscribe(&["news"]).await;
        subscribers.push(client);
    }
    for node in &nodes {
        eventually("3 subscribers on news cluster-wide", Duration::from_secs(5), || async {
            node.get("/api/v1/channels/news").await.1["subscriber_count"] == 3
        })
        .await;
    }
    let mut sent = HashSet::new();
    for round in 0..3 {
        let body = json!({"channel": "news", "event_type": "c", "payload": {"r": round}});
        let (status, reply) = nodes[round % 3].post("/api/v1/notifications/channel", body).await;
        assert_eq!(status, 200, "{reply}");
        sent.insert(reply["notification_id"].as_str().unwrap().to_owned());
    }
    for (i, client) in subscribers.iter_mut().enumerate() {
        let got = ids(&client.take(3, DEADLINE).await);
        assert_eq!(got.keys().cloned().collect::<HashSet<_>>(), sent, "subscriber on node {}", i + 1);
    }
    // A marker from every sender node: whatever a node sent comes before its marker.
    for node in &nodes {
        let marker = json!({"channel": "news", "event_type": "marker"});
        assert_eq!(node.post("/api/v1/notifications/channel", marker).await.0, 200);
    }
    for (i, client) in subscribers.iter_mut().enumerate() {
        let late = client.before_markers("marker", 3, DEADLINE).await;
        assert!(late.is_empty(), "no second copy on node {}: {late:?}", i + 1);
    }

    // An offline user's notifications are queued on the cluster and replayed on connect, in order.
    for seq in 1..=3 {
        let reply = nodes[2].send_to_user("olga", seq).await;
        assert_eq!(reply["offline_users"], 1, "{reply}");
    }
    // A plain PUBLISH on any master reaches every node's trigger subscription; one node handles it.
    let message = json!({"target": {"type": "user", "id": "olga"}, "event_type": "ps", "payload": {"seq": 4}});
    publish_on(redis.ports[0], &trigger, &message.to_string()).await;
    for node in &nodes {
        eventually("the node saw the Pub/Sub message", Duration::from_secs(5), || async {
            let c = &node.get("/stats").await.1["cluster"];
            c["trigger_claimed"].as_u64().unwrap_or(0) + c["trigger_skipped"].as_u64().unwrap_or(0) == 1
        })
        .await;
    }
    let mut olga = nodes[0].connect("olga").await;
    let got = olga.take(4, DEADLINE).await;
    let seqs: Vec<_> = got.iter().map(|f| f["payload"]["seq"].as_u64()).collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3), Some(4)], "replayed in order: {got:?}");
    let marker = json!({"target_user_id": "olga", "event_type": "marker"});
    assert_eq!(nodes[0].post("/api/v1/notifications/send", marker).await.0, 200);
    let late = olga.before_markers("marker", 1, DEADLINE).await;
    assert!(late.is_empty(), "each replayed once: {late:?}");

    // The data lives on more than one master.
    let holding = redis.key_counts().into_iter().filter(|n| *n > 0).count();
    assert!(holding > 1, "keys on {holding} master(s) only: {:?}", redis.key_counts());
}

async fn publish_on(port: u16, channel: &str, message: &str) {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a Redis URL");
    let mut con = client.get_multiplexed_async_connection().await.expect("the master answers");
    let _: i64 = redis::cmd("PUBLISH").arg(channel).arg(message).query_async(&mut con).await.expect("PUBLISH works");
}
