//! The HTTP API (axum): send endpoints, health and stats, plus the router that mounts the WebSocket
//! endpoint. Errors from every handler become `{"error":{"code","message"}}` in `error.rs`. `serve`
//! is the accept loop with its timeouts, the per-address cap and each request's [`ConnectionAbort`].

mod api_key;
mod batch;
mod body_timeout;
mod channels;
pub mod client_ip;
pub mod dependencies;
pub mod error;
mod extract;
mod health;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
mod router;
mod send;
pub mod serve;
pub mod state;
pub mod target_spec;
mod templates;

pub use dependencies::RedisHandles;
pub use error::ApiError;
pub use rate_limit::RateLimitPolicy;
pub use router::router;
pub use serve::{serve, ConnectionAbort, ServeConfig, Timeouts};
pub use state::{AppState, Shared, WsConfig};
