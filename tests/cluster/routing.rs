//! Delivery across nodes, audited by notification id.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::node::{eventually, ids, located, Cluster, Node};
use crate::redis_support::{publish_json, shared_redis, unique};

const QUIET: Duration = Duration::from_millis(700);

async fn three(cluster: &Cluster) -> [Node; 3] {
    let (a, b, c) = tokio::join!(cluster.start("node-1"), cluster.start("node-2"), cluster.start("node-3"));
    [a, b, c]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_to_node_2_reaches_a_user_on_node_1_once_and_devices_on_two_nodes_both() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = Cluster::new(&redis);
    let [n1, n2, n3] = three(&cluster).await;
    let (_, status) = n1.get("/api/v1/cluster/status").await;
    assert_eq!(status["healthy_nodes"], 3, "{status}");
    assert_eq!(status["nodes"], json!(["node-1", "node-2", "node-3"]));

    let mut alice = n1.connect("alice").await;
    located(&n2, "alice", 1).await;
    let reply = n2.send_to_user("alice", 1).await;
    assert_eq!((reply["delivered_to"].as_u64(), reply["offline_users"].as_u64()), (Some(1), Some(0)), "{reply}");
    let got = alice.notifications(QUIET).await;
    assert_eq!(ids(&got).get(reply["notification_id"].as_str().unwrap()), Some(&1), "{got:?}");
    assert_eq!(got.len(), 1, "once: {got:?}");

    let mut bob_1 = n1.connect("bob").await;
    let mut bob_3 = n3.connect("bob").await;
    located(&n2, "bob", 2).await;
    let (_, where_bob) = n2.get("/api/v1/cluster/users/bob").await;
    assert_eq!(
        where_bob["nodes"],
        json!([{"node_id": "node-1", "connections": 1}, {"node_id": "node-3", "connections": 1}])
    );
    let reply = n2.send_to_user("bob", 2).await;
    assert_eq!(reply["delivered_to"], 2, "{reply}");
    let id = reply["notification_id"].as_str().unwrap().to_owned();
    for (name, device) in [("node 1", &mut bob_1), ("node 3", &mut bob_3)] {
        let got = device.notifications(QUIET).await;
        assert_eq!(got.len(), 1, "bob on {name}: {got:?}");
        assert_eq!(got[0]["id"], id.as_str());
    }
    // A send from the node that holds one of the devices reaches the other too.
    let reply = n1.send_to_user("bob", 3).await;
    assert_eq!(reply["delivered_to"], 2, "{reply}");
    assert_eq!(bob_1.notifications(QUIET).await.len(), 1);
    assert_eq!(bob_3.notifications(QUIET).await.len(), 1);

    let (status, total) = n3.get("/api/v1/cluster/status").await;
    assert_eq!(status, 200);
    drop((alice, bob_1, bob_3));
    // Connections are unique cluster-wide: each node's ids carry its incarnation.
    let c1 = n1.connect("carol").await;
    let c2 = n2.connect("carol").await;
    drop((c1, c2, total));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_ids_differ_across_nodes() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = Cluster::new(&redis);
    let (n1, n2) = tokio::join!(cluster.start("node-1"), cluster.start("node-2"));
    let mut seen = HashSet::new();
    for node in [&n1, &n2, &n1, &n2] {
        let url = format!("ws://127.0.0.1:{}/ws?token={}", node.port, crate::node::token("dora"));
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("connects");
        let hello = futures_util::StreamExt::next(&mut ws).await.expect("a frame").expect("a frame");
        let hello: Value = serde_json::from_str(hello.to_text().expect("text")).expect("JSON");
        assert!(seen.insert(hello["connection_id"].as_u64().expect("an id")), "{hello}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_and_broadcast_sends_reach_every_subscriber_once() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = Cluster::new(&redis);
    let nodes = three(&cluster).await;
    let mut clients = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for j in 0..2 {
            let mut client = node.connect(&format!("sub-{i}-{j}")).await;
            // Every client on `news`, the second of each node on `sports` too.
            let channels: &[&str] = if j == 0 { &["news"] } else { &["news", "sports"] };
            client.subscribe(channels).await;
            clients.push((j, client));
        }
    }
    for node in &nodes {
        eventually("6 subscribers on news cluster-wide", Duration::from_secs(5), || async {
            node.get("/api/v1/channels/news").await.1["subscriber_count"] == 6
        })
        .await;
        eventually("the channel list counts every node", Duration::from_secs(5), || async {
            let (_, list) = node.get("/api/v1/channels").await;
            list["channels"]
                == json!([{"name": "news", "subscriber_count": 6}, {"name": "sports", "subscriber_count": 3}])
        })
        .await;
    }
    let mut expected_all = Vec::new();
    let mut expected_sports = Vec::new();
    for round in 0..3 {
        let (_, r) = nodes[1]
            .post(
                "/api/v1/notifications/channel",
                json!({"channel": "news", "event_type": "c", "payload": {"r": round}}),
            )
            .await;
        expected_all.push(r["notification_id"].as_str().unwrap().to_owned());
        let (_, r) = nodes[2]
            .post(
                "/api/v1/notifications/channels",
                json!({"channels": ["news", "sports"], "event_type": "cs", "payload": {"r": round}}),
            )
            .await;
        expected_all.push(r["notification_id"].as_str().unwrap().to_owned());
        let (_, r) = nodes[0]
            .post(
                "/api/v1/notifications/channel",
                json!({"channel": "sports", "event_type": "s", "payload": {"r": round}}),
            )
            .await;
        expected_sports.push(r["notification_id"].as_str().unwrap().to_owned());
        let (_, r) = nodes[round]
            .post("/api/v1/notifications/broadcast", json!({"event_type": "b", "payload": {"r": round}}))
            .await;
        expected_all.push(r["notification_id"].as_str().unwrap().to_owned());
    }
    for (j, client) in &mut clients {
        let got = ids(&client.notifications(QUIET).await);
        let mut want: Vec<&String> = expected_all.iter().collect();
        if *j == 1 {
            want.extend(expected_sports.iter());
        }
        for id in &want {
            assert_eq!(got.get(*id), Some(&1), "{}: {id} once; got {got:?}", client.user);
        }
        assert_eq!(got.len(), want.len(), "{}: nothing else; got {got:?}", client.user);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pubsub_message_is_queued_once_for_an_offline_user() {
    let Some(redis) = shared_redis().await else { return };
    let channel = unique("ara-cluster-pubsub");
    let cluster =
        Cluster::new(&redis).with_queue().with("REDIS_PUBSUB_ENABLED", "true").with("REDIS_CHANNELS", &channel);
    let nodes = three(&cluster).await;
    let message = json!({"target": {"type": "user", "id": "erin"}, "event_type": "ps", "payload": {"n": 1}});
    assert_eq!(publish_json(&redis, &channel, &message).await, 3, "every node subscribes");
    let message = json!({"target": {"type": "user", "id": "erin"}, "event_type": "ps", "payload": {"n": 2}});
    publish_json(&redis, &channel, &message).await;
    // Each node has handled its copy (claimed or left to another) before erin connects.
    for node in &nodes {
        eventually("the node handled both copies", Duration::from_secs(5), || async {
            let stats = node.get("/stats").await.1;
            let c = &stats["cluster"];
            c["trigger_claimed"].as_u64().unwrap_or(0) + c["trigger_skipped"].as_u64().unwrap_or(0) == 2
        })
        .await;
    }
    let mut erin = nodes[2].connect("erin").await;
    let got = erin.notifications(QUIET).await;
    // Two nodes may claim the two messages and queue them in either order (docs/REDIS.md).
    let mut seqs: Vec<_> = got.iter().map(|f| f["payload"]["n"].as_u64()).collect();
    seqs.sort();
    assert_eq!(seqs, [Some(1), Some(2)], "queued once each: {got:?}");
    let claimed: u64 = {
        let mut total = 0;
        for node in &nodes {
            total += node.get("/stats").await.1["cluster"]["trigger_claimed"].as_u64().unwrap_or(0);
        }
        total
    };
    assert_eq!(claimed, 2, "one node claimed each message");
}

/// Sends from two nodes to a user while the user connects on a third and its queue is replayed
/// there: every notification arrives (live or replayed), once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_racing_a_replay_on_another_node_lose_nothing() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = Cluster::new(&redis).with_queue().with("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4096");
    let nodes = std::sync::Arc::new(three(&cluster).await);
    for round in 0..3 {
        let user = format!("racer-{round}");
        let senders: Vec<_> = (0..2)
            .map(|from| {
                let (nodes, user) = (nodes.clone(), user.clone());
                tokio::spawn(async move {
                    let mut sent = Vec::new();
                    for seq in 0..150 {
                        let reply = nodes[from].send_to_user(&user, seq).await;
                        sent.push(reply["notification_id"].as_str().unwrap().to_owned());
                    }
                    sent
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20 + 40 * round as u64)).await;
        let mut client = nodes[2].connect(&user).await;
        let mut sent = Vec::new();
        for sender in senders {
            sent.extend(sender.await.expect("the sender ends"));
        }
        let mut got = client.notifications(Duration::from_millis(1000)).await;
        client.close();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Whatever is still queued (there should be nothing) is replayed to a fresh connection.
        let mut again = nodes[0].connect(&user).await;
        got.extend(again.notifications(QUIET).await);
        let counts = ids(&got);
        let missing: Vec<_> = sent.iter().filter(|id| !counts.contains_key(*id)).collect();
        let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        eprintln!(
            "race round {round}: sent {}, received {}, missing {}, twice {}",
            sent.len(),
            got.len(),
            missing.len(),
            twice.len()
        );
        assert!(missing.is_empty(), "round {round}: {} of {} lost: {missing:?}", missing.len(), sent.len());
        assert!(twice.is_empty(), "round {round}: duplicates {twice:?}");
    }
}

/// An unacknowledged High notification is redelivered by whichever node expires its ACK, to the node
/// holding the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_redelivery_reaches_the_user_on_another_node() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = Cluster::new(&redis)
        .with("ACK_BACKEND", "redis")
        .with("ACK_REDIS_KEY_PREFIX", &unique("ara-cluster-ack"))
        .with("ACK_TIMEOUT_SECONDS", "1")
        .with("ACK_REDELIVER", "true");
    // Only node 2 expires ACKs: the redelivery has to cross to node 1.
    let (slow, fast) =
        ([("ACK_CLEANUP_INTERVAL_SECONDS", "3600".into())], [("ACK_CLEANUP_INTERVAL_SECONDS", "1".into())]);
    let (n1, n2) = tokio::join!(cluster.start_with("node-1", &slow), cluster.start_with("node-2", &fast));
    let mut ivy = n1.connect("ivy").await;
    located(&n2, "ivy", 1).await;
    let body = json!({"target_user_id": "ivy", "event_type": "urgent", "payload": {}, "priority": "High"});
    let (status, reply) = n2.post("/api/v1/notifications/send", body).await;
    assert_eq!(status, 200, "{reply}");
    let id = reply["notification_id"].as_str().unwrap().to_owned();
    let got = ivy.notifications_for(Duration::from_secs(4)).await;
    let copies = got.iter().filter(|f| f["id"] == id.as_str()).count();
    assert!(copies >= 2, "delivered, then redelivered across nodes: {got:?}");
}

/// Two live nodes never share an id: the second process waits one ttl (its holder might be a crashed
/// predecessor), then refuses to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_live_node_with_the_same_id_is_a_start_up_error() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = Cluster::new(&redis);
    let first = cluster.start("node-1").await;
    let (status, took) = cluster.start_expecting_exit("node-1", Duration::from_secs(15)).await;
    assert!(!status.success(), "the duplicate exits with an error: {status}");
    assert!(took >= Duration::from_secs(crate::node::TTL_SECONDS), "it waited one ttl first: {took:?}");
    assert!(first.is_ready().await, "the first node is untouched");
    let (_, status) = first.get("/api/v1/cluster/status").await;
    assert_eq!(status["healthy_nodes"], 1);
}
