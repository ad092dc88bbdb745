//! The bounded per-connection outbound queue shared by the WebSocket and SSE transports.

mod channel_sink;

pub use channel_sink::{channel_sink, ChannelSink, Next, SinkReceiver};
