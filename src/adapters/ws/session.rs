//! One WebSocket connection's life: a `connected` frame, then a reader and a writer until either ends.
//!
//! Replies to client frames go through the same bounded queue as notifications, so one connection
//! sees everything in the order it was queued.
//!
//! Every connection's task holds this future for its whole life, sized by its largest state; the
//! rare paths (the hello, client frames, replay confirmation, closing) are boxed so that an idle
//! connection does not carry their state.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use super::protocol::{ClientFrame, ServerFrame};
use super::WsState;
use crate::adapters::connection::{write_span, TokenTimer};
use crate::delivery::{Next, QueueReceiver};
use crate::domain::{ChannelName, ConnectionId};
use crate::ports::{CloseReason, LatencyRecorder, OutboundFrame, TraceLink};
use crate::service::{ConnectionHandle, TokenCheck};
use uuid::Uuid;

/// Frames written per flush when a backlog has built up.
const COALESCE: usize = 64;
/// Invalid frames in a row before the client counts as abusive.
const MAX_CONSECUTIVE_ERRORS: u32 = 20;
/// A close handshake may not hold a task longer than this.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Splits the socket before the session's future is made: an `async fn` keeps its arguments for its
/// whole life, and an unsplit `WebSocket` is several hundred bytes held by every connection's task.
pub(super) fn run(
    socket: WebSocket,
    state: WsState,
    handle: ConnectionHandle,
    receiver: QueueReceiver,
) -> impl std::future::Future<Output = ()> {
    let (tx, rx) = socket.split();
    session(tx, rx, state, handle, receiver)
}

async fn session(
    mut tx: SplitSink<WebSocket, Message>,
    rx: SplitStream<WebSocket>,
    state: WsState,
    handle: ConnectionHandle,
    receiver: QueueReceiver,
) {
    let hello = ServerFrame::Connected {
        connection_id: handle.id(),
        user_id: handle.identity().user.as_str(),
        tenant_id: handle.identity().tenant.as_str(),
    };
    if Box::pin(send_frame(&mut tx, &hello.to_outbound())).await.is_err() {
        return;
    }
    tracing::debug!(connection = %handle.id(), user = %handle.identity().user, "websocket connected");
    let writer = write_loop(tx, receiver, &handle, &state);
    let reader = read_loop(rx, &state, &handle);
    tokio::pin!(writer, reader);
    tokio::select! {
        // The writer ends after sending a close frame (or on a dead or stalled socket): once a close
        // frame went out, keep reading briefly so the client's close reply (and any pong it still
        // owes) lands before the TCP connection goes.
        close_sent = &mut writer => {
            if close_sent {
                let _ = Box::pin(tokio::time::timeout(CLOSE_TIMEOUT, &mut reader)).await;
            }
        }
        // The reader ends when the client closed or went away, or after asking the writer to close
        // the connection, which the writer still has to put on the wire.
        end = &mut reader => {
            if end == ReadEnd::CloseRequested {
                let _ = Box::pin(tokio::time::timeout(CLOSE_TIMEOUT, &mut writer)).await;
            }
        }
    }
    tracing::debug!(connection = %handle.id(), "websocket closed");
}

async fn send_frame(tx: &mut SplitSink<WebSocket, Message>, frame: &OutboundFrame) -> Result<(), axum::Error> {
    tx.send(text(frame)).await
}

fn text(frame: &OutboundFrame) -> Message {
    // Frames are serialized JSON, so always UTF-8; an invalid one would be a bug, sent as empty text.
    Message::Text(Utf8Bytes::try_from(frame.json.clone()).unwrap_or_default())
}

/// Writes the connection's queue until it closes; returns whether a close frame went out.
///
/// The registration is released as soon as the writer stops, before the close handshake, so that a
/// closing connection (above all a slow consumer whose socket is full) leaves the registry at once.
async fn write_loop(
    mut tx: SplitSink<WebSocket, Message>,
    mut rx: QueueReceiver,
    handle: &ConnectionHandle,
    state: &WsState,
) -> bool {
    let every = handle.policy().heartbeat_interval;
    let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    // Boxed: an idle connection's task keeps one pointer to it.
    let mut latency = state.metrics.latency_recorder();
    let result = write_frames(&mut tx, &mut rx, handle, &mut heartbeat, &mut *latency).await;
    latency.flush();
    handle.release();
    match result {
        // A socket that stalled will not take a close frame either; it is dropped.
        WriteEnd::Close(reason) => {
            tokio::time::timeout(CLOSE_TIMEOUT, Box::pin(close(&mut tx, reason))).await.unwrap_or(false)
        }
        WriteEnd::Stalled | WriteEnd::Gone => false,
    }
}

enum WriteEnd {
    /// Close with this reason.
    Close(CloseReason),
    /// The socket took nothing for the write timeout, or a close was asked for while a write was
    /// blocked on it.
    Stalled,
    /// The socket is already gone.
    Gone,
}

/// The writer's loop; returns how it ended.
async fn write_frames(
    tx: &mut SplitSink<WebSocket, Message>,
    rx: &mut QueueReceiver,
    handle: &ConnectionHandle,
    heartbeat: &mut tokio::time::Interval,
    latency: &mut dyn LatencyRecorder,
) -> WriteEnd {
    let watch = rx.close_watch();
    let write_timeout = handle.policy().write_timeout;
    let idle_ms = i64::try_from(handle.policy().idle_timeout.as_millis()).unwrap_or(i64::MAX);
    let mut token_timer = TokenTimer::default();
    loop {
        tokio::select! {
            next = rx.next() => match next {
                Some(Next::Frame(frame)) => {
                    // A client that stops reading fills its socket and blocks the write: neither the
                    // queue's close signal nor the heartbeat is read meanwhile, so the write is
                    // bounded by both.
                    let written = tokio::select! {
                        biased;
                        _ = watch.closed() => return WriteEnd::Stalled,
                        written = tokio::time::timeout(
                            write_timeout,
                            write_batch(tx, rx, frame, handle.id(), latency),
                        ) => written,
                    };
                    match written {
                        Ok(Ok(replayed)) if !replayed.is_empty() => {
                            // The store's removal runs apart: the writer never waits on a store.
                            tokio::spawn(handle.confirm_replayed(replayed));
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(_)) => return WriteEnd::Gone,
                        Err(_) => {
                            stalled(handle);
                            return WriteEnd::Stalled;
                        }
                    }
                    continue;
                }
                Some(Next::Dropped(count)) => {
                    handle.dropped(count);
                    let notice = ServerFrame::Dropped { count }.to_outbound();
                    if let Err(end) = write_notice(tx, &notice, write_timeout, handle).await {
                        return end;
                    }
                }
                Some(Next::Close(reason)) => return WriteEnd::Close(reason),
                None => return WriteEnd::Gone,
            },
            _ = token_timer.due(handle) => match handle.check_token(chrono::Utc::now()) {
                TokenCheck::Expiring { expires_at, closes_at } => {
                    let expires_in_seconds = (expires_at - chrono::Utc::now()).num_seconds().max(0);
                    let notice = ServerFrame::TokenExpiring { expires_at, closes_at, expires_in_seconds }.to_outbound();
                    if let Err(end) = write_notice(tx, &notice, write_timeout, handle).await {
                        return end;
                    }
                }
                TokenCheck::Expired => return WriteEnd::Close(CloseReason::TokenExpired),
                TokenCheck::Fine => {}
            },
            _ = heartbeat.tick() => {
                if handle.idle_for_ms(chrono::Utc::now()) > idle_ms {
                    return WriteEnd::Close(CloseReason::Idle);
                }
                match tokio::time::timeout(write_timeout, tx.send(Message::Ping(Default::default()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return WriteEnd::Gone,
                    Err(_) => {
                        stalled(handle);
                        return WriteEnd::Stalled;
                    }
                }
            }
        }
    }
}

/// A socket that took nothing for the write timeout: the client stopped reading (counted like a
/// queue overflow, which the `drop_oldest` policy never reports).
/// Writes one notice of the server's own within the write timeout; how the writer ends otherwise.
async fn write_notice(
    tx: &mut SplitSink<WebSocket, Message>,
    notice: &OutboundFrame,
    write_timeout: std::time::Duration,
    handle: &ConnectionHandle,
) -> Result<(), WriteEnd> {
    match tokio::time::timeout(write_timeout, send_frame(tx, notice)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(WriteEnd::Gone),
        Err(_) => {
            stalled(handle);
            Err(WriteEnd::Stalled)
        }
    }
}

fn stalled(handle: &ConnectionHandle) {
    handle.stalled();
    tracing::info!(connection = %handle.id(), "closing a connection whose socket took nothing within the write timeout");
}

/// Writes `first` and whatever else is already queued, then flushes once. Returns the ids of the
/// replayed queue entries that were written.
async fn write_batch(
    tx: &mut SplitSink<WebSocket, Message>,
    rx: &mut QueueReceiver,
    first: OutboundFrame,
    connection: ConnectionId,
    latency: &mut dyn LatencyRecorder,
) -> Result<Vec<Uuid>, axum::Error> {
    let mut replayed = Vec::new();
    let mut accepted = Vec::new();
    // Write spans of frames from sampled dispatches, ended by the flush; never allocated otherwise.
    let mut spans = Vec::new();
    let mut next = Some(first);
    let mut budget = COALESCE;
    while let Some(frame) = next.take() {
        if let Some(link) = frame.trace {
            spans.push(write_span(connection, &frame, link));
        }
        tx.feed(text(&frame)).await?;
        if let (true, Some(id)) = (frame.replayed, frame.notification_id) {
            replayed.push(id);
        }
        // Replayed entries waited in the queue by design; they would drown the live latency.
        if frame.accepted_at_ms > 0 && !frame.replayed {
            accepted.push(frame.accepted_at_ms);
        }
        budget -= 1;
        if budget > 0 {
            next = rx.try_next_frame();
        }
    }
    tx.flush().await?;
    drop(spans);
    latency.record_written(&accepted);
    Ok(replayed)
}

fn write_span(connection: ConnectionId, frame: &OutboundFrame, link: TraceLink) -> tracing::Span {
    let span = tracing::debug_span!(
        parent: None,
        "ws.write",
        ara.connection_id = %connection,
        ara.notification_id = frame.notification_id.map(tracing::field::display),
    );
    write_span::continue_dispatch(&span, link);
    span
}

/// Sends the close frame for `reason`; returns whether it went out.
async fn close(tx: &mut SplitSink<WebSocket, Message>, reason: CloseReason) -> bool {
    let (code, message) = reason.code_and_message();
    let told_in_a_frame = matches!(
        reason,
        CloseReason::SlowConsumer
            | CloseReason::TokenExpired
            | CloseReason::TokenRevoked
            | CloseReason::Disconnected { .. }
            | CloseReason::TenantSuspended
            | CloseReason::TenantDeleted
    );
    if told_in_a_frame {
        // Said in a frame too: a close reason is easy to miss in client libraries.
        let _ = send_frame(tx, &ServerFrame::Error { code, message }.to_outbound()).await;
    }
    let close_code = close_code(&reason);
    // The close reason keeps the short texts clients saw before (`slow consumer`, `idle timeout`).
    let text = match &reason {
        CloseReason::SlowConsumer => "slow consumer",
        CloseReason::Idle => "idle timeout",
        other => other.code_and_message().1,
    };
    let frame = CloseFrame { code: close_code, reason: Utf8Bytes::from(text.to_owned()) };
    let sent = tx.send(Message::Close(Some(frame))).await.is_ok();
    let _ = tx.close().await;
    sent
}

/// The close code for `reason`: RFC 6455's where one fits, Ara's own (4000–4999, the range
/// applications may use) for the token's and the administrator's reasons.
pub fn close_code(reason: &CloseReason) -> u16 {
    match reason {
        CloseReason::Idle => 1000,
        CloseReason::Shutdown => 1001,
        CloseReason::ProtocolError => 1002,
        CloseReason::InvalidPayload => 1007,
        CloseReason::SlowConsumer | CloseReason::PolicyViolation(_) => 1008,
        CloseReason::MessageTooBig => 1009,
        CloseReason::TokenExpired => 4001,
        CloseReason::TokenRevoked => 4002,
        CloseReason::Disconnected { reconnect: false } => 4003,
        CloseReason::Disconnected { reconnect: true } => 4004,
        // HTTP-style: the tenant may not act, or is gone.
        CloseReason::TenantSuspended => 4403,
        CloseReason::TenantDeleted => 4404,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum ReadEnd {
    /// The client closed the connection or it broke.
    ClientGone,
    /// The reader asked the writer to close the connection.
    CloseRequested,
}

async fn read_loop(mut rx: SplitStream<WebSocket>, state: &WsState, handle: &ConnectionHandle) -> ReadEnd {
    let mut errors = 0u32;
    loop {
        let message = match rx.next().await {
            Some(Ok(message)) => message,
            None => return ReadEnd::ClientGone,
            Some(Err(e)) => return Box::pin(read_failed(handle, e)).await,
        };
        handle.touch(chrono::Utc::now());
        let reply = match message {
            Message::Text(text) => Box::pin(handle_text(state, handle, text.as_str())).await,
            Message::Binary(_) => {
                state.metrics.client_frame("binary");
                Err(("UNSUPPORTED_FRAME", "binary frames are not supported; send JSON text".into()))
            }
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return ReadEnd::ClientGone,
        };
        let frame = match reply {
            Ok(frame) => {
                errors = 0;
                frame
            }
            Err((code, message)) => {
                errors += 1;
                if errors > MAX_CONSECUTIVE_ERRORS {
                    handle.close(CloseReason::PolicyViolation("too many invalid frames".into()));
                    return ReadEnd::CloseRequested;
                }
                ServerFrame::Error { code, message: &message }.to_outbound()
            }
        };
        if handle.reply(frame).is_err() {
            handle.close(CloseReason::SlowConsumer);
            return ReadEnd::CloseRequested;
        }
    }
}

/// A read error: a client that broke the rules is told why with the close code RFC 6455 names for it
/// (§7.4.1); a broken socket just ends.
async fn read_failed(handle: &ConnectionHandle, error: axum::Error) -> ReadEnd {
    use tokio_tungstenite::tungstenite::Error as WsError;
    let reason = match error.into_inner().downcast::<WsError>().map(|e| *e) {
        Ok(WsError::Utf8(_)) => CloseReason::InvalidPayload,
        Ok(WsError::Capacity(_)) => CloseReason::MessageTooBig,
        Ok(WsError::Protocol(_)) => CloseReason::ProtocolError,
        _ => return ReadEnd::ClientGone,
    };
    tracing::debug!(connection = %handle.id(), ?reason, "closing a connection that sent an invalid frame");
    handle.close(reason);
    ReadEnd::CloseRequested
}

type Reply = Result<OutboundFrame, (&'static str, String)>;

async fn handle_text(state: &WsState, handle: &ConnectionHandle, text: &str) -> Reply {
    let parsed = serde_json::from_str::<ClientFrame>(text);
    let kind = match &parsed {
        Ok(ClientFrame::Ping) => "ping",
        Ok(ClientFrame::Subscribe { .. }) => "subscribe",
        Ok(ClientFrame::Unsubscribe { .. }) => "unsubscribe",
        Ok(ClientFrame::Ack { .. }) => "ack",
        Ok(ClientFrame::Refresh { .. }) => "refresh",
        Err(_) => "invalid",
    };
    state.metrics.client_frame(kind);
    let frame = parsed.map_err(|e| {
        (
            "INVALID_FRAME",
            format!("expected {{\"type\":\"Subscribe|Unsubscribe|Ping|Ack|Refresh\",\"payload\":...}}: {e}"),
        )
    })?;
    match frame {
        ClientFrame::Ping => Ok(ServerFrame::Pong.to_outbound()),
        ClientFrame::Subscribe { channels, token } => {
            let channels = parse_channels(&channels)?;
            let subscribed = match token {
                None => handle.subscribe(&channels),
                Some(token) => handle.subscribe_with_token(&channels, &token).await,
            };
            subscribed.map_err(|e| (e.code(), e.to_string()))?;
            Ok(ServerFrame::Subscribed { channels: channels.iter().map(ChannelName::as_str).collect() }.to_outbound())
        }
        ClientFrame::Unsubscribe { channels } => {
            let channels = parse_channels(&channels)?;
            handle.unsubscribe(&channels);
            Ok(ServerFrame::Unsubscribed { channels: channels.iter().map(ChannelName::as_str).collect() }.to_outbound())
        }
        ClientFrame::Ack { notification_id } => ack(state, handle, &notification_id).await,
        ClientFrame::Refresh { token } => match handle.refresh(&token).await {
            Ok(expires_at) => Ok(ServerFrame::TokenRefreshed { expires_at }.to_outbound()),
            Err(e) => Err((e.code(), format!("refresh refused: {e}"))),
        },
    }
}

async fn ack(state: &WsState, handle: &ConnectionHandle, raw_id: &str) -> Reply {
    let id = Uuid::parse_str(raw_id).map_err(|_| {
        ("INVALID_NOTIFICATION_ID", format!("{} is not a notification id", crate::domain::Quoted(raw_id)))
    })?;
    let acked = handle.ack(id).await;
    match acked {
        Ok(receipt) => {
            state.metrics.ack("acked", Some(std::time::Duration::from_millis(receipt.latency_ms)));
            Ok(ServerFrame::Acked { notification_id: &id.to_string() }.to_outbound())
        }
        Err(e) => {
            state.metrics.ack(e.label(), None);
            Err((e.code(), e.to_string()))
        }
    }
}

fn parse_channels(raw: &[String]) -> Result<Vec<ChannelName>, (&'static str, String)> {
    if raw.is_empty() {
        return Err(("INVALID_CHANNEL", "channels must not be empty".into()));
    }
    raw.iter().map(|c| ChannelName::parse(c).map_err(|e| ("INVALID_CHANNEL", e.to_string()))).collect()
}
