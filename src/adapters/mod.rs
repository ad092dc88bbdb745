//! Everything that talks to the outside world: transports (HTTP, WebSocket) and stores.

pub mod admin;
pub mod auth;
pub mod connection;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod postgres;
pub mod ratelimit;
pub mod redis;
pub mod runtime;
pub mod sse;
pub mod ws;
