//! One run, whatever the scenario: connect the clients, send (or hold), drain, measure, hang up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::cli::Scenario;
use crate::ctx::Ctx;
use crate::drive::{drive, payload, Gate, MakeSend, Outgoing};
use crate::fleet::{self, Transport};
use crate::report::Memory;
use crate::stats::Counters;
use crate::sys::{cpu_seconds, rss_kib};

/// What a run measured, for the report.
pub struct Outcome {
    pub elapsed_s: f64,
    pub send_s: f64,
    pub stalled: usize,
    pub memory: Memory,
    pub server_stats: Option<serde_json::Value>,
}

pub async fn run(ctx: &Arc<Ctx>, server_pid: Option<u32>) -> Result<Outcome, String> {
    if ctx.plan.scenario == Scenario::Churn {
        return crate::churn::run(ctx, server_pid).await;
    }
    let plan = &ctx.plan;
    let started = Instant::now();
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = spawn_sampler(ctx.clone(), server_pid, samples.clone(), started);
    let mut memory = Memory { server_pid, server_rss_before_kib: rss_kib_of(server_pid), ..Memory::default() };

    let transport = if plan.scenario == Scenario::Sse { Transport::Sse } else { Transport::WebSocket };
    let subscribe = matches!(plan.scenario, Scenario::Ws | Scenario::Fanout | Scenario::Sse) && !plan.broadcast;
    let ping_every = match (plan.scenario, plan.stages.first()) {
        (Scenario::Ws, Some(s)) if s.rate > 0 => {
            Some(Duration::from_secs_f64(plan.connections as f64 / f64::from(s.rate)).max(Duration::from_millis(10)))
        }
        _ => None,
    };
    let mut fleet = fleet::open(ctx, transport, subscribe, ping_every).await;
    tokio::time::sleep(plan.settle).await;
    memory.server_rss_connected_kib = rss_kib_of(server_pid);
    let held = fleet.readers.len() + fleet.stalled;
    if let (Some(before), Some(after)) = (memory.server_rss_before_kib, memory.server_rss_connected_kib) {
        if held > 0 {
            memory.server_bytes_per_connection = Some((after as f64 - before as f64) * 1024.0 / held as f64);
        }
    }

    let send_started = Instant::now();
    let cpu_before = (cpu_seconds(server_pid), cpu_seconds(None));
    let readers = Arc::new(std::mem::take(&mut fleet.readers));
    let stalled = fleet.stalled;
    match plan.scenario {
        Scenario::Ws => hold(ctx, plan.send_duration()).await,
        _ if readers.is_empty() => {
            ctx.stop.cancel();
            return Err("no client connected; nothing to send to (see the failures above)".into());
        }
        Scenario::Http | Scenario::E2e | Scenario::Churn => {
            drive(ctx, to_users(ctx, readers.clone(), 1), None).await;
        }
        Scenario::Batch => {
            drive(ctx, to_users(ctx, readers.clone(), plan.batch_size), None).await;
        }
        Scenario::Fanout | Scenario::Sse => {
            let gate = plan.stages.iter().any(|s| s.rate == 0).then(|| window_gate(ctx, readers.len()));
            drive(ctx, fan_out(ctx, readers.len()), gate).await;
        }
    }
    let send_s = send_started.elapsed().as_secs_f64();
    if let (Some(server), Some(after)) = (cpu_before.0, server_pid.and_then(|p| cpu_seconds(Some(p)))) {
        memory.server_cpu_s = Some(after - server);
    }
    memory.client_cpu_s = cpu_before.1.zip(cpu_seconds(None)).map(|(before, after)| after - before);
    drain(ctx).await;

    memory.server_rss_end_kib = rss_kib_of(server_pid);
    memory.client_rss_end_kib = rss_kib(None);
    let server_stats = crate::http::get_json(ctx, "/stats").await;
    ctx.stop.cancel();
    fleet.join().await;
    let _ = sampler.await;
    memory.server_rss_samples = std::mem::take(&mut *samples.lock());
    let peak = memory.server_rss_samples.iter().map(|s| s.1);
    memory.server_rss_peak_kib = peak.chain(memory.server_rss_end_kib).max();
    Ok(Outcome { elapsed_s: started.elapsed().as_secs_f64(), send_s, stalled, memory, server_stats })
}

fn rss_kib_of(pid: Option<u32>) -> Option<u64> {
    pid.and_then(|p| rss_kib(Some(p)))
}

/// Holds the connections (the `ws` scenario) until the planned time is over.
async fn hold(ctx: &Ctx, duration: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = ctx.stop.cancelled() => {}
    }
}

/// Waits until every expected delivery arrived, or the drain period is over.
async fn drain(ctx: &Ctx) {
    let c = &ctx.counters;
    let until = Instant::now() + ctx.plan.drain;
    while Instant::now() < until && Counters::get(&c.received) < Counters::get(&c.expected) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Samples the server's RSS every five seconds until the run stops.
fn spawn_sampler(
    ctx: Arc<Ctx>,
    pid: Option<u32>,
    samples: Arc<Mutex<Vec<(f64, u64)>>>,
    started: Instant,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(pid) = pid else { return };
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = ctx.stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Some(kib) = rss_kib(Some(pid)) {
                samples.lock().push(((started.elapsed().as_secs_f64() * 10.0).round() / 10.0, kib));
            }
        }
    })
}

fn padding(ctx: &Ctx) -> Arc<str> {
    Arc::from("x".repeat(ctx.plan.payload_bytes))
}

/// Sends (or batches of `batch` sends) to random reading clients; each client's sequence numbers are
/// its own, so that it can tell a gap from a duplicate.
pub fn to_users(ctx: &Arc<Ctx>, readers: Arc<Vec<usize>>, batch: usize) -> MakeSend {
    let per_user: Arc<Vec<AtomicU64>> = Arc::new((0..ctx.plan.connections).map(|_| AtomicU64::new(0)).collect());
    let pad = padding(ctx);
    let ctx = ctx.clone();
    let single = ctx.plan.scenario != Scenario::Batch;
    Arc::new(move |_seq| {
        let item = || {
            let i = readers[fastrand::usize(..readers.len())];
            let seq = per_user[i].fetch_add(1, Ordering::Relaxed);
            (ctx.user(i), payload(seq, &pad))
        };
        if single {
            let (user, payload) = item();
            let body = format!(r#"{{"target_user_id":"{user}","event_type":"load.test","payload":{payload}}}"#);
            Outgoing { path: "/api/v1/notifications/send", body: Bytes::from(body), per_success: 1 }
        } else {
            let items: Vec<String> = (0..batch)
                .map(|_| {
                    let (user, payload) = item();
                    format!(
                        r#"{{"target":{{"type":"user","id":"{user}"}},"event_type":"load.test","payload":{payload}}}"#
                    )
                })
                .collect();
            let body = format!(r#"{{"notifications":[{}]}}"#, items.join(","));
            Outgoing { path: "/api/v1/notifications/batch", body: Bytes::from(body), per_success: 1 }
        }
    })
}

/// Sends to the run's channel (or the whole tenant): every reading client expects every send.
fn fan_out(ctx: &Arc<Ctx>, readers: usize) -> MakeSend {
    let pad = padding(ctx);
    let broadcast = ctx.plan.broadcast;
    let channel = ctx.channel(0);
    Arc::new(move |seq| {
        let payload = payload(seq, &pad);
        let (path, body) = if broadcast {
            ("/api/v1/notifications/broadcast", format!(r#"{{"event_type":"load.fanout","payload":{payload}}}"#))
        } else {
            (
                "/api/v1/notifications/channel",
                format!(r#"{{"channel":"{channel}","event_type":"load.fanout","payload":{payload}}}"#),
            )
        };
        Outgoing { path, body: Bytes::from(body), per_success: readers as u64 }
    })
}

/// At rate 0, send `seq` only once the sends before `seq − window` reached every reading client.
fn window_gate(ctx: &Arc<Ctx>, readers: usize) -> Gate {
    let ctx = ctx.clone();
    let window = ctx.plan.window;
    Arc::new(move |seq| Counters::get(&ctx.counters.received) >= seq.saturating_sub(window) * readers as u64)
}
