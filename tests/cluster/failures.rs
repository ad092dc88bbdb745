//! Node loss, Redis outages and a node cut off from Redis.

use std::time::{Duration, Instant};

use crate::fault_proxy::FaultProxy;
use crate::node::{eventually, ids, Cluster, TTL_SECONDS};
use crate::redis_support::{shared_redis, RedisServer};

const QUIET: Duration = Duration::from_millis(700);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_node_expires_within_the_ttl_and_its_users_get_their_queue_on_another_node() {
    let Some(redis) = shared_redis().await else { return };
    let cluster = Cluster::new(&redis)
        .with_queue()
        .with("WEBSOCKET_OUTBOUND_QUEUE_SIZE", "4096")
        .with("QUEUE_MAX_SIZE_PER_USER", "2000");
    let (mut n1, n2, n3) = tokio::join!(cluster.start("node-1"), cluster.start("node-2"), cluster.start("node-3"));
    let mut frank = n1.connect("frank").await;
    eventually("frank located", Duration::from_secs(5), || async {
        n2.get("/api/v1/cluster/users/frank").await.0 == 200
    })
    .await;
    // Traffic from node 2, every 10 ms, before, during and after the kill.
    let (n2_url, stop) =
        (n2.url("/api/v1/notifications/send"), std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)));
    let traffic = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut sent = Vec::new();
            let mut seq = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = serde_json::json!({"target_user_id": "frank", "event_type": "t", "payload": {"seq": seq}});
                let reply: serde_json::Value =
                    http.post(&n2_url).json(&body).send().await.expect("node 2 answers").json().await.expect("JSON");
                sent.push((Instant::now(), reply["notification_id"].as_str().unwrap_or_default().to_owned(), seq));
                seq += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let killed_at = Instant::now();
    n1.kill_hard();
    let gone = eventually("node 1 gone from presence", Duration::from_secs(TTL_SECONDS + 2), || async {
        let status = n2.get("/api/v1/cluster/status").await.1;
        status["healthy_nodes"] == 2 && n2.get("/api/v1/cluster/users/frank").await.0 == 404
    })
    .await;
    let expired_after = killed_at.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = traffic.await.expect("the traffic ends");
    let live = frank.notifications(Duration::from_millis(100)).await;
    let mut again = n3.connect("frank").await;
    let replayed = again.notifications(QUIET).await;
    let (live_ids, replayed_ids) = (ids(&live), ids(&replayed));
    // What node 1 had taken from the bus but not yet written when it died is the cost of a SIGKILL
    // without ACKs; everything accepted after the kill must come back on node 3, in order.
    let after_kill: Vec<_> = sent.iter().filter(|(at, _, _)| *at > killed_at + Duration::from_millis(50)).collect();
    let lost_after: Vec<_> = after_kill.iter().filter(|(_, id, _)| !replayed_ids.contains_key(id)).collect();
    let in_window = sent
        .iter()
        .filter(|(at, id, _)| {
            *at <= killed_at + Duration::from_millis(50) && !live_ids.contains_key(id) && !replayed_ids.contains_key(id)
        })
        .count();
    eprintln!(
        "sigkill: presence gone {expired_after:?} after the kill (poll {gone:?}); sent {}, live {}, replayed {}, after the kill {}, lost after the kill {}, lost at the kill {in_window}",
        sent.len(), live.len(), replayed.len(), after_kill.len(), lost_after.len()
    );
    assert!(
        expired_after <= Duration::from_secs(TTL_SECONDS) + Duration::from_millis(700),
        "presence expired within the ttl"
    );
    assert!(lost_after.is_empty(), "nothing accepted after the kill is lost: {lost_after:?}");
    let seqs: Vec<u64> = replayed.iter().filter_map(|f| f["payload"]["seq"].as_u64()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "replayed in order: {seqs:?}");
    assert!(replayed_ids.values().all(|n| *n == 1), "replayed once each");
    assert!(in_window <= 3, "at most the frames in flight at the kill: {in_window}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_and_started_turns_every_node_not_ready_then_ready_and_delivering() {
    let Some(mut redis) = RedisServer::start().await else { return };
    let cluster = Cluster::new(&redis.url());
    let (mut n1, mut n2, mut n3) =
        tokio::join!(cluster.start("node-1"), cluster.start("node-2"), cluster.start("node-3"));
    let mut gina = n1.connect("gina").await;
    redis.kill();
    let mut noticed = Vec::new();
    for node in [&mut n1, &mut n2, &mut n3] {
        noticed.push(node.wait_ready(false, Duration::from_secs(5)).await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart().await;
    let restarted = Instant::now();
    for node in [&mut n1, &mut n2, &mut n3] {
        node.wait_ready(true, Duration::from_secs(15)).await;
    }
    let recovered = restarted.elapsed();
    // The restarted Redis is empty: node 1 writes gina's presence again by itself.
    eventually("gina located again", Duration::from_secs(5), || async {
        n2.get("/api/v1/cluster/users/gina").await.0 == 200
    })
    .await;
    let reply = n2.send_to_user("gina", 1).await;
    assert_eq!(reply["delivered_to"], 1, "{reply}");
    // Three nodes reconnecting to a fresh Redis on 2 busy cores: a bounded window, not a quiet gap.
    let got = gina.notifications_for(Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "delivered across nodes after the outage: {got:?}");
    eprintln!("redis outage: not ready after {noticed:?}; all ready {recovered:?} after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_redis_turns_not_ready_and_the_others_are_unaffected() {
    let Some(redis) = shared_redis().await else { return };
    let upstream = redis.trim_start_matches("redis://").trim_end_matches('/');
    let proxy = FaultProxy::start(upstream).await;
    let cluster = Cluster::new(&redis);
    let via = proxy.url_via(&redis);
    let mut n1 = cluster.start_with("node-1", &[("REDIS_URL", via.clone())]).await;
    let (n2, n3) = tokio::join!(cluster.start("node-2"), cluster.start("node-3"));
    let mut hana = n3.connect("hana").await;
    proxy.cut();
    let noticed = n1.wait_ready(false, Duration::from_secs(5)).await;
    for _ in 0..10 {
        assert!(n2.is_ready().await && n3.is_ready().await, "the other nodes stay ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reply = n2.send_to_user("hana", 1).await;
    assert_eq!(reply["delivered_to"], 1, "{reply}");
    assert_eq!(hana.notifications(QUIET).await.len(), 1);
    proxy.restore();
    let back = n1.wait_ready(true, Duration::from_secs(15)).await;
    eprintln!("cut off: node 1 not ready after {noticed:?}, ready {back:?} after the link came back");
}

/// Redis drops every node's bus subscription (as a failover does): each node notices, subscribes
/// again by itself, and cross-node delivery works again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_bus_subscription_comes_back_by_itself() {
    let Some(redis) = RedisServer::start().await else { return };
    let cluster = Cluster::new(&redis.url());
    let (n1, n2) = tokio::join!(cluster.start("node-1"), cluster.start("node-2"));
    let mut jade = n1.connect("jade").await;
    let client = redis::Client::open(redis.url()).expect("a Redis URL");
    let mut con = client.get_multiplexed_async_connection().await.expect("Redis answers");
    let killed: i64 =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut con).await.expect("CLIENT KILL");
    assert!(killed >= 2, "both nodes' subscriptions dropped ({killed})");
    let back = eventually("both nodes resubscribed", Duration::from_secs(5), || async {
        let mut all = true;
        for node in [&n1, &n2] {
            let stats = node.get("/stats").await.1;
            all &= stats["cluster"]["resubscriptions"].as_u64().unwrap_or(0) >= 1 && node.is_ready().await;
        }
        all
    })
    .await;
    let reply = n2.send_to_user("jade", 1).await;
    assert_eq!(reply["delivered_to"], 1, "{reply}");
    assert_eq!(jade.notifications(QUIET).await.len(), 1, "delivered across nodes again");
    eprintln!("lost subscription: both nodes back and ready {back:?} after CLIENT KILL");
}
