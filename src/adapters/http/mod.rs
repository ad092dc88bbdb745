//! The HTTP API (axum): send endpoints, templates, channel info, health and stats; and what every
//! HTTP-served transport shares (the WebSocket and SSE adapters build on it, never the other way):
//! errors, which become `{"error":{"code","message"}}` in `error.rs` alone; the edge layers; `serve`,
//! the accept loop with its timeouts, the per-address cap and each request's [`ConnectionAbort`].

mod audit;
mod batch;
mod body_timeout;
pub mod caller;
mod channels;
mod client_cert;
pub mod client_ip;
mod cluster;
pub mod error;
mod extract;
pub mod health;
mod integral;
pub mod live;
pub mod openapi;
pub mod origin_check;
pub mod rate_limit;
pub mod request_id;
mod revocations;
mod router;
pub mod schema;
mod send;
pub mod serve;
pub mod state;
mod templates;
mod tenant_keys;
mod tenants;

pub use error::ApiError;
pub use live::{LiveHttp, OriginRule};
pub use rate_limit::RateLimitPolicy;
pub use router::{edge, fallbacks, router};
pub use serve::{serve, ClientCertificate, ConnectionAbort, ServeConfig, Timeouts, TlsAcceptor, TlsError, TlsFiles};
pub use state::{AppState, Shared};
