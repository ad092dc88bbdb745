//! A store killed and started again, or its link made slow, lossy or cut, under traffic: every send
//! answered within the bound, nothing accepted lost, `/health` saying within seconds whether Ara can
//! queue, and Ara recovering by itself once the fault ends.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::ara::{can_queue, Ara, RECOVERY};
use crate::audit::{assert_recovered, audit, Traffic};
use crate::backends::{Backend, Fault, Kind, ANSWER_BOUND, PUBSUB_CHANNEL};

const USERS: usize = 6;
/// How long each fault lasts.
const HOLD: Duration = Duration::from_secs(3);

async fn under_fault(kind: Kind, fault: Fault) {
    let name = format!("{fault:?}-{kind:?}");
    let Some(mut backend) = Backend::for_fault(kind, fault).await else { return };
    let mut ara = Ara::start(&backend.ara_env()).await;
    let traffic = Traffic::start(&ara, USERS, Duration::from_millis(10));
    tokio::time::sleep(Duration::from_millis(800)).await;

    backend.apply(fault).await;
    let fault_started = Instant::now();
    if fault.makes_unready() {
        let noticed = ara.wait_unable_to_queue().await;
        eprintln!("chaos {name}: /health said the queue is down {noticed:?} after the fault began");
    }
    // Throughout the fault /health answers, in time, and (on a link that still works) says so.
    let mut samples = 0;
    while fault_started.elapsed() < HOLD {
        let sampled = Instant::now();
        let Some((status, health)) = ara.health().await else {
            panic!("{name}: /health did not answer within 2s during the fault")
        };
        assert_eq!(status, 200, "{name}: {health}");
        let Some((ready_status, ready)) = ara.readiness().await else {
            panic!("{name}: /health/ready did not answer within 2s during the fault")
        };
        if fault.makes_unready() {
            assert!(!can_queue(ready_status, &ready), "{name}: /health/ready claims it can queue: {ready}");
            assert_eq!(health["dependencies"]["offline_queue"], "down", "{name}: {health}");
        } else if matches!(fault, Fault::Latency(_)) {
            assert!(can_queue(ready_status, &ready), "{name}: a slow link still works, yet /health/ready says {ready}");
        }
        samples += 1;
        tokio::time::sleep(Duration::from_millis(250).saturating_sub(sampled.elapsed())).await;
    }

    backend.heal(fault).await;
    let recovery = ara.wait_able_to_queue().await;
    eprintln!("chaos {name}: {samples} /health samples during the fault; healthy {recovery:?} after it ended");
    let recovered = Instant::now();
    if let Some(redis) = backend.redis_url() {
        let took = pubsub_delivers(&ara, &redis).await;
        eprintln!("chaos {name}: the Pub/Sub trigger delivered {took:?} after /health said healthy");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (users, attempts) = traffic.stop().await;
    assert_recovered(&name, USERS, &attempts, recovered);
    let report = audit(&ara, &users, &attempts, ANSWER_BOUND).await;
    report.assert_nothing_lost(&name, backend.refused(Some(fault), fault_started));
    assert_eq!(report.unanswered, 0, "{name}: Ara itself stayed up, yet sends got no answer");
    match fault {
        Fault::StoreDown | Fault::Cut => {
            assert!(report.refused > 0, "{name}: no send met the fault: the test proved nothing")
        }
        // Well under the store timeout: a slow link must not cost a single send.
        Fault::Latency(_) => assert_eq!(report.refused, 0, "{name}: a slow link refused sends"),
        Fault::Loss(..) => {}
    }
}

/// Publishes to a connected user until a notification arrives: the trigger delivers again, without a
/// restart (what a publish during the resubscription carries is lost, as documented). Returns how
/// long it took.
async fn pubsub_delivers(ara: &Ara, redis: &str) -> Duration {
    let user = format!("live-{}", uuid::Uuid::now_v7().simple());
    let mut ws = ara.connect(&user).await;
    let client = redis::Client::open(redis).expect("a Redis URL");
    let mut publisher = client.get_multiplexed_async_connection().await.expect("Redis answers");
    let started = Instant::now();
    let message = json!({"target": {"type": "user", "id": user}, "event_type": "chaos.pubsub"}).to_string();
    while started.elapsed() < RECOVERY {
        let _: i64 =
            redis::cmd("PUBLISH").arg(PUBSUB_CHANNEL).arg(&message).query_async(&mut publisher).await.expect("PUBLISH");
        let until = Instant::now() + Duration::from_millis(300);
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(until.into(), ws.next()).await {
            if let Message::Text(text) = frame {
                if text.contains("chaos.pubsub") {
                    return started.elapsed();
                }
            }
        }
    }
    panic!("the Pub/Sub trigger did not deliver within {RECOVERY:?} of the recovery");
}

const LATENCY: Fault = Fault::Latency(Duration::from_millis(25));
/// 5% of chunks stall 250 ms: a link losing packets, each loss costing a retransmission timeout.
const LOSS: Fault = Fault::Loss(0.05, Duration::from_millis(250));

#[tokio::test]
async fn redis_killed_and_restarted_mid_traffic() {
    under_fault(Kind::Redis, Fault::StoreDown).await;
}

#[tokio::test]
async fn postgres_crashed_and_restarted_mid_traffic() {
    under_fault(Kind::Postgres, Fault::StoreDown).await;
}

#[tokio::test]
async fn redis_link_cut_hangs_then_heals() {
    under_fault(Kind::Redis, Fault::Cut).await;
}

#[tokio::test]
async fn postgres_link_cut_hangs_then_heals() {
    under_fault(Kind::Postgres, Fault::Cut).await;
}

#[tokio::test]
async fn redis_behind_a_slow_link() {
    under_fault(Kind::Redis, LATENCY).await;
}

#[tokio::test]
async fn postgres_behind_a_slow_link() {
    under_fault(Kind::Postgres, LATENCY).await;
}

#[tokio::test]
async fn redis_behind_a_lossy_link() {
    under_fault(Kind::Redis, LOSS).await;
}

#[tokio::test]
async fn postgres_behind_a_lossy_link() {
    under_fault(Kind::Postgres, LOSS).await;
}
