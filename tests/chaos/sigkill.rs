//! Ara SIGKILLed under traffic, on each durable backend: nothing it accepted is lost, duplicated or
//! reordered across three kills; sends in flight at a kill get a reset, not a hang; every restart is
//! healthy.

use std::time::{Duration, Instant};

use crate::ara::Ara;
use crate::audit::{assert_recovered, audit, Traffic};
use crate::backends::{Backend, Kind, ANSWER_BOUND};

const USERS: usize = 8;
const KILLS: usize = 3;

async fn sigkill_under_traffic(kind: Kind) {
    let name = format!("sigkill-{kind:?}");
    let Some(backend) = Backend::start(kind, false).await else { return };
    let mut ara = Ara::start(&backend.ara_env()).await;
    let started_at = Instant::now();
    let traffic = Traffic::start(&ara, USERS, Duration::from_millis(5));
    for kill in 1..=KILLS {
        // A kill at a different point of the traffic each time.
        tokio::time::sleep(Duration::from_millis(600 + fastrand::u64(0..600))).await;
        let started = Instant::now();
        ara.restart().await;
        eprintln!("chaos {name}: kill {kill}: SIGKILLed and healthy again in {:?}", started.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recovered = Instant::now();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (users, attempts) = traffic.stop().await;
    assert_recovered(&name, USERS, &attempts, recovered);
    let report = audit(&ara, &users, &attempts, ANSWER_BOUND).await;
    report.assert_nothing_lost(&name, backend.refused(None, started_at));
    assert!(report.unanswered > 0, "{name}: no send met a kill: the kills proved nothing");
    assert_eq!(report.refused, 0, "{name}: the store never failed, yet a send was refused");
}

#[tokio::test]
async fn sigkill_under_traffic_on_redis_loses_nothing() {
    sigkill_under_traffic(Kind::Redis).await;
}

#[tokio::test]
async fn sigkill_under_traffic_on_postgres_loses_nothing() {
    sigkill_under_traffic(Kind::Postgres).await;
}
