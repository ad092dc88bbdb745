//! The sending side: `senders` HTTP connections that together follow the plan's stages (an open-loop
//! arrival rate, or as fast as they go at rate 0) until the stages end or `--messages` sends were made.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use crate::ctx::Ctx;
use crate::http::HttpConn;
use crate::stats::{now_us, Counters};

/// One request to make.
pub struct Outgoing {
    pub path: &'static str,
    pub body: Bytes,
    /// Deliveries the reading clients should see per successful notification in the answer.
    pub per_success: u64,
}

/// Builds the request for global send number `seq`, stamping the send time into the payload.
pub type MakeSend = Arc<dyn Fn(u64) -> Outgoing + Send + Sync>;
/// Whether send `seq` may go now (closed-loop fan-out); polled every millisecond.
pub type Gate = Arc<dyn Fn(u64) -> bool + Send + Sync>;

/// A sender this far behind its schedule skips ahead and counts the sends it missed.
const MAX_LAG: Duration = Duration::from_secs(1);

/// Runs the sending phase; returns its wall time.
pub async fn drive(ctx: &Arc<Ctx>, make: MakeSend, gate: Option<Gate>) -> Duration {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..ctx.plan.senders)
        .map(|_| tokio::spawn(worker(ctx.clone(), make.clone(), gate.clone(), issued.clone(), start)))
        .collect();
    futures_util::future::join_all(workers).await;
    start.elapsed()
}

async fn worker(ctx: Arc<Ctx>, make: MakeSend, gate: Option<Gate>, issued: Arc<AtomicU64>, start: Instant) {
    let c = &ctx.counters;
    let senders = ctx.plan.senders as f64;
    let mut conn: Option<HttpConn> = None;
    let mut due = start + Duration::from_secs_f64(fastrand::f64() * 0.01);
    while !ctx.stop.is_cancelled() {
        let Some(rate) = ctx.plan.rate_at(start.elapsed()) else { break };
        if rate > 0 {
            let interval = Duration::from_secs_f64(senders / f64::from(rate));
            let now = Instant::now();
            if now > due + MAX_LAG {
                Counters::add(&c.sends_missed, ((now - due).as_secs_f64() / interval.as_secs_f64()) as u64);
                due = now;
            }
            tokio::time::sleep_until(due.into()).await;
            due += interval;
        }
        let seq = issued.fetch_add(1, Ordering::Relaxed);
        if ctx.plan.messages.is_some_and(|max| seq >= max) {
            break;
        }
        if let Some(gate) = &gate {
            if !wait_for_gate(&ctx, gate, seq).await {
                break;
            }
        }
        if conn.is_none() {
            match HttpConn::open(&ctx).await {
                Ok(fresh) => conn = Some(fresh),
                Err(e) => {
                    Counters::add(&c.sends_failed, 1);
                    c.http_status(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
        }
        let Some(http) = conn.as_mut() else { continue };
        let send = make(seq);
        let sent = Instant::now();
        c.mark_first_send(now_us());
        Counters::add(&c.sends, 1);
        match http.call(&ctx, Method::POST, send.path, send.body).await {
            Ok(answer) => {
                ctx.http_latency.record(seq as usize, sent.elapsed().as_micros() as u64);
                if answer.status == 200 {
                    Counters::add(&c.sends_ok, 1);
                    let body = String::from_utf8_lossy(&answer.body);
                    Counters::add(&c.expected, body.matches(r#""success":true"#).count() as u64 * send.per_success);
                    Counters::add(&c.server_delivered, sum_after(&body, r#""delivered_to":"#));
                } else {
                    Counters::add(&c.sends_failed, 1);
                }
                c.http_status(answer.status.to_string());
            }
            Err(e) => {
                Counters::add(&c.sends_failed, 1);
                c.http_status(e);
                conn = None;
            }
        }
    }
}

/// Waits until `gate` lets `seq` go; false when the run stopped or the gate stayed shut past the drain
/// period (the clients it waits for are gone).
async fn wait_for_gate(ctx: &Ctx, gate: &Gate, seq: u64) -> bool {
    let waited = Instant::now();
    while !gate(seq) {
        if ctx.stop.is_cancelled() || waited.elapsed() > ctx.plan.drain {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// The sum of the numbers following each `key` in `text`.
fn sum_after(text: &str, key: &str) -> u64 {
    text.match_indices(key)
        .filter_map(|(at, _)| {
            let rest = &text[at + key.len()..];
            let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            rest[..end].parse::<u64>().ok()
        })
        .sum()
}

/// The notification payload: sequence number, send time, and optional padding.
pub fn payload(seq: u64, pad: &str) -> String {
    if pad.is_empty() {
        format!(r#"{{"ara_seq":{seq},"ara_sent_us":{}}}"#, now_us())
    } else {
        format!(r#"{{"ara_seq":{seq},"ara_sent_us":{},"pad":"{pad}"}}"#, now_us())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_every_delivered_to() {
        let body = r#"{"results":[{"delivered_to":2},{"delivered_to":3}],"x":{"delivered_to":1}}"#;
        assert_eq!(super::sum_after(body, r#""delivered_to":"#), 6);
    }
}
