//! Turns a connection's outbound queue into an SSE event stream: `connected` first, then
//! `notification` events (with `id:` so `EventSource` can resume), `heartbeat` keep-alives, and a final
//! `error` when the server closes the connection.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::Event;
use futures_util::Stream;
use serde_json::json;
use tokio::time::{interval_at, Instant, Interval};
use uuid::Uuid;

use super::watchdog::{self, Progress, StreamEnd};
use super::SseState;
use crate::adapters::connection::{write_span, TokenTimer};
use crate::adapters::http::ConnectionAbort;
use crate::delivery::{Next, QueueReceiver};
use crate::domain::ConnectionId;
use crate::ports::{CloseReason, LatencyRecorder, OutboundFrame, TraceLink};
use crate::service::{ConnectionHandle, TokenCheck};

struct EventState {
    /// Unregisters the connection and stops its watchdog when the stream goes.
    end: StreamEnd,
    progress: Arc<Progress>,
    receiver: QueueReceiver,
    heartbeat: Interval,
    greeted: bool,
    finished: bool,
    /// Replayed entries handed to the response body; confirmed on the next poll, once taken.
    written: Vec<Uuid>,
    latency: Box<dyn LatencyRecorder>,
    token_timer: TokenTimer,
}

pub fn events(
    handle: ConnectionHandle,
    receiver: QueueReceiver,
    state: SseState,
    abort: Option<ConnectionAbort>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let every = handle.policy().heartbeat_interval;
    let progress = Arc::new(Progress::default());
    let end = watchdog::spawn(handle, receiver.close_watch(), progress.clone(), abort);
    let start = EventState {
        end,
        progress,
        receiver,
        heartbeat: interval_at(Instant::now() + every, every),
        greeted: false,
        finished: false,
        written: Vec::new(),
        latency: state.metrics.latency_recorder(),
        token_timer: TokenTimer::default(),
    };
    futures_util::stream::unfold(start, |mut s| async move {
        let event = next_event(&mut s).await?;
        s.progress.handed_over();
        Some((Ok(event), s))
    })
}

async fn next_event(s: &mut EventState) -> Option<Event> {
    if s.finished {
        return None;
    }
    let handle = s.end.handle();
    if !s.greeted {
        s.greeted = true;
        let data = json!({
            "connection_id": handle.id(),
            "user_id": handle.identity().user.as_str(),
            "tenant_id": handle.identity().tenant.as_str(),
            "channels": handle.channels(),
        });
        return Some(Event::default().event("connected").data(data.to_string()));
    }
    if !s.written.is_empty() {
        // The store's removal runs apart from the stream, which never waits on a store.
        tokio::spawn(handle.confirm_replayed(std::mem::take(&mut s.written)));
    }
    s.progress.waiting();
    tokio::select! {
        next = s.receiver.next() => match next? {
            Next::Frame(frame) => {
                // SSE hands the event to the response body; the span covers that hand-over.
                let _span = frame.trace.map(|link| write_span(handle.id(), &frame, link));
                if let (true, Some(id)) = (frame.replayed, frame.notification_id) {
                    s.written.push(id);
                } else if frame.accepted_at_ms > 0 {
                    s.latency.record_written(&[frame.accepted_at_ms]);
                }
                Some(frame_event(&frame))
            }
            Next::Dropped(count) => {
                handle.dropped(count);
                Some(Event::default().event("dropped").data(json!({"count": count}).to_string()))
            }
            Next::Close(reason) => {
                s.finished = true;
                s.latency.flush();
                Some(close_event(reason))
            }
        },
        _ = s.token_timer.due(handle) => match handle.check_token(chrono::Utc::now()) {
            TokenCheck::Expiring { expires_at, closes_at } => {
                let expires_in_seconds = (expires_at - chrono::Utc::now()).num_seconds().max(0);
                let data = json!({
                    "type": "token_expiring",
                    "expires_at": expires_at,
                    "closes_at": closes_at,
                    "expires_in_seconds": expires_in_seconds,
                });
                Some(Event::default().event("token_expiring").data(data.to_string()))
            }
            TokenCheck::Expired => {
                // SSE cannot take a Refresh: the client reconnects with a fresh token (and
                // Last-Event-ID), after this last event.
                s.finished = true;
                s.latency.flush();
                handle.release();
                Some(close_event(CloseReason::TokenExpired))
            }
            // A comment line keeps the stream's shape: nothing else is due.
            TokenCheck::Fine => Some(Event::default().comment("")),
        },
        _ = s.heartbeat.tick() => {
            // A successful write is the only sign of life SSE has; keep the idle sweeper away.
            handle.touch(chrono::Utc::now());
            Some(Event::default().event("heartbeat").data(json!({"timestamp": chrono::Utc::now()}).to_string()))
        }
    }
}

fn write_span(connection: ConnectionId, frame: &OutboundFrame, link: TraceLink) -> tracing::Span {
    let span = tracing::debug_span!(
        parent: None,
        "sse.write",
        ara.connection_id = %connection,
        ara.notification_id = frame.notification_id.map(tracing::field::display),
    );
    write_span::continue_dispatch(&span, link);
    span
}

fn frame_event(frame: &OutboundFrame) -> Event {
    let data = std::str::from_utf8(&frame.json).unwrap_or("{}");
    let event = Event::default().event(frame.event).data(data);
    match frame.notification_id {
        Some(id) => event.id(id.to_string()),
        None => event,
    }
}

fn close_event(reason: CloseReason) -> Event {
    let (code, message) = reason.code_and_message();
    Event::default().event("error").data(json!({"code": code, "message": message}).to_string())
}
