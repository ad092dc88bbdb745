//! One WebSocket client: connect from a chosen source address, wait for `connected`, optionally
//! subscribe, then read (tracking every load-test notification) or, as a slow consumer, never read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use crate::ctx::Ctx;
use crate::stats::{now_us, probe, Counters, Seen};

pub type Ws = WebSocketStream<TcpStream>;

/// A handshake (TCP, upgrade, `connected`, `subscribed`) may take this long.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);
/// Kernel receive buffer of a client that never reads, so that its backlog reaches the server soon.
const STALLED_RECV_BUFFER: u32 = 4096;
const PING: &str = r#"{"type":"Ping"}"#;

/// Connects client `i` and waits for its `connected` frame (and `subscribed`, with a channel).
pub async fn connect(ctx: &Ctx, i: usize, channel: Option<&str>, stalled: bool) -> Result<Ws, String> {
    let token = ctx.token(i)?;
    let started = Instant::now();
    let attempt = async {
        let recv_buffer = stalled.then_some(STALLED_RECV_BUFFER);
        let server = ctx.client_server(i);
        let stream = ctx.sources.connect(server, recv_buffer).await.map_err(|e| io_reason(&e))?;
        let url = format!("ws://{}/ws?token={token}", server.authority);
        // Small buffers: tungstenite's 128 KiB default read buffer would cost 1.3 GB per 10k clients.
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await.map_err(|e| ws_reason(&e))?;
        expect_frame(&mut ws, "\"connected\"").await?;
        if let Some(channel) = channel {
            let subscribe = format!(r#"{{"type":"Subscribe","payload":{{"channels":["{channel}"]}}}}"#);
            ws.send(Message::text(subscribe)).await.map_err(|e| ws_reason(&e))?;
            expect_frame(&mut ws, "\"subscribed\"").await?;
        }
        Ok::<_, String>(ws)
    };
    let ws = tokio::time::timeout(HANDSHAKE_TIMEOUT, attempt).await.map_err(|_| "timeout".to_owned())??;
    ctx.connect_latency.record(i, started.elapsed().as_micros() as u64);
    Ok(ws)
}

async fn expect_frame(ws: &mut Ws, kind: &str) -> Result<(), String> {
    while let Some(message) = ws.next().await {
        match message.map_err(|e| ws_reason(&e))? {
            Message::Text(text) if text.contains(kind) => return Ok(()),
            Message::Text(text) if text.contains("\"type\":\"error\"") => return Err(format!("error frame: {text}")),
            Message::Close(frame) => return Err(format!("closed {}", frame.map(|f| u16::from(f.code)).unwrap_or(0))),
            _ => {}
        }
    }
    Err("closed during handshake".into())
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => "too many open files (client)".into(),
        Some(libc::EADDRNOTAVAIL | libc::EADDRINUSE) => "no free source port".into(),
        _ => e.kind().to_string(),
    }
}

fn ws_reason(e: &WsError) -> String {
    match e {
        WsError::Http(response) => {
            let body = response.body().as_deref().map(String::from_utf8_lossy).unwrap_or_default();
            let code = body.split("\"code\":\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("");
            format!("HTTP {} {code}", response.status().as_u16())
        }
        WsError::Io(io) => io_reason(io),
        other => other.to_string(),
    }
}

/// Reads until `until` is cancelled (the run stops, or the client hangs up) or the server closes;
/// pings every `ping_every` when given.
pub async fn read(ctx: Arc<Ctx>, mut ws: Ws, i: usize, ping_every: Option<Duration>, until: CancellationToken) {
    let mut seen = Seen::default();
    let mut last_us = 0;
    let mut ping = ping_every.map(|every| {
        // Spread the first pings over one period so that clients do not ping in lockstep.
        let offset = every.mul_f64(fastrand::f64());
        tokio::time::interval_at(tokio::time::Instant::now() + offset, every)
    });
    let mut ping_sent: Option<Instant> = None;
    let c = &ctx.counters;
    let ended_by_us = loop {
        tokio::select! {
            _ = until.cancelled() => break true,
            _ = tick(&mut ping) => {
                ping_sent = Some(Instant::now());
                if ws.send(Message::text(PING)).await.is_err() {
                    c.closed("send error".into());
                    break false;
                }
            }
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    if let Some((seq, sent_us)) = probe(text.as_str()) {
                        let now = now_us();
                        Counters::add(&c.received, 1);
                        ctx.delivery_latency.record(i, now.saturating_sub(sent_us));
                        seen.record(seq);
                        last_us = now;
                    } else if text.as_str().starts_with(r#"{"type":"pong"#) {
                        if let Some(sent) = ping_sent.take() {
                            ctx.pong_latency.record(i, sent.elapsed().as_micros() as u64);
                        }
                    } else if text.as_str().contains(r#""type":"error""#) {
                        Counters::add(&c.server_error_frames, 1);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    c.closed(frame.map(|f| u16::from(f.code).to_string()).unwrap_or_else(|| "no code".into()));
                    break false;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    c.closed(ws_reason(&e));
                    break false;
                }
                None => {
                    c.closed("eof".into());
                    break false;
                }
            }
        }
    };
    finish(&ctx, seen, last_us, ended_by_us);
    if ended_by_us {
        let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
    }
}

/// A slow consumer: holds the connection without reading until the run stops.
pub async fn stall(ctx: Arc<Ctx>, ws: Ws) {
    ctx.stop.cancelled().await;
    Counters::sub(&ctx.counters.open, 1);
    drop(ws);
}

/// Folds one client's tracking into the shared counters.
pub fn finish(ctx: &Ctx, seen: Seen, last_us: u64, ended_by_us: bool) {
    let c = &ctx.counters;
    Counters::add(&c.unique, seen.unique);
    Counters::add(&c.duplicates, seen.duplicates);
    c.mark_receive(last_us);
    Counters::sub(&c.open, 1);
    if !ended_by_us {
        Counters::add(&c.closed_by_server, 1);
    }
}

async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}
