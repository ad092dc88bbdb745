//! The `churn` scenario: `--connections` WebSocket clients held open while, every second, a share of
//! them (`--churn`, default 1%) hang up and connect again, and the senders send to random users at the
//! plan's rate. The server's resident memory, open descriptors and live tokio tasks are read before the
//! churn (all clients connected, settled), every 30 s during it, and after it (all clients connected
//! again, settled): a server that leaks per connection ends above where it began.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use parking_lot::Mutex;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::ctx::Ctx;
use crate::drive::drive;
use crate::http::HttpConn;
use crate::report::Memory;
use crate::scenario::{to_users, Outcome};
use crate::stats::Counters;
use crate::sys::{cpu_seconds, rss_kib};
use crate::ws;

/// How far above the baseline open descriptors and live tasks may end (a few in flight at any time).
const SLACK: f64 = 0.005;
/// How far above the baseline resident memory may end: allocator caches grow and stay.
const RSS_SLACK: f64 = 0.25;

/// The server's resources at one moment.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sample {
    pub at_s: f64,
    pub rss_kib: Option<u64>,
    pub open_fds: Option<u64>,
    pub alive_tasks: Option<u64>,
    pub connections: Option<u64>,
}

pub async fn run(ctx: &Arc<Ctx>, server_pid: Option<u32>) -> Result<Outcome, String> {
    let plan = &ctx.plan;
    let n = plan.connections;
    let started = Instant::now();
    let mut memory =
        Memory { server_pid, server_rss_before_kib: server_pid.and_then(|p| rss_kib(Some(p))), ..Memory::default() };
    let slots: Arc<Vec<Mutex<CancellationToken>>> =
        Arc::new((0..n).map(|_| Mutex::new(ctx.stop.child_token())).collect());
    let spacing = Duration::from_secs_f64(1.0 / f64::from(plan.connect_rate));
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        tokio::time::sleep_until(tokio::time::Instant::from_std(started + spacing.mul_f64(i as f64))).await;
        clients.push(tokio::spawn(client(ctx.clone(), i, slots.clone())));
    }
    if !all_connected(ctx, n, Duration::from_secs(60)).await {
        ctx.stop.cancel();
        return Err(format!("only {} of {n} clients connected", Counters::get(&ctx.counters.open)));
    }
    tokio::time::sleep(plan.settle).await;
    let baseline = sample(ctx, server_pid, started).await;
    memory.server_rss_connected_kib = baseline.rss_kib;
    if let (Some(before), Some(after)) = (memory.server_rss_before_kib, baseline.rss_kib) {
        memory.server_bytes_per_connection = Some((after as f64 - before as f64) * 1024.0 / n as f64);
    }
    eprintln!("churn: baseline {}", describe(&baseline));

    let churning = ctx.stop.child_token();
    let churner = tokio::spawn(churn(ctx.clone(), slots.clone(), churning.clone()));
    let sampler = tokio::spawn(sample_every(ctx.clone(), server_pid, started, churning.clone()));
    let send_started = Instant::now();
    let cpu_before = cpu_seconds(server_pid);
    let readers = Arc::new((0..n).collect::<Vec<usize>>());
    drive(ctx, to_users(ctx, readers, 1), None).await;
    let send_s = send_started.elapsed().as_secs_f64();
    churning.cancel();
    let hung_up = churner.await.unwrap_or(0);
    let mut samples = sampler.await.unwrap_or_default();
    memory.server_cpu_s = cpu_before.zip(cpu_seconds(server_pid)).map(|(before, after)| after - before);

    // Every client connects again; then the server gets the same settling time as before the churn.
    let reconnected = all_connected(ctx, n, Duration::from_secs(60)).await;
    tokio::time::sleep(plan.settle.max(plan.drain)).await;
    let end = sample(ctx, server_pid, started).await;
    samples.push(end);
    eprintln!("churn: after   {}", describe(&end));
    let verdict = judge(&baseline, &end, n, hung_up, reconnected);
    eprintln!("churn: {} reconnects; {verdict}", hung_up);

    memory.server_rss_end_kib = end.rss_kib;
    memory.client_rss_end_kib = rss_kib(None);
    memory.server_rss_samples = samples.iter().filter_map(|s| s.rss_kib.map(|kib| (s.at_s, kib))).collect();
    memory.server_rss_peak_kib = memory.server_rss_samples.iter().map(|s| s.1).max();
    let server_stats =
        serde_json::to_value(Churn { baseline, end, samples, reconnects: hung_up, verdict: verdict.clone() }).ok();
    ctx.stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(20), futures_util::future::join_all(clients)).await;
    if !verdict.starts_with("back to baseline") {
        return Err(format!("churn: {verdict}"));
    }
    Ok(Outcome { elapsed_s: started.elapsed().as_secs_f64(), send_s, stalled: 0, memory, server_stats })
}

#[derive(Serialize)]
struct Churn {
    baseline: Sample,
    end: Sample,
    samples: Vec<Sample>,
    reconnects: u64,
    verdict: String,
}

/// Client `i`: connects, reads until its slot's token is cancelled (a hang-up), connects again; until
/// the run stops.
async fn client(ctx: Arc<Ctx>, i: usize, slots: Arc<Vec<Mutex<CancellationToken>>>) {
    let c = &ctx.counters;
    while !ctx.stop.is_cancelled() {
        let hang_up = ctx.stop.child_token();
        *slots[i].lock() = hang_up.clone();
        Counters::add(&c.connect_attempted, 1);
        match ws::connect(&ctx, i, None, false).await {
            Ok(socket) => {
                Counters::add(&c.connect_ok, 1);
                Counters::add(&c.open, 1);
                ws::read(ctx.clone(), socket, i, None, hang_up).await;
            }
            Err(reason) => {
                c.connect_failure(reason);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Every second, hangs up `churn × connections` random clients; returns how many it hung up.
async fn churn(ctx: Arc<Ctx>, slots: Arc<Vec<Mutex<CancellationToken>>>, until: CancellationToken) -> u64 {
    let per_second = ((slots.len() as f64 * ctx.plan.churn).round() as usize).max(1);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let mut hung_up = 0;
    loop {
        tokio::select! {
            _ = until.cancelled() => return hung_up,
            _ = tick.tick() => {}
        }
        for _ in 0..per_second {
            slots[fastrand::usize(..slots.len())].lock().cancel();
            hung_up += 1;
        }
    }
}

async fn sample_every(ctx: Arc<Ctx>, pid: Option<u32>, started: Instant, until: CancellationToken) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.tick().await;
    loop {
        tokio::select! {
            _ = until.cancelled() => return samples,
            _ = tick.tick() => {}
        }
        let now = sample(&ctx, pid, started).await;
        eprintln!("churn: during {}", describe(&now));
        samples.push(now);
    }
}

async fn all_connected(ctx: &Ctx, n: usize, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if Counters::get(&ctx.counters.open) >= n as u64 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn sample(ctx: &Ctx, pid: Option<u32>, started: Instant) -> Sample {
    let metrics = metrics_text(ctx).await.unwrap_or_default();
    let value = |prefix: &str| {
        let line = metrics.lines().find(|l| l.starts_with(prefix))?;
        line.rsplit(' ').next()?.parse::<f64>().ok().map(|v| v as u64)
    };
    Sample {
        at_s: (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        rss_kib: pid.and_then(|p| rss_kib(Some(p))),
        open_fds: pid.and_then(|p| std::fs::read_dir(format!("/proc/{p}/fd")).ok()).map(|d| d.count() as u64),
        alive_tasks: value("ara_runtime_alive_tasks "),
        connections: value("ara_connections{transport=\"websocket\"}"),
    }
}

async fn metrics_text(ctx: &Ctx) -> Option<String> {
    let mut conn = HttpConn::open(ctx).await.ok()?;
    let answer = conn.call(ctx, Method::GET, "/metrics", Bytes::new()).await.ok()?;
    Some(String::from_utf8_lossy(&answer.body).into_owned())
}

fn describe(s: &Sample) -> String {
    let show = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |v| v.to_string());
    format!(
        "t={}s rss={} KiB fds={} tasks={} connections={}",
        s.at_s,
        show(s.rss_kib),
        show(s.open_fds),
        show(s.alive_tasks),
        show(s.connections)
    )
}

/// "back to baseline …" when descriptors, tasks and connections came back within the slack, else what
/// did not.
fn judge(baseline: &Sample, end: &Sample, n: usize, reconnects: u64, reconnected: bool) -> String {
    let slack = ((n as f64 * SLACK).ceil() as u64).max(8);
    let mut problems = Vec::new();
    if !reconnected {
        problems.push("not every client connected again".to_owned());
    }
    for (what, before, after) in [
        ("open descriptors", baseline.open_fds, end.open_fds),
        ("live tasks", baseline.alive_tasks, end.alive_tasks),
        ("connections", baseline.connections, end.connections),
    ] {
        if let (Some(before), Some(after)) = (before, after) {
            if after > before + slack {
                problems.push(format!("{what} {before} → {after} (slack {slack})"));
            }
        }
    }
    if let (Some(before), Some(after)) = (baseline.rss_kib, end.rss_kib) {
        if after as f64 > before as f64 * (1.0 + RSS_SLACK) {
            problems.push(format!("RSS {before} → {after} KiB (more than +{:.0}%)", RSS_SLACK * 100.0));
        }
    }
    if problems.is_empty() {
        format!(
            "back to baseline after {reconnects} reconnects (descriptors and tasks within {slack}, RSS within +{:.0}%)",
            RSS_SLACK * 100.0
        )
    } else {
        format!("not back to baseline: {}", problems.join("; "))
    }
}
