//! Opens the run's client connections at the planned rate and keeps each one reading (or, for the
//! planned share of slow consumers, not reading) until the run stops.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

use crate::ctx::Ctx;
use crate::stats::Counters;
use crate::{http, ws};

/// Handshakes in flight at once; more would only overflow the server's accept backlog.
const MAX_PENDING_HANDSHAKES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    WebSocket,
    Sse,
}

pub struct Fleet {
    /// Clients that connected and read, by index.
    pub readers: Vec<usize>,
    /// Clients that connected and never read.
    pub stalled: usize,
    tasks: Vec<JoinHandle<()>>,
}

/// Whether client `i` of `n` is one of the `stalled` slow consumers (spread evenly over the indices).
fn is_stalled(i: usize, n: usize, stalled: usize) -> bool {
    stalled > 0 && (i + 1) * stalled / n > i * stalled / n
}

/// Opens every planned connection; returns once each has connected or failed.
pub async fn open(ctx: &Arc<Ctx>, transport: Transport, subscribe: bool, ping_every: Option<Duration>) -> Fleet {
    let n = ctx.plan.connections;
    let stalled_total = ctx.plan.stalled_clients();
    let permits = Arc::new(Semaphore::new(MAX_PENDING_HANDSHAKES));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, bool, bool)>();
    let spacing = Duration::from_secs_f64(1.0 / f64::from(ctx.plan.connect_rate));
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        if ctx.stop.is_cancelled() {
            break;
        }
        tokio::time::sleep_until(start + spacing.mul_f64(i as f64)).await;
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let ctx = ctx.clone();
        let done = done_tx.clone();
        let stalled = is_stalled(i, n, stalled_total);
        tasks.push(tokio::spawn(async move {
            let c = &ctx.counters;
            Counters::add(&c.connect_attempted, 1);
            let channel = subscribe.then(|| ctx.channel(i));
            match transport {
                Transport::WebSocket => match ws::connect(&ctx, i, channel.as_deref(), stalled).await {
                    Ok(socket) => {
                        drop(permit);
                        connected(&ctx, &done, i, stalled);
                        if stalled {
                            ws::stall(ctx.clone(), socket).await;
                        } else {
                            ws::read(ctx.clone(), socket, i, ping_every, ctx.stop.clone()).await;
                        }
                    }
                    Err(reason) => failed(&ctx, &done, i, reason),
                },
                Transport::Sse => match http::sse_connect(&ctx, i, channel.as_deref()).await {
                    Ok(stream) => {
                        drop(permit);
                        connected(&ctx, &done, i, false);
                        http::sse_read(ctx.clone(), stream, i).await;
                    }
                    Err(reason) => failed(&ctx, &done, i, reason),
                },
            }
        }));
    }
    drop(done_tx);
    let mut readers = Vec::new();
    let mut stalled = 0;
    // Each task reports once, then keeps its sender while it reads: count the reports.
    for _ in 0..tasks.len() {
        let Some((i, ok, was_stalled)) = done_rx.recv().await else { break };
        match (ok, was_stalled) {
            (true, false) => readers.push(i),
            (true, true) => stalled += 1,
            (false, _) => {}
        }
    }
    readers.sort_unstable();
    Fleet { readers, stalled, tasks }
}

fn connected(ctx: &Ctx, done: &mpsc::UnboundedSender<(usize, bool, bool)>, i: usize, stalled: bool) {
    Counters::add(&ctx.counters.connect_ok, 1);
    Counters::add(&ctx.counters.open, 1);
    let _ = done.send((i, true, stalled));
}

fn failed(ctx: &Ctx, done: &mpsc::UnboundedSender<(usize, bool, bool)>, i: usize, reason: String) {
    ctx.counters.connect_failure(reason);
    let _ = done.send((i, false, false));
}

impl Fleet {
    /// Waits (bounded) for every client task to wind down after `ctx.stop` was cancelled.
    pub async fn join(self) {
        let all = futures_util::future::join_all(self.tasks);
        let _ = tokio::time::timeout(Duration::from_secs(20), all).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stalled_clients_are_spread() {
        let picked: Vec<usize> = (0..100).filter(|&i| super::is_stalled(i, 100, 3)).collect();
        assert_eq!(picked.len(), 3);
        assert!(picked.windows(2).all(|w| w[1] - w[0] > 20), "{picked:?}");
    }
}
