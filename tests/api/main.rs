//! End-to-end tests: the real server, in-process on a random port, driven over real HTTP and
//! WebSocket connections.

mod helpers;

mod acks;
mod api_key;
mod auth;
mod batch;
mod channel_info;
mod cli;
mod delivery;
mod fd_exhaustion;
mod health_stats;
mod heartbeat;
mod http_timeouts;
mod limits;
mod observability;
mod offline_queue;
mod ordering;
mod protocol;
mod pubsub;
mod rate_limit;
mod redis_outage;
mod redis_support;
mod shutdown;
mod slow_consumer;
mod sse;
mod templates;
mod tenancy;
mod unknown_fields;
mod validation;
