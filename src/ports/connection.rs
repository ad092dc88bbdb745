//! The outbound side of one live client connection, whatever its transport.
//!
//! The dispatcher hands each recipient a frame that was serialized once and is shared by all of them.
//! Sinks never block: a sink whose bounded queue is full reports it, and the dispatcher decides what
//! happens to that slow consumer.

use std::sync::Arc;

use bytes::Bytes;
use thiserror::Error;
use uuid::Uuid;

/// One frame for a client, shared between recipients: queuing it on a connection clones one pointer,
/// and each connection's bounded queue holds pointers, not frames.
#[derive(Debug, Clone)]
pub struct OutboundFrame(Arc<FrameData>);

impl OutboundFrame {
    pub fn new(data: FrameData) -> Self {
        Self(Arc::new(data))
    }

    pub fn control(event: &'static str, json: Bytes) -> Self {
        Self::new(FrameData { notification_id: None, event, json, replayed: false, accepted_at_ms: 0, trace: None })
    }
}

impl std::ops::Deref for OutboundFrame {
    type Target = FrameData;
    fn deref(&self) -> &FrameData {
        &self.0
    }
}

/// Changing a frame copies it first if it is already shared (it is not, where frames are built).
impl std::ops::DerefMut for OutboundFrame {
    fn deref_mut(&mut self) -> &mut FrameData {
        Arc::make_mut(&mut self.0)
    }
}

/// What a frame carries. `json` is UTF-8 JSON text.
#[derive(Debug, Clone)]
pub struct FrameData {
    /// Set when the frame carries a notification (SSE uses it as the event id).
    pub notification_id: Option<Uuid>,
    /// The event name for transports that have one (SSE); WebSocket ignores it.
    pub event: &'static str,
    pub json: Bytes,
    /// Set when the frame replays an offline-queue entry: once written, the transport confirms it so
    /// that the entry is removed from the queue.
    pub replayed: bool,
    /// When the notification was accepted (Unix milliseconds), for the delivery-latency metric; 0 for
    /// control frames.
    pub accepted_at_ms: i64,
    /// The sampled dispatch span that produced the frame, if any: the transport records its socket
    /// write as a child of it. `None` whenever tracing is off or the trace is not sampled.
    pub trace: Option<TraceLink>,
}

/// A sampled span's W3C ids, copied (no allocation) to every recipient's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceLink {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
}

/// Why the server closes a connection; transports turn it into a close frame or a final event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// Its outbound queue overflowed.
    SlowConsumer,
    /// No sign of life within the idle timeout.
    Idle,
    /// The server is shutting down.
    Shutdown,
    /// The client misbehaved beyond what an error frame can fix.
    PolicyViolation(String),
    /// The client sent a text message that is not UTF-8 (WebSocket close 1007).
    InvalidPayload,
    /// The client sent a message larger than the server accepts (WebSocket close 1009).
    MessageTooBig,
    /// The client broke the transport's framing rules (WebSocket close 1002).
    ProtocolError,
    /// The connection's token passed its `exp` (plus leeway) without a refresh (WebSocket close 4001).
    TokenExpired,
    /// The connection's token was revoked (WebSocket close 4002): reconnecting with it is refused.
    TokenRevoked,
    /// An administrator disconnected the user (WebSocket close 4003, or 4004 when `reconnect` says
    /// the client may connect again at once).
    Disconnected { reconnect: bool },
    /// The connection's tenant was suspended (WebSocket close 4403).
    TenantSuspended,
    /// The connection's tenant was deleted (WebSocket close 4404).
    TenantDeleted,
}

impl CloseReason {
    /// The code a transport names the reason with (a WebSocket `error` frame, SSE's last `error`
    /// event), and what it says to people.
    pub fn code_and_message(&self) -> (&'static str, &str) {
        match self {
            CloseReason::SlowConsumer => {
                ("SLOW_CONSUMER", "connection could not keep up with its notifications and is being closed")
            }
            CloseReason::Idle => ("IDLE_TIMEOUT", "connection idle for too long"),
            CloseReason::Shutdown => ("SHUTTING_DOWN", "server shutting down"),
            CloseReason::PolicyViolation(why) => ("POLICY_VIOLATION", why),
            CloseReason::InvalidPayload => ("INVALID_PAYLOAD", "text frame is not valid UTF-8"),
            CloseReason::MessageTooBig => ("MESSAGE_TOO_BIG", "message exceeds the size limit"),
            CloseReason::ProtocolError => ("PROTOCOL_ERROR", "protocol error"),
            CloseReason::TokenExpired => {
                ("TOKEN_EXPIRED", "the connection's token has expired; reconnect with a fresh one")
            }
            CloseReason::TokenRevoked => ("TOKEN_REVOKED", "the connection's token was revoked"),
            CloseReason::Disconnected { reconnect: true } => {
                ("DISCONNECTED", "disconnected by the server; you may reconnect")
            }
            CloseReason::Disconnected { reconnect: false } => {
                ("DISCONNECTED", "disconnected by the server; do not reconnect with the same token")
            }
            CloseReason::TenantSuspended => ("TENANT_SUSPENDED", "the tenant is suspended"),
            CloseReason::TenantDeleted => ("TENANT_DELETED", "the tenant was deleted"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SinkError {
    /// MUST be returned when the bounded queue has no room; the frame was not queued.
    #[error("outbound queue is full")]
    Full,
    /// MUST be returned once the connection is gone; the frame was not queued.
    #[error("connection is closed")]
    Closed,
}

pub trait ConnectionSink: Send + Sync {
    /// Queues a frame without waiting. Frames queued by one caller are written in queue order.
    ///
    /// # Errors
    /// [`SinkError::Full`] when the queue is at capacity, [`SinkError::Closed`] when the connection ended.
    fn try_send(&self, frame: OutboundFrame) -> Result<(), SinkError>;

    /// Asks the transport to close the connection for `reason`; returns at once.
    fn close(&self, reason: CloseReason);
}

pub type DynSink = Arc<dyn ConnectionSink>;
