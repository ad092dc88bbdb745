//! A lean HTTP/1.1 client on one kept-alive connection (hyper's connection API: no pool, no DNS), and
//! an SSE client built on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::ctx::Ctx;
use crate::stats::{now_us, probe, Counters, Seen};
use crate::ws::{io_reason, HANDSHAKE_TIMEOUT};

/// A request may take this long before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
}

pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl HttpConn {
    pub async fn open(ctx: &Ctx) -> Result<Self, String> {
        let stream = ctx.sources.connect(&ctx.server, None).await.map_err(|e| io_reason(&e))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Self { sender })
    }

    /// Sends one request and reads the whole answer.
    pub async fn call(&mut self, ctx: &Ctx, method: Method, path: &str, body: Bytes) -> Result<Answer, String> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &ctx.server.authority)
            .header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(key) = &ctx.api_key {
            request = request.header("x-api-key", key);
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        let exchange = async {
            self.sender.ready().await.map_err(|e| e.to_string())?;
            let response = self.sender.send_request(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.map_err(|_| "timeout".to_owned())?
    }
}

/// GET `path` once on a fresh connection (used for `/stats`).
pub async fn get_json(ctx: &Ctx, path: &str) -> Option<serde_json::Value> {
    let mut conn = HttpConn::open(ctx).await.ok()?;
    let answer = conn.call(ctx, Method::GET, path, Bytes::new()).await.ok()?;
    serde_json::from_slice(&answer.body).ok()
}

/// An SSE stream that delivered its `connected` event.
pub struct Sse {
    body: hyper::body::Incoming,
    buffer: BytesMut,
}

/// Opens `/sse` for client `i` subscribed to `channel`, and waits for the `connected` event.
pub async fn sse_connect(ctx: &Ctx, i: usize, channel: Option<&str>) -> Result<Sse, String> {
    let token = ctx.token(i)?;
    let started = Instant::now();
    let attempt = async {
        let stream = ctx.sources.connect(&ctx.server, None).await.map_err(|e| io_reason(&e))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let path = match channel {
            Some(c) => format!("/sse?token={token}&channels={c}"),
            None => format!("/sse?token={token}"),
        };
        let request = Request::get(path)
            .header(hyper::header::HOST, &ctx.server.authority)
            .header(hyper::header::ACCEPT, "text/event-stream")
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status().as_u16()));
        }
        let mut sse = Sse { body: response.into_body(), buffer: BytesMut::new() };
        loop {
            match sse.next_event().await {
                Some(event) if event.contains("event: connected") => return Ok(sse),
                Some(_) => {}
                None => return Err("closed during handshake".into()),
            }
        }
    };
    let sse = tokio::time::timeout(HANDSHAKE_TIMEOUT, attempt).await.map_err(|_| "timeout".to_owned())??;
    ctx.connect_latency.record(i, started.elapsed().as_micros() as u64);
    Ok(sse)
}

impl Sse {
    /// The next event's text (lines up to the blank line), or `None` when the stream ended.
    async fn next_event(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let event = self.buffer.split_to(end + 2);
                return Some(String::from_utf8_lossy(&event).into_owned());
            }
            let frame = self.body.frame().await?.ok()?;
            if let Ok(data) = frame.into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }
}

/// Reads SSE events until the run stops or the server ends the stream.
pub async fn sse_read(ctx: Arc<Ctx>, mut sse: Sse, i: usize) {
    let mut seen = Seen::default();
    let mut last_us = 0;
    let c = &ctx.counters;
    let ended_by_us = loop {
        tokio::select! {
            _ = ctx.stop.cancelled() => break true,
            event = sse.next_event() => match event {
                Some(event) => {
                    if let Some((seq, sent_us)) = probe(&event) {
                        let now = now_us();
                        Counters::add(&c.received, 1);
                        ctx.delivery_latency.record(i, now.saturating_sub(sent_us));
                        seen.record(seq);
                        last_us = now;
                    } else if event.contains("event: error") {
                        Counters::add(&c.server_error_frames, 1);
                        c.closed(event.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("error").to_owned());
                    }
                }
                None => {
                    c.closed("eof".into());
                    break false;
                }
            }
        }
    };
    crate::ws::finish(&ctx, seen, last_us, ended_by_us);
}
